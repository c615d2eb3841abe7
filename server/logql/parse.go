package logql

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/loam-logs/loam/server/labels"
)

// errEmptyCompatible is the message Loki gives for a selector whose every
// matcher matches the empty string: such a selector would select every
// stream.
const errEmptyCompatible = `queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will`

// ParseExpr parses any LogQL query. Log queries made of a stream selector and
// line filters parse into a *LogSelectorExpr; the other constructs of LogQL
// return a *ParseError that wraps ErrNotSupported and names the construct.
func ParseExpr(q string) (Expr, error) {
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
		var pe *ParseError
		if errors.As(err, &pe) && pe.metric {
			return nil, &ParseError{
				Line: pe.Line, Col: pe.Col,
				Msg: pe.construct() + " is a metric query; a log query is expected here: " +
					`a stream selector with an optional pipeline, such as {app="api"} |= "error"`,
			}
		}
		return nil, err
	}
	sel, ok := e.(*LogSelectorExpr)
	if !ok {
		return nil, &ParseError{Msg: fmt.Sprintf("%s is not a log query", e)}
	}
	return sel, nil
}

// ParseMatchers parses a bare stream selector, {a="b", c=~"d"}, as the
// match[] parameter of /series and the query parameter of the label APIs
// carry it. At least one matcher is required, but the matchers may all match
// the empty string; ValidateMatchers applies the stricter rule of queries.
func ParseMatchers(s string) ([]*labels.Matcher, error) {
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

// notSupported reports a construct of LogQL this version does not implement.
func (p *parser) notSupported(pos int, metric bool, construct, format string, args ...any) *ParseError {
	e := newParseError(p.src, pos, fmt.Sprintf(format, args...)+" is not supported yet")
	e.Err = ErrNotSupported
	e.metric = metric
	e.what = construct
	return e
}

// parseQuery parses a whole query.
func (p *parser) parseQuery() (Expr, error) {
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	t := p.peek(0)
	switch {
	case t.kind == tEOF:
		return e, nil
	case isBinaryOp(t):
		return nil, newParseError(p.src, t.pos, fmt.Sprintf(
			"syntax error: unexpected binary operator %s: binary operators combine metric queries, not log queries", t.text))
	case t.kind == tLBracket:
		return nil, newParseError(p.src, t.pos,
			`syntax error: unexpected "[": a range such as [5m] belongs inside a range aggregation, as in count_over_time({app="api"}[5m])`)
	}
	if _, ok := e.(*LogSelectorExpr); ok {
		if t.kind == tString {
			return nil, p.syntaxErr(t, `a pipeline stage or end of input (a line filter needs an operator: |= "text")`)
		}
		return nil, p.syntaxErr(t, "a pipeline stage (|=, !=, |~, !~, |>, !>, |) or end of input")
	}
	return nil, p.syntaxErr(t, "end of input")
}

func isBinaryOp(t ptoken) bool {
	switch t.kind {
	case tAdd, tSub, tMul, tDiv, tMod, tPow, tEqEq, tNeq, tGt, tGte, tLt, tLte:
		return true
	case tKeyword:
		return t.text == "and" || t.text == "or" || t.text == "unless"
	}
	return false
}

var (
	rangeAggregations = setOf("rate", "rate_counter", "count_over_time", "bytes_rate", "bytes_over_time",
		"avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "stddev_over_time",
		"stdvar_over_time", "quantile_over_time", "first_over_time", "last_over_time", "absent_over_time")
	vectorAggregations = setOf("sum", "avg", "min", "max", "stddev", "stdvar", "count", "topk", "bottomk",
		"sort", "sort_desc", "approx_topk")
	metricFunctions = setOf("label_replace", "vector")
	parserStages    = setOf("json", "logfmt", "regexp", "pattern", "unpack")
	formatStages    = setOf("line_format", "label_format", "drop", "keep", "decolorize", "distinct")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// parseExpr parses an expression. Binary operators are left to parseQuery:
// their operands would be metric queries, which stop parsing first.
func (p *parser) parseExpr() (Expr, error) {
	t := p.peek(0)
	switch t.kind {
	case tLBrace:
		return p.parseLogQuery()
	case tLParen:
		p.depth++
		if p.depth > maxDepth {
			return nil, p.errAt(t.pos, "syntax error: expression nested too deeply")
		}
		p.advance()
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, err
		}
		p.depth--
		switch n := p.peek(0); n.kind {
		case tPipe, tPipeE, tPipeR, tPipeP, tNotP, tNre:
			return nil, p.errAt(n.pos, "syntax error: unexpected %s after \")\": a pipeline goes inside the parentheses, right after the stream selector", n.text)
		}
		return e, nil
	case tIdent:
		next := p.peek(1)
		switch {
		case rangeAggregations[t.text] && next.kind == tLParen:
			return nil, p.notSupported(t.pos, true, t.text+"(…)", "metric query %s(…)", t.text)
		case vectorAggregations[t.text] && (next.kind == tLParen ||
			next.kind == tKeyword && (next.text == "by" || next.text == "without")):
			return nil, p.notSupported(t.pos, true, t.text+"(…)", "vector aggregation %s(…)", t.text)
		case metricFunctions[t.text] && next.kind == tLParen:
			return nil, p.notSupported(t.pos, true, t.text+"(…)", "metric function %s(…)", t.text)
		case next.kind == tLParen:
			return nil, p.errAt(t.pos, "syntax error: unknown function %s", t.text)
		}
		return nil, p.syntaxErr(t, `a stream selector such as {app="api"}`)
	case tNumber:
		return nil, p.notSupported(t.pos, true, "the number "+t.text, "scalar expression %s", t.text)
	case tSub, tAdd:
		return nil, p.notSupported(t.pos, true, "unary "+t.text, "unary operator %s", t.text)
	}
	return nil, p.syntaxErr(t, `a stream selector such as {app="api"}`)
}

// parseLogQuery parses a stream selector and its pipeline.
func (p *parser) parseLogQuery() (Expr, error) {
	ms, pos, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	if err := ValidateMatchers(ms); err != nil {
		return nil, p.errAt(pos, "%s", err.Error())
	}
	e := &LogSelectorExpr{Matchers: ms}
	for {
		t := p.peek(0)
		switch t.kind {
		case tPipeE, tNeq, tPipeR, tNre, tPipeP, tNotP:
			f, err := p.parseLineFilter()
			if err != nil {
				return nil, err
			}
			e.Pipeline = append(e.Pipeline, f)
		case tPipe:
			if err := p.parsePipeStage(); err != nil {
				return nil, err
			}
		default:
			return e, nil
		}
	}
}

// parseSelector parses {name op "value", …} and returns the matchers and the
// offset of the opening brace.
func (p *parser) parseSelector() ([]*labels.Matcher, int, error) {
	open, err := p.expect(tLBrace, `"{" to start a stream selector`)
	if err != nil {
		return nil, 0, err
	}
	var ms []*labels.Matcher
	for {
		t := p.peek(0)
		if len(ms) == 0 && t.kind == tRBrace {
			return nil, 0, p.syntaxErr(t, `a label matcher: a stream selector needs at least one, such as {app="api"}`)
		}
		if t.kind != tIdent && t.kind != tKeyword {
			return nil, 0, p.syntaxErr(t, "a label name")
		}
		p.advance()
		name := t.text
		opTok := p.peek(0)
		var mt labels.MatchType
		switch opTok.kind {
		case tEq:
			mt = labels.MatchEqual
		case tNeq:
			mt = labels.MatchNotEqual
		case tRe:
			mt = labels.MatchRegexp
		case tNre:
			mt = labels.MatchNotRegexp
		default:
			return nil, 0, p.syntaxErr(opTok, "a label matcher operator (=, !=, =~ or !~) after "+name)
		}
		p.advance()
		vt, err := p.expect(tString, "a quoted label value")
		if err != nil {
			return nil, 0, err
		}
		m, err := labels.NewMatcher(mt, name, vt.val)
		if err != nil {
			return nil, 0, p.errAt(vt.pos, "%s", err.Error())
		}
		ms = append(ms, m)
		sep := p.peek(0)
		switch sep.kind {
		case tComma:
			p.advance()
		case tRBrace:
			p.advance()
			return ms, open.pos, nil
		default:
			return nil, 0, p.syntaxErr(sep, `"," or "}"`)
		}
	}
}

// parseLineFilter parses op "value" [or "value" …].
func (p *parser) parseLineFilter() (*LineFilter, error) {
	opTok := p.peek(0)
	var op LineFilterOp
	switch opTok.kind {
	case tPipeE:
		op = LineContains
	case tNeq:
		op = LineNotContains
	case tPipeR:
		op = LineMatch
	case tNre:
		op = LineNotMatch
	case tPipeP:
		op = LinePattern
	case tNotP:
		op = LineNotPattern
	}
	p.advance()
	f := &LineFilter{Op: op}
	for {
		t := p.peek(0)
		switch {
		case t.kind == tString:
			if err := validateFilterValue(op, t.val); err != nil {
				return nil, p.errAt(t.pos, "%s", err.Error())
			}
			f.Values = append(f.Values, t.val)
			p.advance()
		case t.kind == tIdent && t.text == "ip" && p.peek(1).kind == tLParen:
			if op != LineContains && op != LineNotContains {
				return nil, p.errAt(t.pos, "syntax error: ip() line filters take |= or !=, not %s", op)
			}
			return nil, p.notSupported(t.pos, false, "ip()", "the ip() line filter %s ip(…)", op)
		default:
			what := "a string after " + op.String()
			if len(f.Values) > 0 {
				what = `a string after "or": line filter alternatives are written |= "a" or "b"`
			}
			return nil, p.syntaxErr(t, what)
		}
		if n := p.peek(0); n.kind != tKeyword || n.text != "or" {
			return f, nil
		}
		p.advance()
	}
}

// validateFilterValue checks a line filter's regexp or pattern, so that a bad
// one fails at parse time with its position.
func validateFilterValue(op LineFilterOp, v string) error {
	switch op.positive() {
	case LineMatch:
		if _, err := regexp.Compile(v); err != nil {
			return fmt.Errorf("invalid regexp in line filter %s %s: %v", op, clipQuote(v), err)
		}
	case LinePattern:
		if _, err := parsePattern(v); err != nil {
			return fmt.Errorf("invalid pattern in line filter %s %s: %v", op, clipQuote(v), err)
		}
	}
	return nil
}

// parsePipeStage recognises the stages introduced by "|", none of which is
// supported yet.
func (p *parser) parsePipeStage() error {
	pipe := p.peek(0)
	p.advance()
	t := p.peek(0)
	next := p.peek(1)
	switch {
	case t.kind == tIdent && parserStages[t.text]:
		return p.notSupported(pipe.pos, false, "| "+t.text, "the parser stage | %s", t.text)
	case t.kind == tIdent && formatStages[t.text]:
		return p.notSupported(pipe.pos, false, "| "+t.text, "the stage | %s", t.text)
	case t.kind == tIdent && t.text == "unwrap":
		return p.notSupported(pipe.pos, true, "| unwrap", "| unwrap (metric queries)")
	case (t.kind == tIdent || t.kind == tKeyword) && isComparison(next.kind):
		return p.notSupported(pipe.pos, false, "| "+t.text+" "+next.text, "the label filter | %s %s …", t.text, next.text)
	case t.kind == tLParen:
		return p.notSupported(pipe.pos, false, "| (", "the label filter | (…)")
	case t.kind == tString:
		return p.syntaxErr(t, fmt.Sprintf(`a stage after "|" (for a line filter, write |= %s)`, clipQuote(t.val)))
	}
	return p.syntaxErr(t, `a stage after "|": a parser (json, logfmt, regexp, pattern, unpack), `+
		`a label filter such as | level="error", or line_format, label_format, drop, keep, decolorize`)
}

func isComparison(k tokenKind) bool {
	switch k {
	case tEq, tNeq, tRe, tNre, tEqEq, tGt, tGte, tLt, tLte:
		return true
	}
	return false
}

// construct names what made the query unsupported or a metric query.
func (e *ParseError) construct() string {
	if e.what != "" {
		return e.what
	}
	return "the query"
}
