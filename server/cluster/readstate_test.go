package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/store"
)

func TestOneOwner(t *testing.T) {
	const (
		s   = int64(time.Second)
		min = int64(time.Minute)
		day = 24 * 60 * min
	)
	t0 := int64(1_800_000_000) * s // the last start of any node
	state := func(node string, misses ...Miss) ReadState {
		return ReadState{Node: node, Started: t0 - 10*min, RingChanged: t0, Repaired: t0 + 10*s, Window: day, Misses: misses}
	}
	healthy := func() []ReadState { return []ReadState{state("a"), state("b"), state("c")} }
	tests := []struct {
		name       string
		states     func() []ReadState
		start, end int64
		why        string // a part of the refusal; "" for none
	}{
		{"repaired since the last change", healthy, t0 - 60*min, t0 + 60*min, ""},
		{"read before the repair window", healthy, t0 + 10*s - day - min, t0, "starts before"},
		{"read at the window's edge, within the skew", healthy, t0 + 10*s - day + s, t0, "starts before"},
		{"a node not repaired since it started", func() []ReadState {
			ss := healthy()
			ss[1].Started = t0 + 20*s
			return ss
		}, t0 - 60*min, t0, "has made no full repair pass since"},
		{"passes before pushes placed on the old ring could land", func() []ReadState {
			ss := healthy()
			ss[1].PushTimeout = int64(10 * time.Second)
			return ss
		}, t0 - 60*min, t0, "made no full repair pass"},
		{"a ring change after the passes", func() []ReadState {
			ss := healthy()
			ss[2].RingChanged = t0 + 9*s
			return ss
		}, t0 - 60*min, t0, "made no full repair pass"},
		{"no pass yet", func() []ReadState {
			ss := healthy()
			ss[0].Repaired = 0
			return ss
		}, t0 - 60*min, t0, "a has made no full repair pass"},
		{"a miss repaired by a later pass", func() []ReadState {
			ss := healthy()
			ss[0].Misses = []Miss{{Node: "b", Min: t0 - min, Max: t0, At: t0 + 5*s}}
			ss[1].Repaired = t0 + 60*s
			return ss
		}, t0 - 60*min, t0 + 60*min, ""},
		{"a miss after the owner's pass", func() []ReadState {
			ss := healthy()
			ss[0].Misses = []Miss{{Node: "b", Min: t0 - min, Max: t0, At: t0 + 20*s}}
			return ss
		}, t0 - 60*min, t0 + 60*min, "b may lack a push a acknowledged"},
		{"a miss within the skew of the pass", func() []ReadState {
			ss := healthy()
			ss[0].Misses = []Miss{{Node: "b", Min: t0 - min, Max: t0, At: t0 + 9*s}}
			return ss
		}, t0 - 60*min, t0 + 60*min, "b may lack"},
		{"a miss outside the read", func() []ReadState {
			ss := healthy()
			ss[0].Misses = []Miss{{Node: "b", Min: t0 - 30*min, Max: t0 - 20*min, At: t0 + 20*s}}
			return ss
		}, t0 - 10*min, t0 + 60*min, ""},
		{"a push in flight", func() []ReadState {
			ss := healthy()
			ss[2].Misses = []Miss{{Node: "a", Min: t0, Max: t0, InFlight: true}}
			return ss
		}, t0 - 60*min, t0 + 60*min, "a push from c to a is in flight"},
		{"a miss of a node not in the read", func() []ReadState {
			ss := healthy()
			ss[2].Misses = []Miss{{Node: "gone", Min: t0, Max: t0, At: t0 - day}}
			return ss
		}, t0 - 60*min, t0 + 60*min, "gone may lack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := OneOwner(tc.states(), tc.start, tc.end)
			switch {
			case tc.why == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.why != "" && err == nil:
				t.Fatalf("allowed, want refused for %q", tc.why)
			case tc.why != "" && !strings.Contains(err.Error(), tc.why):
				t.Fatalf("refused with %q, want %q in it", err, tc.why)
			}
		})
	}
}

func TestDisjoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []ReadState
		want   bool
	}{
		{"owners only", []ReadState{{Node: "a"}, {Node: "b"}}, true},
		{"a node holding streams it does not own", []ReadState{{Node: "a"}, {Node: "b", Foreign: true}}, false},
		{"a node answering whole", []ReadState{{Node: "a", Whole: true}, {Node: "b"}}, false},
	} {
		if got := Disjoint(tc.states); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNotOwned counts the streams a node holds without owning them.
func TestNotOwned(t *testing.T) {
	r := &fakeRing{rf: 2, nodes: []Peer{{Name: "n0"}, {Name: "n1"}, {Name: "n2"}}}
	names := map[uint64]string{}
	owned := 0
	for i := range 30 {
		text := fmt.Sprintf(`{app="a", pod="p%d"}`, i)
		names[uint64(i)] = text
		for _, o := range r.Owners(r.StreamKey("t1", text), nil) {
			if o.Name == "n1" {
				owned++
			}
		}
	}
	if got := notOwned(r, "t1", "n1", names); got != len(names)-owned || owned == 0 || owned == len(names) {
		t.Fatalf("notOwned: %d, want %d of %d", got, len(names)-owned, len(names))
	}
}

func TestMissLog(t *testing.T) {
	l := NewMissLog()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	if got := l.Misses(); len(got) != 0 {
		t.Fatalf("new log: %v", got)
	}
	ok := l.Send("b", 10, 20)
	bad := l.Send("b", 30, 40)
	other := l.Send("c", 5, 6)
	if got := l.Misses(); len(got) != 0 {
		t.Fatalf("pushes not acknowledged yet matter to no read: %v", got)
	}
	l.Acked([]uint64{ok, bad, other}, nil)
	want := []Miss{{Node: "b", Min: 10, Max: 40, InFlight: true}, {Node: "c", Min: 5, Max: 6, InFlight: true}}
	if got := l.Misses(); !equalMisses(got, want) {
		t.Fatalf("acknowledged, in flight: %v, want %v", got, want)
	}
	l.Done(ok, false)
	l.Done(bad, true)
	l.Done(other, false)
	l.Done(other, true) // a second answer is ignored
	want = []Miss{{Node: "b", Min: 30, Max: 40, At: now.UnixNano()}}
	if got := l.Misses(); !equalMisses(got, want) {
		t.Fatalf("after the answers: %v, want %v", got, want)
	}
	// A failure before the acknowledgement is stamped with the
	// acknowledgement: the quorum stored the push only then.
	now = now.Add(time.Second)
	l.Missed("b", 1, 2)
	l.Missed("a", 7, 8)
	now = now.Add(3 * time.Second)
	l.Acked(nil, []string{"a"})
	want = []Miss{{Node: "a", Min: 7, Max: 8, At: now.UnixNano()}, {Node: "b", Min: 1, Max: 40, At: now.Add(-3 * time.Second).UnixNano()}}
	if got := l.Misses(); !equalMisses(got, want) {
		t.Fatalf("merged and stamped: %v, want %v", got, want)
	}
	l.Forget(func(node string) bool { return node != "a" })
	if got := l.Misses(); len(got) != 1 || got[0].Node != "b" {
		t.Fatalf("after forgetting a: %v", got)
	}
}

func equalMisses(a, b []Miss) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReplicateRecordsMisses: a push records what each owner may lack
// before it is acknowledged, and forgets the pushes that were answered.
func TestReplicateRecordsMisses(t *testing.T) {
	rep, ring, nodes := testCluster(t, 3, 3, nil)
	misses := NewMissLog()
	rep.opts.Misses = misses
	if _, err := rep.Append("t1", streamsOf(3, 3, 1000)); err != nil {
		t.Fatal(err)
	}
	// The third owner may still be answering: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for len(misses.Misses()) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := misses.Misses(); len(got) != 0 {
		t.Fatalf("every owner stored the push: %v", got)
	}
	ring.down.Store("n1", true)
	nodes[2].srv.Close()
	if _, err := rep.Append("t1", streamsOf(3, 3, 2000)); err == nil {
		t.Fatal("two of three owners down: the push succeeded")
	}
	got := misses.Misses()
	if len(got) != 2 || got[0].Node != "n1" || got[1].Node != "n2" || got[0].Min != 2000 || got[0].Max != 2002 || got[0].InFlight || got[1].InFlight {
		t.Fatalf("misses: %+v, want n1 and n2 for [2000, 2002]", got)
	}
}

func TestReadStateEndpoint(t *testing.T) {
	secret := []byte("s")
	want := ReadState{Node: "n2", Started: 1, RingChanged: 2, Repaired: 3, Window: 4, Misses: []Miss{{Node: "n1", Min: 5, Max: 6, At: 7}}}
	srv := httptest.NewServer(ReadStateHandler(secret, func() ReadState { return want }))
	t.Cleanup(srv.Close)
	got, err := NewRemote("n2", srv.URL, NewHTTPClient(), secret).ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Node != want.Node || got.Repaired != 3 || len(got.Misses) != 1 || got.Misses[0] != want.Misses[0] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := NewRemote("n3", srv.URL, NewHTTPClient(), secret).ReadState(context.Background()); err == nil {
		t.Fatal("a node answering for another was taken")
	}
	if _, err := NewRemote("n2", srv.URL, NewHTTPClient(), []byte("wrong")).ReadState(context.Background()); err == nil {
		t.Fatal("a wrong secret was taken")
	}
	resp, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST without a token: %d", resp.StatusCode)
	}
}

// TestReplicateStampsMissesAtAck: an owner skipped at once is recorded as
// missing the push from its acknowledgement on, when the quorum holds it,
// not from the moment it was skipped.
func TestReplicateStampsMissesAtAck(t *testing.T) {
	rep, ring, nodes := testCluster(t, 3, 3, nil)
	misses := NewMissLog()
	rep.opts.Misses = misses
	ring.down.Store("n1", true)
	nodes[2].app = appenderFunc(func(tenant string, s []store.Stream) ([]store.Rejected, error) {
		time.Sleep(300 * time.Millisecond)
		return nodes[2].st.Append(tenant, s)
	})
	begin := time.Now()
	if _, err := rep.Append("t1", streamsOf(2, 2, 5000)); err != nil {
		t.Fatal(err)
	}
	got := misses.Misses()
	if len(got) != 1 || got[0].Node != "n1" {
		t.Fatalf("misses: %+v, want n1's", got)
	}
	if at := time.Unix(0, got[0].At); at.Sub(begin) < 300*time.Millisecond {
		t.Fatalf("n1's miss stamped %s after the push began; the quorum had it only after 300ms", at.Sub(begin))
	}
}
