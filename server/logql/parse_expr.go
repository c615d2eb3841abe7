package logql

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/loam-logs/loam/server/labels"
)

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
	e, err := p.parseBinary(0)
	if err != nil {
		return nil, err
	}
	t := p.peek(0)
	switch {
	case t.kind == tEOF:
		return e, nil
	case t.kind == tLBracket:
		return nil, newParseError(p.src, t.pos,
			`syntax error: unexpected "[": a range such as [5m] belongs inside a range aggregation, as in count_over_time({app="api"}[5m])`)
	case t.kind == tRParen:
		return nil, p.syntaxErr(t, `end of input: this ")" has no matching "("`)
	}
	if _, ok := e.(*LogSelectorExpr); ok {
		if t.kind == tString {
			return nil, p.syntaxErr(t, `a pipeline stage or end of input (a line filter needs an operator: |= "text")`)
		}
		return nil, p.syntaxErr(t, "a pipeline stage (|=, !=, |~, !~, |>, !>, |) or end of input")
	}
	return nil, p.syntaxErr(t, "a binary operator or end of input")
}

// binaryOp returns the binary operator a token spells, if any.
func binaryOp(t ptoken) (string, bool) {
	switch t.kind {
	case tAdd, tSub, tMul, tDiv, tMod, tPow, tEqEq, tNeq, tGt, tGte, tLt, tLte:
		return t.text, true
	case tKeyword:
		if t.val == "and" || t.val == "or" || t.val == "unless" {
			return t.val, true
		}
	}
	return "", false
}

func isComparisonOp(op string) bool { return binaryPrecedence(op) == 3 }
func isSetOp(op string) bool        { return op == "and" || op == "or" || op == "unless" }

var (
	rangeAggregations = setOf("rate", "rate_counter", "count_over_time", "bytes_rate", "bytes_over_time",
		"avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "stddev_over_time",
		"stdvar_over_time", "quantile_over_time", "first_over_time", "last_over_time", "absent_over_time")
	vectorAggregations = setOf("sum", "avg", "min", "max", "stddev", "stdvar", "count", "topk", "bottomk",
		"sort", "sort_desc", "approx_topk")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// parseBinary parses operands joined by binary operators of at least
// precedence minPrec (precedence climbing).
func (p *parser) parseBinary(minPrec int) (Expr, error) {
	lhs, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek(0)
		op, ok := binaryOp(t)
		if !ok || binaryPrecedence(op) < minPrec {
			return lhs, nil
		}
		prec := binaryPrecedence(op)
		if _, ok := lhs.(*LogSelectorExpr); ok {
			return nil, p.errAt(t.pos, "syntax error: unexpected binary operator %s: binary operators combine metric queries, not log queries", op)
		}
		p.advance()
		b := &BinaryExpr{Op: op}
		if err := p.parseBinaryModifiers(b); err != nil {
			return nil, err
		}
		if !isComparisonOp(op) {
			// Loki takes bool after any operator and ignores it but
			// after a comparison.
			b.ReturnBool = false
		}
		next := prec + 1
		if op == "^" {
			next = prec // right-associative
		}
		rhs, err := p.parseBinary(next)
		if err != nil {
			return nil, err
		}
		l, lok := lhs.(SampleExpr)
		r, rok := rhs.(SampleExpr)
		if !lok || !rok {
			return nil, p.errAt(t.pos, "syntax error: unexpected binary operator %s: binary operators combine metric queries, not log queries", op)
		}
		b.L, b.R = l, r
		if err := p.checkBinary(b, t.pos); err != nil {
			return nil, err
		}
		lhs = foldLiterals(b)
	}
}

// parseBinaryModifiers parses bool, on/ignoring (…) and group_left/right (…).
// As Loki's grammar, it takes them after any operator.
func (p *parser) parseBinaryModifiers(b *BinaryExpr) error {
	if t := p.peek(0); t.is("bool") {
		b.ReturnBool = true
		p.advance()
	}
	t := p.peek(0)
	if !t.is("on") && !t.is("ignoring") {
		if t.is("group_left") || t.is("group_right") {
			return p.errAt(t.pos, "syntax error: %s needs on (…) or ignoring (…) before it", t.val)
		}
		return nil
	}
	p.advance()
	m := &VectorMatching{On: t.is("on"), Explicit: true}
	var err error
	if m.Labels, err = p.parseLabelList(); err != nil {
		return err
	}
	if g := p.peek(0); g.is("group_left") || g.is("group_right") {
		p.advance()
		m.Card = g.val
		if p.peek(0).kind == tLParen {
			if m.Include, err = p.parseLabelList(); err != nil {
				return err
			}
		}
	}
	b.Matching = m
	return nil
}

// checkBinary applies the rule Loki has for operands: a set operator takes
// no number.
func (p *parser) checkBinary(b *BinaryExpr, pos int) error {
	_, lLit := b.L.(*LiteralExpr)
	_, rLit := b.R.(*LiteralExpr)
	if (lLit || rLit) && isSetOp(b.Op) {
		return p.errAt(pos, "syntax error: set operator %q not allowed in binary scalar expression", b.Op)
	}
	return nil
}

// foldLiterals reduces an operation between two numbers to a number, as
// Loki's parser does: 1 + 1 is 2, and a comparison is 1 or 0 with or
// without bool (1 > 2 is 0). A division or modulo by zero is NaN.
func foldLiterals(b *BinaryExpr) SampleExpr {
	l, lok := b.L.(*LiteralExpr)
	r, rok := b.R.(*LiteralExpr)
	if !lok || !rok {
		return b
	}
	x, y := l.Value, r.Value
	truth := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	var v float64
	switch b.Op {
	case "+":
		v = x + y
	case "-":
		v = x - y
	case "*":
		v = x * y
	case "/", "%":
		switch {
		case y == 0:
			v = math.NaN()
		case b.Op == "/":
			v = x / y
		default:
			v = math.Mod(x, y)
		}
	case "^":
		v = math.Pow(x, y)
	case "==":
		v = truth(x == y)
	case "!=":
		v = truth(x != y)
	case ">":
		v = truth(x > y)
	case ">=":
		v = truth(x >= y)
	case "<":
		v = truth(x < y)
	case "<=":
		v = truth(x <= y)
	default:
		return b
	}
	return &LiteralExpr{Value: v}
}

// parseLabelList parses ( name, name, … ); the list may be empty. Label
// names that are keywords stay allowed (by (on)), which Loki refuses for no
// ambiguity's sake.
func (p *parser) parseLabelList() ([]string, error) {
	if _, err := p.expect(tLParen, `"(" to start a list of label names`); err != nil {
		return nil, err
	}
	names := []string{}
	for {
		t := p.peek(0)
		if t.kind == tRParen && len(names) == 0 {
			p.advance()
			return names, nil
		}
		if t.kind != tIdent && t.kind != tKeyword {
			return nil, p.syntaxErr(t, "a label name")
		}
		names = append(names, t.text)
		p.advance()
		switch sep := p.peek(0); sep.kind {
		case tComma:
			p.advance() // no trailing comma: Loki's grammar has none
		case tRParen:
			p.advance()
			return names, nil
		default:
			return nil, p.syntaxErr(sep, `"," or ")"`)
		}
	}
}

// parseUnary parses an operand, with a sign for number literals.
func (p *parser) parseUnary() (Expr, error) {
	t := p.peek(0)
	if t.kind == tSub || t.kind == tAdd {
		n := p.peek(1)
		if n.kind != tNumber {
			return nil, p.errAt(t.pos, "syntax error: unary %s applies only to numbers", t.text)
		}
		p.advance()
		p.advance()
		v := n.num
		if t.kind == tSub {
			v = -v
		}
		return &LiteralExpr{Value: v}, nil
	}
	return p.parsePrimary()
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(pos, "syntax error: expression nested too deeply")
	}
	return nil
}

// parsePrimary parses a log query, a parenthesised expression, a number or a
// function call.
func (p *parser) parsePrimary() (Expr, error) {
	t := p.peek(0)
	switch t.kind {
	case tLBrace:
		return p.parseLogQuery()
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		p.advance()
		e, err := p.parseBinary(0)
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
	case tNumber:
		p.advance()
		return &LiteralExpr{Value: t.num}, nil
	case tIdent:
		// Function names are case-insensitive: SUM, Count_Over_Time.
		name, next := t.word(), p.peek(1)
		switch {
		case rangeAggregations[name] && next.kind == tLParen:
			return p.parseRangeAgg()
		case vectorAggregations[name] && (next.kind == tLParen || next.is("by") || next.is("without")):
			return p.parseVectorAgg()
		case name == "vector" && next.kind == tLParen:
			return p.parseVector()
		case name == "label_replace" && next.kind == tLParen:
			return p.parseLabelReplace()
		case next.kind == tLParen:
			return nil, p.errAt(t.pos, "syntax error: unknown function %s", t.text)
		}
		return nil, p.syntaxErr(t, `a stream selector such as {app="api"}`)
	}
	return nil, p.syntaxErr(t, `a stream selector such as {app="api"}`)
}

// parseSampleArg parses an expression that must be a metric query.
func (p *parser) parseSampleArg(fn string) (SampleExpr, error) {
	t := p.peek(0)
	e, err := p.parseBinary(0)
	if err != nil {
		return nil, err
	}
	s, ok := e.(SampleExpr)
	if !ok {
		return nil, p.errAt(t.pos, "syntax error: %s needs a metric query, not a log query: "+
			"wrap the log query in a range aggregation such as count_over_time(…[5m])", fn)
	}
	if _, ok := s.(*LiteralExpr); ok {
		return nil, p.errAt(t.pos, "syntax error: %s needs a vector, not the scalar %s", fn, s)
	}
	return s, nil
}

// parseRangeAgg parses op([φ,] log-range) [by|without (…)].
func (p *parser) parseRangeAgg() (Expr, error) {
	name := p.peek(0)
	p.advance()
	p.advance() // (
	e := &RangeAggExpr{Op: name.word()}
	if e.Op == "quantile_over_time" {
		v, err := p.expect(tNumber, "the quantile (a number between 0 and 1)")
		if err != nil {
			return nil, err
		}
		e.Param = v.num
		if _, err := p.expect(tComma, `"," after the quantile`); err != nil {
			return nil, err
		}
	}
	r, err := p.parseLogRange()
	if err != nil {
		return nil, err
	}
	e.Range = r
	if _, err := p.expect(tRParen, `")" to close `+e.Op+"("); err != nil {
		return nil, err
	}
	if g := p.peek(0); g.is("by") || g.is("without") {
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	if err := validateRangeAgg(e); err != nil {
		return nil, p.errAt(name.pos, "%s", err.Error())
	}
	return e, nil
}

// validateRangeAgg applies Loki's rules on unwrap and grouping.
func validateRangeAgg(e *RangeAggExpr) error {
	if e.Grouping != nil {
		switch e.Op {
		// Not rate nor rate_counter, even with unwrap (Loki's rule).
		case "avg_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time",
			"max_over_time", "min_over_time", "first_over_time", "last_over_time":
		default:
			return fmt.Errorf("grouping not allowed for %s aggregation", e.Op)
		}
	}
	if e.Range.Unwrap != nil {
		switch e.Op {
		case "avg_over_time", "sum_over_time", "max_over_time", "min_over_time", "stddev_over_time",
			"stdvar_over_time", "quantile_over_time", "rate", "rate_counter", "absent_over_time",
			"first_over_time", "last_over_time":
			return nil
		}
		return fmt.Errorf("invalid aggregation %s with unwrap", e.Op)
	}
	switch e.Op {
	case "bytes_over_time", "bytes_rate", "count_over_time", "rate", "absent_over_time":
		return nil
	}
	return fmt.Errorf("invalid aggregation %s without unwrap: %s needs | unwrap <label> before the range", e.Op, e.Op)
}

// parseLogRange parses the argument of a range aggregation: a log query with
// an optional unwrap, a range and an offset, in the places Loki's grammar
// has them:
//
//	{…} | json | unwrap x [5m] offset 1h
//	({…} | json | unwrap x)[5m] offset 1h
//	{…}[5m] offset 1h | json | unwrap x    (a bare selector before the range)
//	({…})[5m] offset 1h | unwrap x         (unwrap only)
//	({…}[5m])                              (any of these in parentheses)
func (p *parser) parseLogRange() (*LogRange, error) {
	r := &LogRange{}
	open := p.peek(0)
	if open.kind != tLParen {
		bare, err := p.parseRangeLog(r)
		if err != nil {
			return nil, err
		}
		return r, p.parseRangeTail(r, bare, bare)
	}
	if err := p.enter(open.pos); err != nil {
		return nil, err
	}
	p.advance()
	if p.peek(0).kind == tLParen {
		// ((…)[5m]): a parenthesised range.
		inner, err := p.parseLogRange()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, err
		}
		p.depth--
		return inner, nil
	}
	bare, err := p.parseRangeLog(r)
	if err != nil {
		return nil, err
	}
	if p.peek(0).kind == tLBracket {
		// ({…}[5m] …): the whole range in parentheses.
		if err := p.parseRangeTail(r, bare, bare); err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, err
		}
		p.depth--
		return r, nil
	}
	if _, err := p.expect(tRParen, `")" or a range such as [5m]`); err != nil {
		return nil, err
	}
	p.depth--
	return r, p.parseRangeTail(r, false, bare)
}

// parseRangeLog parses the selector, pipeline and unwrap before a range; bare
// reports that there was neither pipeline nor unwrap.
func (p *parser) parseRangeLog(r *LogRange) (bare bool, err error) {
	e, err := p.parseSelectorOnly()
	if err != nil {
		return false, err
	}
	r.Log = e
	if err := p.parsePipeline(e, r); err != nil {
		return false, err
	}
	return len(e.Pipeline) == 0 && r.Unwrap == nil, nil
}

// parseRangeTail parses [range] [offset d] and what may follow: a pipeline
// with an unwrap when pipeline is true, an unwrap alone when unwrap is true.
func (p *parser) parseRangeTail(r *LogRange, pipeline, unwrap bool) error {
	open, err := p.expect(tLBracket, "a range such as [5m]")
	if err != nil {
		if n := p.peek(0); n.kind == tRParen {
			return p.errAt(n.pos, "syntax error: a range aggregation needs a range: write the log query followed by [5m]")
		}
		return err
	}
	d, err := p.expect(tDuration, "a duration such as 5m")
	if err != nil {
		return err
	}
	end, err := p.expect(tRBracket, `"]"`)
	if err != nil {
		return err
	}
	// Loki reads the range as Prometheus does: whole numbers, largest unit
	// first, nothing else between the brackets.
	if _, ok := parsePromDuration(d.text); !ok || d.pos != open.pos+1 || end.pos != d.pos+len(d.text) {
		return p.errAt(d.pos, "syntax error: invalid range %s: write whole numbers of y, w, d, h, m, s or ms, largest first, as in [5m] or [1h30m]",
			strconv.Quote(p.src[open.pos:end.pos+1]))
	}
	// [0s] is allowed, as in Loki: its windows are empty.
	r.Range = d.dur
	if err := p.parseOffset(r); err != nil {
		return err
	}
	n := p.peek(0)
	if pipeline || unwrap && n.kind == tPipe && p.peek(1).kind == tIdent && p.peek(1).word() == "unwrap" {
		return p.parsePipeline(r.Log, r)
	}
	if n.kind == tPipe || isLineFilterOp(n.kind) {
		return p.errAt(n.pos, "syntax error: unexpected %s after the range: the pipeline goes before the range, "+
			"or after it when the stream selector before it stands alone", n.text)
	}
	return nil
}

func isLineFilterOp(k tokenKind) bool {
	switch k {
	case tPipeE, tNeq, tPipeR, tNre, tPipeP, tNotP:
		return true
	}
	return false
}

func (p *parser) parseOffset(r *LogRange) error {
	if t := p.peek(0); t.is("offset") {
		p.advance()
		neg := false
		if m := p.peek(0); m.kind == tSub {
			// Only -1h, a negative duration, not "- 1h": Loki lexes the
			// sign and the duration as one token.
			if n := p.peek(1); n.kind != tDuration || n.pos != m.pos+1 {
				return p.syntaxErr(m, "a duration after offset, such as 1h or -1h")
			}
			neg = true
			p.advance()
		}
		d, err := p.expect(tDuration, "a duration after offset, such as 1h")
		if err != nil {
			return err
		}
		r.Offset = d.dur
		if neg {
			r.Offset = -d.dur
		}
	}
	return nil
}

// parseGrouping parses by (…) or without (…).
func (p *parser) parseGrouping() (*Grouping, error) {
	t := p.peek(0)
	p.advance()
	names, err := p.parseLabelList()
	if err != nil {
		return nil, err
	}
	return &Grouping{Without: t.is("without"), Labels: names}, nil
}

// parseVectorAgg parses op [by|without (…)] ([k,] expr) [by|without (…)].
func (p *parser) parseVectorAgg() (Expr, error) {
	name := p.peek(0)
	p.advance()
	e := &VectorAggExpr{Op: name.word()}
	if e.Op == "approx_topk" {
		// Loki's querier runs approx_topk as topk when it does not shard
		// the query; so does Loam, and prints it as written.
		e.Op, e.Approx = "topk", true
	}
	var err error
	if g := p.peek(0); g.kind == tKeyword {
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	open, err := p.expect(tLParen, `"(" after `+e.Op)
	if err != nil {
		return nil, err
	}
	if err := p.enter(open.pos); err != nil {
		return nil, err
	}
	if e.Op == "topk" || e.Op == "bottomk" {
		what := "topk"
		if e.Approx {
			what = "approx_topk"
		} else if e.Op == "bottomk" {
			what = "bottomk"
		}
		// As Loki's grammar: an unsigned number, which must read as an
		// integer (5, not 5.0 nor 5e0).
		k, err := p.expect(tNumber, "the number of series k, as in "+what+"(5, …)")
		if err != nil {
			return nil, err
		}
		v := k.num
		if !isDigits(k.text) || v < 1 || v > math.MaxInt32 {
			return nil, p.errAt(k.pos, "syntax error: invalid parameter for %s: %s must be a positive integer", what, k.text)
		}
		e.Param = int(v)
		if _, err := p.expect(tComma, `"," after the parameter of `+e.Op); err != nil {
			return nil, err
		}
	}
	if e.Inner, err = p.parseSampleArg(e.Op); err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, `")" to close `+e.Op+"("); err != nil {
		return nil, err
	}
	p.depth--
	if g := p.peek(0); g.is("by") || g.is("without") {
		if e.Grouping != nil {
			return nil, p.errAt(g.pos, "syntax error: %s has two groupings", e.Op)
		}
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	switch {
	case e.Approx && e.Grouping != nil:
		return nil, p.errAt(name.pos, "grouping not allowed for approx_topk aggregation")
	case (e.Op == "sort" || e.Op == "sort_desc") && e.Grouping != nil:
		// Loki refuses labels, not an empty by () or without (), which
		// change nothing.
		if len(e.Grouping.Labels) > 0 {
			return nil, p.errAt(name.pos, "sort and sort_desc doesn't allow grouping by")
		}
		e.Grouping = nil
	}
	return e, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// parseVector parses vector(n).
func (p *parser) parseVector() (Expr, error) {
	p.advance()
	p.advance()
	v, err := p.expect(tNumber, "a number: vector(1)") // unsigned, as in Loki
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, `")" to close vector(`); err != nil {
		return nil, err
	}
	return &VectorExpr{Value: v.num}, nil
}

// parseLabelReplace parses label_replace(expr, "dst", "replacement", "src", "regex").
func (p *parser) parseLabelReplace() (Expr, error) {
	name := p.peek(0)
	p.advance()
	open := p.peek(0)
	p.advance()
	if err := p.enter(open.pos); err != nil {
		return nil, err
	}
	inner, err := p.parseSampleArg("label_replace")
	if err != nil {
		return nil, err
	}
	e := &LabelReplaceExpr{Inner: inner}
	args := []*string{&e.Dst, &e.Replacement, &e.Src, &e.Re}
	what := []string{"the destination label", "the replacement", "the source label", "the regular expression"}
	var rePos int
	for i, a := range args {
		if _, err := p.expect(tComma, `"," and `+what[i]+" of label_replace"); err != nil {
			return nil, err
		}
		s, err := p.expect(tString, "a quoted string: "+what[i]+" of label_replace")
		if err != nil {
			return nil, err
		}
		*a = s.val
		rePos = s.pos
	}
	if _, err := p.expect(tRParen, `")" to close label_replace(`); err != nil {
		return nil, err
	}
	p.depth--
	if _, err := regexp.Compile("^(?:" + e.Re + ")$"); err != nil {
		return nil, p.errAt(rePos, "invalid regex in label_replace: %v", err)
	}
	if e.Dst == "" {
		// Loki takes any other name, as UTF-8 label names.
		return nil, p.errAt(name.pos, "invalid destination label name in label_replace(): the name is empty")
	}
	return e, nil
}

// parseLogQuery parses a stream selector and its pipeline, as a query of its
// own (no unwrap).
func (p *parser) parseLogQuery() (Expr, error) {
	e, err := p.parseSelectorOnly()
	if err != nil {
		return nil, err
	}
	if err := p.parsePipeline(e, nil); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) parseSelectorOnly() (*LogSelectorExpr, error) {
	ms, pos, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	if err := ValidateMatchers(ms); err != nil {
		return nil, p.errAt(pos, "%s", err.Error())
	}
	return &LogSelectorExpr{Matchers: ms}, nil
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
