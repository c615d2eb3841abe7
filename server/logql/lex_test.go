package logql

import (
	"strconv"
	"strings"
	"testing"
)

type lexCase struct {
	in   string
	want []string // kind:text, or kind:text=value for literals
}

// tokStr renders a token for comparison.
func tokStr(t token) string {
	s := t.kind.String() + ":" + t.text
	switch t.kind {
	case tString:
		s += "=" + t.val
	case tNumber:
		s += "=" + formatFloat(t.num)
	case tDuration:
		s += "=" + t.dur.String()
	case tBytes:
		s += "=" + formatFloat(float64(t.bytes))
	case tKeyword:
		if t.val != t.text {
			s += "=" + t.val
		}
	}
	return s
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

var lexCases = []lexCase{
	{`{a="b"}`, []string{`{:{`, `identifier:a`, `=:=`, `string:"b"=b`, `}:}`}},
	{`{app = "x", env != "y", b=~"z.*", c !~ ` + "`raw\\d`" + `}`, []string{
		`{:{`, `identifier:app`, `=:=`, `string:"x"=x`, `,:,`,
		`identifier:env`, `!=:!=`, `string:"y"=y`, `,:,`,
		`identifier:b`, `=~:=~`, `string:"z.*"=z.*`, `,:,`,
		`identifier:c`, `!~:!~`, "string:`raw\\d`=raw\\d", `}:}`}},
	{`|= != |~ !~ |> !> | ==`, []string{`|=:|=`, `!=:!=`, `|~:|~`, `!~:!~`, `|>:|>`, `!>:!>`, `|:|`, `==:==`}},
	{`> >= < <= + - * / % ^`, []string{`>:>`, `>=:>=`, `<:<`, `<=:<=`, `+:+`, `-:-`, `*:*`, `/:/`, `%:%`, `^:^`}},
	{`( ) [ ] ,`, []string{`(:(`, `):)`, `[:[`, `]:]`, `,:,`}},
	{`and or unless by without bool on ignoring group_left group_right offset`, []string{
		`keyword:and`, `keyword:or`, `keyword:unless`, `keyword:by`, `keyword:without`, `keyword:bool`,
		`keyword:on`, `keyword:ignoring`, `keyword:group_left`, `keyword:group_right`, `keyword:offset`}},
	{`rate count_over_time json logfmt regexp pattern unpack line_format label_format drop keep unwrap ip __error__ sum topk`, []string{
		`identifier:rate`, `identifier:count_over_time`, `identifier:json`, `identifier:logfmt`,
		`identifier:regexp`, `identifier:pattern`, `identifier:unpack`, `identifier:line_format`,
		`identifier:label_format`, `identifier:drop`, `identifier:keep`, `identifier:unwrap`,
		`identifier:ip`, `identifier:__error__`, `identifier:sum`, `identifier:topk`}},
	{`5m 1h30m 15000ms 1.5h 1d 2w 1y 10s 100us 3µs 7ns`, []string{
		`duration:5m=5m0s`, `duration:1h30m=1h30m0s`, `duration:15000ms=15s`, `duration:1.5h=1h30m0s`,
		`duration:1d=24h0m0s`, `duration:2w=336h0m0s`, `duration:1y=8760h0m0s`, `duration:10s=10s`,
		`duration:100us=100µs`, `duration:3µs=3µs`, `duration:7ns=7ns`}},
	{`10KB 1.5KiB 20B 42MB 1kB 2GiB 5M 3Ki 1k 2T 1PB`, []string{
		`bytes:10KB=10000`, `bytes:1.5KiB=1536`, `bytes:20B=20`, `bytes:42MB=42000000`,
		`bytes:1kB=1000`, `bytes:2GiB=2147483648`, `bytes:5M=5000000`, `bytes:3Ki=3072`, `bytes:1k=1000`,
		`bytes:2T=2000000000000`, `bytes:1PB=1000000000000000`}},
	{`42 1.5 .5 1e3 2.5E-2 5. 0 0x1p3 0X1.8P-1`, []string{
		`number:42=42`, `number:1.5=1.5`, `number:.5=0.5`, `number:1e3=1000`,
		`number:2.5E-2=0.025`, `number:5.=5`, `number:0=0`, `number:0x1p3=8`, `number:0X1.8P-1=0.75`}},
	{`0B 1B`, []string{`bytes:0B=0`, `bytes:1B=1`}},
	// Keywords in any case, as in Loki; the parser takes function and
	// stage names in any case where they are expected.
	{`BY Without OR And UNLESS Bool ON Ignoring GROUP_LEFT group_Right Offset SUM Json`, []string{
		`keyword:BY=by`, `keyword:Without=without`, `keyword:OR=or`, `keyword:And=and`, `keyword:UNLESS=unless`,
		`keyword:Bool=bool`, `keyword:ON=on`, `keyword:Ignoring=ignoring`, `keyword:GROUP_LEFT=group_left`,
		`keyword:group_Right=group_right`, `keyword:Offset=offset`, `identifier:SUM`, `identifier:Json`}},
	{`1-2`, []string{`number:1=1`, `-:-`, `number:2=2`}},
	{`[5m]`, []string{`[:[`, `duration:5m=5m0s`, `]:]`}},
	{`| logfmt --strict --keep-empty`, []string{`|:|`, `identifier:logfmt`, `flag:--strict`, `flag:--keep-empty`}},
	{`"a\"b\n\u00e9\x41"`, []string{`string:"a\"b\n\u00e9\x41"=a"b` + "\n" + `éA`}},
	{"`multi\nline`", []string{"string:`multi\nline`=multi\nline"}},
	{`""`, []string{`string:""=`}},
	{"{a=\"b\"} # a comment |= \"x\"\n|= \"y\" # another", []string{
		`{:{`, `identifier:a`, `=:=`, `string:"b"=b`, `}:}`, `|=:|=`, `string:"y"=y`}},
	{"\t\r\n  ", nil},
	{`sum by (job) (rate({a="b"} | json | unwrap dur [5m] offset 1h)) > 0.5 and 1`, []string{
		`identifier:sum`, `keyword:by`, `(:(`, `identifier:job`, `):)`, `(:(`, `identifier:rate`, `(:(`,
		`{:{`, `identifier:a`, `=:=`, `string:"b"=b`, `}:}`, `|:|`, `identifier:json`, `|:|`,
		`identifier:unwrap`, `identifier:dur`, `[:[`, `duration:5m=5m0s`, `]:]`, `keyword:offset`,
		`duration:1h=1h0m0s`, `):)`, `):)`, `>:>`, `number:0.5=0.5`, `keyword:and`, `number:1=1`}},
	{`| size > 10KB or duration >= 1m30s, status=~"5.."`, []string{
		`|:|`, `identifier:size`, `>:>`, `bytes:10KB=10000`, `keyword:or`, `identifier:duration`,
		`>=:>=`, `duration:1m30s=1m30s`, `,:,`, `identifier:status`, `=~:=~`, `string:"5.."=5..`}},
}

func TestLexer(t *testing.T) {
	for _, c := range lexCases {
		toks, err := lexAll(c.in)
		if err != nil {
			t.Errorf("lex %q: %v", c.in, err)
			continue
		}
		if last := toks[len(toks)-1]; last.kind != tEOF {
			t.Errorf("lex %q: last token %v, want EOF", c.in, last.kind)
		}
		var got []string
		for _, tk := range toks[:len(toks)-1] {
			got = append(got, tokStr(tk))
		}
		if strings.Join(got, " | ") != strings.Join(c.want, " | ") {
			t.Errorf("lex %q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestLexerPositions(t *testing.T) {
	toks, err := lexAll("{a=\"é\"}\n  |= \"x\"")
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 1, 2, 3, 7, 11, 14, 17}
	for i, tk := range toks {
		if tk.pos != want[i] {
			t.Errorf("token %d (%s): pos %d, want %d", i, tokStr(tk), tk.pos, want[i])
		}
	}
	line, col := position("{a=\"é\"}\n  |= \"x\"", 14)
	if line != 2 || col != 6 {
		t.Errorf("position: line %d col %d, want 2 6", line, col)
	}
	line, col = position("é=x", 2) // col counts runes
	if line != 1 || col != 2 {
		t.Errorf("position: line %d col %d, want 1 2", line, col)
	}
}

func TestLexerErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`"abc`, `line 1, col 1: unterminated string: missing closing "`},
		{"\"ab\nc\"", `unterminated string: newline before the closing "`},
		{"`abc", "unterminated raw string"},
		{`{a="b"} "\q"`, `line 1, col 9: invalid escape sequence in string "\q"`},
		{`{a='b'}`, `line 1, col 4: unexpected character '\''`},
		{`{a="b"} ! "x"`, `line 1, col 9: unexpected character '!'`},
		{`{a="b"} @ 5`, `line 1, col 9: unexpected character '@'`},
		{"{a=\"b\"}\n\n  ; ", `line 3, col 3: unexpected character ';'`},
		{`5xyz`, `invalid number, duration or byte size "5xyz"`},
		{`1.2.3`, `invalid number, duration or byte size "1.2.3"`},
		{`5mm`, `invalid number, duration or byte size "5mm"`},
		{`1e`, `invalid number, duration or byte size "1e"`},
		{"\xff", `invalid UTF-8 byte 0xff`},
		// Loki refuses what its float parser refuses.
		{`0x1f`, `line 1, col 1: unable to parse literal 0x1f as a float`},
		{`0o17`, `unable to parse literal 0o17 as a float`},
		{`1e400`, `unable to parse literal 1e400 as a float: value out of range`},
		// Loki's byte sizes: upper-case B, k/K/M/G/T/P with an optional i.
		{`1kb`, `invalid number, duration or byte size "1kb"`},
		{`20b`, `invalid number, duration or byte size "20b"`},
		{`1EB`, `invalid number, duration or byte size "1EB"`},
		{`5Mb`, `invalid number, duration or byte size "5Mb"`},
		{"\"a\xffb\"", `line 1, col 1: invalid UTF-8 encoding in string "\"a\xffb\""`},
		{"`\xfe`", `invalid UTF-8 encoding in string`},
	} {
		_, err := lexAll(c.in)
		if err == nil {
			t.Errorf("lex %q: no error, want %q", c.in, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("lex %q: error %q, want it to contain %q", c.in, err, c.want)
		}
	}
}
