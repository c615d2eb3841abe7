package engine

import (
	"context"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/pipeline"
	"github.com/loam-logs/loam/server/store"
)

// streamPipelines caches the per-stream pipelines of one query, keyed by
// the stream's label hash.
type streamPipelines struct {
	p     *pipeline.Pipeline
	last  labels.Labels
	lastS *pipeline.StreamPipeline
	m     map[uint64]*pipeline.StreamPipeline
}

func (s *streamPipelines) get(ls labels.Labels) *pipeline.StreamPipeline {
	// Entries of one stream often come in runs: compare with the last one
	// before hashing.
	if s.lastS != nil && sameLabels(s.last, ls) {
		return s.lastS
	}
	h := ls.Hash()
	sp := s.m[h]
	if sp == nil {
		sp = s.p.ForStream(ls)
		s.m[h] = sp
	}
	s.last, s.lastS = ls, sp
	return sp
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
	sps := &streamPipelines{p: pl, m: map[uint64]*pipeline.StreamPipeline{}}
	res := &Result{Type: "streams"}
	byHash := map[uint64]*Stream{}
	n := 0
	for n < p.Limit && it.Next() {
		if n&1023 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ls, ent := it.At()
		line, r, ok := sps.get(ls).Process(ent.T, ent.Line, ent.Meta)
		if !ok {
			continue
		}
		s := byHash[r.Hash]
		if s == nil {
			s = &Stream{Labels: r}
			byHash[r.Hash] = s
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
