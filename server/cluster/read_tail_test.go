package cluster

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// takeUntil takes from a tail until it has n entries or the tail stops.
func takeUntil(t *testing.T, tl store.Tail, n int) ([]string, []store.TailDrop) {
	t.Helper()
	var got []string
	var drops []store.TailDrop
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case <-tl.Ready():
		case <-tl.Stopping():
			return got, drops
		case <-deadline:
			t.Fatalf("%d entries of %d after 10 s", len(got), n)
		}
		bs, ds := tl.Take()
		for _, b := range bs {
			for _, e := range b.Entries {
				got = append(got, entryText(b.Labels, e))
			}
		}
		drops = append(drops, ds...)
	}
	return got, drops
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 1000 {
			t.Fatalf("no %s after 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRemoteTail(t *testing.T) {
	s := openStore(t)
	r, srv := serve(t, store.Local{Store: s}, nil)
	r.tailIdle = 500 * time.Millisecond // beats come every 50 ms
	ms := mustMatchers(t, `{env="prod"}`)
	tl, err := r.Subscribe("t1", ms, store.TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Subscribers("t1"); n != 1 || s.Subscribers("t1") != 1 {
		t.Fatalf("subscribers: %d through the remote, %d direct", n, s.Subscribers("t1"))
	}
	var want []string
	for k := range 5 {
		var ss []store.Stream
		for i, ls := range fixtureStreams {
			es := fixtureEntries(i, k*40, 40)
			ss = append(ss, store.Stream{Labels: ls, Entries: es})
			if ls.Get("env") == "prod" {
				for _, e := range es {
					want = append(want, entryText(ls, e))
				}
			}
		}
		if _, err := s.Append("t1", ss); err != nil {
			t.Fatal(err)
		}
		// Another tenant's entries never reach the tail.
		if _, err := s.Append("t2", ss[:1]); err != nil {
			t.Fatal(err)
		}
	}
	got, drops := takeUntil(t, tl, len(want))
	// Streams of one append come in no fixed order; each stream's entries
	// do.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(drops) > 0 {
		t.Fatalf("%d entries, %d drops; want %d entries", len(got), len(drops), len(want))
	}
	// Heartbeats keep a quiet tail open.
	time.Sleep(2 * r.tailIdle)
	select {
	case <-tl.Stopping():
		t.Fatalf("a quiet tail stopped: %v", tl.(*remoteTail).Err())
	default:
	}
	tl.Close()
	tl.Close()
	waitFor(t, "unsubscription on the peer", func() bool { return s.Subscribers("t1") == 0 })
	<-tl.Stopping()
	if err := tl.(*remoteTail).Err(); err != nil {
		t.Errorf("closed tail: %v", err)
	}

	// A peer that dies stops the tail with ErrUnreachable.
	tl, err = r.Subscribe("t1", ms, store.TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	select {
	case <-tl.Stopping():
	case <-time.After(10 * time.Second):
		t.Fatal("tail of a dead peer still running")
	}
	if err := tl.(*remoteTail).Err(); !errors.Is(err, ErrUnreachable) {
		t.Errorf("dead peer: %v", err)
	}
	tl.Close()
}

// TestRemoteTailSilentPeer: a peer that sends nothing, not even a
// heartbeat, is taken for dead.
func TestRemoteTailSilentPeer(t *testing.T) {
	s := openStore(t)
	srv := httptest.NewServer(NewReadServer(store.Local{Store: s}, ServerOptions{Beat: time.Hour}))
	defer srv.Close()
	r := NewRemote("peer", srv.URL, nil, nil)
	r.tailIdle = 100 * time.Millisecond
	tl, err := r.Subscribe("t1", nil, store.TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	select {
	case <-tl.Stopping():
	case <-time.After(10 * time.Second):
		t.Fatal("tail of a silent peer still running")
	}
	if err := tl.(*remoteTail).Err(); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "no frame for 100ms") {
		t.Errorf("silent peer: %v", err)
	}
}

// TestRemoteTailNoReady: a peer that takes the call but never subscribes
// fails Subscribe in time.
func TestRemoteTailNoReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server watches the connection
		<-r.Context().Done()
	}))
	defer srv.Close()
	r := NewRemote("peer", srv.URL, nil, nil)
	r.tailReady = 100 * time.Millisecond
	t1 := time.Now()
	_, err := r.Subscribe("t1", nil, store.TailOptions{})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "no ready frame within 100ms") || time.Since(t1) > 5*time.Second {
		t.Errorf("silent peer: %v after %v", err, time.Since(t1))
	}
}

// TestRemoteTailDrops: a subscription whose queue overflows reports its
// drops through the remote as it does directly.
func TestRemoteTailDrops(t *testing.T) {
	s := openStore(t)
	r, _ := serve(t, store.Local{Store: s}, nil)
	opts := store.TailOptions{MaxEntries: 5, MaxDrops: 10}
	ms := mustMatchers(t, `{app="api"}`)
	direct, err := s.Subscribe("t1", ms, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	remote, err := r.Subscribe("t1", ms, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	es := fixtureEntries(0, 0, 100)
	if _, err := s.Append("t1", []store.Stream{{Labels: fixtureStreams[0], Entries: es}}); err != nil {
		t.Fatal(err)
	}
	wantEntries, wantDrops := takeUntil(t, direct, 5)
	gotEntries, gotDrops := takeUntil(t, remote, 5)
	waitFor(t, "all drops", func() bool {
		_, ds := remote.Take()
		gotDrops = append(gotDrops, ds...)
		return remote.Dropped() == direct.Dropped()
	})
	if !slices.Equal(gotEntries, wantEntries) || len(gotDrops) != len(wantDrops) || direct.Dropped() != 95 {
		t.Fatalf("remote %d entries, %d drops, %d dropped; direct %d, %d, %d", len(gotEntries), len(gotDrops), remote.Dropped(),
			len(wantEntries), len(wantDrops), direct.Dropped())
	}
	for i := range gotDrops {
		if !gotDrops[i].Labels.Equal(wantDrops[i].Labels) || gotDrops[i].T != wantDrops[i].T {
			t.Fatalf("drop %d: %v, want %v", i, gotDrops[i], wantDrops[i])
		}
	}
}

// TestRemoteTailStoreStops: the store closing stops the remote tail
// without an error.
func TestRemoteTailStoreStops(t *testing.T) {
	s := openStore(t)
	r, _ := serve(t, store.Local{Store: s}, nil)
	tl, err := r.Subscribe("t1", []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "api")}, store.TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if _, err := s.Append("t1", []store.Stream{{Labels: fixtureStreams[0], Entries: []block.Entry{{T: t0, Line: []byte("last")}}}}); err != nil {
		t.Fatal(err)
	}
	got, _ := takeUntil(t, tl, 1)
	s.Close()
	select {
	case <-tl.Stopping():
	case <-time.After(10 * time.Second):
		t.Fatal("tail still running after its store closed")
	}
	if err := tl.(*remoteTail).Err(); err != nil || len(got) != 1 {
		t.Errorf("store closed: %v, %d entries", err, len(got))
	}
	if _, err := r.Subscribe("t1", nil, store.TailOptions{}); err == nil {
		t.Error("subscribing to a closed store succeeds")
	}
}
