package fanout

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// benchReaders are: one store holding 250,000 entries; three stores
// holding each all of them (flushed at other points), read one after
// another, which is the work a fan-out cannot avoid; and a Fanout over
// those three. The difference of the last two is the cost of merging.
func benchReaders(b *testing.B) []struct {
	name string
	r    Reader
} {
	u := universeOf(20, 50_000, false)
	c := newCluster(b, u, 3, placements[0].p, 90)
	var each []Reader
	for _, s := range c.replicas {
		each = append(each, store.Local{Store: s})
	}
	return []struct {
		name string
		r    Reader
	}{{"one store", store.Local{Store: c.union}}, {"three stores in turn", inTurn(each)}, {"fanout of 3", c.fanout(0, nil)}}
}

// inTurn reads several readers one after another, without merging.
type inTurn []Reader

func (rs inTurn) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	return &chained{ctx: ctx, p: p, rs: rs}, nil
}

func (rs inTurn) Timestamps(ctx context.Context, p store.SelectParams, keep func([]byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	for _, r := range rs {
		if err := r.Timestamps(ctx, p, keep, fn); err != nil {
			return err
		}
	}
	return nil
}

// The rest is not benchmarked.
func (rs inTurn) Series(context.Context, string, [][]*labels.Matcher, int64, int64, func(labels.Labels)) error {
	return nil
}
func (rs inTurn) LabelNames(context.Context, string, []*labels.Matcher, int64, int64) ([]string, error) {
	return nil, nil
}
func (rs inTurn) LabelValues(context.Context, string, string, []*labels.Matcher, int64, int64) ([]string, error) {
	return nil, nil
}
func (rs inTurn) Stats(context.Context, store.StatsParams, func(labels.Labels, []store.Figures)) error {
	return nil
}
func (rs inTurn) Subscribe(string, []*labels.Matcher, store.TailOptions) (store.Tail, error) {
	return nil, nil
}
func (rs inTurn) Subscribers(string) int { return 0 }

// chained reads readers one after another, opening each when the one
// before is done.
type chained struct {
	ctx context.Context
	p   store.SelectParams
	rs  []Reader
	it  store.EntryIterator
	err error
}

func (c *chained) Next() bool {
	for c.err == nil {
		if c.it == nil {
			if len(c.rs) == 0 {
				return false
			}
			if c.it, c.err = c.rs[0].Select(c.ctx, c.p); c.err != nil {
				return false
			}
			c.rs = c.rs[1:]
		}
		if c.it.Next() {
			return true
		}
		c.err = c.it.Err()
		c.it.Close()
		c.it = nil
	}
	return false
}
func (c *chained) At() (labels.Labels, block.Entry) { return c.it.At() }
func (c *chained) Err() error                       { return c.err }
func (c *chained) Close() error {
	if c.it != nil {
		c.it.Close()
	}
	return nil
}

// BenchmarkSelect reads every entry, in time order and stream by stream.
func BenchmarkSelect(b *testing.B) {
	for _, br := range benchReaders(b) {
		for _, unordered := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/unordered=%v", br.name, unordered), func(b *testing.B) {
				p := allParams(store.Forward)
				p.Unordered = unordered
				n := 0
				for b.Loop() {
					it, err := br.r.Select(context.Background(), p)
					if err != nil {
						b.Fatal(err)
					}
					for it.Next() {
						n++
					}
					if err := it.Err(); err != nil {
						b.Fatal(err)
					}
					it.Close()
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkTimestamps counts every entry, and the entries of a filter.
func BenchmarkTimestamps(b *testing.B) {
	for _, br := range benchReaders(b) {
		for _, filter := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/filter=%v", br.name, filter), func(b *testing.B) {
				var keep func([]byte) bool
				p := allParams(store.Forward)
				if filter {
					keep = func(l []byte) bool { return bytes.Contains(l, []byte("level=error")) }
					p.Needles, p.NeedlesExact = [][]string{{"level=error"}}, true
				}
				n := 0
				for b.Loop() {
					err := br.r.Timestamps(context.Background(), p, keep, func(_, _ labels.Labels, ts []int64) { n += len(ts) })
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}
