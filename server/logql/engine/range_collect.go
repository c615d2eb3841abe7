package engine

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/pipeline"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/tenants"
)

// rangeAcc accumulates the samples of one series of a range aggregation.
type rangeAcc struct {
	labels labels.Labels // the series', or those keyOf made of them
	hash   uint64        // all the series' labels, across shards
	// errLabels are the labels of the series when they hold __error__: the
	// query fails if the series has a value at any step.
	errLabels labels.Labels
	// ts and vals are the samples in arrival order: every one for an
	// unwrap, and for counts and bytes until the series holds more samples
	// than there are steps. vals is nil when counting.
	ts   []int64
	vals []float64
	// dSum and dCnt are difference arrays over the steps (len n+1) of the
	// values and of the number of samples, once a series of counts or
	// bytes is dense; dSum is nil when counting.
	dSum, dCnt []float64
}

// rangeCollector is what the shards of a range aggregation share: read
// only once the shards start.
type rangeCollector struct {
	st       steps
	rng, off int64
	kind     pipeline.SampleKind
	additive bool // counts or bytes: difference arrays once dense
	keyOf    func(labels.Labels) labels.Labels
	limit    int // series at most
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

func (c *rangeCollector) limitError() error {
	if c.keyOf == nil {
		return seriesLimitError(c.limit / 100)
	}
	return errorf("the range aggregation has more than %d series: aggregate it with a grouping that sum, min or max can fold (sum by (…)), or select fewer streams", c.limit)
}

// newAcc starts the series of labels ls (hash h).
func (c *rangeCollector) newAcc(ls labels.Labels, h uint64) *rangeAcc {
	a := &rangeAcc{labels: ls, hash: h}
	// A parser error the query asked for (__error__ among the labels its
	// hints need) is kept, as Loki keeps it.
	if ls.Has(pipeline.ErrorLabel) && ls.Get(pipeline.PreserveErrorLabel) != "true" {
		a.errLabels = ls
	}
	if c.keyOf != nil {
		a.labels = c.keyOf(ls)
	}
	return a
}

// add adds a sample at time t.
func (c *rangeCollector) add(a *rangeAcc, t int64, v float64) {
	if a.dCnt != nil {
		c.addDense(a, t, v)
		return
	}
	a.ts = append(a.ts, t)
	if c.kind != pipeline.CountSamples {
		a.vals = append(a.vals, v)
	}
	if c.additive && len(a.ts) > c.st.n+16 {
		c.densify(a)
	}
}

func (c *rangeCollector) addDense(a *rangeAcc, t int64, v float64) {
	lo, hi := stepSpan(c.st, t+c.off, c.rng)
	if lo > hi {
		return
	}
	a.dCnt[lo]++
	a.dCnt[hi+1]--
	if a.dSum != nil {
		a.dSum[lo] += v
		a.dSum[hi+1] -= v
	}
}

// densify turns the samples of a series of counts or bytes into difference
// arrays, which cost the same whatever more samples come.
func (c *rangeCollector) densify(a *rangeAcc) {
	a.dCnt = make([]float64, c.st.n+1)
	if c.kind != pipeline.CountSamples {
		a.dSum = make([]float64, c.st.n+1)
	}
	for i, t := range a.ts {
		v := 1.0
		if a.vals != nil {
			v = a.vals[i]
		}
		c.addDense(a, t, v)
	}
	a.ts, a.vals = nil, nil
}

// merge adds o, the same series read by another shard, to a.
func (c *rangeCollector) merge(a, o *rangeAcc) {
	if a.errLabels == nil {
		a.errLabels = o.errLabels
	}
	if o.dCnt != nil && a.dCnt == nil {
		c.densify(a)
	}
	if a.dCnt == nil {
		a.ts = append(a.ts, o.ts...)
		a.vals = append(a.vals, o.vals...)
		if c.additive && len(a.ts) > c.st.n+16 {
			c.densify(a)
		}
		return
	}
	if o.dCnt != nil {
		for i := range a.dCnt {
			a.dCnt[i] += o.dCnt[i]
		}
		for i := range a.dSum {
			a.dSum[i] += o.dSum[i]
		}
		return
	}
	for i, t := range o.ts {
		v := 1.0
		if o.vals != nil {
			v = o.vals[i]
		}
		c.addDense(a, t, v)
	}
}

// values computes the function of x at every step of a series into vals
// and has (cleared by the caller). A series with a pipeline error that has
// a value at some step fails the query.
func (c *rangeCollector) values(x *logql.RangeAggExpr, a *rangeAcc, vals []float64, has []bool) error {
	if a.dCnt != nil {
		rangeSecs := time.Duration(c.rng).Seconds()
		var sum, cnt float64
		for i := 0; i < c.st.n; i++ {
			cnt += a.dCnt[i]
			if a.dSum != nil {
				sum += a.dSum[i]
			} else {
				sum = cnt
			}
			if cnt <= 0 {
				continue
			}
			has[i] = true
			switch x.Op {
			case "count_over_time", "absent_over_time":
				vals[i] = cnt
			case "rate":
				vals[i] = cnt / rangeSecs
			case "bytes_over_time":
				vals[i] = sum
			case "bytes_rate":
				vals[i] = sum / rangeSecs
			}
		}
	} else {
		sortSamples(a.ts, a.vals)
		slide(c.st, a.ts, c.off, c.rng, newSlider(x, c.kind == pipeline.CountSamples, a.ts, a.vals), vals, has)
	}
	if a.errLabels != nil && slices.Contains(has, true) {
		return pipelineError(a.errLabels)
	}
	return nil
}

// shardResult is what one shard of a range aggregation collected.
type shardResult struct {
	order []*rangeAcc
	err   error
}

// collectRange reads one shard of the streams and accumulates its samples.
func (e *Engine) collectRange(ctx context.Context, p Params, c *rangeCollector, x *logql.RangeAggExpr,
	ext *pipeline.SampleExtractor, shard, shards int) shardResult {
	st := c.st
	// Entries in (first - range, last] shifted back by the offset.
	first, last := st.at(0)-c.off, st.at(st.n-1)-c.off
	noLines := ext.Kind() == pipeline.CountSamples && ext.NoStages()
	sp := store.SelectParams{
		Tenant: p.Tenant, Matchers: x.Range.Log.Matchers,
		Start: first - c.rng + 1, End: last + 1, Direction: store.Forward,
		Needles: x.Range.Log.Needles(), Stats: p.Stats,
		Unordered: true, NoLines: noLines, Shard: shard, Shards: shards,
	}
	if tq, ok := e.q.(TimestampQuerier); ok && c.additive && ext.Kind() == pipeline.CountSamples {
		if keep, ok := ext.LineFiltersOnly(); ok {
			sp.NeedlesExact = x.Range.Log.NeedlesExact()
			sp.LineFilter = lineFilterText(x.Range.Log.Pipeline)
			return e.countTimestamps(ctx, tq, sp, keep, c, ext, p.MultiTenant)
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
	exts := newPerStream(sampleExtractors(ext, p.MultiTenant))
	n := 0
	for it.Next() {
		if n++; n&4095 == 0 && ctx.Err() != nil {
			return shardResult{err: ctx.Err()}
		}
		ls, ent := it.At()
		v, r, ok := exts.get(ls).Process(ent.T, ent.Line, ent.Meta)
		if !ok {
			continue
		}
		kept.Add()
		a := accs[r.Hash]
		if a == nil {
			if len(order) >= c.limit {
				return shardResult{err: c.limitError()}
			}
			a = c.newAcc(r.All, r.Hash)
			accs[r.Hash] = a
			order = append(order, a)
		}
		c.add(a, ent.T, v)
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
// (with their entries' metadata) under the extractor's grouping, and
// timestamps are handed over many at a time; without filters no line is
// read.
func (e *Engine) countTimestamps(ctx context.Context, tq TimestampQuerier, sp store.SelectParams, keep func([]byte) bool,
	c *rangeCollector, ext *pipeline.SampleExtractor, multi bool) shardResult {
	accs := map[uint64]*rangeAcc{}
	var order []*rangeAcc
	var lastLs labels.Labels
	var last *rangeAcc
	var err error
	qerr := tq.Timestamps(ctx, sp, keep, func(ls, meta labels.Labels, ts []int64) {
		if err != nil {
			return
		}
		a := last
		if a == nil || len(meta) > 0 || !sameLabels(ls, lastLs) {
			series, id, tagged := ls, "", false
			if multi {
				// The grouping applies to the stream's own labels; the
				// tenant is added after it (tenants.go).
				series, id, tagged = tenants.Untag(ls)
			}
			if len(meta) > 0 {
				series = withMeta(series, meta)
			}
			series = ext.Group(series)
			if tagged {
				series = tenants.Tag(series, id)
			}
			h := series.Hash()
			if a = accs[h]; a == nil {
				if len(order) >= c.limit {
					err = c.limitError()
					return
				}
				a = c.newAcc(series, h)
				a.dCnt = make([]float64, c.st.n+1)
				accs[h] = a
				order = append(order, a)
			}
			if len(meta) == 0 {
				last, lastLs = a, ls
			} else {
				last = nil
			}
		}
		countRuns(a.dCnt, c.st, ts, c.off, c.rng)
	})
	if qerr != nil {
		return shardResult{err: qerr}
	}
	if err != nil {
		return shardResult{err: err}
	}
	return shardResult{order: order}
}

// lineFilterText prints the line filters of a pipeline that
// LineFiltersOnly accepted: its other stages were line_format stages the
// extractor dropped, so the filters are all of keep.
func lineFilterText(stages []logql.Stage) string {
	var b strings.Builder
	for _, st := range stages {
		if f, ok := st.(*logql.LineFilter); ok {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(f.String())
		}
	}
	return b.String()
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

// pipelineError is Loki's error for a metric query whose samples carry a
// pipeline error.
func pipelineError(ls labels.Labels) error {
	return errorf("pipeline error: '%s' for series: '%s'.\n"+
		"Use a label filter to intentionally skip this error. (e.g | __error__!=\"%s\").\n"+
		"To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"+
		"The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n",
		ls.Get(pipeline.ErrorLabel), ls.String(), ls.Get(pipeline.ErrorLabel))
}
