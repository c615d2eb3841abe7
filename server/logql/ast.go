package logql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/loam-logs/loam/server/labels"
)

// ErrNotSupported is wrapped by the error of a query that uses a construct
// Loam does not implement (| distinct, which Loki's LogQL does not have
// either). Test for it with errors.Is.
var ErrNotSupported = errors.New("not supported yet")

// ParseError is the error of a query that does not parse. Line and Col are
// 1-based; Col counts characters (runes), not bytes.
type ParseError struct {
	Line, Col int
	Msg       string
	Err       error // ErrNotSupported for an unsupported construct, else nil

	metric bool   // the construct makes the query a metric query
	what   string // the construct, for ParseLogSelector's message
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return "parse error: " + e.Msg
	}
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// Unwrap returns ErrNotSupported for an unsupported construct.
func (e *ParseError) Unwrap() error { return e.Err }

// newParseError returns the error at byte offset pos of src.
func newParseError(src string, pos int, msg string) *ParseError {
	line, col := position(src, pos)
	return &ParseError{Line: line, Col: col, Msg: msg}
}

// position converts a byte offset into a 1-based line and column.
func position(src string, pos int) (line, col int) {
	pos = min(max(pos, 0), len(src))
	before := src[:pos]
	line = 1 + strings.Count(before, "\n")
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCountInString(before)
}

// Expr is a parsed LogQL expression. String returns it as canonical LogQL:
// parsing the result gives an equal expression that prints the same.
type Expr interface {
	String() string
	logqlExpr()
}

// Stage is one stage of a log pipeline: a line filter, a parser, a label
// filter or a formatting stage.
type Stage interface {
	String() string
	logqlStage()
}

// LogSelectorExpr is a log query: a stream selector and a pipeline.
type LogSelectorExpr struct {
	Matchers []*labels.Matcher // at least one; in the order written
	Pipeline []Stage
}

func (*LogSelectorExpr) logqlExpr() {}

// String prints the query: {a="b", c=~"d"} |= "x" != "y".
func (e *LogSelectorExpr) String() string {
	var b strings.Builder
	b.WriteString(labels.MatchersString(e.Matchers))
	for _, s := range e.Pipeline {
		b.WriteByte(' ')
		b.WriteString(s.String())
	}
	return b.String()
}

// PreFilters returns the line filters that can run on the stored line before
// the rest of the pipeline: those before the first stage that rewrites the
// line (line_format, decolorize, unpack). Filters commute with parsers and
// label filters, so they may run first; the pipeline still runs them all.
func (e *LogSelectorExpr) PreFilters() []*LineFilter {
	var out []*LineFilter
	for _, s := range e.Pipeline {
		if rewritesLine(s) {
			break
		}
		if f, ok := s.(*LineFilter); ok {
			out = append(out, f)
		}
	}
	return out
}

// LineFilterOp is the operator of a line filter.
type LineFilterOp int

const (
	LineContains    LineFilterOp = iota // |=  the line contains the string
	LineNotContains                     // !=  the line does not contain the string
	LineMatch                           // |~  the line has a match of the RE2 regexp (unanchored)
	LineNotMatch                        // !~  the line has no match of the regexp
	LinePattern                         // |>  the line matches the pattern (<_> wildcards)
	LineNotPattern                      // !>  the line does not match the pattern
)

var lineFilterOps = [...]string{"|=", "!=", "|~", "!~", "|>", "!>"}

func (op LineFilterOp) String() string {
	if op >= 0 && int(op) < len(lineFilterOps) {
		return lineFilterOps[op]
	}
	return "LineFilterOp(" + strconv.Itoa(int(op)) + ")"
}

// Negated reports whether the operator keeps the lines that do not match
// (!=, !~, !>).
func (op LineFilterOp) Negated() bool {
	return op == LineNotContains || op == LineNotMatch || op == LineNotPattern
}

// positive returns the operator without negation.
func (op LineFilterOp) positive() LineFilterOp {
	switch op {
	case LineNotContains:
		return LineContains
	case LineNotMatch:
		return LineMatch
	case LineNotPattern:
		return LinePattern
	}
	return op
}

// LineFilter is a line filter stage: |= "a", != "a" or "b", |~ `re`, |> "<_> x <_>",
// |= ip("10.0.0.0/8") or "localhost".
//
// Values are alternatives joined by `or`: a positive filter keeps a line that
// matches any of them, a negated filter keeps a line that matches none. IP
// marks, by index, the values written ip("…"): an address, a range or a CIDR,
// which matches a line holding an address in it (only with |= and !=). IP is
// nil when no value is one.
type LineFilter struct {
	Op     LineFilterOp
	Values []string
	IP     []bool
}

// IsIP reports whether value i is an ip("…") alternative.
func (f *LineFilter) IsIP(i int) bool { return i < len(f.IP) && f.IP[i] }

// HasIP reports whether any value is an ip("…") alternative.
func (f *LineFilter) HasIP() bool {
	for _, ip := range f.IP {
		if ip {
			return true
		}
	}
	return false
}

func (*LineFilter) logqlStage() {}

// String prints the filter: |= "a" or ip("10.0.0.1").
func (f *LineFilter) String() string {
	var b strings.Builder
	b.WriteString(f.Op.String())
	for i, v := range f.Values {
		if i > 0 {
			b.WriteString(" or")
		}
		b.WriteByte(' ')
		if f.IsIP(i) {
			b.WriteString("ip(")
			b.WriteString(strconv.Quote(v))
			b.WriteByte(')')
		} else {
			b.WriteString(strconv.Quote(v))
		}
	}
	return b.String()
}
