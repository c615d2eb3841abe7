package tenants

import (
	"context"
	"slices"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Source is the reader of one tenant at a time that a Reader reads
// through (api.Reader: the local store, or a cluster's fan-out). Its
// contracts are those of the store's methods of the same names.
type Source interface {
	Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error)
	Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error
	Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error
	LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error)
	LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error)
	Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error
	Subscribe(tenant string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error)
	Subscribers(tenant string) int
}

// Reader reads the tenants ids as one, through src: each read is made
// once per tenant its __tenant_id__ matchers keep (see Narrow), with the
// other matchers, and the answers are merged. The tenant argument of its
// methods is ignored: a Reader is made for one request, with the tenants
// the request named (and, with auth, was allowed). Safe for concurrent
// use as src is.
//
// What carries the tenant, as Loki's MultiTenantQuerier:
//   - Select, Timestamps, Subscribe and Stats: every stream's labels, by
//     Tag (a stream's own __tenant_id__ becomes original___tenant_id__).
//     A LogQL pipeline must run on the labels without it and have it added
//     to its answer (engine.Params.MultiTenant does so).
//   - Series: every series without a __tenant_id__ of its own gets one.
//   - LabelNames: the names of every tenant, and __tenant_id__.
//   - LabelValues of __tenant_id__: the tenants; of another name, the
//     values of every tenant.
type Reader struct {
	src Source
	ids []string
}

// NewReader returns the Reader of tenants ids (sorted, each once, as
// Parse returns them) over src.
func NewReader(src Source, ids []string) *Reader { return &Reader{src: src, ids: ids} }

// Tenants are the tenants the Reader reads.
func (r *Reader) Tenants() []string { return r.ids }

// Select merges the entries of each tenant, in time order of p.Direction
// (entries of equal time in labels.Compare order of their tagged
// streams), or, under p.Unordered, a tenant's streams after another's.
func (r *Reader) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	ids, rest := Narrow(r.ids, p.Matchers)
	its := make([]store.EntryIterator, 0, len(ids))
	for _, id := range ids {
		q := p
		q.Tenant, q.Matchers = id, rest
		it, err := r.src.Select(ctx, q)
		if err != nil {
			for _, it := range its {
				it.Close()
			}
			return nil, err
		}
		its = append(its, &taggedIter{it: it, tag: newTagger(id)})
	}
	if p.Unordered {
		return &chainIter{its: its}, nil
	}
	return newMergeIter(its, p.Direction), nil
}

// Timestamps hands over the timestamps of each tenant's streams in turn.
func (r *Reader) Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	ids, rest := Narrow(r.ids, p.Matchers)
	for _, id := range ids {
		q := p
		q.Tenant, q.Matchers = id, rest
		tag := newTagger(id)
		err := r.src.Timestamps(ctx, q, keep, func(ls, meta labels.Labels, ts []int64) {
			fn(tag.of(ls), meta, ts)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Series calls fn with the series of each tenant. Each matcher set
// narrows the tenants for itself: match[]={__tenant_id__="a"} lists the
// series of a alone. A set that is left with no matcher selects every
// series of its tenants.
func (r *Reader) Series(ctx context.Context, _ string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error {
	for _, id := range r.ids {
		var own [][]*labels.Matcher
		all := len(sets) == 0
		for _, ms := range sets {
			kept, rest := Narrow([]string{id}, ms)
			if len(kept) == 0 {
				continue
			}
			if len(rest) == 0 {
				all = true
				break
			}
			own = append(own, rest)
		}
		if !all && len(own) == 0 {
			continue
		}
		if all {
			own = nil
		}
		err := r.src.Series(ctx, id, own, start, end, func(ls labels.Labels) { fn(AddIfAbsent(ls, id)) })
		if err != nil {
			return err
		}
	}
	return nil
}

// LabelNames answers the names of every tenant kept, sorted, and Label.
func (r *Reader) LabelNames(ctx context.Context, _ string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	ids, rest := Narrow(r.ids, ms)
	out := []string{Label}
	for _, id := range ids {
		names, err := r.src.LabelNames(ctx, id, rest, start, end)
		if err != nil {
			return nil, err
		}
		out = append(out, names...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// LabelValues answers the values of name in every tenant kept, sorted;
// for Label, the tenants kept.
func (r *Reader) LabelValues(ctx context.Context, _ string, name string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	ids, rest := Narrow(r.ids, ms)
	if name == Label {
		return ids, nil
	}
	out := []string{}
	for _, id := range ids {
		vs, err := r.src.LabelValues(ctx, id, name, rest, start, end)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Stats calls fn with the figures of each tenant's streams, tagged.
func (r *Reader) Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error {
	ids, rest := Narrow(r.ids, p.Matchers)
	for _, id := range ids {
		q := p
		q.Tenant, q.Matchers = id, rest
		tag := newTagger(id)
		if err := r.src.Stats(ctx, q, func(ls labels.Labels, figs []store.Figures) { fn(tag.of(ls), figs) }); err != nil {
			return err
		}
	}
	return nil
}

// Subscribers is the most live tails any one of the tenants has: the
// bound of tails per tenant holds for each of them.
func (r *Reader) Subscribers(string) int {
	n := 0
	for _, id := range r.ids {
		n = max(n, r.src.Subscribers(id))
	}
	return n
}

// tagger tags the streams of one tenant, each once: entries of a stream
// come in runs, and a stream's labels are one shared slice.
type tagger struct {
	id       string
	last     labels.Labels
	lastOut  labels.Labels
	byStream map[uint64][2]labels.Labels // hash of the stream: its labels, tagged
}

func newTagger(id string) *tagger { return &tagger{id: id, byStream: map[uint64][2]labels.Labels{}} }

// maxTagged bounds the streams a tagger remembers; more are tagged anew.
const maxTagged = 1 << 16

func (t *tagger) of(ls labels.Labels) labels.Labels {
	if t.last != nil && len(ls) == len(t.last) && (len(ls) == 0 || &ls[0] == &t.last[0]) {
		return t.lastOut
	}
	h := ls.Hash()
	if p, ok := t.byStream[h]; ok && p[0].Equal(ls) {
		t.last, t.lastOut = ls, p[1]
		return p[1]
	}
	out := Tag(ls, t.id)
	if len(t.byStream) < maxTagged {
		t.byStream[h] = [2]labels.Labels{ls, out}
	}
	t.last, t.lastOut = ls, out
	return out
}
