package extract

import (
	"testing"
)

// containerdLine is a line of the corpus's containerd journal stream.
const containerdLine = `time="2026-11-01T00:00:00Z" level=error msg="ContainerStatus for \"9f3e\" failed" error="rpc error: code = NotFound"`

func TestLogfmt(t *testing.T) {
	type flags struct{ strict, keepEmpty bool }
	var (
		plain  = flags{}
		strict = flags{strict: true}
		keep   = flags{keepEmpty: true}
	)
	for _, tt := range []struct {
		name  string
		flags flags
		line  string
		want  []string
		err   string
	}{
		{"worker log", plain, `level=info msg="job done" job_id=23473 duration=4.46s size=1.7MiB attempt=4 queue=high`,
			[]string{`level="info"`, `msg="job done"`, `job_id="23473"`, `duration="4.46s"`, `size="1.7MiB"`, `attempt="4"`, `queue="high"`}, ""},
		{"containerd log", strict, containerdLine,
			[]string{`time="2026-11-01T00:00:00Z"`, `level="error"`, `msg="ContainerStatus for \"9f3e\" failed"`, `error="rpc error: code = NotFound"`}, ""},
		{"empty values dropped", plain, `a=1 note="" b= c`, []string{`a="1"`}, ""},
		{"empty values kept", keep, `a=1 note="" b= c`, []string{`a="1"`, `note=""`, `b=""`, `c=""`}, ""},
		{"escapes", plain, `a="x\"y\\z\/\'\b\f\n\r\t" b="\u00e9\ud83d\ude00" c="\ud800x"`,
			[]string{`a="x\"y\\z/'\b\f\n\r\t"`, `b="é😀"`, `c=" x"`}, ""},
		{"literal control characters in quotes", plain, "foobar=\"foo\nbar\tbaz\"", []string{`foobar="foo\nbar\tbaz"`}, ""},
		{"separators are bytes up to space", plain, "a=1\tb=2\x00c=3\x7fd e=4", []string{`a="1"`, `b="2"`, `c="3\x7fd"`, `e="4"`}, ""},
		{"quoted value runs into the next key", plain, `a="b"c=d`, []string{`a="b"`, `c="d"`}, ""},
		{"invalid UTF-8 becomes spaces", plain, "a=x\xffy b=\"\xfe\\n\" c=\uFFFD", []string{`a="x y"`, `b=" \n"`, `c=" "`}, ""},
		{"key sanitising", plain, `foo.bar=10ms test-dash=foo 1st=x é=y`, []string{`foo_bar="10ms"`, `test_dash="foo"`, `_1st="x"`, `_="y"`}, ""},
		{"duplicates all emitted", plain, `foobar="foo bar" foobar=10ms`, []string{`foobar="foo bar"`, `foobar="10ms"`}, ""},
		{"errors skipped", plain, `foo="foo bar" =notkey bar=10ms bu"zz=1 b=bu=zz c="\q" d=1`,
			[]string{`foo="foo bar"`, `bar="10ms"`, `d="1"`}, ""},
		{"strict: empty key", strict, `foo="foo bar" =notkey bar=10ms`,
			[]string{`foo="foo bar"`}, "LogfmtParserErr: logfmt syntax error at pos 15 : unexpected '='"},
		{"strict: quote in key", strict, `foo="foo bar" bu"zz=10ms`,
			[]string{`foo="foo bar"`}, `LogfmtParserErr: logfmt syntax error at pos 17 : unexpected '"'`},
		{"strict: = in value", strict, `bar=bu=zz foo="foo bar"`, nil, "LogfmtParserErr: logfmt syntax error at pos 7 : unexpected '='"},
		{"strict: quote in value", strict, `bar=bu"zz`, nil, `LogfmtParserErr: logfmt syntax error at pos 7 : unexpected '"'`},
		{"strict: invalid key", strict, "foo=\"foo bar\" b\uFFFDr=10ms", []string{`foo="foo bar"`}, "LogfmtParserErr: logfmt syntax error at pos 20 : invalid key"},
		{"strict: invalid key at the end", strict, "a=1 b\xff", []string{`a="1"`}, "LogfmtParserErr: logfmt syntax error at pos 7 : invalid key"},
		{"strict: unterminated quote", strict, `a=1 b="xyz`, []string{`a="1"`}, "LogfmtParserErr: logfmt syntax error at pos 11 : unterminated quoted value"},
		{"strict: bad escape", strict, `a="x\q" b=1`, nil, "LogfmtParserErr: logfmt syntax error at pos 8 : invalid quoted value"},
		{"strict: bad unicode escape", strict, `a="x\u12" b=1`, nil, "LogfmtParserErr: logfmt syntax error at pos 10 : invalid quoted value"},
		{"strict: trailing space is fine", strict, "a=1   ", []string{`a="1"`}, ""},
		{"not logfmt", strict, `{"level":"info"}`, nil, `LogfmtParserErr: logfmt syntax error at pos 2 : unexpected '"'`},
		{"not logfmt, lenient", plain, `{"level":"info","n":1}`, nil, ""},
		{"nginx line", plain, `10.0.0.1 - - [01/Nov/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8" 0.003`, nil, ""},
		{"nginx line, keep empty", keep, `10.0.0.1 - "GET / HTTP/1.1"`, []string{`_10_0_0_1=""`, `_=""`, `_=""`}, ""},
		{"empty line", strict, ``, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLogfmt(tt.flags.strict, tt.flags.keepEmpty, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got labels
			e := l.Extract([]byte(tt.line), got.emit)
			checkLabels(t, got, tt.want...)
			if s := errString(e); s != tt.err {
				t.Errorf("error %q, want %q", s, tt.err)
			}
		})
	}
}

func TestLogfmtStop(t *testing.T) {
	l, _ := NewLogfmt(true, false, nil)
	var got labels
	err := l.Extract([]byte(`a=1 b=2 =bad c=3`), func(name, value string) bool {
		got.emit(name, value)
		return false
	})
	checkLabels(t, got, `a="1"`)
	if err != nil {
		t.Errorf("error %v, want none: reading stopped before it", err)
	}
	err = l.Extract([]byte(`=bad a=1 b=2`), func(name, value string) bool { return false })
	if err == nil {
		t.Error("no error for an error before the stop")
	}
}

func TestLogfmtParams(t *testing.T) {
	line := `app=foo level=error spaces="value with ÜFT8👌" ts=2021-02-12T19:18:10.037940878Z empty= bad=x` + "\xff" + ` level=warn`
	for _, tt := range []struct {
		name   string
		params []Param
		strict bool
		line   string
		want   []string
		names  []string
		err    string
	}{
		{"fields", []Param{{"app", "app"}, {"ts", "ts"}}, false, line, []string{`app="foo"`, `ts="2021-02-12T19:18:10.037940878Z"`}, []string{"app", "ts"}, ""},
		{"rename", []Param{{"lvl", "level"}}, false, line, []string{`lvl="error"`, `lvl="warn"`}, []string{"lvl"}, ""},
		{"quoted expression", []Param{{"s", `"spaces"`}}, false, line, []string{`s="value with ÜFT8👌"`}, []string{"s"}, ""},
		{"empty values emitted", []Param{{"e", "empty"}}, false, line, []string{`e=""`}, []string{"e"}, ""},
		{"invalid UTF-8 empties the value", []Param{{"b", "bad"}}, false, line, []string{`b=""`}, []string{"b"}, ""},
		{"a name that is a key reads it too", []Param{{"app", "level"}}, false, line,
			[]string{`app="foo"`, `app="error"`, `app="warn"`}, []string{"app"}, ""},
		{"last of the same name counts", []Param{{"a", "app"}, {"a", "ts"}}, false, line, []string{`a="2021-02-12T19:18:10.037940878Z"`}, []string{"a"}, ""},
		{"two names for one key: the first", []Param{{"x", "app"}, {"y", "app"}}, false, line, []string{`x="foo"`}, []string{"x", "y"}, ""},
		{"keys are compared sanitised", []Param{{"fb", "foo_bar"}}, false, `foo.bar=1`, []string{`fb="1"`}, []string{"fb"}, ""},
		{"several strings never match", []Param{{"x", `"a" "b"`}}, false, `a=1 b=2`, nil, []string{"x"}, ""},
		{"strict", []Param{{"a", "a"}}, true, `a=1 =x a=2`, []string{`a="1"`}, []string{"a"}, "LogfmtParserErr: logfmt syntax error at pos 5 : unexpected '='"},
		{"not strict", []Param{{"a", "a"}}, false, `a=1 =x a=2`, []string{`a="1"`, `a="2"`}, []string{"a"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLogfmt(tt.strict, true, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if !equalStrings(l.Names(), tt.names) {
				t.Errorf("Names() = %q, want %q", l.Names(), tt.names)
			}
			var got labels
			e := l.Extract([]byte(tt.line), got.emit)
			checkLabels(t, got, tt.want...)
			if s := errString(e); s != tt.err {
				t.Errorf("error %q, want %q", s, tt.err)
			}
		})
	}
}

// TestLogfmtKeyErrors pins the messages of Loki's logfmt expression
// grammar, recorded from Loki's own parser.
func TestLogfmtKeyErrors(t *testing.T) {
	for _, tt := range []struct {
		expr, key, err string
	}{
		{"a", "a", ""},
		{`"a b"`, "a b", ""},
		{" a ", "a", ""},
		{`"a`, "a", ""},
		{`"" `, "", ""},
		{`a "b"`, "a%!(EXTRA string=b)", ""},
		{"a.b", "", "unexpected char ."},
		{"a-b", "", "unexpected char -"},
		{"", "", "syntax error: unexpected $end, expecting STRING or KEY"},
		{"1a", "", "syntax error: unexpected $end, expecting STRING or KEY"},
		{"é", "", "syntax error: unexpected $end, expecting STRING or KEY"},
		{"a b", "", "syntax error: unexpected KEY"},
		{`"a]b"`, "", "syntax error: unexpected KEY"},
		{"field with space", "", "syntax error: unexpected KEY"},
	} {
		key, err := parseLogfmtKey(tt.expr)
		checkErr(t, err, tt.err)
		if err == nil && key != tt.key {
			t.Errorf("parseLogfmtKey(%q) = %q, want %q", tt.expr, key, tt.key)
		}
	}
	_, err := NewLogfmt(false, false, []Param{{"app", "field with space"}})
	checkErr(t, err, "cannot parse expression [field with space]: syntax error: unexpected KEY")
	_, err = NewLogfmt(false, false, []Param{{"\xff", "a"}})
	checkErr(t, err, "invalid extracted label name '\xff'")
}
