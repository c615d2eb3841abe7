package extract

import (
	"testing"
)

// nginxLine is a line of the corpus's ingress stream.
const nginxLine = `10.2.149.40 - - [01/Nov/2026:00:00:00 +0000] "POST /login HTTP/1.1" 304 17009 "-" "Mozilla/5.0 (X11; Linux x86_64)" 0.870`

func TestPattern(t *testing.T) {
	const nginx = `<ip> - - [<_>] "<method> <path> <_>" <status> <size> "<_>" "<agent>" <rt>`
	for _, tt := range []struct {
		name    string
		pattern string
		line    string
		want    []string
	}{
		{"nginx", nginx, nginxLine, []string{`ip="10.2.149.40"`, `method="POST"`, `path="/login"`, `status="304"`,
			`size="17009"`, `agent="Mozilla/5.0 (X11; Linux x86_64)"`, `rt="0.870"`}},
		{"unnamed captures only skip", `<_> "<_>" "<_>" <rt>`, nginxLine, []string{`rt="0.870"`}},
		{"first literal after each capture", `<a> <b>`, `x y z`, []string{`a="x"`, `b="y z"`}},
		{"text after a final literal is ignored", `<a>=<b>;`, `k=v;rest;more`, []string{`a="k"`, `b="v"`}},
		{"leading literal must start the line", `foo <f>`, `bar foo x`, nil},
		{"leading literal", `msg=<m> `, `msg=hello world`, []string{`m="hello"`}},
		{"partial match", `<a> - <b> [<c>]`, `x - y and no bracket`, []string{`a="x"`, `b="y and no bracket"`}},
		{"missing literal: the capture takes the rest", `<a> | <b>`, `no pipe here`, []string{`a="no pipe here"`}},
		{"empty captures", `<a> <b>`, ` x`, []string{`a=""`, `b="x"`}},
		{"empty line", `<a>`, ``, nil},
		{"invalid UTF-8 kept", `<a> <b>`, "x\xff y", []string{`a="x\xff"`, `b="y"`}},
		{"klog", `<level> <_>] "<msg>" <_>`, `I1101 00:00:00.618582       1 round_trippers.go:95] "Reconciled object" object="payments/api-7d9f"`,
			[]string{`level="I1101"`, `msg="Reconciled object"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var got labels
			p.Extract([]byte(tt.line), got.emit)
			checkLabels(t, got, tt.want...)
		})
	}
}

// TestPatternErrors pins Loki's messages, recorded from its own parser.
func TestPatternErrors(t *testing.T) {
	for _, tt := range []struct {
		pattern string
		names   []string
		err     string
	}{
		{"<a>", []string{"a"}, ""},
		{"<_a> <__> <a_1>", []string{"_a", "__", "a_1"}, ""},
		{"<a>\n<b>", []string{"a", "b"}, ""},
		{"<a>\xff<b>", []string{"a"}, ""}, // the pattern ends at the invalid byte
		{"\x00<a>", []string{"a"}, ""},
		{"<a<b>", []string{"b"}, ""},
		{"", nil, "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL"},
		{"\xff<a>", nil, "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL"},
		{"foo", nil, "at least one capture is required"},
		{"<_>", nil, "at least one capture is required"},
		{"<_> <_>", nil, "at least one capture is required"},
		{"<a", nil, "at least one capture is required"},
		{"<>", nil, "at least one capture is required"},
		{"< a>", nil, "at least one capture is required"},
		{"<1a>", nil, "at least one capture is required"},
		{"<a-b>", nil, "at least one capture is required"},
		{"<é>", nil, "at least one capture is required"},
		{"x\xffy<a>", nil, "at least one capture is required"},
		{"<a><b>", nil, "found consecutive capture '<a><b>': invalid expression"},
		{"<_> <a><_>", nil, "found consecutive capture '<a><_>': invalid expression"},
		{"<a> <a>", nil, "duplicate capture name (a): invalid expression"},
	} {
		p, err := NewPattern(tt.pattern)
		checkErr(t, err, tt.err)
		if err == nil && !equalStrings(p.Names(), tt.names) {
			t.Errorf("NewPattern(%q).Names() = %q, want %q", tt.pattern, p.Names(), tt.names)
		}
	}
}

func TestRegexp(t *testing.T) {
	for _, tt := range []struct {
		name string
		expr string
		line string
		want []string
	}{
		{"nginx", `^(?P<ip>\S+) .* "(?P<method>\w+) (?P<path>\S+) HTTP`, nginxLine, []string{`ip="10.2.149.40"`, `method="POST"`, `path="/login"`}},
		{"no match", `(?P<foo>foo|bar)buzz`, "blah", nil},
		{"leftmost first, greedy", `(?P<foo>.*)buzz`, "matchebuzz barbuzz", []string{`foo="matchebuzz bar"`}},
		{"unnamed groups ignored", `status=(?P<status>\w+),latency=(?P<latency>\w+)(ms|ns)`, "status=200,latency=500ms",
			[]string{`status="200"`, `latency="500"`}},
		{"group outside the match", `(?P<a>x)?(?P<b>y)`, "y", []string{`a=""`, `b="y"`}},
		{"digit names sanitised", `(?P<1st>\d+)`, "a 42", []string{`_1st="42"`}},
		{"angle-bracket syntax", `(?<n>\d)`, "7", []string{`n="7"`}},
		{"invalid UTF-8 kept", `(?P<a>.x)`, "\xffx", []string{`a="\xffx"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRegexp(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			var got labels
			r.Extract([]byte(tt.line), got.emit)
			checkLabels(t, got, tt.want...)
		})
	}
}

func TestRegexpErrors(t *testing.T) {
	for _, tt := range []struct {
		expr  string
		names []string
		err   string
	}{
		{`blah (.*) (?P<foo>)`, []string{"foo"}, ""},
		{`(?P<b>x)(?P<a>y)`, []string{"b", "a"}, ""},
		{`w.*`, nil, "at least one named capture must be supplied"},
		{`f(.*) (foo|bar|buzz)`, nil, "at least one named capture must be supplied"},
		{`(?P<foo$>foo)`, nil, "error parsing regexp: invalid named capture: `(?P<foo$>`"},
		{`(?P<foo>foo)(?P<foo>barr)`, nil, "duplicate extracted label name 'foo'"},
		{`(`, nil, "error parsing regexp: missing closing ): `(`"},
	} {
		r, err := NewRegexp(tt.expr)
		checkErr(t, err, tt.err)
		if err == nil && !equalStrings(r.Names(), tt.names) {
			t.Errorf("NewRegexp(%q).Names() = %q, want %q", tt.expr, r.Names(), tt.names)
		}
	}
}
