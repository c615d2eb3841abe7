package logql

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

// validQueries maps a query to its canonical printed form.
var validQueries = []struct{ in, want string }{
	{`{a="b"}`, `{a="b"}`},
	{`{app="api",env!="dev"}`, `{app="api", env!="dev"}`},
	{`{ a =~ "x.+" , b !~ "y" }`, `{a=~"x.+", b!~"y"}`},
	{"{a=`raw\\d+`}", `{a="raw\\d+"}`},
	{`{a="with \"quotes\" and \\ and \n"}`, `{a="with \"quotes\" and \\ and \n"}`},
	{`{a="é ✓"}`, `{a="é ✓"}`},
	{`{z="1", a="2", z="3"}`, `{z="1", a="2", z="3"}`},
	{`{_under="x", A9="y"}`, `{_under="x", A9="y"}`},
	{`{by="x", or="y"}`, `{by="x", or="y"}`},
	{`{a!=""}`, `{a!=""}`},
	{`{a=~".+"}`, `{a=~".+"}`},
	{`{a=~".*", b="c"}`, `{a=~".*", b="c"}`},
	{`{a!~".*"}`, `{a!~".*"}`},
	{`{a="b"} |= "error"`, `{a="b"} |= "error"`},
	{`{a="b"}|="error"!="timeout"`, `{a="b"} |= "error" != "timeout"`},
	{`{a="b"} |~ "err.*" !~ "debug"`, `{a="b"} |~ "err.*" !~ "debug"`},
	{"{a=\"b\"} |~ `error=\\w+`", `{a="b"} |~ "error=\\w+"`},
	{`{a="b"} |> "<_> level=error <_>" !> "<_> caller=x"`, `{a="b"} |> "<_> level=error <_>" !> "<_> caller=x"`},
	{`{a="b"} |= "a" or "b"`, `{a="b"} |= "a" or "b"`},
	{`{a="b"} != "a" or "b" or "c"`, `{a="b"} != "a" or "b" or "c"`},
	{`{a="b"} |~ "a" or "b" |= "c"`, `{a="b"} |~ "a" or "b" |= "c"`},
	{`{a="b"} |= ""`, `{a="b"} |= ""`},
	{`{a="b"} |= "tab\there"`, `{a="b"} |= "tab\there"`},
	{"{a=\"b\"} |= `back\\slash`", `{a="b"} |= "back\\slash"`},
	{`{a="b"} |= "\x00\xff"`, `{a="b"} |= "\x00\xff"`},
	{`({a="b"} |= "x")`, `{a="b"} |= "x"`},
	{`((({a="b"})))`, `{a="b"}`},
	{"  {a=\"b\"}\n\t|= \"x\"   # trailing comment\n  != \"y\"\n", `{a="b"} |= "x" != "y"`},
	{"# leading comment\n{a=\"b\"}", `{a="b"}`},
	{`{a="b"} |> "exact line"`, `{a="b"} |> "exact line"`},
	{`{a="b"} |> "a < b > c <_>"`, `{a="b"} |> "a < b > c <_>"`},
	{`{a="b"} |~ "(?i)error"`, `{a="b"} |~ "(?i)error"`},
	{`{a="b"}|~""`, `{a="b"} |~ ""`},
}

func TestParseValid(t *testing.T) {
	for _, c := range validQueries {
		e, err := ParseExpr(c.in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.in, err)
			continue
		}
		if got := e.String(); got != c.want {
			t.Errorf("ParseExpr(%q).String() = %q, want %q", c.in, got, c.want)
		}
		// Round trip: the printed form parses to the same thing.
		e2, err := ParseExpr(e.String())
		if err != nil {
			t.Errorf("reparse %q: %v", e.String(), err)
			continue
		}
		if e2.String() != e.String() {
			t.Errorf("round trip %q -> %q", e.String(), e2.String())
		}
		if !reflect.DeepEqual(summary(e), summary(e2)) {
			t.Errorf("round trip of %q changed the tree", c.in)
		}
		sel, err := ParseLogSelector(c.in)
		if err != nil || sel.String() != c.want {
			t.Errorf("ParseLogSelector(%q) = %v, %v", c.in, sel, err)
		}
	}
}

// summary flattens a tree for comparison (matchers hold compiled regexps).
func summary(e Expr) []any {
	sel := e.(*LogSelectorExpr)
	var out []any
	for _, m := range sel.Matchers {
		out = append(out, m.Type, m.Name, m.Value)
	}
	for _, s := range sel.Pipeline {
		f := s.(*LineFilter)
		out = append(out, f.Op, f.Values, f.IP)
	}
	return out
}

func TestParseTree(t *testing.T) {
	e, err := ParseLogSelector(`{app="api", env=~"prod|dev"} |= "a" or "b" !~ "x" |> "<_> y"`)
	if err != nil {
		t.Fatal(err)
	}
	wantM := []struct {
		t       labels.MatchType
		n, v    string
		matches string
	}{
		{labels.MatchEqual, "app", "api", "api"},
		{labels.MatchRegexp, "env", "prod|dev", "dev"},
	}
	if len(e.Matchers) != len(wantM) {
		t.Fatalf("matchers %v", e.Matchers)
	}
	for i, w := range wantM {
		m := e.Matchers[i]
		if m.Type != w.t || m.Name != w.n || m.Value != w.v || !m.Matches(w.matches) {
			t.Errorf("matcher %d = %v", i, m)
		}
	}
	want := []*LineFilter{
		{Op: LineContains, Values: []string{"a", "b"}},
		{Op: LineNotMatch, Values: []string{"x"}},
		{Op: LinePattern, Values: []string{"<_> y"}},
	}
	if !reflect.DeepEqual(e.Filters(), want) {
		t.Errorf("Filters() = %v, want %v", e.Filters(), want)
	}
}

var invalidQueries = []struct{ in, want string }{
	{``, `parse error at line 1, col 1: syntax error: unexpected end of input, expecting a stream selector`},
	{`   `, `line 1, col 4: syntax error: unexpected end of input`},
	{`{}`, `line 1, col 2: syntax error: unexpected "}", expecting a label matcher`},
	{`{a}`, `line 1, col 3: syntax error: unexpected "}", expecting a label matcher operator (=, !=, =~ or !~) after a`},
	{`{a="b"`, `line 1, col 7: syntax error: unexpected end of input, expecting "," or "}"`},
	{`{a="b",}`, `line 1, col 8: syntax error: unexpected "}", expecting a label name`},
	{`{a="b" c="d"}`, `line 1, col 8: syntax error: unexpected identifier c, expecting "," or "}"`},
	{`{="b"}`, `line 1, col 2: syntax error: unexpected "=", expecting a label name`},
	{`{a=b}`, `line 1, col 4: syntax error: unexpected identifier b, expecting a quoted label value`},
	{`{a=="b"}`, `line 1, col 3: syntax error: unexpected "==", expecting a label matcher operator`},
	{`{a=5}`, `line 1, col 4: syntax error: unexpected number 5, expecting a quoted label value`},
	{`{1a="b"}`, `line 1, col 2: invalid number, duration or byte size "1a"`},
	{`{a-b="c"}`, `line 1, col 3: syntax error: unexpected "-", expecting a label matcher operator`},
	{`{a=~"("}`, `line 1, col 5: invalid regexp "(" for label a`},
	{`{a="b"}}`, `line 1, col 8: syntax error: unexpected "}", expecting a pipeline stage`},
	{`{a="b"} {c="d"}`, `line 1, col 9: syntax error: unexpected "{", expecting a pipeline stage`},
	{`{a="b"} "x"`, `line 1, col 9: syntax error: unexpected string "x", expecting a pipeline stage or end of input (a line filter needs an operator: |= "text")`},
	{`{a="b"} "ééééééééééééééééééééééééééééééééééééééééé"`, `unexpected string "éééééééééééééééééééé"…, expecting`},
	{`{a="b"} |= 5`, `line 1, col 12: syntax error: unexpected number 5, expecting a string after |=`},
	{`{a="b"} |=`, `line 1, col 11: syntax error: unexpected end of input, expecting a string after |=`},
	{`{a="b"} |~ "("`, `line 1, col 12: invalid regexp in line filter |~ "(": error parsing regexp: missing closing )`},
	{`{a="b"} !~ "a**"`, `line 1, col 12: invalid regexp in line filter !~ "a**"`},
	{`{a="b"} |> "<x> y"`, `line 1, col 12: invalid pattern in line filter |> "<x> y": named captures are not allowed`},
	{`{a="b"} |> "<_><_>"`, `invalid pattern in line filter |> "<_><_>": consecutive <_> wildcards`},
	{`{a="b"} |= "x" or`, `line 1, col 18: syntax error: unexpected end of input, expecting a string after "or"`},
	{`{a="b"} |= "x" or 5`, `line 1, col 19: syntax error: unexpected number 5, expecting a string after "or"`},
	{`{a="b"} |= "x" or |= "y"`, `line 1, col 19: syntax error: unexpected "|="`},
	{`{a="b"} |`, `line 1, col 10: syntax error: unexpected end of input, expecting a stage after "|"`},
	{`{a="b"} | "x"`, `line 1, col 11: syntax error: unexpected string "x", expecting a stage after "|" (for a line filter, write |= "x")`},
	{`{a="b"} | foo`, `line 1, col 11: syntax error: unexpected identifier foo, expecting a stage after "|"`},
	{`{a="b"} |~ ip("1.2.3.4")`, `line 1, col 12: syntax error: ip() line filters take |= or !=, not |~`},
	{`{a="b"}[5m]`, `line 1, col 8: syntax error: unexpected "[": a range such as [5m] belongs inside a range aggregation`},
	{`{a="b"} or {c="d"}`, `line 1, col 9: syntax error: unexpected binary operator or: binary operators combine metric queries, not log queries`},
	{`{a="b"} + 1`, `line 1, col 9: syntax error: unexpected binary operator +`},
	{`{a="b"} > 5`, `syntax error: unexpected binary operator >`},
	{`({a="b"}`, `line 1, col 9: syntax error: unexpected end of input, expecting ")"`},
	{`({a="b"}) |= "x"`, `line 1, col 11: syntax error: unexpected |= after ")": a pipeline goes inside the parentheses`},
	{`({a="b"}) != "x"`, `line 1, col 11: syntax error: unexpected binary operator !=`},
	{`foo{a="b"}`, `line 1, col 1: syntax error: unexpected identifier foo, expecting a stream selector such as {app="api"}`},
	{`foo({a="b"})`, `line 1, col 1: syntax error: unknown function foo`},
	{`by`, `line 1, col 1: syntax error: unexpected keyword by`},
	{`"x"`, `line 1, col 1: syntax error: unexpected string "x", expecting a stream selector`},
	{"{a=\"b\"}\n|= \"x\"\n  |~ \"[\"", `parse error at line 3, col 6: invalid regexp in line filter |~ "["`},
	{"{a=\"b\"}\n\t|= \"x\" |", `parse error at line 2, col 10: syntax error: unexpected end of input`},
	{`{a="b"} |= "x` + "\n" + `"`, `line 1, col 12: unterminated string: newline before the closing "`},
	{`{a="é"} !`, `line 1, col 9: unexpected character '!'`},
	{strings.Repeat("(", 300) + `{a="b"}` + strings.Repeat(")", 300), `expression nested too deeply`},
	// The empty-compatible rule.
	{`{a=~".*"}`, `parse error at line 1, col 1: queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will`},
	{`{a=""}`, `queries require at least one regexp or equality matcher that does not have an empty-compatible value`},
	{`{a!="x"}`, `queries require at least one regexp or equality matcher`},
	{`{a=~".*", b!~"x", c=""}`, `queries require at least one regexp or equality matcher`},
	{`{a=~"a*"} |= "x"`, `queries require at least one regexp or equality matcher`},
	{`  {a=~""}`, `line 1, col 3: queries require`},
}

func TestParseInvalid(t *testing.T) {
	for _, c := range invalidQueries {
		e, err := ParseExpr(c.in)
		if err == nil {
			t.Errorf("ParseExpr(%q) = %v, want error %q", c.in, e, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseExpr(%q):\n  error %q\n  want  %q", c.in, err, c.want)
		}
		if errors.Is(err, ErrNotSupported) {
			t.Errorf("ParseExpr(%q): %v wraps ErrNotSupported", c.in, err)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseExpr(%q): error %T is no *ParseError", c.in, err)
		}
		if _, err2 := ParseLogSelector(c.in); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("ParseLogSelector(%q) = %v, want %v", c.in, err2, err)
		}
	}
}

// unsupportedQueries are valid LogQL that this version does not implement.
var unsupportedQueries = []struct {
	in, want string
	metric   bool
}{
	{`{a="b"} | json`, `line 1, col 9: the parser stage | json is not supported yet`, false},
	{`{a="b"} |= "x" | logfmt --strict`, `line 1, col 16: the parser stage | logfmt is not supported yet`, false},
	{`{a="b"} | regexp "(?P<x>.*)"`, `the parser stage | regexp`, false},
	{`{a="b"} | pattern "<x> <_>"`, `the parser stage | pattern`, false},
	{`{a="b"} | unpack`, `the parser stage | unpack`, false},
	{`{a="b"} | line_format "{{.x}}"`, `the stage | line_format is not supported yet`, false},
	{`{a="b"} | label_format a=b`, `the stage | label_format`, false},
	{`{a="b"} | drop a, b`, `the stage | drop`, false},
	{`{a="b"} | keep a`, `the stage | keep`, false},
	{`{a="b"} | decolorize`, `the stage | decolorize`, false},
	{`{a="b"} | level="error"`, `line 1, col 9: the label filter | level = … is not supported yet`, false},
	{`{a="b"} | json | status >= 500 and duration > 1s`, `the parser stage | json`, false},
	{`{a="b"} | status >= 500`, `the label filter | status >= …`, false},
	{`{a="b"} | size > 10KB`, `the label filter | size > …`, false},
	{`{a="b"} | __error__ != ""`, `the label filter | __error__ != …`, false},
	{`{a="b"} | (a="b" or c="d")`, `the label filter | (…)`, false},
	{`{a="b"} | addr = ip("10.0.0.0/8")`, `the label filter | addr = …`, false},
	{`{a="b"} |= ip("192.168.0.1")`, `line 1, col 12: the ip() line filter |= ip(…) is not supported yet`, false},
	{`{a="b"} != "x" or ip("1.2.3.4")`, `the ip() line filter != ip(…)`, false},
	{`{a="b"} | unwrap latency`, `| unwrap (metric queries) is not supported yet`, true},
	{`rate({a="b"}[5m])`, `line 1, col 1: metric query rate(…) is not supported yet`, true},
	{`count_over_time({a="b"} |= "x" [1m])`, `metric query count_over_time(…)`, true},
	{`bytes_rate({a="b"}[1m])`, `metric query bytes_rate(…)`, true},
	{`quantile_over_time(0.99, {a="b"} | json | unwrap d [1m]) by (x)`, `metric query quantile_over_time(…)`, true},
	{`absent_over_time({a="b"}[1m])`, `metric query absent_over_time(…)`, true},
	{`sum by (x) (count_over_time({a="b"}[1m]))`, `line 1, col 1: vector aggregation sum(…) is not supported yet`, true},
	{`sum(rate({a="b"}[1m])) by (x)`, `vector aggregation sum(…)`, true},
	{`topk(5, rate({a="b"}[1m]))`, `vector aggregation topk(…)`, true},
	{`count without (a) (rate({a="b"}[1m]))`, `vector aggregation count(…)`, true},
	{`sort_desc(rate({a="b"}[1m]))`, `vector aggregation sort_desc(…)`, true},
	{`label_replace(rate({a="b"}[1m]), "dst", "$1", "src", "(.*)")`, `metric function label_replace(…)`, true},
	{`vector(1)`, `metric function vector(…)`, true},
	{`1`, `line 1, col 1: scalar expression 1 is not supported yet`, true},
	{`1 + 1`, `scalar expression 1`, true},
	{`-rate({a="b"}[1m])`, `unary operator -`, true},
	{`rate({a="b"}[1m]) / rate({a="b"}[5m])`, `metric query rate(…)`, true},
	{`(sum(rate({a="b"}[1m])))`, `line 1, col 2: vector aggregation sum(…)`, true},
	{"\n  rate({a=\"b\"}[1m])", `line 2, col 3: metric query rate(…)`, true},
}

func TestParseUnsupported(t *testing.T) {
	for _, c := range unsupportedQueries {
		_, err := ParseExpr(c.in)
		if !errors.Is(err, ErrNotSupported) {
			t.Errorf("ParseExpr(%q) = %v, want ErrNotSupported", c.in, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseExpr(%q):\n  error %q\n  want  %q", c.in, err, c.want)
		}
		_, err = ParseLogSelector(c.in)
		isMetric := err != nil && strings.Contains(err.Error(), "is a metric query; a log query is expected here")
		if isMetric != c.metric {
			t.Errorf("ParseLogSelector(%q) = %v; metric query error: %v, want %v", c.in, err, isMetric, c.metric)
		}
		if c.metric && errors.Is(err, ErrNotSupported) {
			t.Errorf("ParseLogSelector(%q): the metric query error wraps ErrNotSupported", c.in)
		}
		if !c.metric && !errors.Is(err, ErrNotSupported) {
			t.Errorf("ParseLogSelector(%q) = %v, want ErrNotSupported", c.in, err)
		}
	}
}

func TestParseLogSelectorMetric(t *testing.T) {
	_, err := ParseLogSelector(`sum by (x) (rate({a="b"}[5m]))`)
	want := `parse error at line 1, col 1: sum(…) is a metric query; a log query is expected here: a stream selector with an optional pipeline, such as {app="api"} |= "error"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestParseMatchers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{a="b"}`, `{a="b"}`},
		{` { a="b", c=~"d" } `, `{a="b", c=~"d"}`},
		{`{a=~".*"}`, `{a=~".*"}`}, // empty-compatible is fine here
		{`{a="", b!="x"}`, `{a="", b!="x"}`},
		{"{a=`x\\y`}", `{a="x\\y"}`},
	} {
		ms, err := ParseMatchers(c.in)
		if err != nil {
			t.Errorf("ParseMatchers(%q): %v", c.in, err)
			continue
		}
		if got := labels.MatchersString(ms); got != c.want {
			t.Errorf("ParseMatchers(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{``, `line 1, col 1: syntax error: unexpected end of input, expecting "{" to start a stream selector`},
		{`a="b"`, `line 1, col 1: syntax error: unexpected identifier a, expecting "{"`},
		{`{}`, `line 1, col 2: syntax error: unexpected "}", expecting a label matcher`},
		{`{a="b"} |= "x"`, `line 1, col 9: syntax error: unexpected "|=", expecting end of input: only a stream selector is allowed here`},
		{`{a="b"}{c="d"}`, `line 1, col 8: syntax error: unexpected "{", expecting end of input`},
		{`{a=~"["}`, `line 1, col 5: invalid regexp "[" for label a`},
		{`{a="b"} '`, `line 1, col 9: unexpected character '\''`},
	} {
		_, err := ParseMatchers(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseMatchers(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestValidateMatchers(t *testing.T) {
	ms, _ := ParseMatchers(`{a=~".*", b=""}`)
	if err := ValidateMatchers(ms); err == nil || !strings.Contains(err.Error(), `app=~".+" will`) {
		t.Errorf("ValidateMatchers = %v", err)
	}
	ms, _ = ParseMatchers(`{a=~".*", b="x"}`)
	if err := ValidateMatchers(ms); err != nil {
		t.Errorf("ValidateMatchers = %v", err)
	}
}

func TestLineFilterString(t *testing.T) {
	for _, c := range []struct {
		f    LineFilter
		want string
	}{
		{LineFilter{Op: LineContains, Values: []string{"a"}}, `|= "a"`},
		{LineFilter{Op: LineNotContains, Values: []string{"a", "b"}}, `!= "a" or "b"`},
		{LineFilter{Op: LineMatch, Values: []string{`\d`}}, `|~ "\\d"`},
		{LineFilter{Op: LineNotMatch, Values: []string{"x"}}, `!~ "x"`},
		{LineFilter{Op: LinePattern, Values: []string{"<_> x"}}, `|> "<_> x"`},
		{LineFilter{Op: LineNotPattern, Values: []string{"y <_>"}}, `!> "y <_>"`},
		{LineFilter{Op: LineContains, Values: []string{"10.0.0.0/8"}, IP: true}, `|= ip("10.0.0.0/8")`},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("String() = %s, want %s", got, c.want)
		}
	}
	if !LineNotPattern.Negated() || LinePattern.Negated() || LineFilterOp(42).String() != "LineFilterOp(42)" {
		t.Error("LineFilterOp methods")
	}
}
