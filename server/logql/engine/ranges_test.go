package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCountRuns checks the run-length counting against counting one
// timestamp at a time, on random steps, ranges, offsets and timestamps.
func TestCountRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		st := steps{start: r.Int64N(1000), step: r.Int64N(50), n: 1 + r.IntN(20)}
		if st.step == 0 {
			st.n = 1
		}
		rng := 1 + r.Int64N(120)
		off := r.Int64N(40) - 20
		ts := make([]int64, r.IntN(60))
		for i := range ts {
			ts[i] = r.Int64N(1400) - 200
		}
		slices.Sort(ts)
		want := make([]float64, st.n+1)
		for _, x := range ts {
			lo, hi := stepSpan(st, x+off, rng)
			if lo <= hi {
				want[lo]++
				want[hi+1]--
			}
		}
		got := make([]float64, st.n+1)
		countRuns(got, st, ts, off, rng)
		if !slices.Equal(got, want) {
			t.Fatalf("steps %+v range %d offset %d ts %v:\n got %v\nwant %v", st, rng, off, ts, got, want)
		}
	}
}
