package logql

import (
	"errors"
	"fmt"

	"github.com/loam-logs/loam/server/labels"
)

// errEmptyCompatible is the message Loki gives for a selector whose every
// matcher matches the empty string: such a selector would select every
// stream.
const errEmptyCompatible = `queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will`

// ParseExpr parses any LogQL query: a log query parses into a
// *LogSelectorExpr, a metric query into a SampleExpr. Errors are *ParseError
// with the position of the problem.
func ParseExpr(q string) (Expr, error) {
	if err := checkSize(q); err != nil {
		return nil, err
	}
	p := newParser(q)
	e, err := p.parseQuery()
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ParseLogSelector parses a log query: a stream selector with an optional
// pipeline. A metric query is an error that says so.
func ParseLogSelector(q string) (*LogSelectorExpr, error) {
	e, err := ParseExpr(q)
	if err != nil {
		return nil, err
	}
	sel, ok := e.(*LogSelectorExpr)
	if !ok {
		return nil, &ParseError{Msg: "a log query is expected here: a stream selector with an optional pipeline, " +
			`such as {app="api"} |= "error"; this is a metric query`}
	}
	return sel, nil
}

// ParseMatchers parses a bare stream selector, {a="b", c=~"d"}, as the
// match[] parameter of /series and the query parameter of the label APIs
// carry it. At least one matcher is required, but the matchers may all match
// the empty string; ValidateMatchers applies the stricter rule of queries.
func ParseMatchers(s string) ([]*labels.Matcher, error) {
	if err := checkSize(s); err != nil {
		return nil, err
	}
	p := newParser(s)
	ms, _, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	if t := p.peek(0); t.kind != tEOF {
		return nil, p.syntaxErr(t, "end of input: only a stream selector is allowed here")
	}
	return ms, nil
}

// ParseLineFilters parses line filter stages alone, |= "a" != "b" or "c",
// as SelectParams.LineFilter carries them; "" is no filter. Any other
// stage is an error.
func ParseLineFilters(s string) ([]*LineFilter, error) {
	if err := checkSize(s); err != nil {
		return nil, err
	}
	p := newParser(s)
	var fs []*LineFilter
	for {
		t := p.peek(0)
		switch t.kind {
		case tPipeE, tNeq, tPipeR, tNre, tPipeP, tNotP:
			f, err := p.parseLineFilter()
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
		case tEOF:
			return fs, nil
		default:
			return nil, p.syntaxErr(t, "a line filter: only line filters are allowed here")
		}
	}
}

// ValidateMatchers applies Loki's rule for the selector of a query: at least
// one matcher must not match the empty string.
func ValidateMatchers(ms []*labels.Matcher) error {
	for _, m := range ms {
		if !m.MatchesEmpty() {
			return nil
		}
	}
	return errors.New(errEmptyCompatible)
}

// MaxQuerySize is the length from which Loki refuses a query, in bytes.
const MaxQuerySize = 128 << 10

func checkSize(q string) error {
	if len(q) >= MaxQuerySize {
		return &ParseError{Msg: fmt.Sprintf("input size too long (%d > %d)", len(q), MaxQuerySize)}
	}
	return nil
}

// maxDepth bounds the nesting of parentheses.
const maxDepth = 200

// tErr is a pseudo token kind: the lexer failed at this point.
const tErr tokenKind = -1

type ptoken struct {
	token
	err error
}

type parser struct {
	src   string
	lex   lexer
	buf   []ptoken // lookahead
	depth int
}

func newParser(q string) *parser {
	return &parser{src: q, lex: lexer{src: q}}
}

// peek returns the token k places ahead of the current one (0: current).
// A lexer error is a token of kind tErr; the lexer stops there.
func (p *parser) peek(k int) ptoken {
	for len(p.buf) <= k {
		if n := len(p.buf); n > 0 && (p.buf[n-1].kind == tEOF || p.buf[n-1].kind == tErr) {
			return p.buf[n-1]
		}
		t, err := p.lex.next()
		if err != nil {
			t = token{kind: tErr, pos: p.lex.i}
		}
		p.buf = append(p.buf, ptoken{token: t, err: err})
	}
	return p.buf[k]
}

// advance consumes the current token.
func (p *parser) advance() {
	p.peek(0)
	if p.buf[0].kind == tEOF || p.buf[0].kind == tErr {
		return
	}
	p.buf = p.buf[1:]
}

// expect consumes a token of kind k or fails with what was expected.
func (p *parser) expect(k tokenKind, what string) (ptoken, error) {
	t := p.peek(0)
	if t.kind != k {
		return t, p.syntaxErr(t, what)
	}
	p.advance()
	return t, nil
}

// syntaxErr reports an unexpected token; a lexer error wins, being more
// precise.
func (p *parser) syntaxErr(t ptoken, expecting string) error {
	if t.kind == tErr {
		return t.err
	}
	msg := "syntax error: unexpected " + t.describe()
	if expecting != "" {
		msg += ", expecting " + expecting
	}
	return newParseError(p.src, t.pos, msg)
}

func (p *parser) errAt(pos int, format string, args ...any) *ParseError {
	return newParseError(p.src, pos, fmt.Sprintf(format, args...))
}
