package engine

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/pipeline"
	"github.com/loam-logs/loam/server/store"
)

// steps describes the evaluation times of a metric query: n times from
// start, step apart (Unix ns).
type steps struct {
	start int64
	step  int64 // 0 for an instant query
	n     int
}

func (s steps) at(i int) int64 { return s.start + int64(i)*s.step }

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

// rangeAcc accumulates the samples of one series of a range aggregation.
type rangeAcc struct {
	labels labels.Labels
	// For count and bytes kinds: difference arrays over steps of the sum of
	// values and of the number of samples.
	dSum, dCnt []float64
	// For the other functions: every sample, in time order.
	ts   []int64
	vals []float64
}

// additive reports whether a range aggregation can be computed from the
// sums and counts of its window, without keeping samples.
func additive(op string, kind pipeline.SampleKind) bool {
	if kind == pipeline.UnwrapSamples {
		return false
	}
	switch op {
	case "count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time":
		return true
	}
	return false
}

// evalRange evaluates a range aggregation at every step. The streams are
// read in shards, one goroutine each, and the shards' accumulators merged.
func (e *Engine) evalRange(ctx context.Context, p Params, st steps, x *logql.RangeAggExpr) (*matrix, error) {
	return e.evalRangeWith(ctx, p, st, x, pipeline.NewSampleExtractor)
}

// evalRangeWith is evalRange with the extractor built by newExt.
func (e *Engine) evalRangeWith(ctx context.Context, p Params, st steps, x *logql.RangeAggExpr,
	newExt func(*logql.RangeAggExpr) (*pipeline.SampleExtractor, error)) (*matrix, error) {
	ext, err := newExt(x)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	add := additive(x.Op, ext.Kind())
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
				sx, _ = newExt(x)
			}
			results[i] = e.collectRange(ctx, p, st, x, sx, add, i, shards)
		}()
	}
	wg.Wait()
	accs := map[uint64]*rangeAcc{}
	var order []*rangeAcc
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		for _, acc := range r.order {
			h := acc.labels.Hash()
			prev := accs[h]
			if prev == nil {
				accs[h] = acc
				order = append(order, acc)
				continue
			}
			prev.merge(acc)
		}
	}
	if len(order) > 100*e.limits.MaxSeries && x.Op != "absent_over_time" {
		return nil, errorf("maximum of series (%d) reached for a single query", e.limits.MaxSeries)
	}
	if !add {
		for _, acc := range order {
			acc.sortSamples()
		}
	}
	rng := int64(x.Range.Range)
	off := int64(x.Range.Offset)
	if x.Op == "absent_over_time" {
		return absent(st, x, order), nil
	}
	out := &matrix{}
	rangeSecs := time.Duration(rng).Seconds()
	for _, acc := range order {
		s := newStepSeries(acc.labels, st.n)
		if add {
			var sum, cnt float64
			for i := 0; i < st.n; i++ {
				sum += acc.dSum[i]
				cnt += acc.dCnt[i]
				if cnt <= 0 {
					continue
				}
				s.has[i] = true
				switch x.Op {
				case "count_over_time":
					s.vals[i] = cnt
				case "rate":
					s.vals[i] = cnt / rangeSecs
				case "bytes_over_time":
					s.vals[i] = sum
				case "bytes_rate":
					s.vals[i] = sum / rangeSecs
				}
			}
		} else {
			lo, hi := 0, 0
			for i := 0; i < st.n; i++ {
				t := st.at(i) - off
				for hi < len(acc.ts) && acc.ts[hi] <= t {
					hi++
				}
				for lo < hi && acc.ts[lo] <= t-rng {
					lo++
				}
				if lo == hi {
					continue
				}
				v, ok := overTime(x, acc.ts[lo:hi], acc.vals[lo:hi], t-rng, t)
				if !ok {
					continue
				}
				s.vals[i], s.has[i] = v, true
			}
		}
		out.series = append(out.series, s)
	}
	return out, nil
}

// shardResult is what one shard of a range aggregation collected.
type shardResult struct {
	order []*rangeAcc
	err   error
}

// collectRange reads one shard of the streams and accumulates its samples.
func (e *Engine) collectRange(ctx context.Context, p Params, st steps, x *logql.RangeAggExpr,
	ext *pipeline.SampleExtractor, add bool, shard, shards int) shardResult {
	rng := int64(x.Range.Range)
	off := int64(x.Range.Offset)
	// Entries in (first - range, last] shifted back by the offset.
	first, last := st.at(0)-off, st.at(st.n-1)-off
	noLines := ext.Kind() == pipeline.CountSamples && ext.NoStages()
	sp := store.SelectParams{
		Tenant: p.Tenant, Matchers: x.Range.Log.Matchers,
		Start: first - rng + 1, End: last + 1, Direction: store.Forward,
		Needles: x.Range.Log.Needles(), Stats: p.Stats,
		Unordered: true, NoLines: noLines, Shard: shard, Shards: shards,
	}
	if tq, ok := e.q.(TimestampQuerier); ok && add && ext.Kind() == pipeline.CountSamples {
		if keep, ok := ext.LineFiltersOnly(); ok {
			sp.NeedlesExact = x.Range.Log.NeedlesExact()
			return e.countTimestamps(ctx, tq, sp, keep, st, off, rng)
		}
	}
	it, err := e.q.Select(ctx, sp)
	if err != nil {
		return shardResult{err: err}
	}
	defer it.Close()
	kept := store.CountKept(it, p.Stats)
	defer kept.Flush()
	accs := map[uint64]*rangeAcc{}
	var order []*rangeAcc
	exts := newPerStream(ext.ForStream)
	n := 0
	for it.Next() {
		if n++; n&4095 == 0 && ctx.Err() != nil {
			return shardResult{err: ctx.Err()}
		}
		ls, ent := it.At()
		sx := exts.get(ls)
		v, r, ok := sx.Process(ent.T, ent.Line, ent.Meta)
		if !ok {
			continue
		}
		kept.Add()
		acc := accs[r.Hash]
		if acc == nil {
			if r.All.Has(pipeline.ErrorLabel) {
				return shardResult{err: pipelineError(r.All)}
			}
			acc = &rangeAcc{labels: r.All}
			if add {
				acc.dSum = make([]float64, st.n+1)
				acc.dCnt = make([]float64, st.n+1)
			}
			accs[r.Hash] = acc
			order = append(order, acc)
			if len(order) > 100*e.limits.MaxSeries {
				return shardResult{err: errorf("maximum of series (%d) reached for a single query", e.limits.MaxSeries)}
			}
		}
		if add {
			lo, hi := stepSpan(st, ent.T+off, rng)
			if lo <= hi {
				acc.dSum[lo] += v
				acc.dSum[hi+1] -= v
				acc.dCnt[lo]++
				acc.dCnt[hi+1]--
			}
		} else {
			acc.ts = append(acc.ts, ent.T)
			acc.vals = append(acc.vals, v)
		}
	}
	if err := it.Err(); err != nil {
		return shardResult{err: err}
	}
	if err := ctx.Err(); err != nil {
		return shardResult{err: err}
	}
	return shardResult{order: order}
}

// countTimestamps is collectRange for counting entries whose pipeline is
// line filters at most (keep, or nil for none): the series are the streams
// (with their entries' metadata), and timestamps are handed over many at a
// time; without filters no line is read.
func (e *Engine) countTimestamps(ctx context.Context, tq TimestampQuerier, sp store.SelectParams, keep func([]byte) bool, st steps, off, rng int64) shardResult {
	accs := map[uint64]*rangeAcc{}
	var order []*rangeAcc
	var lastLs labels.Labels
	var last *rangeAcc
	var err error
	qerr := tq.Timestamps(ctx, sp, keep, func(ls, meta labels.Labels, ts []int64) {
		if err != nil {
			return
		}
		acc := last
		if acc == nil || len(meta) > 0 || !sameLabels(ls, lastLs) {
			series := ls
			if len(meta) > 0 {
				series = withMeta(ls, meta)
			}
			h := series.Hash()
			if acc = accs[h]; acc == nil {
				acc = &rangeAcc{labels: series, dSum: make([]float64, st.n+1), dCnt: make([]float64, st.n+1)}
				accs[h] = acc
				order = append(order, acc)
				if len(order) > 100*e.limits.MaxSeries {
					err = errorf("maximum of series (%d) reached for a single query", e.limits.MaxSeries)
					return
				}
			}
			if len(meta) == 0 {
				last, lastLs = acc, ls
			} else {
				last = nil
			}
		}
		countRuns(acc.dCnt, st, ts, off, rng)
	})
	if qerr != nil {
		return shardResult{err: qerr}
	}
	if err != nil {
		return shardResult{err: err}
	}
	// Counting samples: the sums are the counts.
	for _, acc := range order {
		copy(acc.dSum, acc.dCnt)
	}
	return shardResult{order: order}
}

// countRuns adds sorted timestamps to a difference array of counts per
// step. Consecutive timestamps fall in the same windows until the next
// window boundary, so they are counted in runs, not one by one.
func countRuns(d []float64, st steps, ts []int64, off, rng int64) {
	if st.step == 0 {
		// One window: (t - range, t] shifted by the offset.
		t := st.start - off
		lo, _ := slices.BinarySearch(ts, t-rng+1)
		hi, _ := slices.BinarySearch(ts, t+1)
		if hi > lo {
			d[0] += float64(hi - lo)
			d[1] -= float64(hi - lo)
		}
		return
	}
	for j := 0; j < len(ts); {
		u := ts[j] + off - st.start
		l := ceilDiv(u, st.step)
		h := ceilDiv(u+rng, st.step) - 1
		// The windows stay the same while lo and hi do.
		limit := min(st.start-off+l*st.step, st.start-off+(h+1)*st.step-rng)
		k := j + 1
		for k < len(ts) && ts[k] <= limit {
			k++
		}
		lo, hi := max(int(l), 0), min(int(h), st.n-1)
		if lo <= hi {
			d[lo] += float64(k - j)
			d[hi+1] -= float64(k - j)
		}
		j = k
	}
}

// withMeta returns the stream's labels with the entry's structured metadata
// added, as a metric query's series show them.
func withMeta(ls, meta labels.Labels) labels.Labels {
	out := slices.Clone(ls)
	for _, m := range meta {
		if !out.Has(m.Name) {
			out = append(out, m)
		}
	}
	return labels.New(out...)
}

// merge adds the samples of o, a series of the same labels from another
// shard.
func (a *rangeAcc) merge(o *rangeAcc) {
	for i := range a.dSum {
		a.dSum[i] += o.dSum[i]
		a.dCnt[i] += o.dCnt[i]
	}
	a.ts = append(a.ts, o.ts...)
	a.vals = append(a.vals, o.vals...)
}

// sortSamples orders the samples by time: streams grouped into one series
// arrive one after another.
func (a *rangeAcc) sortSamples() {
	if slices.IsSorted(a.ts) {
		return
	}
	idx := make([]int, len(a.ts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return a.ts[idx[i]] < a.ts[idx[j]] })
	ts := make([]int64, len(idx))
	vals := make([]float64, len(idx))
	for i, k := range idx {
		ts[i], vals[i] = a.ts[k], a.vals[k]
	}
	a.ts, a.vals = ts, vals
}

// stepSpan returns the steps whose window (t-range, t] holds time ts: those
// with ts <= t < ts+range.
func stepSpan(st steps, ts, rng int64) (lo, hi int) {
	if st.step == 0 {
		t := st.start
		if ts <= t && t < ts+rng {
			return 0, 0
		}
		return 1, 0
	}
	u := ts - st.start
	lo = int(ceilDiv(u, st.step))
	hi = int(ceilDiv(u+rng, st.step)) - 1
	lo = max(lo, 0)
	hi = min(hi, st.n-1)
	return lo, hi
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}

// absent returns 1 at the steps where no series had a sample, labelled with
// the selector's equality matchers.
func absent(st steps, x *logql.RangeAggExpr, accs []*rangeAcc) *matrix {
	var ls labels.Labels
	seen := map[string]bool{}
	for _, m := range x.Range.Log.Matchers {
		if m.Type == labels.MatchEqual && !seen[m.Name] {
			seen[m.Name] = true
			ls = append(ls, labels.Label{Name: m.Name, Value: m.Value})
		}
	}
	ls = labels.New(ls...)
	// A step is covered when any series counts a sample there: one running
	// sum over each series' difference array.
	present := make([]bool, st.n)
	for _, a := range accs {
		var cnt float64
		for i := 0; i < st.n && i < len(a.dCnt); i++ {
			cnt += a.dCnt[i]
			present[i] = present[i] || cnt > 0
		}
	}
	s := newStepSeries(ls, st.n)
	any := false
	for i, p := range present {
		if !p {
			s.vals[i], s.has[i] = 1, true
			any = true
		}
	}
	if !any {
		return &matrix{}
	}
	return &matrix{series: []*stepSeries{s}}
}

// overTime applies a range function to the samples of one window
// (from, to].
func overTime(x *logql.RangeAggExpr, ts []int64, vals []float64, from, to int64) (float64, bool) {
	switch x.Op {
	case "count_over_time":
		return float64(len(vals)), true
	case "sum_over_time":
		return sum(vals), true
	case "rate":
		return sum(vals) / (time.Duration(to - from).Seconds()), true
	case "avg_over_time":
		var mean, count float64
		for _, v := range vals {
			count++
			if math.IsInf(mean, 0) {
				if math.IsInf(v, 0) && (mean > 0) == (v > 0) {
					continue
				}
				if !math.IsInf(v, 0) && !math.IsNaN(v) {
					continue
				}
			}
			mean += v/count - mean/count
		}
		return mean, true
	case "max_over_time":
		m := vals[0]
		for _, v := range vals[1:] {
			if v > m || math.IsNaN(m) {
				m = v
			}
		}
		return m, true
	case "min_over_time":
		m := vals[0]
		for _, v := range vals[1:] {
			if v < m || math.IsNaN(m) {
				m = v
			}
		}
		return m, true
	case "stddev_over_time":
		return math.Sqrt(variance(vals)), true
	case "stdvar_over_time":
		return variance(vals), true
	case "quantile_over_time":
		return quantile(x.Param, slices.Clone(vals)), true
	case "first_over_time":
		return vals[0], true
	case "last_over_time":
		return vals[len(vals)-1], true
	case "rate_counter":
		return extrapolatedRate(ts, vals, from, to), true
	}
	return 0, false
}

func sum(vals []float64) float64 {
	var s, c float64 // Kahan summation
	for _, v := range vals {
		y := v - c
		t := s + y
		c = (t - s) - y
		s = t
	}
	return s
}

func variance(vals []float64) float64 {
	var aux, count, mean float64
	for _, v := range vals {
		count++
		delta := v - mean
		mean += delta / count
		aux += delta * (v - mean)
	}
	return aux / count
}

// quantile is Prometheus's: linear interpolation between the closest ranks.
func quantile(q float64, vals []float64) float64 {
	if len(vals) == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	if q < 0 {
		return math.Inf(-1)
	}
	if q > 1 {
		return math.Inf(1)
	}
	slices.Sort(vals)
	n := float64(len(vals))
	rank := q * (n - 1)
	lower := math.Max(0, math.Floor(rank))
	upper := math.Min(n-1, lower+1)
	weight := rank - math.Floor(rank)
	return vals[int(lower)]*(1-weight) + vals[int(upper)]*weight
}

// extrapolatedRate is the per-second rate of a counter over the window,
// with resets handled and the ends extrapolated as Prometheus's rate().
func extrapolatedRate(ts []int64, vals []float64, from, to int64) float64 {
	if len(vals) < 2 {
		return 0
	}
	result := vals[len(vals)-1] - vals[0]
	prev := vals[0]
	for _, v := range vals[1:] {
		if v < prev {
			result += prev
		}
		prev = v
	}
	durToStart := float64(ts[0]-from) / 1e9
	durToEnd := float64(to-ts[len(ts)-1]) / 1e9
	sampled := float64(ts[len(ts)-1]-ts[0]) / 1e9
	avg := sampled / float64(len(vals)-1)
	if result > 0 && vals[0] >= 0 {
		durToZero := sampled * (vals[0] / result)
		if durToZero < durToStart {
			durToStart = durToZero
		}
	}
	threshold := avg * 1.1
	interval := sampled
	if durToStart < threshold {
		interval += durToStart
	} else {
		interval += avg / 2
	}
	if durToEnd < threshold {
		interval += durToEnd
	} else {
		interval += avg / 2
	}
	result *= interval / sampled
	return result / (float64(to-from) / 1e9)
}

// pipelineError is Loki's error for a metric query whose samples carry a
// pipeline error.
func pipelineError(ls labels.Labels) error {
	return errorf("pipeline error: '%s' for series: '%s'.\n"+
		"Use a label filter to intentionally skip this error. (e.g | __error__!=\"%s\").\n"+
		"To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"+
		"The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n",
		ls.Get(pipeline.ErrorLabel), ls.String(), ls.Get(pipeline.ErrorLabel))
}
