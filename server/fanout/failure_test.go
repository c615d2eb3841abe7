package fanout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

var errBroken = errors.New("connection reset")

// broken is a replica whose answers fail after `after` entries (Select)
// or calls (Timestamps), at once for the other reads when after is 0.
type broken struct {
	Reader
	after int
	calls *atomic.Int64 // calls made, when set
}

func (b broken) count() {
	if b.calls != nil {
		b.calls.Add(1)
	}
}

func (b broken) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	b.count()
	if b.after == 0 {
		return nil, errBroken
	}
	it, err := b.Reader.Select(ctx, p)
	if err != nil {
		return nil, err
	}
	return &breakingIter{EntryIterator: it, left: b.after}, nil
}

func (b broken) Timestamps(ctx context.Context, p store.SelectParams, keep func([]byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	b.count()
	left := b.after
	err := b.Reader.Timestamps(ctx, p, keep, func(ls, meta labels.Labels, ts []int64) {
		if left > 0 {
			fn(ls, meta, ts)
		}
		left--
	})
	if err == nil {
		err = errBroken // at the end at the latest
	}
	return err
}

func (b broken) Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error {
	b.count()
	return errBroken
}

func (b broken) LabelNames(context.Context, string, []*labels.Matcher, int64, int64) ([]string, error) {
	b.count()
	return nil, errBroken
}

func (b broken) LabelValues(context.Context, string, string, []*labels.Matcher, int64, int64) ([]string, error) {
	b.count()
	return nil, errBroken
}

func (b broken) Stats(context.Context, store.StatsParams, func(labels.Labels, []store.Figures)) error {
	b.count()
	return errBroken
}

func (b broken) Subscribe(string, []*labels.Matcher, store.TailOptions) (store.Tail, error) {
	b.count()
	return nil, errBroken
}

type breakingIter struct {
	store.EntryIterator
	left int
	err  error
}

func (it *breakingIter) Next() bool {
	if it.left == 0 {
		it.err = errBroken
		return false
	}
	it.left--
	return it.EntryIterator.Next()
}

func (it *breakingIter) Err() error {
	if it.err != nil {
		return it.err
	}
	return it.EntryIterator.Err()
}

// reads runs every read of f and returns what each answered, or its error.
func reads(t *testing.T, f Reader) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	note := func(name string, v any, err error) {
		if err != nil {
			out[name] = "error: " + err.Error()
			return
		}
		out[name] = fmt.Sprint(v)
	}
	for _, dir := range []store.Direction{store.Forward, store.Backward} {
		for _, unordered := range []bool{false, true} {
			p := allParams(dir)
			p.Unordered = unordered
			name := fmt.Sprintf("select dir=%d unordered=%v", dir, unordered)
			it, err := f.Select(ctx, p)
			if err != nil {
				note(name, nil, err)
				continue
			}
			var gs []got
			for it.Next() {
				ls, e := it.At()
				gs = append(gs, got{ls.String(), e.T, string(e.Line), e.Meta.String()})
			}
			err = it.Err()
			it.Close()
			note(name, len(normalize(byStream(gs))), err)
			if err == nil {
				out[name] = fmt.Sprint(byStream(gs))
			}
		}
	}
	for _, keep := range []func([]byte) bool{nil, func(l []byte) bool { return strings.Contains(string(l), "error") }} {
		counts := map[seriesTime]int{}
		err := f.Timestamps(ctx, allParams(store.Forward), keep, func(ls, meta labels.Labels, ts []int64) {
			for _, x := range ts {
				counts[seriesTime{ls.String() + meta.String(), x}]++
			}
		})
		note(fmt.Sprintf("timestamps keep=%v", keep != nil), len(counts), err)
		if err == nil {
			n := 0
			for _, v := range counts {
				n += v
			}
			out[fmt.Sprintf("timestamps keep=%v", keep != nil)] = fmt.Sprint(n, len(counts))
		}
	}
	var series []string
	err := f.Series(ctx, tenant, nil, base, base+int64(1e15), func(ls labels.Labels) { series = append(series, ls.String()) })
	note("series", len(series), err)
	names, err := f.LabelNames(ctx, tenant, nil, base, base+int64(1e15))
	note("names", names, err)
	values, err := f.LabelValues(ctx, tenant, "app", nil, base, base+int64(1e15))
	note("values", values, err)
	var entries int64
	err = f.Stats(ctx, store.StatsParams{Tenant: tenant, Bounds: []int64{base, base + int64(1e15)}}, func(_ labels.Labels, figs []store.Figures) {
		entries += figs[0].Entries
	})
	note("stats", entries, err)
	return out
}

// TestFailures: replicas that are down, fail when called or fail midway
// are left out while at most MaxMissing are; the answers are then
// complete as long as the others hold everything. One more missing and
// every read fails with ErrUnavailable naming them.
func TestFailures(t *testing.T) {
	u := universe(7, 200)
	down := func() bool { return false }
	for pi, pl := range placements {
		if pl.name == "one each" || pl.name == "some" {
			continue // with one missing, entries would be missing
		}
		c := newCluster(t, u, 3, pl.p, uint64(pi)+40)
		want := reads(t, c.fanout(0, nil))
		for k, v := range want {
			if strings.HasPrefix(v, "error") {
				t.Fatalf("%s: %s: %s", pl.name, k, v)
			}
		}
		ref := reads(t, store.Local{Store: c.union})
		for _, k := range []string{"select dir=0 unordered=false", "timestamps keep=true", "series", "names", "values"} {
			if want[k] != ref[k] {
				t.Fatalf("%s: %s differs from the union's", pl.name, k)
			}
		}
		cases := []struct {
			name    string
			wrap    func(i int, r Reader) Reader
			healthy func(i int) func() bool
			missing []string // replicas named as missing
		}{
			{name: "fails at once", wrap: func(i int, r Reader) Reader {
				if i == 1 {
					return broken{Reader: r}
				}
				return r
			}, missing: []string{"node-1: connection reset"}},
			{name: "fails midway", wrap: func(i int, r Reader) Reader {
				if i == 2 {
					return broken{Reader: r, after: 37}
				}
				return r
			}, missing: []string{"node-2: connection reset"}},
			{name: "down", healthy: func(i int) func() bool {
				if i == 0 {
					return down
				}
				return nil
			}, missing: []string{"node-0: unhealthy"}},
		}
		for _, tc := range cases {
			for _, maxMissing := range []int{1, 0} {
				name := fmt.Sprintf("%s/%s/max missing %d", pl.name, tc.name, maxMissing)
				f := c.fanout(maxMissing, tc.wrap)
				var calls atomic.Int64
				if tc.healthy != nil {
					for i := range f.rs {
						f.rs[i].Healthy = tc.healthy(i)
						if f.rs[i].Healthy != nil {
							f.rs[i].Reader = broken{Reader: f.rs[i].Reader, calls: &calls}
						}
					}
				}
				var told sync.Map // replica names the Missing hook was given
				f.cfg.Missing = func(replica string, _ error) { told.Store(replica, true) }
				got := reads(t, f)
				if calls.Load() > 0 {
					t.Errorf("%s: a replica marked down was called", name)
				}
				if _, ok := told.Load(strings.SplitN(tc.missing[0], ":", 2)[0]); !ok {
					t.Errorf("%s: Config.Missing was not told of %s", name, tc.missing[0])
				}
				for k, w := range want {
					g := got[k]
					if maxMissing == 1 {
						if pl.name == "two of three" && (k == "stats" || k == "timestamps keep=false") {
							// Counted as the most one replica holds (see
							// the package comment): with entries spread
							// one by one, a missing replica lowers them.
							continue
						}
						if g != w {
							t.Errorf("%s: %s: %.200s, want %.200s", name, k, g, w)
						}
						continue
					}
					if !strings.HasPrefix(g, "error: "+ErrUnavailable.Error()) || !strings.Contains(g, tc.missing[0]) {
						t.Errorf("%s: %s: %.200s, want ErrUnavailable naming %s", name, k, g, tc.missing[0])
					}
				}
			}
		}
		// Two missing of three, one allowed.
		f := c.fanout(1, func(i int, r Reader) Reader {
			if i > 0 {
				return broken{Reader: r, after: 5}
			}
			return r
		})
		for k, g := range reads(t, f) {
			if !strings.Contains(g, "node-1: connection reset") || !strings.Contains(g, "node-2: connection reset") {
				t.Errorf("%s/two missing: %s: %.200s, want both named", pl.name, k, g)
			}
		}
	}
}

// TestCancelledIsNotUnavailable: replicas failing because the caller's
// context ended are not counted as missing: the read fails with the
// context's error.
func TestCancelledIsNotUnavailable(t *testing.T) {
	c := newCluster(t, universe(8, 100), 3, placements[0].p, 50)
	f := c.fanout(0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.LabelNames(ctx, tenant, nil, base, base+int64(1e15)); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("label names: %v", err)
	}
	err := f.Timestamps(ctx, allParams(store.Forward), nil, func(labels.Labels, labels.Labels, []int64) {})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("timestamps: %v, want context.Canceled", err)
	}
	it, err := f.Select(ctx, allParams(store.Forward))
	if err == nil {
		for it.Next() {
		}
		err = it.Err()
		it.Close()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("select: %v, want context.Canceled or nothing", err)
	}
}

// disorderly is a replica whose Select swaps its first two entries of
// different times, breaking the order contract.
type disorderly struct{ Reader }

func (d disorderly) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	it, err := d.Reader.Select(ctx, p)
	if err != nil {
		return nil, err
	}
	var es []struct {
		ls labels.Labels
		e  block.Entry
	}
	for it.Next() {
		ls, e := it.At()
		e.Line = []byte(string(e.Line))
		es = append(es, struct {
			ls labels.Labels
			e  block.Entry
		}{ls, e})
	}
	it.Close()
	for i := 1; i < len(es); i++ {
		if es[i].e.T != es[0].e.T || !es[i].ls.Equal(es[0].ls) {
			es[0], es[i] = es[i], es[0]
			break
		}
	}
	s := &sliceIter{}
	for _, x := range es {
		s.ls, s.es = append(s.ls, x.ls), append(s.es, x.e)
	}
	return s, it.Err()
}

type sliceIter struct {
	ls []labels.Labels
	es []block.Entry
	i  int
}

func (s *sliceIter) Next() bool                       { s.i++; return s.i <= len(s.es) }
func (s *sliceIter) At() (labels.Labels, block.Entry) { return s.ls[s.i-1], s.es[s.i-1] }
func (s *sliceIter) Err() error                       { return nil }
func (s *sliceIter) Close() error                     { return nil }

// TestOutOfOrderReplica: a replica breaking the order contract is left
// out as failed.
func TestOutOfOrderReplica(t *testing.T) {
	c := newCluster(t, universe(9, 100), 3, placements[0].p, 60)
	for _, unordered := range []bool{false, true} {
		p := allParams(store.Forward)
		p.Unordered = unordered
		wrap := func(i int, r Reader) Reader {
			if i == 1 {
				return disorderly{r}
			}
			return r
		}
		want := byStream(selectAll(t, store.Local{Store: c.union}, p, 0))
		diff(t, "out of order, one may miss", byStream(selectAll(t, c.fanout(1, wrap), p, 0)), want)
		it, err := c.fanout(0, wrap).Select(context.Background(), p)
		if err == nil {
			for it.Next() {
			}
			err = it.Err()
			it.Close()
		}
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "out of order") {
			t.Errorf("unordered=%v: %v, want ErrUnavailable for an answer out of order", unordered, err)
		}
	}
}
