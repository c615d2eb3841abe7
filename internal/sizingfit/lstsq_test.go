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

func TestLstsqNonNeg(t *testing.T) {
	// y = 2 + 0.5·x1 − 0.01·x2: the x2 term is dropped and the rest refitted.
	x := [][]float64{{1, 0, 0}, {1, 2, 10}, {1, 4, 0}, {1, 6, 10}}
	y := make([]float64, len(x))
	for i, r := range x {
		y[i] = 2 + 0.5*r[1] - 0.01*r[2]
	}
	got, err := lstsqNonNeg(x, y, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got[2] != 0 || got[1] <= 0 || math.Abs(got[0]-1.95) > 0.05 {
		t.Errorf("lstsqNonNeg = %v, want x2's coefficient 0 and the others near 1.95, 0.5", got)
	}
	// A negative intercept stays when it is free.
	for i, r := range x {
		y[i] = -1 + 0.5*r[1] + 0.1*r[2]
	}
	if got, err = lstsqNonNeg(x, y, 0); err != nil || math.Abs(got[0]+1) > 1e-9 || math.Abs(got[2]-0.1) > 1e-9 {
		t.Errorf("lstsqNonNeg = %v, %v; want -1, 0.5, 0.1", got, err)
	}
	if _, err := lstsqNonNeg([][]float64{{1, 2}, {1}}, []float64{1, 2}); err == nil {
		t.Errorf("ragged rows accepted")
	}
}
