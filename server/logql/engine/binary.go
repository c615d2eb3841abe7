package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
)

// binary evaluates a binary expression step by step.
func binary(st steps, x *logql.BinaryExpr, l, r *matrix) (*matrix, error) {
	switch {
	case l.scalar != nil && r.scalar != nil:
		out := make([]float64, st.n)
		for i := range out {
			v, _ := applyOp(x.Op, l.scalar[i], r.scalar[i], x.ReturnBool)
			out[i] = v
		}
		return &matrix{scalar: out}, nil
	case l.scalar != nil || r.scalar != nil:
		return vectorScalar(st, x, l, r), nil
	}
	switch x.Op {
	case "and", "or", "unless":
		return setOp(st, x, l, r), nil
	}
	return vectorVector(st, x, l, r)
}

// applyOp applies an arithmetic or comparison operator. keep is false when
// a comparison without bool drops the sample.
func applyOp(op string, a, b float64, returnBool bool) (v float64, keep bool) {
	cmp := func(ok bool) (float64, bool) {
		if returnBool {
			if ok {
				return 1, true
			}
			return 0, true
		}
		return a, ok
	}
	switch op {
	case "+":
		return a + b, true
	case "-":
		return a - b, true
	case "*":
		return a * b, true
	case "/":
		// Loki answers NaN for a division by zero, not an infinity.
		if b == 0 {
			return math.NaN(), true
		}
		return a / b, true
	case "%":
		if b == 0 {
			return math.NaN(), true
		}
		return math.Mod(a, b), true
	case "^":
		return math.Pow(a, b), true
	case "==":
		return cmp(a == b)
	case "!=":
		return cmp(a != b)
	case ">":
		return cmp(a > b)
	case ">=":
		return cmp(a >= b)
	case "<":
		return cmp(a < b)
	case "<=":
		return cmp(a <= b)
	}
	return math.NaN(), false
}

func isComparison(op string) bool {
	switch op {
	case "==", "!=", ">", ">=", "<", "<=":
		return true
	}
	return false
}

func vectorScalar(st steps, x *logql.BinaryExpr, l, r *matrix) *matrix {
	vec, sc, swap := l, r.scalar, false
	if l.scalar != nil {
		vec, sc, swap = r, l.scalar, true
	}
	out := &matrix{}
	for _, s := range vec.series {
		ns := newStepSeries(s.labels, st.n)
		any := false
		for i := 0; i < st.n; i++ {
			if !s.has[i] {
				continue
			}
			a, b := s.vals[i], sc[i]
			if swap {
				a, b = b, a
			}
			v, keep := applyOp(x.Op, a, b, x.ReturnBool)
			if !keep {
				continue
			}
			// A comparison keeps the vector's value, whichever side it is on.
			if isComparison(x.Op) && !x.ReturnBool {
				v = s.vals[i]
			}
			ns.vals[i], ns.has[i] = v, true
			any = true
		}
		if any {
			out.series = append(out.series, ns)
		}
	}
	return out
}

// signature returns the labels two series are matched on.
func signature(ls labels.Labels, m *logql.VectorMatching) uint64 {
	if m == nil || !m.Explicit {
		return ls.Hash()
	}
	out := make(labels.Labels, 0, len(ls))
	for _, l := range ls {
		if slices.Contains(m.Labels, l.Name) == m.On {
			out = append(out, l)
		}
	}
	return out.Hash()
}

// resultLabels are the labels of a sample of a vector-vector operation.
func resultLabels(l, r labels.Labels, m *logql.VectorMatching) labels.Labels {
	if m == nil || m.Card == "" {
		if m == nil || !m.Explicit {
			return l
		}
		out := make(labels.Labels, 0, len(l))
		for _, lb := range l {
			if slices.Contains(m.Labels, lb.Name) == m.On {
				out = append(out, lb)
			}
		}
		return out
	}
	// group_left/group_right: the "many" side's labels, plus the included
	// labels of the "one" side.
	out := l
	for _, name := range m.Include {
		if v := r.Get(name); v != "" {
			out = setLabel(out, name, v)
		} else {
			out = setLabel(out, name, "")
		}
	}
	return out
}

func vectorVector(st steps, x *logql.BinaryExpr, l, r *matrix) (*matrix, error) {
	m := x.Matching
	many, one := l, r
	swapped := false
	if m != nil && m.Card == "group_right" {
		many, one, swapped = r, l, true
	}
	out := map[uint64]*stepSeries{}
	var order []*stepSeries
	for i := 0; i < st.n; i++ {
		// The "one" side must have one series per signature at each step.
		ones := map[uint64]*stepSeries{}
		for _, s := range one.series {
			if !s.has[i] {
				continue
			}
			sig := signature(s.labels, m)
			if _, dup := ones[sig]; dup {
				side := "right"
				if swapped {
					side = "left"
				}
				// Loki answers these matching errors with a 500, as
				// evaluation failures, not as errors of the query.
				return nil, fmt.Errorf("found duplicate series on the %s hand-side;many-to-many matching not allowed: matching labels must be unique on one side", side)
			}
			ones[sig] = s
		}
		matchedMany := map[uint64]bool{}
		for _, s := range many.series {
			if !s.has[i] {
				continue
			}
			sig := signature(s.labels, m)
			o := ones[sig]
			if o == nil {
				continue
			}
			if m == nil || m.Card == "" {
				if matchedMany[sig] {
					return nil, errors.New("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
				}
				matchedMany[sig] = true
			}
			a, b := s.vals[i], o.vals[i]
			if swapped {
				a, b = b, a
			}
			v, keep := applyOp(x.Op, a, b, x.ReturnBool)
			if !keep {
				continue
			}
			if isComparison(x.Op) && !x.ReturnBool {
				v = s.vals[i]
				if swapped {
					v = o.vals[i]
				}
			}
			ls := resultLabels(s.labels, o.labels, m)
			h := ls.Hash()
			ns := out[h]
			if ns == nil {
				ns = newStepSeries(ls, st.n)
				out[h] = ns
				order = append(order, ns)
			}
			if ns.has[i] {
				return nil, errors.New("multiple matches for labels: grouping labels must ensure unique matches")
			}
			ns.vals[i], ns.has[i] = v, true
		}
	}
	return &matrix{series: order}, nil
}

// setOp evaluates and, or and unless.
func setOp(st steps, x *logql.BinaryExpr, l, r *matrix) *matrix {
	m := x.Matching
	out := &matrix{}
	rsigs := make([]uint64, len(r.series))
	for i, s := range r.series {
		rsigs[i] = signature(s.labels, m)
	}
	lsigs := make([]uint64, len(l.series))
	for i, s := range l.series {
		lsigs[i] = signature(s.labels, m)
	}
	present := func(series []*stepSeries, sigs []uint64, step int) map[uint64]bool {
		p := map[uint64]bool{}
		for i, s := range series {
			if s.has[step] {
				p[sigs[i]] = true
			}
		}
		return p
	}
	lout := make([]*stepSeries, len(l.series))
	for i, s := range l.series {
		lout[i] = &stepSeries{labels: s.labels, hash: s.hash, vals: s.vals, has: make([]bool, st.n)}
	}
	var rout []*stepSeries
	if x.Op == "or" {
		rout = make([]*stepSeries, len(r.series))
		for i, s := range r.series {
			rout[i] = &stepSeries{labels: s.labels, hash: s.hash, vals: s.vals, has: make([]bool, st.n)}
		}
	}
	for step := 0; step < st.n; step++ {
		rp := present(r.series, rsigs, step)
		for i, s := range l.series {
			if !s.has[step] {
				continue
			}
			switch x.Op {
			case "and":
				lout[i].has[step] = rp[lsigs[i]]
			case "unless":
				lout[i].has[step] = !rp[lsigs[i]]
			case "or":
				lout[i].has[step] = true
			}
		}
		if x.Op == "or" {
			lp := present(l.series, lsigs, step)
			for i, s := range r.series {
				if s.has[step] && !lp[rsigs[i]] {
					rout[i].has[step] = true
				}
			}
		}
	}
	byHash := map[uint64]*stepSeries{}
	for _, s := range append(lout, rout...) {
		if !slices.Contains(s.has, true) {
			continue
		}
		prev := byHash[s.hash]
		if prev == nil {
			byHash[s.hash] = s
			out.series = append(out.series, s)
			continue
		}
		// The same label set on both sides of or: one series.
		merged := &stepSeries{labels: prev.labels, hash: prev.hash, vals: slices.Clone(prev.vals), has: slices.Clone(prev.has)}
		for i := range s.has {
			if s.has[i] && !merged.has[i] {
				merged.vals[i], merged.has[i] = s.vals[i], true
			}
		}
		byHash[s.hash] = merged
		for j := range out.series {
			if out.series[j] == prev {
				out.series[j] = merged
			}
		}
	}
	return out
}
