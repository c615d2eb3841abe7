package fanout

import (
	"context"
	"maps"
	"sync/atomic"
	"testing"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// parity keeps the streams whose label hash has the given parity.
type parity uint64

func (p parity) Keep(_ string, ls labels.Labels) bool { return ls.Hash()%2 == uint64(p) }

// hashedLocal is a replica with hashed timestamps of its own, which
// counts its calls and those not given its stream filter.
type hashedLocal struct {
	store.Local
	want         store.StreamFilter
	calls, wrong *atomic.Int32
}

func (h hashedLocal) check(p store.SelectParams) {
	if p.Streams != h.want {
		h.wrong.Add(1)
	}
}

func (h hashedLocal) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	h.check(p)
	return h.Local.Select(ctx, p)
}

func (h hashedLocal) Timestamps(ctx context.Context, p store.SelectParams, keep func([]byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	h.check(p)
	return h.Local.Timestamps(ctx, p, keep, fn)
}

func (h hashedLocal) HashedTimestamps(ctx context.Context, p store.SelectParams, keep func([]byte) bool,
	fn func(ls, meta labels.Labels, ts []int64, hashes []uint64)) error {
	h.check(p)
	h.calls.Add(1)
	return HashTimestamps(ctx, h.Local, p, keep, fn)
}

// TestReplicaStreams: each replica is read with its Replica.Streams, in
// selects, timestamps and hashed timestamps alike: two replicas holding
// everything, each asked for half the streams, answer the union once.
func TestReplicaStreams(t *testing.T) {
	c := newCluster(t, universe(7, 20), 2, placements[0].p, 7)
	var calls, wrong atomic.Int32
	rs := make([]Replica, 2)
	for i, s := range c.replicas {
		rs[i] = Replica{Name: string(rune('a' + i)), Reader: hashedLocal{store.Local{Store: s}, parity(i), &calls, &wrong},
			Streams: parity(i)}
	}
	f := New(Config{}, rs)
	p := allParams(store.Forward)
	diff(t, "select", selectAll(t, f, p, 0), selectAll(t, store.Local{Store: c.union}, p, 0))
	for _, keep := range []func([]byte) bool{nil, func(l []byte) bool { return len(l)%2 == 0 }} {
		got, _ := timestamps(t, f, p, keep)
		want, _ := timestamps(t, store.Local{Store: c.union}, p, keep)
		if !maps.Equal(got, want) {
			t.Fatalf("timestamps (filter %v): %d timestamps, want %d", keep != nil, len(got), len(want))
		}
	}
	if wrong.Load() != 0 {
		t.Fatalf("%d calls to a replica without its stream filter", wrong.Load())
	}
	if calls.Load() != 2 {
		t.Fatalf("the replicas' own hashed timestamps were called %d times, want 2", calls.Load())
	}
}
