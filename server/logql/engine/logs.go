package engine

import (
	"context"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/pipeline"
	"github.com/loam-logs/loam/server/store"
)

// perStream keeps one value per stream of a query (a stream's pipeline or
// sample extractor), made on first sight.
type perStream[T any] struct {
	newV  func(labels.Labels) T
	last  labels.Labels
	lastV T
	seen  bool
	m     map[uint64]T
}

func newPerStream[T any](newV func(labels.Labels) T) *perStream[T] {
	return &perStream[T]{newV: newV, m: map[uint64]T{}}
}

func (s *perStream[T]) get(ls labels.Labels) T {
	// Entries of one stream often come in runs: compare with the last one
	// before hashing.
	if s.seen && sameLabels(s.last, ls) {
		return s.lastV
	}
	h := ls.Hash()
	v, ok := s.m[h]
	if !ok {
		v = s.newV(ls)
		s.m[h] = v
	}
	s.last, s.lastV, s.seen = ls, v, true
	return v
}

// sameLabels is a cheap equality: the store hands out the same slice for
// every entry of a stream.
func sameLabels(a, b labels.Labels) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return a.Equal(b)
}

func (e *Engine) logQuery(ctx context.Context, p Params, x *logql.LogSelectorExpr) (*Result, error) {
	pl, err := pipeline.New(x)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	dir := store.Forward
	if p.Backward {
		dir = store.Backward
	}
	it, err := e.q.Select(ctx, store.SelectParams{
		Tenant: p.Tenant, Matchers: x.Matchers,
		Start: p.Start, End: p.End, Direction: dir,
		Needles: x.Needles(), Stats: p.Stats,
	})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	kept := store.CountKept(it, p.Stats)
	defer kept.Flush()
	sps := newPerStream(logPipelines(pl, p.MultiTenant))
	res := &Result{Type: "streams"}
	byHash := map[uint64]*Stream{}
	var keys streamKeys
	n := 0
	read := 0      // entries the pipeline kept, towards the limit
	var last int64 // time of the last entry answered, under Interval
	for read < p.Limit && it.Next() {
		if read&1023 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ls, ent := it.At()
		line, r, ok := sps.get(ls).Process(ent.T, ent.Line, ent.Meta)
		if !ok {
			continue
		}
		kept.Add()
		read++
		if iv := int64(p.Interval); iv > 0 && n > 0 {
			if p.Backward && ent.T > last-iv || !p.Backward && ent.T < last+iv {
				continue
			}
		}
		last = ent.T
		key := r.Hash
		if p.Categorize {
			key = keys.of(r)
		}
		s := byHash[key]
		if s == nil {
			s = &Stream{Labels: r}
			byHash[key] = s
			res.Streams = append(res.Streams, s)
		}
		s.Entries = append(s.Entries, Entry{T: ent.T, Line: string(line), Metadata: r.Metadata, Parsed: r.Parsed})
		n++
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Entries = n
	return res, nil
}
