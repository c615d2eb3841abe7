package engine

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/loam-logs/loam/server/logql"
)

// A range aggregation evaluates its function over the window (t-range, t]
// of every step t. Windows of consecutive steps overlap when the range is
// longer than the step (Grafana's [5m] at a 15 s step: 20 windows hold each
// sample), so recomputing every window from its samples would cost
// O(samples × range/step). Instead the samples of a series, sorted by time,
// slide through one window: each enters it once (push) and leaves it once
// (pop), and a slider keeps the function's value up to date. Empty windows
// are skipped, so a sparse series costs nothing at the steps it has no
// sample for: the cost is O(samples + steps with samples).

// slider keeps the value of a range function over the samples in a window.
// Samples enter in time order and leave oldest first.
type slider interface {
	// push adds sample i, the newest.
	push(i int)
	// pop removes sample i, the oldest.
	pop(i int)
	// value returns the function over samples [lo, hi) in the window
	// (from, to]; ok is false when the step has no value.
	value(lo, hi int, from, to int64) (v float64, ok bool)
}

// slide evaluates a slider over sorted timestamps at every step, with the
// range and offset of the aggregation, into vals and has (len st.n).
func slide(st steps, ts []int64, off, rng int64, s slider, vals []float64, has []bool) {
	lo, hi := 0, 0
	for i := 0; i < st.n; {
		t := st.at(i) - off
		for hi < len(ts) && ts[hi] <= t {
			s.push(hi)
			hi++
		}
		for lo < hi && ts[lo] <= t-rng {
			s.pop(lo)
			lo++
		}
		if lo == hi {
			// An empty window: jump to the first step whose window can
			// hold the next sample.
			if hi == len(ts) || st.step == 0 {
				return
			}
			next := int(ceilDiv(ts[hi]+off-st.start, st.step))
			i = max(next, i+1)
			continue
		}
		vals[i], has[i] = s.value(lo, hi, t-rng, t)
		i++
	}
}

// newSlider returns the slider of a range function over the samples ts,
// vals of a series. counting says every sample is 1 (vals is then nil).
func newSlider(x *logql.RangeAggExpr, counting bool, ts []int64, vals []float64) slider {
	div := 1.0 // rates are per second of the range
	switch x.Op {
	case "rate", "bytes_rate":
		div = time.Duration(x.Range.Range).Seconds()
	}
	if counting || x.Op == "absent_over_time" {
		return &countSlider{div: div}
	}
	switch x.Op {
	case "rate", "sum_over_time", "bytes_over_time", "bytes_rate":
		return &sumSlider{vals: vals, div: div, q: newSwag(addFloat)}
	case "max_over_time":
		return &extremeSlider{vals: vals, q: newSwag(maxNaN)}
	case "min_over_time":
		return &extremeSlider{vals: vals, q: newSwag(minNaN)}
	case "avg_over_time":
		return &avgSlider{vals: vals, q: newSwag(mergeMean)}
	case "stddev_over_time", "stdvar_over_time":
		return &varSlider{vals: vals, q: newSwag(mergeVar), stddev: x.Op == "stddev_over_time"}
	case "quantile_over_time":
		return newQuantileSlider(x.Param, vals)
	case "first_over_time":
		return &edgeSlider{vals: vals}
	case "last_over_time":
		return &edgeSlider{vals: vals, last: true}
	case "rate_counter":
		return &counterSlider{ts: ts, vals: vals, corr: newSwag(addFloat)}
	}
	return nil
}

// swag is a sliding-window aggregate of an associative operation, as two
// stacks: elements are pushed on the back; the front holds, for each of its
// elements, the aggregate of it and every element after it in the front,
// rebuilt from the back when the front runs out. Every element is combined
// O(1) times, whatever the window, and no value is ever subtracted, so sums
// lose no precision to cancellation.
type swag[T any] struct {
	combine func(a, b T) T // a holds older elements than b
	front   []T            // front[len-1] covers the oldest element
	back    []T
	backAgg T
}

func newSwag[T any](combine func(a, b T) T) *swag[T] { return &swag[T]{combine: combine} }

func (q *swag[T]) push(v T) {
	if len(q.back) == 0 {
		q.backAgg = v
	} else {
		q.backAgg = q.combine(q.backAgg, v)
	}
	q.back = append(q.back, v)
}

// pop removes the oldest element.
func (q *swag[T]) pop() {
	if len(q.front) == 0 {
		// Move the back over: front[j] covers back[len-1-j:].
		for i := len(q.back) - 1; i >= 0; i-- {
			agg := q.back[i]
			if j := len(q.front); j > 0 {
				agg = q.combine(agg, q.front[j-1])
			}
			q.front = append(q.front, agg)
		}
		q.back = q.back[:0]
	}
	q.front = q.front[:len(q.front)-1]
}

func (q *swag[T]) empty() bool { return len(q.front) == 0 && len(q.back) == 0 }

// agg returns the aggregate of every element; the queue is not empty.
func (q *swag[T]) agg() T {
	switch {
	case len(q.front) == 0:
		return q.backAgg
	case len(q.back) == 0:
		return q.front[len(q.front)-1]
	}
	return q.combine(q.front[len(q.front)-1], q.backAgg)
}

func addFloat(a, b float64) float64 { return a + b }

// maxNaN and minNaN skip NaN unless every value is NaN, as a fold that
// replaces the running value when it is NaN does.
func maxNaN(a, b float64) float64 {
	if b > a || math.IsNaN(a) {
		return b
	}
	return a
}

func minNaN(a, b float64) float64 {
	if b < a || math.IsNaN(a) {
		return b
	}
	return a
}

// countSlider counts the samples of the window, divided by div (1, or the
// range in seconds for a rate).
type countSlider struct{ div float64 }

func (*countSlider) push(int) {}
func (*countSlider) pop(int)  {}
func (s *countSlider) value(lo, hi int, _, _ int64) (float64, bool) {
	return float64(hi-lo) / s.div, true
}

// sumSlider sums the window, divided by div.
type sumSlider struct {
	vals []float64
	div  float64
	q    *swag[float64]
}

func (s *sumSlider) push(i int) { s.q.push(s.vals[i]) }
func (s *sumSlider) pop(int)    { s.q.pop() }
func (s *sumSlider) value(int, int, int64, int64) (float64, bool) {
	return s.q.agg() / s.div, true
}

// extremeSlider is max_over_time or min_over_time.
type extremeSlider struct {
	vals []float64
	q    *swag[float64]
}

func (s *extremeSlider) push(i int)                                   { s.q.push(s.vals[i]) }
func (s *extremeSlider) pop(int)                                      { s.q.pop() }
func (s *extremeSlider) value(int, int, int64, int64) (float64, bool) { return s.q.agg(), true }

// edgeSlider is first_over_time or last_over_time.
type edgeSlider struct {
	vals []float64
	last bool
}

func (*edgeSlider) push(int) {}
func (*edgeSlider) pop(int)  {}
func (s *edgeSlider) value(lo, hi int, _, _ int64) (float64, bool) {
	if s.last {
		return s.vals[hi-1], true
	}
	return s.vals[lo], true
}

// meanAgg is the mean of finite values, with the infinities and NaNs seen:
// Loki's avg_over_time is the mean of the finite values, an infinity when
// there are some of one sign, and NaN with a NaN or both infinities.
type meanAgg struct {
	finiteN, finiteM float64 // count and mean of the finite values
	posInf, negInf   bool
	nan              bool
}

func meanOf(v float64) meanAgg {
	var a meanAgg
	switch {
	case math.IsNaN(v):
		a.nan = true
	case math.IsInf(v, 1):
		a.posInf = true
	case math.IsInf(v, -1):
		a.negInf = true
	default:
		a.finiteN, a.finiteM = 1, v
	}
	return a
}

func mergeMean(a, b meanAgg) meanAgg {
	out := meanAgg{posInf: a.posInf || b.posInf, negInf: a.negInf || b.negInf, nan: a.nan || b.nan}
	out.finiteN = a.finiteN + b.finiteN
	switch {
	case a.finiteN == 0:
		out.finiteM = b.finiteM
	case b.finiteN == 0:
		out.finiteM = a.finiteM
	default:
		// Weighted, so that two large means do not overflow their sum.
		out.finiteM = a.finiteM*(a.finiteN/out.finiteN) + b.finiteM*(b.finiteN/out.finiteN)
	}
	return out
}

func (a meanAgg) value() float64 {
	switch {
	case a.nan || a.posInf && a.negInf:
		return math.NaN()
	case a.posInf:
		return math.Inf(1)
	case a.negInf:
		return math.Inf(-1)
	}
	return a.finiteM
}

type avgSlider struct {
	vals []float64
	q    *swag[meanAgg]
}

func (s *avgSlider) push(i int)                                   { s.q.push(meanOf(s.vals[i])) }
func (s *avgSlider) pop(int)                                      { s.q.pop() }
func (s *avgSlider) value(int, int, int64, int64) (float64, bool) { return s.q.agg().value(), true }

// varAgg is Welford's running variance, merged as Chan et al. do; a window
// with a value that is not finite is computed from its samples, where the
// order of operations decides between NaN and an infinity.
type varAgg struct {
	n, mean, m2 float64
	nonFinite   bool
}

func mergeVar(a, b varAgg) varAgg {
	if a.n == 0 {
		return b
	}
	if b.n == 0 {
		return a
	}
	n := a.n + b.n
	d := b.mean - a.mean
	return varAgg{
		n:         n,
		mean:      a.mean + d*(b.n/n),
		m2:        a.m2 + b.m2 + d*d*(a.n*b.n/n),
		nonFinite: a.nonFinite || b.nonFinite,
	}
}

type varSlider struct {
	vals   []float64
	q      *swag[varAgg]
	stddev bool
}

func (s *varSlider) push(i int) {
	v := s.vals[i]
	s.q.push(varAgg{n: 1, mean: v, nonFinite: math.IsNaN(v) || math.IsInf(v, 0)})
}
func (s *varSlider) pop(int) { s.q.pop() }
func (s *varSlider) value(lo, hi int, _, _ int64) (float64, bool) {
	a := s.q.agg()
	v := a.m2 / a.n
	if a.nonFinite {
		v = variance(s.vals[lo:hi])
	}
	if s.stddev {
		return math.Sqrt(v), true
	}
	return v, true
}

// quantileSlider answers quantiles of the window from a Fenwick tree over
// the ranks of the series' values: the values are sorted once (NaN first,
// as Loki sorts them), and a window's k-th smallest is a descent of the
// tree.
type quantileSlider struct {
	q      float64
	rank   []int     // rank of sample i
	sorted []float64 // values by rank
	tree   []int32   // Fenwick tree of the ranks in the window, 1-based
	n      int       // samples in the window
}

func newQuantileSlider(q float64, vals []float64) *quantileSlider {
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return lessNaNFirst(vals[idx[a]], vals[idx[b]]) })
	s := &quantileSlider{q: q, rank: make([]int, len(vals)), sorted: make([]float64, len(vals)), tree: make([]int32, len(vals)+1)}
	for r, i := range idx {
		s.rank[i] = r
		s.sorted[r] = vals[i]
	}
	return s
}

func lessNaNFirst(a, b float64) bool { return math.IsNaN(a) && !math.IsNaN(b) || a < b }

func (s *quantileSlider) add(i int, d int32) {
	for r := s.rank[i] + 1; r < len(s.tree); r += r & -r {
		s.tree[r] += d
	}
	s.n += int(d)
}

func (s *quantileSlider) push(i int) { s.add(i, 1) }
func (s *quantileSlider) pop(i int)  { s.add(i, -1) }

// kth returns the k-th smallest value of the window, from 0.
func (s *quantileSlider) kth(k int) float64 {
	pos := 0
	for step := 1 << (bitsLen(len(s.tree)-1) - 1); step > 0; step >>= 1 {
		if next := pos + step; next < len(s.tree) && int(s.tree[next]) <= k {
			pos = next
			k -= int(s.tree[next])
		}
	}
	return s.sorted[pos]
}

func bitsLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return max(b, 1)
}

// value is Prometheus's quantile: linear interpolation between the two
// nearest ranks.
func (s *quantileSlider) value(int, int, int64, int64) (float64, bool) {
	switch {
	case math.IsNaN(s.q):
		return math.NaN(), true
	case s.q < 0:
		return math.Inf(-1), true
	case s.q > 1:
		return math.Inf(1), true
	}
	n := float64(s.n)
	rank := s.q * (n - 1)
	lower := math.Max(0, math.Floor(rank))
	upper := math.Min(n-1, lower+1)
	weight := rank - math.Floor(rank)
	return s.kth(int(lower))*(1-weight) + s.kth(int(upper))*weight, true
}

// counterSlider is rate_counter: the increase of a counter over the
// window, with resets, extrapolated to the window's edges. The resets of
// the window are the values before each drop between consecutive samples
// of the window, summed in a swag: sample i's correction is v[i-1] when
// v[i] < v[i-1], and the window's first sample's own correction is left out.
type counterSlider struct {
	vals []float64
	ts   []int64
	corr *swag[float64] // corrections of samples lo+1 … hi-1
	n    int
}

func (s *counterSlider) push(i int) {
	if s.n > 0 {
		c := 0.0
		if s.vals[i] < s.vals[i-1] {
			c = s.vals[i-1]
		}
		s.corr.push(c)
	}
	s.n++
}

func (s *counterSlider) pop(int) {
	if !s.corr.empty() {
		s.corr.pop()
	}
	s.n--
}

func (s *counterSlider) value(lo, hi int, from, to int64) (float64, bool) {
	if hi-lo < 2 {
		return 0, true
	}
	resets := 0.0
	if !s.corr.empty() {
		resets = s.corr.agg()
	}
	return counterRate(s.ts[lo], s.ts[hi-1], s.vals[lo], s.vals[hi-1]-s.vals[lo]+resets, hi-lo, from, to), true
}

// counterRate extrapolates the increase of a counter, first seen at
// (t0, first) and last at t1 after n samples, to the window (from, to] and
// returns it per second, as Loki's rate_counter (after Prometheus): a
// boundary further than 1.1 average intervals is taken as half an interval
// away; then the start is clamped to where the counter would have been
// zero.
func counterRate(t0, t1 int64, first, increase float64, n int, from, to int64) float64 {
	durToStart := float64(t0-from) / 1e9
	durToEnd := float64(to-t1) / 1e9
	sampled := float64(t1-t0) / 1e9
	avg := sampled / float64(n-1)
	threshold := avg * 1.1
	if durToStart >= threshold {
		durToStart = avg / 2
	}
	if increase > 0 && first >= 0 {
		if durToZero := sampled * (first / increase); durToZero < durToStart {
			durToStart = durToZero
		}
	}
	if durToEnd >= threshold {
		durToEnd = avg / 2
	}
	increase *= (sampled + durToStart + durToEnd) / sampled
	return increase / (float64(to-from) / 1e9)
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

// sortSamples orders samples by time, keeping the order of equal times.
func sortSamples(ts []int64, vals []float64) {
	if slices.IsSorted(ts) {
		return
	}
	idx := make([]int, len(ts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return ts[idx[i]] < ts[idx[j]] })
	t2 := make([]int64, len(idx))
	for i, k := range idx {
		t2[i] = ts[k]
	}
	copy(ts, t2)
	if vals != nil {
		v2 := make([]float64, len(idx))
		for i, k := range idx {
			v2[i] = vals[k]
		}
		copy(vals, v2)
	}
}
