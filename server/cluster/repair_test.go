package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// peerRing is a fakeRing that also lists the peers of one node.
type peerRing struct {
	*fakeRing
	self string
}

func (p peerRing) Peers() []Peer {
	var out []Peer
	for _, n := range p.nodes {
		if n.Name != p.self {
			out = append(out, n)
		}
	}
	return out
}

// repairCluster starts n nodes, each with its store behind the repair
// endpoints, and returns each node's Repairer.
func repairCluster(t *testing.T, n, rf int) ([]*Repairer, []*store.Store, *fakeRing) {
	t.Helper()
	ring := &fakeRing{rf: rf}
	stores := make([]*store.Store, n)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := range stores {
		stores[i] = openStore(t)
		r := mux.NewRouter()
		NewRepairServer(stores[i], ring, []byte("k"), log).Register(r)
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		ring.nodes = append(ring.nodes, Peer{Name: fmt.Sprintf("n%d", i), Addr: strings.TrimPrefix(srv.URL, "http://")})
	}
	reps := make([]*Repairer, n)
	for i := range reps {
		reps[i] = NewRepairer(RepairOptions{Self: ring.nodes[i].Name, Secret: []byte("k")},
			peerRing{ring, ring.nodes[i].Name}, stores[i], log, nil)
	}
	return reps, stores, ring
}

// contents lists every entry a store holds for tenant, one string each,
// sorted: duplicates show as repeated strings.
func contents(t *testing.T, st *store.Store, tenant string) []string {
	t.Helper()
	var out []string
	for ls, lines := range held(t, st, tenant) {
		for _, l := range lines {
			out = append(out, ls+" "+l)
		}
	}
	slices.Sort(out)
	return out
}

func TestRepairConverges(t *testing.T) {
	reps, stores, _ := repairCluster(t, 3, 3)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano()
	pod := func(p string) labels.Labels { return labels.FromMap(map[string]string{"app": "a", "pod": p}) }
	ent := func(dt time.Duration, line string) block.Entry {
		return block.Entry{T: base + int64(dt), Line: []byte(line), Meta: labels.FromMap(map[string]string{"k": line})}
	}
	common := []block.Entry{ent(0, "a"), ent(time.Minute, "b"), ent(3*time.Hour, "c")}
	push := func(i int, ls labels.Labels, es ...block.Entry) {
		t.Helper()
		if _, err := stores[i].Restore("t1", []store.Stream{{Labels: ls, Entries: slices.Clone(es)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range stores {
		push(i, pod("p1"), common...)
	}
	// n0 holds an older entry n1 lacks (two hours behind the stream's
	// newest: past the out-of-order window) and a second line at the same
	// nanosecond as one all hold; n1 holds entries n0 lacks, and a stream
	// no one else has; n2 was away.
	push(0, pod("p1"), ent(time.Hour, "old"), ent(time.Minute, "b2"))
	push(1, pod("p1"), ent(3*time.Hour+time.Second, "d"))
	push(1, pod("p2"), ent(2*time.Hour, "x"), ent(2*time.Hour, "x"), ent(2*time.Hour+1, "y"))
	ctx := context.Background()
	from := base - int64(time.Hour)
	for _, r := range reps[:2] {
		if err := r.Pass(ctx, from); err != nil {
			t.Fatal(err)
		}
	}
	want := contents(t, stores[0], "t1")
	if len(want) != 8 {
		t.Fatalf("n0 holds %d entries after repair, want the 8 distinct ones:\n%s", len(want), strings.Join(want, "\n"))
	}
	for i, st := range stores {
		if got := contents(t, st, "t1"); !slices.Equal(got, want) {
			t.Errorf("n%d holds\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Replicas agree: a further pass moves nothing.
	sent, restored := testutil.ToFloat64(reps[2].sent), testutil.ToFloat64(reps[2].restored)
	if err := reps[2].Pass(ctx, from); err != nil {
		t.Fatal(err)
	}
	if testutil.ToFloat64(reps[2].sent) != sent || testutil.ToFloat64(reps[2].restored) != restored {
		t.Errorf("a pass over replicas in agreement moved entries")
	}
	// Flushed into blocks, the entries compare the same.
	for _, st := range stores {
		if err := st.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := contents(t, st, "t1"); !slices.Equal(got, want) {
			t.Errorf("after a flush a replica holds\n%s", strings.Join(got, "\n"))
		}
	}
}

// TestRepairOwnersOnly: with RF 2 of 3, a pass gives a peer only the
// streams it owns.
func TestRepairOwnersOnly(t *testing.T) {
	reps, stores, ring := repairCluster(t, 3, 2)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano()
	var streams []store.Stream
	for i := range 30 {
		streams = append(streams, store.Stream{Labels: labels.FromMap(map[string]string{"pod": fmt.Sprint(i)}),
			Entries: []block.Entry{{T: base + int64(i), Line: []byte("l")}}})
	}
	if _, err := stores[0].Restore("t1", streams); err != nil {
		t.Fatal(err)
	}
	if err := reps[0].Pass(context.Background(), base-1); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		got := held(t, stores[i], "t1")
		for _, s := range streams {
			owners := ring.Owners(ring.StreamKey("t1", s.Labels.String()), nil)
			own := slices.ContainsFunc(owners, func(p Peer) bool { return p.Name == fmt.Sprintf("n%d", i) })
			if _, has := got[s.Labels.String()]; has != own {
				t.Errorf("n%d: holds %s: %v, owns it: %v", i, s.Labels, has, own)
			}
		}
	}
}

// TestRepairFirstWindow: the passes of a node that was away compare
// FirstWindow until one succeeds, then Window: an entry older than Window
// that it lacks is copied only with a FirstWindow reaching it.
func TestRepairFirstWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  time.Duration
		copied bool
	}{
		{"the periodic window only", 0, false},
		{"a first window reaching back", 4 * 24 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stores, ring := repairCluster(t, 2, 2)
			old := store.Stream{Labels: labels.FromMap(map[string]string{"app": "a"}),
				Entries: []block.Entry{{T: time.Now().Add(-72 * time.Hour).UnixNano(), Line: []byte("while away")}}}
			if _, err := stores[0].Append("t1", []store.Stream{old}); err != nil {
				t.Fatal(err)
			}
			rp := NewRepairer(RepairOptions{Self: "n1", Secret: []byte("k"), Interval: time.Hour, Window: time.Hour, FirstWindow: tc.first},
				peerRing{ring, "n1"}, stores[1], slog.New(slog.DiscardHandler), nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); rp.Run(ctx, time.Millisecond) }()
			for deadline := time.Now().Add(10 * time.Second); !rp.CaughtUp(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no pass succeeded within 10s")
				}
			}
			cancel()
			<-done
			if got := len(contents(t, stores[1], "t1")) == 1; got != tc.copied {
				t.Fatalf("the 3-day-old entry copied: %v, want %v", got, tc.copied)
			}
		})
	}
}

// TestRepairFutureEntries: a pass compares entries stamped ahead of now
// (pushes may be, by creation_grace_period) as well as past ones.
func TestRepairFutureEntries(t *testing.T) {
	reps, stores, _ := repairCluster(t, 2, 2)
	ahead := store.Stream{Labels: labels.FromMap(map[string]string{"app": "a"}),
		Entries: []block.Entry{{T: time.Now().Add(8 * time.Minute).UnixNano(), Line: []byte("stamped ahead")}}}
	if _, err := stores[0].Append("t1", []store.Stream{ahead}); err != nil {
		t.Fatal(err)
	}
	if err := reps[1].Pass(context.Background(), time.Now().Add(-time.Hour).UnixNano()); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, stores[1], "t1"); len(got) != 1 {
		t.Fatalf("after a pass, n1 holds %v; want the entry stamped 8 minutes ahead", got)
	}
}
