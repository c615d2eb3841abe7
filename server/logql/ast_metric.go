package logql

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// SampleExpr is an expression that evaluates to samples: a range
// aggregation, a vector aggregation, a binary expression, a literal, vector()
// or label_replace().
type SampleExpr interface {
	Expr
	sampleExpr()
}

// Unwrap is | unwrap [conv(]label[)] with the label filters that follow it.
type Unwrap struct {
	Label string
	// Conv is "", "duration", "duration_seconds" or "bytes".
	Conv        string
	PostFilters []LabelFilter
}

func (u *Unwrap) String() string {
	var b strings.Builder
	b.WriteString("| unwrap ")
	if u.Conv != "" {
		b.WriteString(u.Conv)
		b.WriteByte('(')
		b.WriteString(u.Label)
		b.WriteByte(')')
	} else {
		b.WriteString(u.Label)
	}
	for _, f := range u.PostFilters {
		b.WriteString(" | ")
		b.WriteString(f.String())
	}
	return b.String()
}

// LogRange is the range argument of a range aggregation: a log query with
// an optional unwrap, a range and an offset.
type LogRange struct {
	Log    *LogSelectorExpr
	Unwrap *Unwrap
	Range  time.Duration
	Offset time.Duration
}

func (r *LogRange) String() string {
	var b strings.Builder
	b.WriteString(r.Log.String())
	if r.Unwrap != nil {
		b.WriteByte(' ')
		b.WriteString(r.Unwrap.String())
	}
	b.WriteString("[")
	b.WriteString(formatDuration(r.Range))
	b.WriteByte(']')
	if r.Offset != 0 {
		b.WriteString(" offset ")
		b.WriteString(formatDuration(r.Offset))
	}
	return b.String()
}

// Grouping is by (…) or without (…). A nil *Grouping means none was written;
// by () is an empty, non-nil grouping.
type Grouping struct {
	Without bool
	Labels  []string
}

func (g *Grouping) String() string {
	kw := "by"
	if g.Without {
		kw = "without"
	}
	return kw + " (" + strings.Join(g.Labels, ", ") + ")"
}

// RangeAggExpr is count_over_time(…[5m]), rate(…), quantile_over_time(0.9, …) by (x), …
type RangeAggExpr struct {
	Op       string
	Param    float64 // quantile_over_time's φ
	Range    *LogRange
	Grouping *Grouping
}

// VectorAggExpr is sum by (x) (…), topk(5, …), sort(…), …
type VectorAggExpr struct {
	Op       string
	Approx   bool // written approx_topk, which is evaluated as topk (Op)
	Param    int  // topk/bottomk k
	Grouping *Grouping
	Inner    SampleExpr
}

// VectorMatching is the on/ignoring and group_left/group_right modifier of a
// binary expression between vectors.
type VectorMatching struct {
	On       bool     // on (…) rather than ignoring (…)
	Labels   []string // the on or ignoring labels
	Card     string   // "", "group_left" or "group_right"
	Include  []string // the group_x labels
	Explicit bool     // on/ignoring was written
}

// BinaryExpr is L op R: arithmetic (+ - * / % ^), comparison (== != > >= <
// <=, with bool) or set (and or unless).
type BinaryExpr struct {
	Op         string
	L, R       SampleExpr
	ReturnBool bool
	Matching   *VectorMatching // nil when neither on/ignoring nor group_x was written
}

// LiteralExpr is a number.
type LiteralExpr struct{ Value float64 }

// VectorExpr is vector(n): one sample with no labels at every step.
type VectorExpr struct{ Value float64 }

// LabelReplaceExpr is label_replace(inner, "dst", "replacement", "src", "regex").
type LabelReplaceExpr struct {
	Inner                     SampleExpr
	Dst, Replacement, Src, Re string
}

func (*RangeAggExpr) logqlExpr()     {}
func (*VectorAggExpr) logqlExpr()    {}
func (*BinaryExpr) logqlExpr()       {}
func (*LiteralExpr) logqlExpr()      {}
func (*VectorExpr) logqlExpr()       {}
func (*LabelReplaceExpr) logqlExpr() {}

func (*RangeAggExpr) sampleExpr()     {}
func (*VectorAggExpr) sampleExpr()    {}
func (*BinaryExpr) sampleExpr()       {}
func (*LiteralExpr) sampleExpr()      {}
func (*VectorExpr) sampleExpr()       {}
func (*LabelReplaceExpr) sampleExpr() {}

func (e *RangeAggExpr) String() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteByte('(')
	if e.Op == "quantile_over_time" {
		b.WriteString(printFloat(e.Param))
		b.WriteString(", ")
	}
	b.WriteString(e.Range.String())
	b.WriteByte(')')
	if e.Grouping != nil {
		b.WriteByte(' ')
		b.WriteString(e.Grouping.String())
	}
	return b.String()
}

func (e *VectorAggExpr) String() string {
	var b strings.Builder
	if e.Approx {
		b.WriteString("approx_topk")
	} else {
		b.WriteString(e.Op)
	}
	if e.Grouping != nil {
		b.WriteByte(' ')
		b.WriteString(e.Grouping.String())
		b.WriteByte(' ')
	}
	b.WriteByte('(')
	if e.Op == "topk" || e.Op == "bottomk" {
		b.WriteString(strconv.Itoa(e.Param))
		b.WriteString(", ")
	}
	b.WriteString(e.Inner.String())
	b.WriteByte(')')
	return b.String()
}

// binaryPrecedence orders the binary operators: higher binds tighter.
func binaryPrecedence(op string) int {
	switch op {
	case "or":
		return 1
	case "and", "unless":
		return 2
	case "==", "!=", ">", ">=", "<", "<=":
		return 3
	case "+", "-":
		return 4
	case "*", "/", "%":
		return 5
	case "^":
		return 6
	}
	return 0
}

func (e *BinaryExpr) String() string {
	var b strings.Builder
	prec := binaryPrecedence(e.Op)
	operand := func(x SampleExpr, right bool) {
		s := x.String()
		if bx, ok := x.(*BinaryExpr); ok {
			p := binaryPrecedence(bx.Op)
			// ^ is right-associative, the others left-associative.
			if p < prec || p == prec && (right != (e.Op == "^")) {
				s = "(" + s + ")"
			}
		}
		if l, ok := x.(*LiteralExpr); ok && l.Value < 0 && right {
			s = "(" + s + ")"
		}
		b.WriteString(s)
	}
	operand(e.L, false)
	b.WriteByte(' ')
	b.WriteString(e.Op)
	if e.ReturnBool {
		b.WriteString(" bool")
	}
	if m := e.Matching; m != nil {
		if m.Explicit {
			if m.On {
				b.WriteString(" on (")
			} else {
				b.WriteString(" ignoring (")
			}
			b.WriteString(strings.Join(m.Labels, ", "))
			b.WriteByte(')')
		}
		if m.Card != "" {
			b.WriteByte(' ')
			b.WriteString(m.Card)
			b.WriteString(" (")
			b.WriteString(strings.Join(m.Include, ", "))
			b.WriteByte(')')
		}
	}
	b.WriteByte(' ')
	operand(e.R, true)
	return b.String()
}

// String prints the number. The values no literal can spell, which the
// folding of operations between numbers can give, print as such an
// operation: NaN as (0 / 0), the infinities as (±1e308 * 10).
func (e *LiteralExpr) String() string {
	switch {
	case math.IsNaN(e.Value):
		return "(0 / 0)"
	case math.IsInf(e.Value, 1):
		return "(1e308 * 10)"
	case math.IsInf(e.Value, -1):
		return "(-1e308 * 10)"
	}
	return printFloat(e.Value)
}
func (e *VectorExpr) String() string { return "vector(" + printFloat(e.Value) + ")" }

func (e *LabelReplaceExpr) String() string {
	return "label_replace(" + e.Inner.String() + ", " + strconv.Quote(e.Dst) + ", " +
		strconv.Quote(e.Replacement) + ", " + strconv.Quote(e.Src) + ", " + strconv.Quote(e.Re) + ")"
}

// printFloat prints a finite number.
func printFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Walk calls fn for e and every expression inside it, parents first.
func Walk(e Expr, fn func(Expr)) {
	fn(e)
	switch e := e.(type) {
	case *VectorAggExpr:
		Walk(e.Inner, fn)
	case *BinaryExpr:
		Walk(e.L, fn)
		Walk(e.R, fn)
	case *LabelReplaceExpr:
		Walk(e.Inner, fn)
	}
}
