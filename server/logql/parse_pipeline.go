package logql

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/loam-logs/loam/server/labels"
)

// parsePipeline parses the stages after a stream selector into e. r is the
// range being parsed in a metric query, where | unwrap may end the pipeline;
// nil in a log query.
func (p *parser) parsePipeline(e *LogSelectorExpr, r *LogRange) error {
	for {
		t := p.peek(0)
		switch t.kind {
		case tPipeE, tNeq, tPipeR, tNre, tPipeP, tNotP:
			if r != nil && r.Unwrap != nil {
				return p.errAt(t.pos, "syntax error: only label filters may follow | unwrap")
			}
			f, err := p.parseLineFilter()
			if err != nil {
				return err
			}
			e.Pipeline = append(e.Pipeline, f)
		case tPipe:
			if err := p.parsePipeStage(e, r); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// parseLineFilter parses op alt [or alt …], where each alternative is a
// "value" or ip("range").
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
			if f.IP != nil {
				f.IP = append(f.IP, false)
			}
			p.advance()
		case isIPCall(t, p.peek(1)):
			if op != LineContains && op != LineNotContains {
				// Loki's pipeline refuses it: "ip: invalid operation".
				return nil, p.errAt(t.pos, "syntax error: ip() line filters take |= or !=, not %s", op)
			}
			v, err := p.parseIPArg()
			if err != nil {
				return nil, err
			}
			if f.IP == nil {
				f.IP = make([]bool, len(f.Values), len(f.Values)+1)
			}
			f.Values = append(f.Values, v)
			f.IP = append(f.IP, true)
		default:
			what := `a string or ip("…") after ` + op.String()
			if len(f.Values) > 0 {
				what = `a string or ip("…") after "or": line filter alternatives are written |= "a" or "b"`
			}
			return nil, p.syntaxErr(t, what)
		}
		if !p.peek(0).is("or") {
			return f, nil
		}
		p.advance()
	}
}

// isIPCall reports whether t and next start ip("…"); ip is a function name
// only before "(", and in any case.
func isIPCall(t, next ptoken) bool {
	return t.kind == tIdent && next.kind == tLParen && t.word() == "ip"
}

// parseIPArg parses ip("range") and checks the range.
func (p *parser) parseIPArg() (string, error) {
	p.advance() // ip
	p.advance() // (
	s, err := p.expect(tString, `a quoted address, range or CIDR: ip("10.0.0.0/8")`)
	if err != nil {
		return "", err
	}
	if _, err := ParseIPRange(s.val); err != nil {
		return "", p.errAt(s.pos, "%s", err.Error())
	}
	if _, err := p.expect(tRParen, `")" to close ip(`); err != nil {
		return "", err
	}
	return s.val, nil
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

func isComparison(k tokenKind) bool {
	switch k {
	case tEq, tNeq, tRe, tNre, tEqEq, tGt, tGte, tLt, tLte:
		return true
	}
	return false
}

// stageWords are the names of the stages. As in Loki, where they are
// reserved words, such a name after "|" is the stage even when a comparison
// follows: | decolorize != "x" is decolorize then a line filter, not a label
// filter on a label named decolorize.
var stageWords = setOf("json", "logfmt", "regexp", "pattern", "unpack", "decolorize",
	"line_format", "label_format", "drop", "keep", "unwrap")

// parsePipeStage parses one stage introduced by "|".
func (p *parser) parsePipeStage(e *LogSelectorExpr, r *LogRange) error {
	pipe := p.peek(0)
	p.advance()
	t := p.peek(0)
	next := p.peek(1)
	isName := t.kind == tIdent || t.kind == tKeyword
	stage := t.kind == tIdent && stageWords[t.word()]
	if isName && !stage && isComparison(next.kind) || t.kind == tLParen {
		f, err := p.parseLabelFilterOr()
		if err != nil {
			return err
		}
		if r != nil && r.Unwrap != nil {
			r.Unwrap.PostFilters = append(r.Unwrap.PostFilters, f)
		} else {
			e.Pipeline = append(e.Pipeline, &LabelFilterStage{Filter: f})
		}
		return nil
	}
	if r != nil && r.Unwrap != nil {
		return p.errAt(t.pos, "syntax error: only label filters may follow | unwrap")
	}
	if t.kind == tString {
		return p.syntaxErr(t, fmt.Sprintf(`a stage after "|" (for a line filter, write |= %s)`, clipQuote(t.val)))
	}
	if t.kind != tIdent {
		return p.syntaxErr(t, `a stage after "|": a parser (json, logfmt, regexp, pattern, unpack), `+
			`a label filter such as | level="error", or line_format, label_format, drop, keep, decolorize`)
	}
	p.advance()
	var s Stage
	var err error
	switch name := t.word(); name {
	case "json":
		var params []Param
		params, err = p.parseParams("json")
		s = &JSONStage{Params: params}
	case "logfmt":
		l := &LogfmtStage{}
		for f := p.peek(0); f.kind == tFlag; f = p.peek(0) {
			switch f.text {
			case "--strict":
				l.Strict = true
			case "--keep-empty":
				l.KeepEmpty = true
			default:
				return p.errAt(f.pos, "syntax error: unknown logfmt flag %s: the flags are --strict and --keep-empty", f.text)
			}
			p.advance()
		}
		l.Params, err = p.parseParams("logfmt")
		s = l
	case "regexp":
		var str ptoken
		if str, err = p.expect(tString, "a quoted regular expression after | regexp"); err == nil {
			if err = checkRegexpStage(str.val); err != nil {
				err = p.errAt(str.pos, "%s", err.Error())
			}
			s = &RegexpStage{Expr: str.val}
		}
	case "pattern":
		var str ptoken
		if str, err = p.expect(tString, "a quoted pattern after | pattern, such as `<ip> - <_>`"); err == nil {
			s = &PatternStage{Pattern: str.val}
		}
	case "unpack":
		s = &UnpackStage{}
	case "decolorize":
		s = &DecolorizeStage{}
	case "line_format":
		var str ptoken
		if str, err = p.expect(tString, "a quoted template after | line_format"); err == nil {
			s = &LineFormatStage{Template: str.val}
		}
	case "label_format":
		s, err = p.parseLabelFormat()
	case "drop", "keep":
		var refs []LabelRef
		refs, err = p.parseLabelRefs(name)
		if name == "drop" {
			s = &DropStage{Labels: refs}
		} else {
			s = &KeepStage{Labels: refs}
		}
	case "unwrap":
		if r == nil {
			return p.errAt(pipe.pos, "syntax error: | unwrap belongs in a metric query, as in sum_over_time({app=\"api\"} | json | unwrap bytes [5m])")
		}
		r.Unwrap, err = p.parseUnwrap()
		return err
	case "distinct":
		return p.notSupported(pipe.pos, false, "| distinct", "the stage | distinct")
	default:
		return p.syntaxErr(t, `a stage after "|": a parser (json, logfmt, regexp, pattern, unpack), `+
			`a label filter such as | level="error", or line_format, label_format, drop, keep, decolorize`)
	}
	if err != nil {
		return err
	}
	e.Pipeline = append(e.Pipeline, s)
	return nil
}

// checkRegexpStage checks the expression of | regexp as Loki's parser does:
// it must compile and name at least one group, each name once (any name
// Go's syntax allows is a valid label name: Loki accepts UTF-8 names).
func checkRegexpStage(expr string) error {
	re, err := regexp.Compile(expr)
	if err != nil {
		return fmt.Errorf("invalid regexp in | regexp: %v", err)
	}
	names := re.SubexpNames()
	named := 0
	for i, n := range names {
		if n == "" {
			continue
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("invalid regexp parser: duplicate extracted label name '%s'", n)
		}
		named++
	}
	if named == 0 {
		return fmt.Errorf("invalid regexp parser: at least one named capture must be supplied")
	}
	return nil
}

// parseParams parses the parameters of json or logfmt: name="expression",
// or a bare name, which extracts the field of that name (as Loki does, the
// name is also the expression: the JSON path or the logfmt key).
func (p *parser) parseParams(stage string) ([]Param, error) {
	var out []Param
	for {
		t := p.peek(0)
		named := (t.kind == tIdent || t.kind == tKeyword) && p.peek(1).kind == tEq
		if !named && t.kind != tIdent {
			if len(out) > 0 {
				return nil, p.syntaxErr(t, fmt.Sprintf(`a parameter of | %s after ",": a name, or name="expression"`, stage))
			}
			return nil, nil
		}
		p.advance()
		if !named {
			out = append(out, Param{Name: t.text, Expr: t.text})
			if p.peek(0).kind != tComma {
				return out, nil
			}
			p.advance()
			continue
		}
		p.advance()
		v, err := p.expect(tString, "a quoted expression after "+t.text+"=")
		if err != nil {
			return nil, err
		}
		out = append(out, Param{Name: t.text, Expr: v.val})
		if p.peek(0).kind != tComma {
			return out, nil
		}
		p.advance()
	}
}

// parseLabelFormat parses dst=src or dst="template", ….
func (p *parser) parseLabelFormat() (Stage, error) {
	s := &LabelFormatStage{}
	seen := map[string]bool{}
	for {
		t := p.peek(0)
		if t.kind != tIdent && t.kind != tKeyword {
			return nil, p.syntaxErr(t, `a label name: label_format takes dst=src or dst="{{.template}}"`)
		}
		p.advance()
		if _, err := p.expect(tEq, `"=" after `+t.text+` in label_format`); err != nil {
			return nil, err
		}
		if seen[t.text] {
			return nil, p.errAt(t.pos, "syntax error: multiple label name '%s' in a single label_format", t.text)
		}
		if t.text == "__error__" {
			return nil, p.errAt(t.pos, "__error__ cannot be formatted") // Loki's pipeline refuses it
		}
		seen[t.text] = true
		v := p.peek(0)
		switch v.kind {
		case tString:
			s.Items = append(s.Items, LabelFormatItem{Dst: t.text, Value: v.val, Template: true})
		case tIdent, tKeyword:
			s.Items = append(s.Items, LabelFormatItem{Dst: t.text, Src: v.text})
		default:
			return nil, p.syntaxErr(v, "a label name or a quoted template after "+t.text+"=")
		}
		p.advance()
		if p.peek(0).kind != tComma {
			return s, nil
		}
		p.advance()
	}
}

// parseLabelRefs parses the names of drop and keep: name or name op "value".
func (p *parser) parseLabelRefs(stage string) ([]LabelRef, error) {
	var out []LabelRef
	for {
		t := p.peek(0)
		if t.kind != tIdent && t.kind != tKeyword {
			return nil, p.syntaxErr(t, "a label name after | "+stage)
		}
		p.advance()
		ref := LabelRef{Name: t.text}
		if op := p.peek(0); op.kind == tEq || op.kind == tNeq || op.kind == tRe || op.kind == tNre {
			p.advance()
			v, err := p.expect(tString, "a quoted label value")
			if err != nil {
				return nil, err
			}
			m, err := labels.NewMatcher(matchType(op.kind), t.text, v.val)
			if err != nil {
				return nil, p.errAt(v.pos, "%s", err.Error())
			}
			ref.Matcher = m
		}
		out = append(out, ref)
		if p.peek(0).kind != tComma {
			return out, nil
		}
		p.advance()
	}
}

func matchType(k tokenKind) labels.MatchType {
	switch k {
	case tNeq:
		return labels.MatchNotEqual
	case tRe:
		return labels.MatchRegexp
	case tNre:
		return labels.MatchNotRegexp
	}
	return labels.MatchEqual
}

// parseUnwrap parses the label of | unwrap, with an optional conversion.
func (p *parser) parseUnwrap() (*Unwrap, error) {
	t := p.peek(0)
	if t.kind != tIdent && t.kind != tKeyword {
		return nil, p.syntaxErr(t, "a label name after | unwrap")
	}
	p.advance()
	u := &Unwrap{Label: t.text}
	if p.peek(0).kind == tLParen {
		conv := t.word() // conversions are function names: any case
		switch conv {
		case "duration", "duration_seconds", "bytes":
		default:
			return nil, p.errAt(t.pos, "syntax error: unknown unwrap conversion %s: use duration(), duration_seconds() or bytes()", t.text)
		}
		p.advance()
		l := p.peek(0)
		if l.kind != tIdent && l.kind != tKeyword {
			return nil, p.syntaxErr(l, "a label name inside "+t.text+"(…)")
		}
		p.advance()
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, err
		}
		u.Conv, u.Label = conv, l.text
	}
	return u, nil
}

// parseLabelFilterOr parses label filters joined by or, and, "," or
// juxtaposition, grouped as Loki's grammar groups them: and binds tighter
// than or, both to the left; "," and juxtaposition (both and) take all
// that follows as their right side: | a="1", b="2" or c="3" is a and (b or
// c), while | a="1" and b="2" or c="3" is (a and b) or c.
func (p *parser) parseLabelFilterOr() (LabelFilter, error) {
	l, err := p.parseLabelFilterAnd()
	if err != nil {
		return nil, err
	}
	for p.peek(0).is("or") {
		p.advance()
		r, err := p.parseLabelFilterAnd()
		if err != nil {
			return nil, err
		}
		l = &LabelFilterBinary{Or: true, L: l, R: r}
	}
	return l, nil
}

func (p *parser) parseLabelFilterAnd() (LabelFilter, error) {
	l, err := p.parseLabelFilterTerm()
	if err != nil {
		return nil, err
	}
	for p.peek(0).is("and") {
		p.advance()
		r, err := p.parseLabelFilterTerm()
		if err != nil {
			return nil, err
		}
		l = &LabelFilterBinary{L: l, R: r}
	}
	return l, nil
}

// parseLabelFilterTerm parses a filter and, after a "," or another filter
// (| a="b" c="d"), the rest of the chain as its right side.
func (p *parser) parseLabelFilterTerm() (LabelFilter, error) {
	l, err := p.parseLabelFilterPrimary()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(0); {
	case t.kind == tComma:
		p.advance()
	case t.kind == tIdent && isComparison(p.peek(1).kind), t.kind == tLParen:
	default:
		return l, nil
	}
	// The recursion is as deep as the chain is long, which the size
	// limit of queries bounds.
	r, err := p.parseLabelFilterOr()
	if err != nil {
		return nil, err
	}
	return &LabelFilterBinary{L: l, R: r}, nil
}

func (p *parser) parseLabelFilterPrimary() (LabelFilter, error) {
	t := p.peek(0)
	if t.kind == tLParen {
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		p.advance()
		f, err := p.parseLabelFilterOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, err
		}
		p.depth--
		return f, nil
	}
	if t.kind != tIdent && t.kind != tKeyword {
		return nil, p.syntaxErr(t, `a label filter such as level="error" or status >= 500`)
	}
	p.advance()
	name := t.text
	opTok := p.peek(0)
	if !isComparison(opTok.kind) {
		return nil, p.syntaxErr(opTok, "a comparison operator after "+name)
	}
	p.advance()
	v := p.peek(0)
	neg := false
	switch n := p.peek(1).kind; {
	case v.kind == tSub && (n == tNumber || n == tDuration):
		neg = true
		p.advance()
		v = p.peek(0)
	case v.kind == tAdd && n == tNumber:
		p.advance() // Loki takes a + before a number here
		v = p.peek(0)
	}
	switch v.kind {
	case tString:
		switch opTok.kind {
		case tEq, tNeq, tRe, tNre:
		default:
			return nil, p.errAt(opTok.pos, "syntax error: %s compares numbers, durations or byte sizes, not the string %s; use = or != for strings", opTok.text, clipQuote(v.val))
		}
		p.advance()
		m, err := labels.NewMatcher(matchType(opTok.kind), name, v.val)
		if err != nil {
			return nil, p.errAt(v.pos, "%s", err.Error())
		}
		return &LabelMatchFilter{Matcher: m}, nil
	case tIdent:
		if isIPCall(v, p.peek(1)) {
			if opTok.kind != tEq && opTok.kind != tNeq {
				return nil, p.errAt(opTok.pos, "syntax error: ip() label filters take = or !=, not %s", opTok.text)
			}
			rng, err := p.parseIPArg()
			if err != nil {
				return nil, err
			}
			return &IPFilter{Name: name, Negated: opTok.kind == tNeq, Range: rng}, nil
		}
	case tNumber, tDuration, tBytes:
		var op CmpOp
		switch opTok.kind {
		case tEq, tEqEq:
			op = CmpEq
		case tNeq:
			op = CmpNeq
		case tGt:
			op = CmpGt
		case tGte:
			op = CmpGte
		case tLt:
			op = CmpLt
		case tLte:
			op = CmpLte
		default:
			return nil, p.errAt(opTok.pos, "syntax error: %s takes a quoted regular expression, not %s", opTok.text, v.text)
		}
		p.advance()
		f := &NumericFilter{Name: name, Op: op, Text: v.text}
		switch v.kind {
		case tNumber:
			f.Kind, f.Value = KindNumber, v.num
		case tDuration:
			f.Kind, f.Value = KindDuration, v.dur.Seconds()
		case tBytes:
			f.Kind, f.Value = KindBytes, float64(v.bytes)
		}
		if neg {
			f.Value = -f.Value
			f.Text = "-" + f.Text
		}
		return f, nil
	}
	return nil, p.syntaxErr(v, "a quoted string, a number, a duration or a byte size after "+name+" "+opTok.text)
}
