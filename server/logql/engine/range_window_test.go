package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/logql"
)

// windowOps are the range functions a slider computes, with a reference
// that recomputes one window from its samples the way Loki does.
var windowOps = []struct {
	op  string
	ref func(ts []int64, vals []float64, from, to int64, rng time.Duration) float64
}{
	{"count_over_time", func(ts []int64, _ []float64, _, _ int64, _ time.Duration) float64 { return float64(len(ts)) }},
	{"sum_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return plainSum(vals) }},
	{"rate", func(_ []int64, vals []float64, _, _ int64, rng time.Duration) float64 {
		return plainSum(vals) / rng.Seconds()
	}},
	{"bytes_rate", func(_ []int64, vals []float64, _, _ int64, rng time.Duration) float64 {
		return plainSum(vals) / rng.Seconds()
	}},
	{"avg_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return refAvg(vals) }},
	{"max_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return refFold(vals, maxNaN) }},
	{"min_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return refFold(vals, minNaN) }},
	{"stdvar_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return variance(vals) }},
	{"stddev_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return math.Sqrt(variance(vals)) }},
	{"quantile_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return refQuantile(0.9, vals) }},
	{"first_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return vals[0] }},
	{"last_over_time", func(_ []int64, vals []float64, _, _ int64, _ time.Duration) float64 { return vals[len(vals)-1] }},
	{"rate_counter", refCounterRate},
}

func plainSum(vals []float64) float64 {
	var s float64
	for _, v := range vals {
		s += v
	}
	return s
}

// refAvg is the incremental mean Loki's avg_over_time computes.
func refAvg(vals []float64) float64 {
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
	return mean
}

func refFold(vals []float64, f func(a, b float64) float64) float64 {
	m := vals[0]
	for _, v := range vals[1:] {
		m = f(m, v)
	}
	return m
}

func refQuantile(q float64, vals []float64) float64 {
	s := slices.Clone(vals)
	slices.SortStableFunc(s, func(a, b float64) int {
		switch {
		case lessNaNFirst(a, b):
			return -1
		case lessNaNFirst(b, a):
			return 1
		}
		return 0
	})
	n := float64(len(s))
	rank := q * (n - 1)
	lower := math.Max(0, math.Floor(rank))
	upper := math.Min(n-1, lower+1)
	weight := rank - math.Floor(rank)
	return s[int(lower)]*(1-weight) + s[int(upper)]*weight
}

// refCounterRate is Loki's extrapolated rate of a counter over one window.
func refCounterRate(ts []int64, vals []float64, from, to int64, rng time.Duration) float64 {
	if len(vals) < 2 {
		return 0
	}
	result := vals[len(vals)-1] - vals[0]
	var last float64
	for _, v := range vals {
		if v < last {
			result += last
		}
		last = v
	}
	return counterRate(ts[0], ts[len(ts)-1], vals[0], result, len(vals), from, to)
}

func sameValue(a, b float64) bool {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return math.IsNaN(a) && math.IsNaN(b)
	case math.IsInf(a, 0) || math.IsInf(b, 0):
		return a == b
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestSlide checks every slider against recomputing each window from its
// samples, on random samples, steps, ranges and offsets, including
// instant queries, empty windows, equal timestamps and, for the functions
// that must handle them, infinities and NaN.
func TestSlide(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, o := range windowOps {
		t.Run(o.op, func(t *testing.T) {
			for iter := 0; iter < 1500; iter++ {
				st := steps{start: r.Int64N(2000), step: 1 + r.Int64N(80), n: 1 + r.IntN(40)}
				if r.IntN(8) == 0 {
					st.step, st.n = 0, 1
				}
				rng := 1 + r.Int64N(300)
				off := r.Int64N(60) - 30
				ts := make([]int64, r.IntN(80))
				vals := make([]float64, len(ts))
				for i := range ts {
					ts[i] = r.Int64N(5000) - 500
					vals[i] = float64(r.IntN(200)) - 50 + r.Float64()
					if o.op == "rate_counter" {
						vals[i] = math.Abs(vals[i])
					}
					if r.IntN(60) == 0 && o.op != "rate_counter" {
						vals[i] = []float64{math.Inf(1), math.Inf(-1), math.NaN()}[r.IntN(3)]
					}
				}
				sortSamples(ts, vals)
				x := &logql.RangeAggExpr{Op: o.op, Param: 0.9, Range: &logql.LogRange{Range: time.Duration(rng)}}
				got := make([]float64, st.n)
				has := make([]bool, st.n)
				counting := o.op == "count_over_time"
				sv := vals
				if counting {
					sv = nil
				}
				slide(st, ts, off, rng, newSlider(x, counting, ts, sv), got, has)
				for i := 0; i < st.n; i++ {
					to := st.at(i) - off
					from := to - rng
					lo, _ := slices.BinarySearch(ts, from+1)
					hi, _ := slices.BinarySearch(ts, to+1)
					if lo == hi {
						if has[i] {
							t.Fatalf("step %d: a value %v for an empty window", i, got[i])
						}
						continue
					}
					want := o.ref(ts[lo:hi], vals[lo:hi], from, to, time.Duration(rng))
					if !has[i] || !sameValue(got[i], want) {
						t.Fatalf("steps %+v range %d offset %d, step %d window (%d, %d] %v %v: got %v (has %v), want %v",
							st, rng, off, i, from, to, ts[lo:hi], vals[lo:hi], got[i], has[i], want)
					}
				}
			}
		})
	}
}

// TestSwagOrder checks that a swag combines in queue order, with a
// combination that is associative but not commutative: concatenation.
func TestSwagOrder(t *testing.T) {
	q := newSwag(func(a, b string) string { return a + b })
	var model []string
	r := rand.New(rand.NewPCG(5, 6))
	next := 'a'
	for i := 0; i < 5000; i++ {
		if len(model) > 0 && r.IntN(2) == 0 {
			q.pop()
			model = model[1:]
		} else {
			q.push(string(next))
			model = append(model, string(next))
			next = 'a' + (next-'a'+1)%26
		}
		if len(model) == 0 {
			if !q.empty() {
				t.Fatal("not empty")
			}
			continue
		}
		if got, want := q.agg(), join(model); got != want {
			t.Fatalf("step %d: %q, want %q", i, got, want)
		}
	}
}

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x
	}
	return out
}
