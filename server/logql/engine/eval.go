package engine

import (
	"context"
	"errors"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
)

func (e *Engine) metricQuery(ctx context.Context, p Params, x logql.SampleExpr) (*Result, error) {
	if usesApproxTopk(x) {
		// Loki's default configuration refuses it with a 500 too.
		return nil, errors.New("approx_topk is not enabled: use topk")
	}
	st := steps{start: p.End, n: 1}
	if !p.Instant {
		if p.Step <= 0 {
			return nil, errorf("zero or negative query resolution step widths are not accepted. Try a positive integer")
		}
		if (p.End-p.Start)/int64(p.Step) > int64(e.limits.MaxPoints) {
			return nil, errorf("exceeded maximum resolution of %s points per time series. Try increasing the value of the step parameter", thousands(e.limits.MaxPoints))
		}
		st = alignSteps(p.Start, p.End, int64(p.Step))
	}
	m, err := e.eval(ctx, p, st, x, true)
	if err != nil {
		return nil, err
	}
	if err := e.checkSeries(len(m.series)); err != nil {
		return nil, err
	}
	res := &Result{}
	if m.scalar != nil {
		if p.Instant {
			res.Type = "scalar"
			res.Scalar = Point{T: st.at(0) / 1e6, V: m.scalar[0]}
			return res, nil
		}
		// A scalar over a range is one series without labels.
		s := newStepSeries(labels.Labels{}, st.n)
		for i := range s.vals {
			s.vals[i], s.has[i] = m.scalar[i], true
		}
		m = &matrix{series: []*stepSeries{s}}
	}
	if p.Instant {
		res.Type = "vector"
		res.Vector = []Sample{}
		for _, s := range m.series {
			if s.has[0] {
				res.Vector = append(res.Vector, Sample{Labels: s.labels, Point: Point{T: st.at(0) / 1e6, V: s.vals[0]}})
			}
		}
		if !sortedBy(x) {
			sort.SliceStable(res.Vector, func(i, j int) bool { return labels.Compare(res.Vector[i].Labels, res.Vector[j].Labels) < 0 })
		}
		return res, nil
	}
	res.Type = "matrix"
	res.Matrix = []*Series{}
	for _, s := range m.series {
		out := &Series{Labels: s.labels}
		for i := range s.vals {
			if s.has[i] {
				out.Points = append(out.Points, Point{T: st.at(i) / 1e6, V: s.vals[i]})
			}
		}
		if len(out.Points) > 0 {
			res.Matrix = append(res.Matrix, out)
		}
	}
	sort.SliceStable(res.Matrix, func(i, j int) bool { return labels.Compare(res.Matrix[i].Labels, res.Matrix[j].Labels) < 0 })
	return res, nil
}

// usesApproxTopk reports whether approx_topk appears anywhere in x.
func usesApproxTopk(x logql.SampleExpr) bool {
	found := false
	logql.Walk(x, func(e logql.Expr) {
		if v, ok := e.(*logql.VectorAggExpr); ok && v.Approx {
			found = true
		}
	})
	return found
}

// sortedBy reports whether the outermost operation orders the result.
func sortedBy(x logql.SampleExpr) bool {
	if v, ok := x.(*logql.VectorAggExpr); ok {
		switch v.Op {
		case "sort", "sort_desc", "topk", "bottomk":
			return true
		}
	}
	return false
}

// eval evaluates x at every step. bounded says that max_query_series
// bounds x's series, as it does every part Loki runs as a query of its own
// (downstream.go).
func (e *Engine) eval(ctx context.Context, p Params, st steps, x logql.SampleExpr, bounded bool) (*matrix, error) {
	switch x := x.(type) {
	case *logql.RangeAggExpr:
		return e.evalRange(ctx, p, st, x, bounded)
	case *logql.VectorAggExpr:
		var m *matrix
		var err error
		inner := innerBounded(x)
		if r, ok := x.Inner.(*logql.RangeAggExpr); ok && streamable(x.Op) && r.Op != "absent_over_time" {
			m, err = e.evalRangeAgg(ctx, p, st, x, r, inner)
		} else if in, ierr := e.eval(ctx, p, st, x.Inner, inner); ierr != nil {
			err = ierr
		} else {
			m, err = vectorAgg(st, x, in)
		}
		if err != nil {
			return nil, err
		}
		if bounded {
			if err := e.checkSeries(len(m.series)); err != nil {
				return nil, err
			}
		}
		return m, nil
	case *logql.BinaryExpr:
		// Loki runs each operand as a part of its own.
		l, err := e.eval(ctx, p, st, x.L, true)
		if err != nil {
			return nil, err
		}
		r, err := e.eval(ctx, p, st, x.R, true)
		if err != nil {
			return nil, err
		}
		return binary(st, x, l, r)
	case *logql.LiteralExpr:
		vals := make([]float64, st.n)
		for i := range vals {
			vals[i] = x.Value
		}
		return &matrix{scalar: vals}, nil
	case *logql.VectorExpr:
		s := newStepSeries(labels.Labels{}, st.n)
		for i := range s.vals {
			s.vals[i], s.has[i] = x.Value, true
		}
		return &matrix{series: []*stepSeries{s}}, nil
	case *logql.LabelReplaceExpr:
		in, err := e.eval(ctx, p, st, x.Inner, true)
		if err != nil {
			return nil, err
		}
		return labelReplace(x, in)
	}
	return nil, errorf("unsupported expression %s", x)
}

// groupLabels returns the labels a series contributes to under a grouping.
func groupLabels(ls labels.Labels, g *logql.Grouping) labels.Labels {
	if g == nil {
		return labels.Labels{}
	}
	out := make(labels.Labels, 0, len(g.Labels))
	for _, l := range ls {
		if slices.Contains(g.Labels, l.Name) != g.Without {
			out = append(out, l)
		}
	}
	return out
}

func vectorAgg(st steps, x *logql.VectorAggExpr, in *matrix) (*matrix, error) {
	if in.scalar != nil {
		return nil, errorf("%s needs a vector, not a scalar", x.Op)
	}
	switch x.Op {
	case "sort", "sort_desc":
		desc := x.Op == "sort_desc"
		out := &matrix{series: slices.Clone(in.series)}
		// Order by the value at the last step (instant queries have one).
		last := st.n - 1
		// Ties go by labels, so that an answer does not vary from one
		// query to the next (Loki's does).
		sort.SliceStable(out.series, func(i, j int) bool {
			a, b := out.series[i].vals[last], out.series[j].vals[last]
			if a == b || math.IsNaN(a) && math.IsNaN(b) {
				return labels.Compare(out.series[i].labels, out.series[j].labels) < 0
			}
			if desc {
				return a > b || math.IsNaN(b) && !math.IsNaN(a)
			}
			return a < b || math.IsNaN(b) && !math.IsNaN(a)
		})
		return out, nil
	case "topk", "bottomk":
		return topk(st, x, in), nil
	}
	agg := newVecAgg(st, x)
	for _, s := range in.series {
		agg.add(s.labels, s.vals, s.has)
	}
	return agg.result(), nil
}

// vecAgg is a vector aggregation other than topk, bottomk and sort: the
// series come one at a time, and only each group's accumulators are kept.
type vecAgg struct {
	op       string
	grouping *logql.Grouping
	n        int
	groups   map[uint64]*aggGroup
	order    []*aggGroup
}

type aggGroup struct {
	labels labels.Labels
	acc    []aggAcc // one per step
}

func newVecAgg(st steps, x *logql.VectorAggExpr) *vecAgg {
	return &vecAgg{op: x.Op, grouping: x.Grouping, n: st.n, groups: map[uint64]*aggGroup{}}
}

// add folds the values of one series into its group.
func (a *vecAgg) add(ls labels.Labels, vals []float64, has []bool) {
	gl := groupLabels(ls, a.grouping)
	h := gl.Hash()
	g := a.groups[h]
	if g == nil {
		g = &aggGroup{labels: gl, acc: make([]aggAcc, a.n)}
		a.groups[h] = g
		a.order = append(a.order, g)
	}
	for i, ok := range has {
		if ok {
			g.acc[i].add(vals[i])
		}
	}
}

func (a *vecAgg) result() *matrix {
	out := &matrix{}
	for _, g := range a.order {
		s := newStepSeries(g.labels, a.n)
		for i := range g.acc {
			if acc := &g.acc[i]; acc.n > 0 {
				s.has[i], s.vals[i] = true, acc.value(a.op)
			}
		}
		out.series = append(out.series, s)
	}
	return out
}

// aggAcc accumulates the values of one group at one step.
type aggAcc struct {
	n           float64
	sum, c      float64 // Kahan
	min, max    float64
	mean, m2    float64 // Welford
	meanAvg     float64
	avgInfinite bool
	first       bool
}

func (a *aggAcc) add(v float64) {
	if a.n == 0 {
		a.min, a.max = v, v
	} else {
		if v < a.min || math.IsNaN(a.min) {
			a.min = v
		}
		if v > a.max || math.IsNaN(a.max) {
			a.max = v
		}
	}
	a.n++
	y := v - a.c
	t := a.sum + y
	a.c = (t - a.sum) - y
	a.sum = t
	d := v - a.mean
	a.mean += d / a.n
	a.m2 += d * (v - a.mean)
}

func (a *aggAcc) value(op string) float64 {
	switch op {
	case "sum":
		return a.sum
	case "avg":
		return a.mean
	case "min":
		return a.min
	case "max":
		return a.max
	case "count":
		return a.n
	case "stddev":
		return math.Sqrt(a.m2 / a.n)
	case "stdvar":
		return a.m2 / a.n
	}
	return math.NaN()
}

// topk keeps, at each step and in each group, the k largest (bottomk:
// smallest) series; the series keep their labels.
func topk(st steps, x *logql.VectorAggExpr, in *matrix) *matrix {
	out := make([]*stepSeries, len(in.series))
	for i, s := range in.series {
		out[i] = &stepSeries{labels: s.labels, hash: s.hash, vals: s.vals, has: make([]bool, st.n)}
	}
	groupOf := make([]uint64, len(in.series))
	for i, s := range in.series {
		groupOf[i] = groupLabels(s.labels, x.Grouping).Hash()
	}
	for step := 0; step < st.n; step++ {
		byGroup := map[uint64][]int{}
		for i, s := range in.series {
			if s.has[step] {
				byGroup[groupOf[i]] = append(byGroup[groupOf[i]], i)
			}
		}
		for _, idx := range byGroup {
			sort.SliceStable(idx, func(a, b int) bool {
				va, vb := in.series[idx[a]].vals[step], in.series[idx[b]].vals[step]
				if va == vb || math.IsNaN(va) && math.IsNaN(vb) {
					return labels.Compare(in.series[idx[a]].labels, in.series[idx[b]].labels) < 0
				}
				if x.Op == "topk" {
					return va > vb || math.IsNaN(vb) && !math.IsNaN(va)
				}
				return va < vb || math.IsNaN(vb) && !math.IsNaN(va)
			})
			for j := 0; j < len(idx) && j < x.Param; j++ {
				out[idx[j]].has[step] = true
			}
		}
	}
	m := &matrix{}
	for _, s := range out {
		if slices.Contains(s.has, true) {
			m.series = append(m.series, s)
		}
	}
	// Instant queries show topk's result largest first.
	if st.n == 1 {
		sort.SliceStable(m.series, func(i, j int) bool {
			a, b := m.series[i].vals[0], m.series[j].vals[0]
			if a == b {
				return labels.Compare(m.series[i].labels, m.series[j].labels) < 0
			}
			if x.Op == "topk" {
				return a > b
			}
			return a < b
		})
	}
	return m
}

func labelReplace(x *logql.LabelReplaceExpr, in *matrix) (*matrix, error) {
	if in.scalar != nil {
		return nil, errorf("label_replace needs a vector, not a scalar")
	}
	re, err := regexp.Compile("^(?s:" + x.Re + ")$")
	if err != nil {
		return nil, errorf("invalid regular expression in label_replace(): %v", err)
	}
	out := &matrix{}
	for _, s := range in.series {
		src := s.labels.Get(x.Src)
		ls := s.labels
		if idx := re.FindStringSubmatchIndex(src); idx != nil {
			v := string(re.ExpandString(nil, x.Replacement, src, idx))
			ls = setLabel(s.labels, x.Dst, v)
		}
		// Loki lets label sets collide here: later aggregations add them.
		out.series = append(out.series, &stepSeries{labels: ls, hash: ls.Hash(), vals: s.vals, has: s.has})
	}
	return out, nil
}

// setLabel returns ls with name set to value; an empty value removes it.
func setLabel(ls labels.Labels, name, value string) labels.Labels {
	out := make(labels.Labels, 0, len(ls)+1)
	for _, l := range ls {
		if l.Name != name {
			out = append(out, l)
		}
	}
	if value != "" {
		out = append(out, labels.Label{Name: name, Value: value})
	}
	return labels.New(out...)
}

// FormatValue prints a sample value as Loki does: NaN, +Inf, -Inf, or the
// shortest decimal that reads back the same.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
