package logql

import (
	"strconv"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/labels"
)

// rewritesLine reports whether a stage may change the log line, so that line
// filters after it no longer see the stored line.
func rewritesLine(s Stage) bool {
	switch s.(type) {
	case *LineFormatStage, *DecolorizeStage, *UnpackStage:
		return true
	}
	return false
}

// Param is one name="expression" parameter of | json or | logfmt.
type Param struct {
	Name, Expr string
}

func paramsString(ps []Param) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(p.Expr))
	}
	return b.String()
}

// JSONStage is | json, optionally with name="path" parameters.
type JSONStage struct{ Params []Param }

// LogfmtStage is | logfmt [--strict] [--keep-empty] [name="key", …].
type LogfmtStage struct {
	Strict, KeepEmpty bool
	Params            []Param
}

// RegexpStage is | regexp "re": named groups become labels.
type RegexpStage struct{ Expr string }

// PatternStage is | pattern "<ip> - <_> <status>".
type PatternStage struct{ Pattern string }

// UnpackStage is | unpack: a JSON object of labels, with the line in _entry.
type UnpackStage struct{}

// DecolorizeStage is | decolorize: ANSI colour sequences are removed.
type DecolorizeStage struct{}

// LineFormatStage is | line_format "template".
type LineFormatStage struct{ Template string }

// LabelFormatItem is one item of label_format: dst=src renames a label,
// dst="template" sets it from a template.
type LabelFormatItem struct {
	Dst      string
	Src      string // the label renamed, when Template is false
	Value    string // the template, when Template is true
	Template bool
}

// LabelFormatStage is | label_format a=b, c="{{.d}}".
type LabelFormatStage struct{ Items []LabelFormatItem }

// LabelRef names a label for drop and keep: a bare name, or a matcher that
// limits the stage to the labels whose value matches.
type LabelRef struct {
	Name    string
	Matcher *labels.Matcher // nil for a bare name
}

func (r LabelRef) String() string {
	if r.Matcher != nil {
		return r.Matcher.String()
	}
	return r.Name
}

// DropStage is | drop a, b="v": the labels are removed.
type DropStage struct{ Labels []LabelRef }

// KeepStage is | keep a, b="v": every other label is removed.
type KeepStage struct{ Labels []LabelRef }

// LabelFilterStage is | <label filter>, such as | status >= 500 and level="error".
type LabelFilterStage struct{ Filter LabelFilter }

func (*JSONStage) logqlStage()        {}
func (*LogfmtStage) logqlStage()      {}
func (*RegexpStage) logqlStage()      {}
func (*PatternStage) logqlStage()     {}
func (*UnpackStage) logqlStage()      {}
func (*DecolorizeStage) logqlStage()  {}
func (*LineFormatStage) logqlStage()  {}
func (*LabelFormatStage) logqlStage() {}
func (*DropStage) logqlStage()        {}
func (*KeepStage) logqlStage()        {}
func (*LabelFilterStage) logqlStage() {}

func (s *JSONStage) String() string { return "| json" + paramsString(s.Params) }

func (s *LogfmtStage) String() string {
	out := "| logfmt"
	if s.Strict {
		out += " --strict"
	}
	if s.KeepEmpty {
		out += " --keep-empty"
	}
	return out + paramsString(s.Params)
}

func (s *RegexpStage) String() string     { return "| regexp " + strconv.Quote(s.Expr) }
func (s *PatternStage) String() string    { return "| pattern " + strconv.Quote(s.Pattern) }
func (*UnpackStage) String() string       { return "| unpack" }
func (*DecolorizeStage) String() string   { return "| decolorize" }
func (s *LineFormatStage) String() string { return "| line_format " + strconv.Quote(s.Template) }

func (s *LabelFormatStage) String() string {
	var b strings.Builder
	b.WriteString("| label_format ")
	for i, it := range s.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.Dst)
		b.WriteByte('=')
		if it.Template {
			b.WriteString(strconv.Quote(it.Value))
		} else {
			b.WriteString(it.Src)
		}
	}
	return b.String()
}

func refsString(kw string, refs []LabelRef) string {
	var b strings.Builder
	b.WriteString("| ")
	b.WriteString(kw)
	for i, r := range refs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(r.String())
	}
	return b.String()
}

func (s *DropStage) String() string        { return refsString("drop", s.Labels) }
func (s *KeepStage) String() string        { return refsString("keep", s.Labels) }
func (s *LabelFilterStage) String() string { return "| " + s.Filter.String() }

// LabelFilter is a predicate on the labels of an entry.
type LabelFilter interface {
	String() string
	labelFilter()
}

// LabelFilterBinary joins two filters with and (also written "," or by
// juxtaposition) or or; and binds tighter.
type LabelFilterBinary struct {
	Or   bool
	L, R LabelFilter
}

// LabelMatchFilter compares a label as a string: level="error", path=~"/v1/.*".
type LabelMatchFilter struct{ Matcher *labels.Matcher }

// CmpOp is a comparison operator of a numeric label filter or a binary
// expression.
type CmpOp int

const (
	CmpEq  CmpOp = iota // == (a label filter also accepts =)
	CmpNeq              // !=
	CmpGt               // >
	CmpGte              // >=
	CmpLt               // <
	CmpLte              // <=
)

var cmpOps = [...]string{"==", "!=", ">", ">=", "<", "<="}

func (op CmpOp) String() string { return cmpOps[op] }

// Compare applies the operator.
func (op CmpOp) Compare(a, b float64) bool {
	switch op {
	case CmpEq:
		return a == b
	case CmpNeq:
		return a != b
	case CmpGt:
		return a > b
	case CmpGte:
		return a >= b
	case CmpLt:
		return a < b
	}
	return a <= b
}

// ValueKind is the kind of the literal of a numeric label filter: it decides
// how the label's value is parsed.
type ValueKind int

const (
	KindNumber   ValueKind = iota // 500, 0.5
	KindDuration                  // 250ms, 1h30m
	KindBytes                     // 10KB, 1.5MiB
)

// NumericFilter compares a label parsed as a number, a duration or a byte
// size: status >= 500, duration > 2s, size < 1MB. Value is in the unit of
// Kind: a float, seconds, or bytes. Text is the literal as written.
type NumericFilter struct {
	Name  string
	Op    CmpOp
	Kind  ValueKind
	Value float64
	Text  string
}

// IPFilter is name = ip("range") or name != ip("range").
type IPFilter struct {
	Name    string
	Negated bool
	Range   string
}

func (*LabelFilterBinary) labelFilter() {}
func (*LabelMatchFilter) labelFilter()  {}
func (*NumericFilter) labelFilter()     {}
func (*IPFilter) labelFilter()          {}

func (f *LabelFilterBinary) String() string {
	l, r := f.L.String(), f.R.String()
	if f.Or {
		// or is left-associative: a right-hand or needs parentheses.
		if rb, ok := f.R.(*LabelFilterBinary); ok && rb.Or {
			r = "(" + r + ")"
		}
		return l + " or " + r
	}
	if lb, ok := f.L.(*LabelFilterBinary); ok && lb.Or {
		l = "(" + l + ")"
	}
	if _, ok := f.R.(*LabelFilterBinary); ok {
		r = "(" + r + ")"
	}
	return l + " and " + r
}

func (f *LabelMatchFilter) String() string { return f.Matcher.String() }

func (f *NumericFilter) String() string {
	op := f.Op.String()
	return f.Name + " " + op + " " + f.Text
}

func (f *IPFilter) String() string {
	op := "="
	if f.Negated {
		op = "!="
	}
	return f.Name + " " + op + " ip(" + strconv.Quote(f.Range) + ")"
}

// FormatDuration prints a duration the way Prometheus does: 1h30m, 5m, 1d,
// 250ms.
func FormatDuration(d time.Duration) string { return formatDuration(d) }

// formatDuration prints a duration the way Prometheus does: 1h30m, 5m, 1d,
// 250ms; years and weeks only when they divide it (30d1h, 2w).
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	units := []struct {
		s     string
		d     time.Duration
		exact bool // used only when it divides the duration: 90d, not 12w6d
	}{
		{"y", 365 * 24 * time.Hour, true}, {"w", 7 * 24 * time.Hour, true}, {"d", 24 * time.Hour, false},
		{"h", time.Hour, false}, {"m", time.Minute, false}, {"s", time.Second, false}, {"ms", time.Millisecond, false},
		{"us", time.Microsecond, false}, {"ns", time.Nanosecond, false},
	}
	for _, u := range units {
		if u.exact && d%u.d != 0 {
			continue
		}
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.s)
			d -= n * u.d
		}
	}
	return b.String()
}
