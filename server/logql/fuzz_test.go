package logql

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseExpr(f *testing.F) {
	for _, c := range validQueries {
		f.Add(c.in)
	}
	for _, c := range invalidQueries {
		f.Add(c.in)
	}
	for _, c := range unsupportedQueries {
		f.Add(c.in)
	}
	for _, c := range lexCases {
		f.Add(c.in)
	}
	for _, q := range syntaxSeeds {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 1024 {
			return // regexps cost O(len(regexp) × len(line)); keep executions fast
		}
		e, err := ParseExpr(q)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseExpr(%q): error %T %v is no *ParseError", q, err, err)
			}
			if pe.Line < 1 || pe.Col < 1 {
				t.Fatalf("ParseExpr(%q): error without a position: %v", q, err)
			}
			return
		}
		s := e.String()
		e2, err := ParseExpr(s)
		if err != nil {
			t.Fatalf("ParseExpr(%q) prints %q, which does not parse: %v", q, s, err)
		}
		if s2 := e2.String(); s2 != s {
			t.Fatalf("round trip of %q: %q then %q", q, s, s2)
		}
		sel, ok := e.(*LogSelectorExpr)
		if !ok {
			return
		}
		m, err := CompileFilters(sel.PreFilters())
		if err != nil {
			t.Fatalf("ParseExpr(%q) parses but does not compile: %v", q, err)
		}
		// The needles hold for the query text itself as a line, if kept.
		checkNeedlesLine(t, sel, m, []byte(q))
	})
}

// FuzzParseLineFilters checks that line filters alone parse as they do
// after a selector, and print back to what parses the same.
func FuzzParseLineFilters(f *testing.F) {
	for _, s := range []string{``, `|= "a"`, `!= "a" or ip("10.0.0.1") |~ "x+" !> "<_> y"`, `| json`, `|= "a" |`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1024 {
			return
		}
		fs, err := ParseLineFilters(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseLineFilters(%q): error %T %v is no *ParseError", s, err, err)
			}
			return
		}
		sel, err := ParseLogSelector(`{a="b"} ` + s)
		if err != nil {
			t.Fatalf("ParseLineFilters(%q) parses, but not after a selector: %v", s, err)
		}
		var parts []string
		for i, f := range fs {
			if i >= len(sel.Pipeline) || sel.Pipeline[i].String() != f.String() {
				t.Fatalf("ParseLineFilters(%q): filter %d is %s, after a selector %v", s, i, f, sel.Pipeline)
			}
			parts = append(parts, f.String())
		}
		if len(fs) != len(sel.Pipeline) {
			t.Fatalf("ParseLineFilters(%q): %d filters, %d stages after a selector", s, len(fs), len(sel.Pipeline))
		}
		printed := strings.Join(parts, " ")
		again, err := ParseLineFilters(printed)
		if err != nil || len(again) != len(fs) {
			t.Fatalf("ParseLineFilters(%q) prints %q: %v, %d filters", s, printed, err, len(again))
		}
	})
}

// syntaxSeeds are the forms of Loki's syntax beyond the canonical one: bare
// parser parameters, ip() among line filter alternatives, keywords, function
// and stage names in any case, stage names before comparisons, folded
// numbers and the places of a range.
var syntaxSeeds = []string{
	`{a="b"} | json method, code="status", x`,
	`{a="b"} | logfmt --strict --keep-empty msg, dur="duration" | msg!=""`,
	`sum by (m) (count_over_time({a="b"} | json m [5m]))`,
	`{a="b"} |= ip("10.0.0.1") or "foo" != ip("::1") or "bar" or ip("10.0.0.0/8")`,
	`{a="b"} != "x" or IP("1.2.3.4-1.2.3.9") |~ "y" or "z"`,
	`count_over_time({a="b"} |= "foo" or ip("192.168.0.0/16") [1m])`,
	`SUM(Count_Over_Time({app="x"}[5m])) BY (level) > BOOL 1 OR Vector(0)`,
	`{a="b"} | JSON | LOGFMT | Level="x" AND n > 1 Or m = IP("1.2.3.4") | UNWRAP`,
	`Sum_Over_Time({a="b"} | Unwrap Duration_Seconds(d) | __error__="" [1m] OFFSET -1h) BY (x)`,
	`{a="b"} | decolorize != "x" | Json !~ "y" | drop != "z"`,
	`1 > 1 < bool 1 + 0 / 0 * 1e308 ^ 2 % 0`,
	`sum_over_time(({a="b"})[5m] offset 1m | unwrap x)`,
	`count_over_time(({a="b"} | json [5m]))`,
	`approx_topk(2, sort(rate({a="b"}[1m])) by ())`,
	`{a="b"} | size > 5M or size < 2KiB or size == 3k`,
}

// FuzzLineFilter checks the compiled matchers against reference
// implementations, and the needles against the matchers.
func FuzzLineFilter(f *testing.F) {
	seeds := []struct {
		op     byte
		a, b   string
		line   string
		hasTwo bool
	}{
		{0, "error", "", "an error", false},
		{1, "a", "b", "abc", true},
		{2, "error.*timeout", "", "error then timeout", false},
		{2, "(?i)error", "", "ERROR", false},
		{2, "(?i)ok", "x+y", "o\u212a", true},
		{3, "5\\d\\d", "", "status=503", false},
		{2, "ab+c|d", "", "abbbc", false},
		{2, "(?i)sk.*x", "a.*b.*c", "\u017f\u212a", true},
		{3, ".*ab.*ba", "", "abba", false},
		{2, "\\x{FFFD}", "", "\xff", false},
		{4, "<_> level=error <_>", "", "ts=1 level=error x", false},
		{4, "a<_>a", "<_>b", "aaa", true},
		{5, "<_> debug <_>", "", "x debug y", false},
	}
	for _, s := range seeds {
		f.Add(s.op, s.a, s.b, s.hasTwo, []byte(s.line))
	}
	f.Fuzz(func(t *testing.T, opb byte, a, b string, two bool, line []byte) {
		if len(a)+len(b) > 128 || len(line) > 1024 {
			return // regexps cost O(len(regexp) × len(line)); keep executions fast
		}
		op := LineFilterOp(opb % 6)
		lf := &LineFilter{Op: op, Values: []string{a}}
		if two {
			lf.Values = append(lf.Values, b)
		}
		for _, v := range lf.Values {
			if validateFilterValue(op, v) != nil {
				return
			}
		}
		m, err := lf.Compile()
		if err != nil {
			t.Fatalf("%s validates but does not compile: %v", lf, err)
		}
		got := m.Match(line)
		// The reference: any value matches, negated for the negated ops.
		want := false
		for _, v := range lf.Values {
			var hit bool
			switch op.positive() {
			case LineContains:
				hit = bytes.Contains(line, []byte(v))
			case LineMatch:
				hit = regexp.MustCompile("(?s)" + v).Match(line)
			case LinePattern:
				if !utf8.ValidString(v) || !utf8.Valid(line) {
					return // the regexp reference reads runes, the matcher bytes
				}
				hit = patternRegexp(v).Match(line)
			}
			want = want || hit
		}
		if op.Negated() {
			want = !want
		}
		if got != want {
			t.Fatalf("%s on %q = %v, reference says %v (matcher %T)", lf, line, got, want, m)
		}
		sel := &LogSelectorExpr{Pipeline: []Stage{lf}}
		checkNeedlesLine(t, sel, m, line)
	})
}

// checkNeedlesLine fails when m keeps line but line lacks every needle of
// some set.
func checkNeedlesLine(t *testing.T, sel *LogSelectorExpr, m LineMatcher, line []byte) {
	t.Helper()
	if !m.Match(line) {
		return
	}
	for _, set := range sel.Needles() {
		ok := false
		for _, n := range set {
			if n == "" {
				t.Fatalf("%s: empty needle in %q", sel, set)
			}
			if strings.Contains(string(line), n) {
				ok = true
				break
			}
		}
		if !ok {
			t.Fatalf("%s keeps %q, which has none of the needles %q", sel, line, set)
		}
	}
}

// FuzzLineFilterIP checks a line filter with an ip("…") alternative: it
// keeps a line as the or of its alternatives taken alone (negated for !=),
// it gives no needles, and it prints as a filter that parses back to
// itself.
func FuzzLineFilterIP(f *testing.F) {
	seeds := []struct {
		neg, ipFirst bool
		lit, rng     string
		line         string
	}{
		{false, true, "foo", "10.0.0.1", "conn from 10.0.0.1 ok"},
		{false, false, "foo", "10.0.0.0/8", "foo bar"},
		{true, true, "foo", "192.168.1.0-192.168.1.9", "from 192.168.1.7"},
		{true, false, "", "::1", "peer [::1]:80"},
		{false, true, "x", "", "x"},
		{false, false, "a", "2001:db8::/32", "2001:db8::1 a"},
	}
	for _, s := range seeds {
		f.Add(s.neg, s.ipFirst, s.lit, s.rng, []byte(s.line))
	}
	f.Fuzz(func(t *testing.T, neg, ipFirst bool, lit, rng string, line []byte) {
		if len(lit)+len(rng) > 128 || len(line) > 1024 {
			return
		}
		op := LineContains
		if neg {
			op = LineNotContains
		}
		lf := &LineFilter{Op: op, Values: []string{lit, rng}, IP: []bool{false, true}}
		if ipFirst {
			lf.Values, lf.IP = []string{rng, lit}, []bool{true, false}
		}
		m, err := lf.Compile()
		if _, rerr := ParseIPRange(rng); rerr != nil {
			if err == nil {
				t.Fatalf("%s compiles with an invalid range", lf)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", lf, err)
		}
		ipOnly, err := (&LineFilter{Op: LineContains, Values: []string{rng}, IP: []bool{true}}).Compile()
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Contains(line, []byte(lit)) || ipOnly.Match(line)
		if neg {
			want = !want
		}
		if got := m.Match(line); got != want {
			t.Fatalf("%s on %q = %v, want %v", lf, line, got, want)
		}
		sel := &LogSelectorExpr{Pipeline: []Stage{lf}}
		if n := sel.Needles(); len(n) != 0 || sel.NeedlesExact() {
			t.Fatalf("%s gives needles %q", lf, n)
		}
		q := `{x="y"} ` + lf.String()
		e, err := ParseExpr(q)
		if err != nil {
			t.Fatalf("%s prints %q, which does not parse: %v", lf, q, err)
		}
		if e.String() != q {
			t.Fatalf("round trip of %q: %q", q, e)
		}
	})
}
