package fanout

import (
	"fmt"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// tailUntil takes from tl until every line of want arrived, and returns
// how many times each line came; it fails after a few seconds.
func tailUntil(t *testing.T, tl store.Tail, want []string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	deadline := time.After(10 * time.Second)
	missing := func() bool {
		for _, w := range want {
			if seen[w] == 0 {
				return true
			}
		}
		return false
	}
	for missing() {
		select {
		case <-tl.Ready():
			bs, _ := tl.Take()
			for _, b := range bs {
				for _, e := range b.Entries {
					seen[b.Labels.String()+" "+string(e.Line)]++
				}
			}
		case <-deadline:
			t.Fatalf("tail: still missing some of %v; got %v", want, seen)
		}
	}
	return seen
}

// TestTailOnce: a tail over replicas that all receive the same pushes
// delivers each entry once; entries only some replicas have come too.
// One replica stopping is allowed, a second stops the merged tail.
func TestTailOnce(t *testing.T) {
	stores := []*store.Store{openStore(t), openStore(t), openStore(t)}
	var rs []Replica
	for i, s := range stores {
		rs = append(rs, Replica{Name: fmt.Sprint("node-", i), Reader: store.Local{Store: s}})
	}
	f := New(Config{MaxMissing: 1}, rs)
	ms := []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "web")}
	tl, err := f.Subscribe(tenant, ms, store.TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if n := f.Subscribers(tenant); n != 1 {
		t.Errorf("subscribers: %d, want 1 (the most any replica has)", n)
	}
	web := labels.FromMap(map[string]string{"app": "web"})
	other := labels.FromMap(map[string]string{"app": "db"})
	now := time.Now().UnixNano()
	push := func(s *store.Store, ls labels.Labels, i int, line string) {
		t.Helper()
		if _, err := s.Append(tenant, []store.Stream{{Labels: ls, Entries: []block.Entry{{T: now + int64(i), Line: []byte(line)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 50 {
		line := fmt.Sprint("everywhere ", i)
		for _, s := range stores {
			push(s, web, i, line)
		}
		push(stores[i%3], web, 1000+i, fmt.Sprint("on one ", i))
		push(stores[0], other, i, "not matched")
		want = append(want, web.String()+" "+line, web.String()+" "+fmt.Sprint("on one ", i))
	}
	// A last line per replica: when all came, each replica's earlier
	// entries, copies included, were offered.
	for i, s := range stores {
		line := fmt.Sprint("last of ", i)
		push(s, web, 5000+i, line)
		want = append(want, web.String()+" "+line)
	}
	seen := tailUntil(t, tl, want)
	if len(seen) != len(want) {
		t.Errorf("tail: %d lines, want %d: %v", len(seen), len(want), seen)
	}
	for line, n := range seen {
		if n != 1 {
			t.Errorf("tail: %q came %d times", line, n)
		}
	}
	stores[2].Close()
	push(stores[0], web, 6000, "after one stopped")
	tailUntil(t, tl, []string{web.String() + " after one stopped"})
	select {
	case <-tl.Stopping():
		t.Fatal("merged tail stopped with one replica of three stopped, one allowed")
	default:
	}
	stores[1].Close()
	select {
	case <-tl.Stopping():
	case <-time.After(10 * time.Second):
		t.Fatal("merged tail did not stop with two replicas of three stopped")
	}
}

// TestTailUnavailable: past MaxMissing replicas unable to subscribe, no
// tail.
func TestTailUnavailable(t *testing.T) {
	s := openStore(t)
	f := New(Config{MaxMissing: 0}, []Replica{
		{Name: "node-a", Reader: store.Local{Store: s}},
		{Name: "node-b", Reader: broken{Reader: store.Local{Store: s}}},
	})
	if _, err := f.Subscribe(tenant, nil, store.TailOptions{}); err == nil {
		t.Fatal("subscribed with a replica failing and none allowed to")
	}
	if n := s.Subscribers(tenant); n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
}

// TestWindow: the window forgets the oldest hashes past its size.
func TestWindow(t *testing.T) {
	w := newWindow(3)
	for _, tc := range []struct {
		h   uint64
		new bool
	}{{1, true}, {2, true}, {1, false}, {3, true}, {4, true}, {1, true}, {3, false}, {2, true}} {
		if got := w.add(tc.h); got != tc.new {
			t.Errorf("add %d: %v, want %v", tc.h, got, tc.new)
		}
	}
}
