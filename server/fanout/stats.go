package fanout

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Stats calls fn once per stream with, for each bucket, the most any
// replica holds of each figure: a replica passes a stream once per source,
// so its figures are first added up per stream, then the replicas' sums
// are merged by taking the larger of each. The streams come in label
// order; figs is reused once fn returns.
//
// The largest, not the sum: replicas hold copies. Each figure is so a
// lower bound of the union's that is exact while one replica holds all of
// a stream's entries of a bucket, which holds whenever every replica that
// should have the stream is up and repaired.
func (f *Fanout) Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error {
	if len(p.Bounds) < 2 || !slices.IsSorted(p.Bounds) {
		// The caller's mistake, not the replicas': refused before asking.
		return errors.New("stats: bounds must ascend and number two at least")
	}
	n := len(p.Bounds) - 1
	per := make([]map[string]*streamFigures, len(f.rs))
	ok, err := f.each(ctx, func(i int, r Reader) error {
		m := map[string]*streamFigures{}
		per[i] = m
		var key []byte
		return r.Stats(ctx, p, func(ls labels.Labels, figs []store.Figures) {
			key = store.AppendOrderKey(key[:0], ls)
			sf := m[string(key)]
			if sf == nil {
				sf = &streamFigures{ls: cloneLabels(ls), key: string(key), figs: make([]store.Figures, n)}
				m[sf.key] = sf
			}
			for b := range min(n, len(figs)) {
				sf.figs[b].Entries += figs[b].Entries
				sf.figs[b].Bytes += figs[b].Bytes
				sf.figs[b].Chunks += figs[b].Chunks
			}
		})
	})
	if err != nil {
		return err
	}
	var all map[string]*streamFigures
	for i, m := range per {
		if !ok[i] {
			continue
		}
		if all == nil {
			all = m
			continue
		}
		for k, sf := range m {
			cur := all[k]
			if cur == nil {
				all[k] = sf
				continue
			}
			for b := range cur.figs {
				cur.figs[b].Entries = max(cur.figs[b].Entries, sf.figs[b].Entries)
				cur.figs[b].Bytes = max(cur.figs[b].Bytes, sf.figs[b].Bytes)
				cur.figs[b].Chunks = max(cur.figs[b].Chunks, sf.figs[b].Chunks)
			}
		}
	}
	out := make([]*streamFigures, 0, len(all))
	for _, sf := range all {
		out = append(out, sf)
	}
	slices.SortFunc(out, func(a, b *streamFigures) int { return strings.Compare(a.key, b.key) })
	for _, sf := range out {
		if err := ctx.Err(); err != nil {
			return err
		}
		fn(sf.ls, sf.figs)
	}
	return nil
}

// streamFigures are one stream's figures, added up over its sources.
type streamFigures struct {
	ls   labels.Labels
	key  string
	figs []store.Figures
}

// cloneLabels copies ls, strings too, to be kept after the call that lent
// it.
func cloneLabels(ls labels.Labels) labels.Labels {
	out := make(labels.Labels, len(ls))
	for i, l := range ls {
		out[i] = labels.Label{Name: strings.Clone(l.Name), Value: strings.Clone(l.Value)}
	}
	return out
}
