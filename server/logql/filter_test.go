package logql

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

type matchCase struct {
	line string
	want bool
}

func TestLineMatcher(t *testing.T) {
	for _, c := range []struct {
		filter string // a pipeline applied to {a="b"}
		cases  []matchCase
	}{
		{`|= "error"`, []matchCase{{"an error here", true}, {"error", true}, {"ERROR", false}, {"", false}, {"err or", false}}},
		{`|= ""`, []matchCase{{"", true}, {"anything", true}}},
		{`|= "a" or "b"`, []matchCase{{"xax", true}, {"xbx", true}, {"ab", true}, {"xyz", false}, {"", false}}},
		{`|= "a" or ""`, []matchCase{{"", true}, {"zzz", true}}},
		{`|= "é✓"`, []matchCase{{"xé✓y", true}, {"é", false}}},
		{`|= "a\x00b"`, []matchCase{{"a\x00b", true}, {"ab", false}}},
		{`!= "debug"`, []matchCase{{"debug line", false}, {"info line", true}, {"", true}}},
		{`!= "a" or "b"`, []matchCase{{"a", false}, {"b", false}, {"ab", false}, {"c", true}, {"", true}}},
		{`!= ""`, []matchCase{{"", false}, {"x", false}}},
		{`|~ "err(or)?"`, []matchCase{{"an err", true}, {"error", true}, {"er", false}}},
		{`|~ "^start"`, []matchCase{{"start here", true}, {"not start", false}}},
		{`|~ "end$"`, []matchCase{{"the end", true}, {"end not", false}}},
		{`|~ "a.b"`, []matchCase{{"a\nb", true}, {"ab", false}}}, // . matches a newline
		{`|~ "(?-s)a.b"`, []matchCase{{"a\nb", false}, {"axb", true}}},
		{`|~ "error.*timeout"`, []matchCase{{"error: timeout", true}, {"error\ntimeout", true}, {"timeout error", false}}},
		{`|~ "(?i)error"`, []matchCase{{"ERROR", true}, {"Error x", true}, {"eRrOr", true}, {"erro", false}, {"", false}}},
		{`|~ "(?i)ok"`, []matchCase{{"OK", true}, {"o\u212a", true}, {"no", false}}}, // Kelvin sign folds to k
		{`|~ "(?i)s"`, []matchCase{{"\u017f", true}, {"S", true}, {"x", false}}},     // long s folds to s
		{`|~ ".*"`, []matchCase{{"", true}, {"x", true}}},
		{`|~ ""`, []matchCase{{"", true}, {"x", true}}},
		{`|~ "a|b"`, []matchCase{{"a", true}, {"b", true}, {"c", false}}},
		{`|~ "a" or "^b$"`, []matchCase{{"xa", true}, {"b", true}, {"xb", false}}},
		{`|~ "\\d{3}"`, []matchCase{{"code 500", true}, {"code 50", false}}},
		{`|~ "\uFFFD"`, []matchCase{{"bad \xff byte", true}, {"ok", false}}}, // the engine reads invalid UTF-8 as U+FFFD
		{`!~ "5\\d\\d"`, []matchCase{{"status=500", false}, {"status=200", true}}},
		{`!~ "a" or "b"`, []matchCase{{"a", false}, {"b", false}, {"c", true}}},
		{`!~ ""`, []matchCase{{"", false}, {"x", false}}},
		{`|> "<_> level=error <_>"`, []matchCase{
			{"ts=1 level=error msg=x", true},
			{"level=error msg=x", false}, // the leading <_> needs a byte
			{"ts=1 level=error ", false}, // and so does the trailing one
			{"ts=1 level=warn msg=x", false},
			{"ts=1 level=error level=error x", true},
		}},
		{`|> "foo <_>"`, []matchCase{{"foo bar", true}, {"xx foo bar", false}, {"foo ", false}, {"foo", false}}},
		{`|> "<_> baz"`, []matchCase{{"foo bar baz", true}, {"foo baz bar", false}, {"x baz y baz", true}, {" baz", false}, {"x baz", true}}},
		{`|> "<_> bar"`, []matchCase{{"foo bar baz", false}}},
		{`|> "<_>"`, []matchCase{{"x", true}, {"anything at all", true}, {"", false}}},
		{`|> ""`, []matchCase{{"", true}, {"x", false}}},
		{`|> "exact"`, []matchCase{{"exact", true}, {"exact ", false}, {" exact", false}}},
		{`|> "<_>bar<_>"`, []matchCase{{" bar ", true}, {"barbarx", true}, {"bar", false}, {"xbar", false}}},
		{`|> "<_> bar <_>"`, []matchCase{{" bar ", false}, {"x bar y", true}}},
		{`|> "a<_>a"`, []matchCase{{"aa", false}, {"aba", true}, {"a", false}, {"aaa", true}}},
		{`|> "<_> \"<_> <_>\" <_>"`, []matchCase{{`1.2.3.4 "GET /x HTTP/1.1" 200`, true}, {`1.2.3.4 GET /x 200`, false}}},
		{`|> "a <b"`, []matchCase{{"a <b", true}}},
		{`|> "a" or "<_> b"`, []matchCase{{"a", true}, {"x b", true}, {"c", false}}},
		{`!> "<_> debug <_>"`, []matchCase{{"x debug y", false}, {"x info y", true}}},
		{`!> "a" or "b"`, []matchCase{{"a", false}, {"b", false}, {"c", true}}},
		{`|= "x" != "y" |~ "z+"`, []matchCase{{"x z", true}, {"x y z", false}, {"x", false}}},
	} {
		e, err := ParseLogSelector(`{a="b"} ` + c.filter)
		if err != nil {
			t.Errorf("parse %s: %v", c.filter, err)
			continue
		}
		m, err := CompileFilters(e.PreFilters())
		if err != nil {
			t.Errorf("compile %s: %v", c.filter, err)
			continue
		}
		for _, mc := range c.cases {
			if got := m.Match([]byte(mc.line)); got != mc.want {
				t.Errorf("%s on %q = %v, want %v (matcher %T)", c.filter, mc.line, got, mc.want, m)
			}
		}
		// Each filter on its own agrees with the combination when alone.
		if fs := e.PreFilters(); len(fs) == 1 {
			m1, err := fs[0].Compile()
			if err != nil {
				t.Fatal(err)
			}
			for _, mc := range c.cases {
				if got := m1.Match([]byte(mc.line)); got != mc.want {
					t.Errorf("%s on %q = %v, want %v (Compile)", c.filter, mc.line, got, mc.want)
				}
			}
		}
	}
}

func TestCompileFast(t *testing.T) {
	// The common regexps become substring searches.
	for _, c := range []struct {
		re   string
		want any
	}{
		{"error", &containsMatcher{}},
		{".*error.*", &containsMatcher{}},
		{"error|warn", &containsAnyMatcher{}},
		{"(?i)error", &foldContainsMatcher{}},
		{".*", matchAll{}},
		{"", matchAll{}},
		{"(?i)ok", &foldContainsMatcher{}}, // with a fallback: k folds to the Kelvin sign
		{"error.*timeout", &orderedMatcher{}},
		{".*a.*b.*.*c", &orderedMatcher{}},
		{"(?-s)a.*b", &regexpMatcher{}},
		{"a.+b", &regexpMatcher{}},
		{"(?i)é", &regexpMatcher{}},
		{"a(?i)b", &regexpMatcher{}},
		{"err.r", &regexpMatcher{}},
		{"^error", &regexpMatcher{}},
		{"\uFFFD", &regexpMatcher{}},
	} {
		m, err := compileRegexp(c.re)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.TypeOf(m) != reflect.TypeOf(c.want) {
			t.Errorf("compileRegexp(%q) is %T, want %T", c.re, m, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := (&LineFilter{Op: LineContains, Values: []string{"1.2.3"}, IP: []bool{true}}).Compile(); err == nil {
		t.Error("bad address compiled")
	}
	if _, err := (&LineFilter{Op: LineMatch, Values: []string{"("}}).Compile(); err == nil {
		t.Error("bad regexp compiled")
	}
	if _, err := (&LineFilter{Op: LineMatch, Values: []string{"a)|(b"}}).Compile(); err == nil {
		t.Error("unbalanced regexp compiled")
	}
	if _, err := (&LineFilter{Op: LinePattern, Values: []string{"<name>"}}).Compile(); err == nil {
		t.Error("named capture compiled")
	}
	if _, err := (&LineFilter{Op: LineFilterOp(99), Values: []string{"x"}}).Compile(); err == nil {
		t.Error("unknown op compiled")
	}
	m, err := (&LineFilter{Op: LineContains}).Compile() // no values: nothing matches
	if err != nil || m.Match([]byte("x")) {
		t.Errorf("empty filter: %v %v", m, err)
	}
}

func TestIPLineFilter(t *testing.T) {
	for _, c := range []struct {
		rng, line string
		want      bool
	}{
		{"192.168.0.1", "GET from 192.168.0.1 ok", true},
		{"192.168.0.1", "GET from 192.168.0.10 ok", false},
		{"192.168.0.0/16", "client=192.168.44.3:51234 status=200", true},
		{"192.168.0.0/16", "client=10.0.0.1 status=200", false},
		{"10.0.0.1-10.0.0.9", "a 10.0.0.5 b", true},
		{"10.0.0.1-10.0.0.9", "a 10.0.0.10 b", false},
		{"2001:db8::/32", "peer [2001:db8::1] closed", true},
		{"2001:db8::/32", "peer [2001:db9::1] closed", false},
		{"10.0.0.0/8", "version 10.1.2 released", false},
		{"10.0.0.0/8", "", false},
	} {
		f := &LineFilter{Op: LineContains, Values: []string{c.rng}, IP: []bool{true}}
		m, err := f.Compile()
		if err != nil {
			t.Fatalf("%s: %v", c.rng, err)
		}
		if got := m.Match([]byte(c.line)); got != c.want {
			t.Errorf("|= ip(%q) on %q = %v, want %v", c.rng, c.line, got, c.want)
		}
		f.Op = LineNotContains
		n, _ := f.Compile()
		if got := n.Match([]byte(c.line)); got == c.want {
			t.Errorf("!= ip(%q) on %q = %v", c.rng, c.line, got)
		}
	}
}

// TestPatternAgainstRegexp checks the pattern matcher against an equivalent
// regexp on a set of lines.
func TestPatternAgainstRegexp(t *testing.T) {
	patterns := []string{"<_>", "", "a", "a<_>", "<_>a", "<_>a<_>", "a<_>b", "a<_>a", "<_>ab<_>ab",
		"ab<_>ab<_>", "a<_>b<_>c", "<_> <_>", "<_>aa<_>a", "a<_>a<_>a"}
	lines := []string{"", "a", "aa", "aaa", "aaaa", "ab", "aab", "abab", "ababab", "abc", "aXbYc", "a b",
		" ", "  ", "   ", "xaax", "aabaa", "baab", "abcabc", "abxab", "abxabx", "xabxab"}
	for _, p := range patterns {
		pm, err := parsePattern(p)
		if err != nil {
			t.Fatal(err)
		}
		re := patternRegexp(p)
		for _, l := range lines {
			if got, want := pm.Match([]byte(l)), re.MatchString(l); got != want {
				t.Errorf("pattern %q on %q = %v, regexp %s says %v", p, l, got, re, want)
			}
		}
	}
}

// patternRegexp translates a line-filter pattern into a regexp: <_> is .+,
// anchored at both ends.
func patternRegexp(p string) *regexp.Regexp {
	parts := strings.Split(p, "<_>")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile(`(?s)^` + strings.Join(parts, ".+") + `$`)
}

func TestNeedles(t *testing.T) {
	for _, c := range []struct {
		q    string
		want [][]string
	}{
		{`{a="b"}`, nil},
		{`{a="b"} |= "error"`, [][]string{{"error"}}},
		{`{a="b"} |= "error" |= "timeout"`, [][]string{{"error"}, {"timeout"}}},
		{`{a="b"} |= "a" or "b" or "a"`, [][]string{{"a", "b"}}},
		{`{a="b"} |= "x" |= "x"`, [][]string{{"x"}}},
		{`{a="b"} |= ""`, nil},
		{`{a="b"} |= "a" or ""`, nil},
		{`{a="b"} != "error"`, nil},
		{`{a="b"} !~ "error"`, nil},
		{`{a="b"} !> "<_> error <_>"`, nil},
		{`{a="b"} |~ "error.*timeout"`, [][]string{{"error"}, {"timeout"}}},
		{`{a="b"} |~ "error"`, [][]string{{"error"}}},
		{`{a="b"} |~ "(?i)error"`, nil},
		{`{a="b"} |~ "(?i)error.*timeout"`, nil},
		{`{a="b"} |~ "ERROR(?i)timeout"`, [][]string{{"ERROR"}}},
		{`{a="b"} |~ "error|warn"`, [][]string{{"error", "warn"}}},
		{`{a="b"} |~ "error|w"`, [][]string{{"error", "w"}}},
		{`{a="b"} |~ "error|.*"`, nil},
		{`{a="b"} |~ "err(or)?"`, [][]string{{"err"}}},
		{`{a="b"} |~ "(error)+ code"`, [][]string{{"error"}, {" code"}}},
		{`{a="b"} |~ "a*b"`, [][]string{{"b"}}},
		{`{a="b"} |~ "status=5\\d\\d"`, [][]string{{"status=5"}}},
		{`{a="b"} |~ "[ab]c"`, [][]string{{"c"}}},
		{`{a="b"} |~ "x{2,}y"`, [][]string{{"xx"}, {"xy"}}},
		{`{a="b"} |~ "ab+c"`, [][]string{{"ab"}, {"bc"}}},
		{`{a="b"} |~ "a+"`, [][]string{{"a"}}},
		{`{a="b"} |~ "x{0,3}y"`, [][]string{{"y"}}},
		{`{a="b"} |~ "(foo.*bar)|baz"`, [][]string{{"foo", "baz"}}},
		{`{a="b"} |~ "\uFFFD"`, nil},
		{`{a="b"} |~ ""`, nil},
		{`{a="b"} |~ "a" or "b.*c"`, [][]string{{"a", "b"}}},
		{`{a="b"} |~ "a" or "."`, nil},
		{`{a="b"} |> "<_> level=error <_>"`, [][]string{{" level=error "}}},
		{`{a="b"} |> "GET <_> 200"`, [][]string{{"GET "}, {" 200"}}},
		{`{a="b"} |> "<_>" or "x"`, nil},
		{`{a="b"} |> "<_> a <_>" or "<_> bb <_> ccc"`, [][]string{{" a ", " bb "}}},
		{`{a="b"} |= "x" != "y" |~ "z+w"`, [][]string{{"x"}, {"zw"}}},
		{`{a="b"} |= "err" |= "error"`, [][]string{{"error"}}},
		{`{a="b"} |= "a" or "b" |= "xa"`, [][]string{{"xa"}}},
		{`{a="b"} |= "xa" or "b" |= "a"`, [][]string{{"xa", "b"}, {"a"}}},
	} {
		e, err := ParseLogSelector(c.q)
		if err != nil {
			t.Errorf("parse %s: %v", c.q, err)
			continue
		}
		if got := e.Needles(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Needles(%s) = %q, want %q", c.q, got, c.want)
		}
	}
}

// TestNeedlesSound checks, on sample lines, that every line the filters keep
// contains a needle of each set.
func TestNeedlesSound(t *testing.T) {
	lines := []string{"", "error", "error timeout", "ERROR", "warn", "a", "b", "abc", "xyz", "status=503",
		"errorerror code", "abbbc", "abc", "ac", "xxxy", "foo bar", "baz", "xx y", "y", "GET / 200", " level=error x", "\xff"}
	for _, c := range validQueries {
		if e, err := ParseExpr(c.in); err == nil {
			if _, ok := e.(*LogSelectorExpr); ok {
				checkNeedlesSound(t, c.in, lines)
			}
		}
	}
	for _, q := range []string{`{a="b"} |~ "(foo.*bar)|baz"`, `{a="b"} |~ "x{2,}y"`, `{a="b"} |~ "(error)+ code"`, `{a="b"} |~ "ab+c"`,
		`{a="b"} |~ "status=5\\d\\d"`, `{a="b"} |> "GET <_> 200"`, `{a="b"} |~ "\uFFFD"`} {
		checkNeedlesSound(t, q, lines)
	}
}

func checkNeedlesSound(t *testing.T, q string, lines []string) {
	t.Helper()
	e, err := ParseLogSelector(q)
	if err != nil {
		t.Fatalf("parse %s: %v", q, err)
	}
	m, err := CompileFilters(e.PreFilters())
	if err != nil {
		t.Fatalf("compile %s: %v", q, err)
	}
	needles := e.Needles()
	for _, l := range lines {
		if !m.Match([]byte(l)) {
			continue
		}
		for _, set := range needles {
			found := false
			for _, n := range set {
				if strings.Contains(l, n) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s keeps %q, which has none of the needles %q", q, l, set)
			}
		}
	}
}

func TestMatchNoAlloc(t *testing.T) {
	line := []byte(benchLine)
	for _, f := range []string{`|= "timeout"`, `|= "a" or "timeout"`, `!= "debug"`, `|~ "err.*timeout"`,
		`|~ "(?i)TIMEOUT"`, `|~ "status=5\\d\\d"`, `|> "<_> level=error <_>"`, `!~ "x" or "y\\d"`} {
		e, err := ParseLogSelector(`{a="b"} ` + f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := CompileFilters(e.PreFilters())
		if err != nil {
			t.Fatal(err)
		}
		m.Match(line) // warm the regexp machine pool
		if n := testing.AllocsPerRun(200, func() { m.Match(line) }); n != 0 {
			t.Errorf("%s: %v allocations per line", f, n)
		}
	}
}

// benchLine is a typical 200-byte log line.
var benchLine = func() string {
	s := `ts=2024-05-01T12:34:56.789Z level=error caller=server.go:123 msg="request failed" method=GET ` +
		`path=/api/v1/query status=503 duration=1.234s err="upstream timeout" trace_id=4bf92f3577b34da6a3ce929d0e0e`
	for len(s) < 200 {
		s += " "
	}
	return s[:200]
}()

func BenchmarkLineMatcher(b *testing.B) {
	for _, c := range []struct{ name, filter string }{
		{"contains_hit", `|= "upstream timeout"`},
		{"contains_miss", `|= "connection refused"`},
		{"contains_or", `|= "panic" or "fatal" or "timeout"`},
		{"not_contains", `!= "level=debug"`},
		{"regexp_literal", `|~ "upstream timeout"`},
		{"regexp_fold", `|~ "(?i)UPSTREAM"`},
		{"regexp_dotstar", `|~ "error.*timeout"`},
		{"regexp_class", `|~ "status=5\\d\\d"`},
		{"regexp_miss", `|~ "status=4\\d\\d"`},
		{"pattern", `|> "<_> level=error <_> status=503 <_>"`},
	} {
		e, err := ParseLogSelector(`{a="b"} ` + c.filter)
		if err != nil {
			b.Fatal(err)
		}
		m, err := CompileFilters(e.PreFilters())
		if err != nil {
			b.Fatal(err)
		}
		line := []byte(benchLine)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				m.Match(line)
			}
		})
	}
}

func TestNeedlesExact(t *testing.T) {
	for q, want := range map[string]bool{
		`{a="b"}`:                               false,
		`{a="b"} |= "x"`:                        true,
		`{a="b"} |= "x" or "y" |= "z"`:          true,
		`{a="b"} |= "x" or ""`:                  false,
		`{a="b"} |= ""`:                         false,
		`{a="b"} != "x"`:                        false,
		`{a="b"} |~ "x"`:                        false,
		`{a="b"} |= ip("10.0.0.1")`:             false,
		`{a="b"} |= "x" | json`:                 false,
		`{a="b"} |> "<_> x"`:                    false,
		`{a="b"} |= "timeout" |= "time"`:        true,
		`{a="b"} |= "x" | line_format "{{.a}}"`: false,
	} {
		e, err := ParseLogSelector(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := e.NeedlesExact(); got != want {
			t.Errorf("%s: NeedlesExact %v, want %v", q, got, want)
		}
	}
}
