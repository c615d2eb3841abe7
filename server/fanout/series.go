package fanout

import (
	"context"
	"slices"
	"sync"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Series calls fn once for every stream that some replica calls it for.
// The replicas are read in parallel; fn is called under a lock, from one
// goroutine at a time, as the streams arrive.
func (f *Fanout) Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error {
	var mu sync.Mutex
	seen := map[string]struct{}{}
	_, err := f.each(ctx, func(_ int, r Reader) error {
		var key []byte
		return r.Series(ctx, tenant, sets, start, end, func(ls labels.Labels) {
			key = store.AppendOrderKey(key[:0], ls)
			mu.Lock()
			defer mu.Unlock()
			if _, ok := seen[string(key)]; ok {
				return
			}
			seen[string(key)] = struct{}{}
			fn(ls)
		})
	})
	return err
}

// LabelNames returns the sorted union of the replicas' label names.
func (f *Fanout) LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	return f.union(ctx, func(r Reader) ([]string, error) { return r.LabelNames(ctx, tenant, ms, start, end) })
}

// LabelValues returns the sorted union of the replicas' values of label
// name.
func (f *Fanout) LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	return f.union(ctx, func(r Reader) ([]string, error) { return r.LabelValues(ctx, tenant, name, ms, start, end) })
}

// union returns the sorted union of the lists the replicas answer.
func (f *Fanout) union(ctx context.Context, list func(Reader) ([]string, error)) ([]string, error) {
	lists := make([][]string, len(f.rs))
	ok, err := f.each(ctx, func(i int, r Reader) error {
		var err error
		lists[i], err = list(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []string{} // empty, not nil, as the store answers
	for i, l := range lists {
		if ok[i] {
			out = append(out, l...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Subscribers returns the most subscriptions of tenant any healthy replica
// holds: every tail through a fan-out subscribes to each replica, so this
// counts the tenant's tails across the cluster, as Loki's querier checks
// its tail limit against the most any ingester holds.
func (f *Fanout) Subscribers(tenant string) int {
	n := 0
	for _, r := range f.rs {
		if r.Healthy == nil || r.Healthy() {
			n = max(n, r.Reader.Subscribers(tenant))
		}
	}
	return n
}
