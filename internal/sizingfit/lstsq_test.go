package main

import (
	"math"
	"testing"
)

func TestLstsq(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    [][]float64
		y    []float64
		want []float64 // nil: an error
	}{
		{"exact line", [][]float64{{1, 0}, {1, 1}, {1, 2}}, []float64{1, 3, 5}, []float64{1, 2}},
		{"least squares", [][]float64{{1, 0}, {1, 1}, {1, 2}}, []float64{0, 2, 1}, []float64{0.5, 0.5}},
		{"scales apart", [][]float64{{1, 1e3, 2e8}, {1, 4e3, 1e8}, {1, 1e3, 9e8}, {1, 8e3, 3e8}},
			[]float64{0.02 + 1e-5*1e3 + 3e-10*2e8, 0.02 + 1e-5*4e3 + 3e-10*1e8, 0.02 + 1e-5*1e3 + 3e-10*9e8, 0.02 + 1e-5*8e3 + 3e-10*3e8},
			[]float64{0.02, 1e-5, 3e-10}},
		{"through the origin", [][]float64{{2}, {4}}, []float64{1, 2}, []float64{0.5}},
		{"dependent columns", [][]float64{{1, 2}, {2, 4}, {3, 6}}, []float64{1, 2, 3}, nil},
		{"too few rows", [][]float64{{1, 2}}, []float64{1}, nil},
		{"zero column", [][]float64{{1, 0}, {1, 0}}, []float64{1, 2}, nil},
		{"ragged", [][]float64{{1, 2}, {1}}, []float64{1, 2}, nil},
		{"no rows", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lstsq(tc.x, tc.y)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("lstsq = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if math.Abs(got[i]-tc.want[i]) > 1e-9*max(1, math.Abs(tc.want[i])) && math.Abs(got[i]-tc.want[i])/math.Abs(tc.want[i]) > 1e-6 {
					t.Fatalf("lstsq = %v, want %v", got, tc.want)
				}
			}
		})
	}
}
