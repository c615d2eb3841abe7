package engine

import (
	"context"
	"slices"
	"sync"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/pipeline"
)

// steps describes the evaluation times of a metric query: n times from
// start, step apart (Unix ns).
type steps struct {
	start int64
	step  int64 // 0 for an instant query
	n     int
}

func (s steps) at(i int) int64 { return s.start + int64(i)*s.step }

// alignSteps returns the steps of a range query from start to end. As
// Loki's query frontend does, start moves down and end up to multiples of
// the step (counted from the Unix epoch), so that every point falls on a
// step boundary whatever times the client sent: the answer of a dashboard
// does not shift as its time range slides.
func alignSteps(start, end, step int64) steps {
	start -= start % step
	if m := end % step; m != 0 {
		end += step - m
	}
	return steps{start: start, step: step, n: int((end-start)/step) + 1}
}

// matrix is the value of every series at every step: the intermediate form
// of metric evaluation. A scalar has no series and a value per step.
type matrix struct {
	series []*stepSeries
	scalar []float64 // non-nil for a scalar
}

// stepSeries is a series with a value (or none) at each step.
type stepSeries struct {
	labels labels.Labels
	hash   uint64
	vals   []float64
	has    []bool
}

func newStepSeries(ls labels.Labels, n int) *stepSeries {
	return &stepSeries{labels: ls, hash: ls.Hash(), vals: make([]float64, n), has: make([]bool, n)}
}

// maxInnerSeries bounds the series of a range aggregation that feeds a
// vector aggregation which cannot be folded into it (count by, avg by, …):
// each costs memory until the query ends, whatever the result's size.
const maxInnerSeries = 1_000_000

// evalRange evaluates a range aggregation on its own: every series of it
// is part of the result.
func (e *Engine) evalRange(ctx context.Context, p Params, st steps, x *logql.RangeAggExpr, bounded bool) (*matrix, error) {
	if x.Op == "absent_over_time" {
		return e.evalAbsent(ctx, p, st, x)
	}
	ext, err := pipeline.NewSampleExtractor(x)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	out := &matrix{}
	// A series that has no sample at any step is not part of the result,
	// so the collection may hold a few more series than the result may.
	limit := 100 * e.limits.MaxSeries
	err = e.rangeSeries(ctx, p, st, x, ext, nil, limit, func(a *rangeAcc, vals []float64, has []bool) {
		if !slices.Contains(has, true) {
			return
		}
		out.series = append(out.series, &stepSeries{labels: a.labels, hash: a.hash, vals: slices.Clone(vals), has: slices.Clone(has)})
	})
	if err != nil {
		return nil, err
	}
	if bounded {
		if err := e.checkSeries(len(out.series)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// evalRangeAgg evaluates a vector aggregation of a range aggregation
// without holding the range aggregation's series: each is folded into its
// group of the result as soon as its values are known. When the vector
// aggregation sums what the range aggregation counts or sums (sum by (…)
// of count_over_time, rate, bytes_*, sum_over_time), its grouping is
// pushed into the range aggregation, as Loki does: every entry then
// counts towards its group directly, and memory is that of the result
// however many label sets the parsers produce.
func (e *Engine) evalRangeAgg(ctx context.Context, p Params, st steps, x *logql.VectorAggExpr, r *logql.RangeAggExpr, bounded bool) (*matrix, error) {
	grouping := r.Grouping
	if r.Grouping == nil && canFold(x.Op, r.Op) {
		grouping = x.Grouping
		if grouping == nil {
			grouping = &logql.Grouping{}
		}
	}
	ext, err := pipeline.NewSampleExtractorGrouped(r, grouping)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	agg := newVecAgg(st, x)
	// bounded: Loki runs the range aggregation as a part of its own.
	inner := 0
	err = e.rangeSeries(ctx, p, st, r, ext, func(ls labels.Labels) labels.Labels {
		return groupLabels(ls, x.Grouping)
	}, maxInnerSeries, func(a *rangeAcc, vals []float64, has []bool) {
		if bounded && slices.Contains(has, true) {
			inner++
		}
		agg.add(a.labels, vals, has)
	})
	if err != nil {
		return nil, err
	}
	if bounded {
		if err := e.checkSeries(inner); err != nil {
			return nil, err
		}
	}
	return agg.result(), nil
}

// canFold reports whether a vector aggregation of a range aggregation is
// the range aggregation over the union of each group's entries, so that
// the grouping can be applied to entries. Loki folds sums of counts and
// sums; the min of mins and the max of maxes fold too.
func canFold(vecOp, rangeOp string) bool {
	switch vecOp {
	case "sum":
		switch rangeOp {
		case "count_over_time", "rate", "bytes_over_time", "bytes_rate", "sum_over_time":
			return true
		}
	case "max":
		return rangeOp == "max_over_time"
	case "min":
		return rangeOp == "min_over_time"
	}
	return false
}

// streamable reports whether a vector aggregation takes its input one
// series at a time (not topk, bottomk and sort, which rank all of them).
func streamable(op string) bool {
	switch op {
	case "topk", "bottomk", "sort", "sort_desc":
		return false
	}
	return true
}

// rangeSeries evaluates a range aggregation and calls fn with the values
// of each of its series at every step; vals and has are reused once fn
// returns. The streams are read in shards, one goroutine each, and the
// shards' series merged. keyOf, when not nil, replaces the labels kept for
// a series (a series is still told apart from others by all of its labels,
// through their hash). A query with more than limit series fails.
func (e *Engine) rangeSeries(ctx context.Context, p Params, st steps, x *logql.RangeAggExpr, ext *pipeline.SampleExtractor,
	keyOf func(labels.Labels) labels.Labels, limit int, fn func(a *rangeAcc, vals []float64, has []bool)) error {
	c := &rangeCollector{
		st: st, rng: int64(x.Range.Range), off: int64(x.Range.Offset),
		kind: ext.Kind(), additive: additive(x.Op, ext.Kind()), keyOf: keyOf, limit: limit,
	}
	shards := e.shards()
	results := make([]shardResult, shards)
	var wg sync.WaitGroup
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Extractors keep per-goroutine state: one per shard.
			sx := ext
			if i > 0 {
				var err error
				if sx, err = ext.Clone(); err != nil {
					results[i] = shardResult{err: err}
					return
				}
			}
			results[i] = e.collectRange(ctx, p, c, x, sx, i, shards)
		}()
	}
	wg.Wait()
	accs := map[uint64]*rangeAcc{}
	var order []*rangeAcc
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
		for _, a := range r.order {
			prev := accs[a.hash]
			if prev == nil {
				accs[a.hash] = a
				order = append(order, a)
				continue
			}
			c.merge(prev, a)
		}
	}
	if len(order) > limit {
		return c.limitError()
	}
	vals := make([]float64, st.n)
	has := make([]bool, st.n)
	for _, a := range order {
		clear(has)
		if err := c.values(x, a, vals, has); err != nil {
			return err
		}
		fn(a, vals, has)
		// The samples are no longer needed: let them go while the other
		// series are evaluated.
		a.ts, a.vals, a.dSum, a.dCnt = nil, nil, nil, nil
	}
	return nil
}

// evalAbsent evaluates absent_over_time: 1 at the steps where no stream
// has an entry, labelled with the selector's equality matchers. The labels
// of the entries do not matter, so, as in Loki, parsers that nothing reads
// are not run.
func (e *Engine) evalAbsent(ctx context.Context, p Params, st steps, x *logql.RangeAggExpr) (*matrix, error) {
	ext, err := pipeline.NewSampleExtractorGrouped(x, &logql.Grouping{})
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	present := make([]bool, st.n)
	err = e.rangeSeries(ctx, p, st, x, ext, nil, maxInnerSeries, func(_ *rangeAcc, _ []float64, has []bool) {
		for i, h := range has {
			present[i] = present[i] || h
		}
	})
	if err != nil {
		return nil, err
	}
	var ls labels.Labels
	seen := map[string]bool{}
	for _, m := range x.Range.Log.Matchers {
		if m.Type == labels.MatchEqual && !seen[m.Name] {
			seen[m.Name] = true
			ls = append(ls, labels.Label{Name: m.Name, Value: m.Value})
		}
	}
	s := newStepSeries(labels.New(ls...), st.n)
	any := false
	for i, p := range present {
		if !p {
			s.vals[i], s.has[i] = 1, true
			any = true
		}
	}
	if !any {
		return &matrix{}, nil
	}
	return &matrix{series: []*stepSeries{s}}, nil
}
