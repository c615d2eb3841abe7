package main

import (
	"errors"
	"math"
	"slices"
)

// lstsq returns the coefficients β that minimise Σ (y_i − x_i·β)², from the
// normal equations solved by Gaussian elimination with partial pivoting.
// Columns are scaled to a largest magnitude of 1 first, since they differ
// by orders of magnitude (a constant next to bytes per second). It fails
// when there are fewer rows than columns or the columns are dependent.
func lstsq(x [][]float64, y []float64) ([]float64, error) {
	if len(x) == 0 || len(x) != len(y) {
		return nil, errors.New("no rows, or as many rows as answers")
	}
	k := len(x[0])
	if len(x) < k {
		return nil, errors.New("fewer runs than coefficients")
	}
	scale := make([]float64, k)
	for _, row := range x {
		if len(row) != k {
			return nil, errors.New("rows of different lengths")
		}
		for j, v := range row {
			scale[j] = max(scale[j], math.Abs(v))
		}
	}
	for j := range scale {
		if scale[j] == 0 {
			return nil, errors.New("a column of zeros")
		}
	}
	// a = XᵀX | Xᵀy, on the scaled columns.
	a := make([][]float64, k)
	for i := range a {
		a[i] = make([]float64, k+1)
	}
	for r, row := range x {
		for i := range k {
			xi := row[i] / scale[i]
			for j := range k {
				a[i][j] += xi * row[j] / scale[j]
			}
			a[i][k] += xi * y[r]
		}
	}
	for c := range k {
		p := c
		for r := c + 1; r < k; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12*float64(len(x)) {
			return nil, errors.New("the columns are linearly dependent: the runs do not vary enough")
		}
		a[c], a[p] = a[p], a[c]
		for r := range k {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for j := c; j <= k; j++ {
				a[r][j] -= f * a[c][j]
			}
		}
	}
	beta := make([]float64, k)
	for i := range k {
		beta[i] = a[i][k] / a[i][i] / scale[i]
	}
	return beta, nil
}

// lstsqNonNeg is lstsq with every coefficient but those of the columns in
// free kept at 0 or above: a column whose coefficient comes out negative is
// dropped (its coefficient 0) and the rest fitted again, the most negative
// first. The runs are too few and too noisy for a term that cannot be
// negative (bytes per stream, MiB per head byte) to be fitted below 0.
func lstsqNonNeg(x [][]float64, y []float64, free ...int) ([]float64, error) {
	if len(x) == 0 {
		return lstsq(x, y)
	}
	k := len(x[0])
	keep := make([]bool, k)
	for j := range keep {
		keep[j] = true
	}
	for {
		var cols []int
		for j, ok := range keep {
			if ok {
				cols = append(cols, j)
			}
		}
		sub := make([][]float64, len(x))
		for i, row := range x {
			if len(row) != k {
				return nil, errors.New("rows of different lengths")
			}
			for _, j := range cols {
				sub[i] = append(sub[i], row[j])
			}
		}
		b, err := lstsq(sub, y)
		if err != nil {
			return nil, err
		}
		out := make([]float64, k)
		worst, at := 0.0, -1
		for i, j := range cols {
			out[j] = b[i]
			if b[i] < worst && !slices.Contains(free, j) {
				worst, at = b[i], j
			}
		}
		if at < 0 {
			return out, nil
		}
		keep[at] = false
	}
}
