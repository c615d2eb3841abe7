package tmpl

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// ls builds a label map from name, value pairs.
func ls(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// tsLoki is the timestamp of several of Loki's own test entries.
const tsLoki = 1656353124120000000

// funcCase is one template run on one entry. want is the output; err, when
// set, is the whole text of the expected execution error.
type funcCase struct {
	name   string
	text   string
	labels map[string]string
	line   string
	ts     int64
	want   string
	err    string
}

func runCases(t *testing.T, name string, cases []funcCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tp, err := Parse(name, c.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.text, err)
			}
			got, err := tp.Execute([]byte("prefix:"), []byte(c.line), c.ts, c.labels)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("Execute(%q) error = %v, want %q", c.text, err, c.err)
				}
				if string(got) != "prefix:" {
					t.Fatalf("Execute(%q) on error returned %q, want dst unchanged", c.text, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Execute(%q): %v", c.text, err)
			}
			if g := strings.TrimPrefix(string(got), "prefix:"); g != c.want || !strings.HasPrefix(string(got), "prefix:") {
				t.Fatalf("Execute(%q) = %q, want %q", c.text, got, "prefix:"+c.want)
			}
		})
	}
}

// local formats a time in the server's zone, as Loki's functions do.
func local(t time.Time, layout string) string { return t.In(time.Local).Format(layout) }

// The examples of Loki's docs/sources/query/template_functions.md, with the
// outputs it gives, and the cases of Loki's pkg/logql/log/fmt_test.go.
func TestFunctionsDocumented(t *testing.T) {
	epoch := time.Unix(0, tsLoki)
	cases := []funcCase{
		// Pipelines and logic.
		{name: "pipeline", text: `{{ .path | replace " " "_" | trunc 5 | upper }}`, labels: ls("path", "a b c d e"), want: "A_B_C"},
		{name: "and", text: `{{ if and (contains "he" "hello") (contains "llo" "hello") }} yes {{end}}`, want: " yes "},
		{name: "else if", text: `{{ if contains "ErrTimeout" .err }} timeout {{else if contains "he" "hello"}} yes {{else}} no {{end}}`, labels: ls("err", "ErrNone"), want: " yes "},
		{name: "label", text: `{{ .path }}`, labels: ls("path", "/api/v1"), want: "/api/v1"},

		// __line__ and __timestamp__.
		{name: "__line__", text: `{{ __line__ }}`, line: "Hello World", want: "Hello World"},
		{name: "__line__ lower", text: `{{ __line__ | lower }}`, line: "Hello World", want: "hello world"},
		{name: "__line__ count", text: `{{ __line__ | count "foo" }}`, line: "foo bar foofoo", want: "3"},
		{name: "__line__ and label", text: "{{ __line__ }} bar {{ .bar }}", labels: ls("bar", "2"), line: "1", want: "1 bar 2"},
		{name: "__timestamp__", text: `{{ __timestamp__ }}`, ts: tsLoki, want: epoch.String()},
		{name: "__timestamp__ date", text: `{{ __timestamp__ | date "2006-01-02T15:04:05.00Z-07:00" }}`, ts: tsLoki, want: local(epoch, "2006-01-02T15:04:05.00Z-07:00")},
		{name: "__timestamp__ unixEpoch", text: "{{ __timestamp__ | unixEpoch }} bar {{ .bar }}", labels: ls("bar", "2"), ts: tsLoki, want: "1656353124 bar 2"},
		{name: "__timestamp__ day", text: `{{ __timestamp__ | date "2006-01-02" }}`, ts: 1656331200000000000, want: local(time.Unix(1656331200, 0), "2006-01-02")},

		// Date and time.
		{name: "duration", text: `{{ .foo | duration }}`, labels: ls("foo", "3m10s"), want: "190"},
		{name: "duration prefix", text: `{{ duration .foo }}`, labels: ls("foo", "3ms"), want: "0.003"},
		{name: "duration_seconds", text: `{{ .foo | duration_seconds }}`, labels: ls("foo", "1h"), want: "3600"},
		{name: "duration of brief", text: `{{ .dur | duration }}`, labels: ls("dur", "1.5s"), want: "1.5"},
		{name: "toDate", text: `{{ toDate "2006-01-02" "2021-11-02" }}`, want: time.Date(2021, 11, 2, 0, 0, 0, 0, time.Local).String()},
		{name: "toDate piped", text: `{{ .foo | toDate "2006-01-02T15:04:05.999999999Z" | unixEpochNanos }}`, labels: ls("foo", "2023-03-10T01:32:40.340485723Z"),
			want: fmt.Sprint(time.Date(2023, 3, 10, 1, 32, 40, 340485723, time.Local).UnixNano())},
		{name: "toDate days", text: `{{ sub (unixEpoch (toDate "2006-01-02" "2021-11-02")) (unixEpoch (toDate "2006-01-02" "2021-11-01")) }}`,
			want: fmt.Sprint(time.Date(2021, 11, 2, 0, 0, 0, 0, time.Local).Unix() - time.Date(2021, 11, 1, 0, 0, 0, 0, time.Local).Unix())},
		{name: "date of toDate", text: `{{ date "2006-01-02" (toDate "2006-01-02" "2021-11-02") }}`, want: "2021-11-02"},
		{name: "toDateInZone", text: `{{ toDateInZone "2006-01-02" "UTC" "2021-11-02" }}`, want: "2021-11-02 00:00:00 +0000 UTC"},
		{name: "toDateInZone unixEpoch", text: `{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpoch }}`, labels: ls("foo", "2023-03-10T01:32:40.340485723Z"), want: "1678411960"},
		{name: "unixEpochMillis", text: `{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochMillis }}`, labels: ls("foo", "2023-03-10T01:32:40.340485723Z"), want: "1678411960340"},
		{name: "unixEpochNanos", text: `{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochNanos }}`, labels: ls("foo", "2023-03-10T01:32:40.340485723Z"), want: "1678411960340485723"},
		{name: "toDateInZone zone", text: `{{ toDateInZone "2006-01-02 15:04" "Etc/GMT-2" "2021-11-02 10:00" | unixEpoch }}`, want: "1635840000"},
		{name: "toDateInZone unknown zone is UTC", text: `{{ toDateInZone "2006-01-02" "Nowhere/Nothing" "2021-11-02" }}`, want: "2021-11-02 00:00:00 +0000 UTC"},
		{name: "toDateInZone bad input is zero time", text: `{{ toDateInZone "2006-01-02" "UTC" "yesterday" }}`, want: "0001-01-01 00:00:00 +0000 UTC"},
		{name: "unixEpoch now", text: `{{ div (unixEpoch now) (unixEpoch now) }}`, want: "1"},
		{name: "unixToTime seconds", text: `from="{{date "2006-01-02" (unixToTime .from)}}"`, labels: ls("from", "1679577215"), want: `from="` + local(time.Unix(1679577215, 0), "2006-01-02") + `"`},
		{name: "unixToTime of brief", text: `{{ date "2006-01-02" (unixToTime .ts) }}`, labels: ls("ts", "1673798889902"), want: local(time.UnixMilli(1673798889902), "2006-01-02")},
		{name: "unixToTime days", text: `{{ .bar | unixToTime }}`, labels: ls("bar", "19503"), want: time.Unix(19503*86400, 0).String()},
		{name: "unixToTime milliseconds", text: `{{ .bar | unixToTime }}`, labels: ls("bar", "1257894000000"), want: time.UnixMilli(1257894000000).String()},
		{name: "unixToTime microseconds", text: `{{ .bar | unixToTime }}`, labels: ls("bar", "1673798889902000"), want: time.UnixMicro(1673798889902000).String()},
		{name: "unixToTime nanoseconds", text: `{{ .bar | unixToTime }}`, labels: ls("bar", "1000000000000000000"), want: time.Unix(0, 1000000000000000000).String()},
		{name: "unixToTime bad length", text: `{{ unixToTime "464" }}`,
			err: `template: line:1:3: executing "line" at <unixToTime "464">: error calling unixToTime: unable to parse time '464': %!w(<nil>)`},
		{name: "unixToTime not a number", text: `{{ unixToTime "abc" }}`,
			err: `template: line:1:3: executing "line" at <unixToTime "abc">: error calling unixToTime: unable to parse time 'abc': strconv.ParseInt: parsing "abc": invalid syntax`},
		{name: "date now", text: `{{ date "2006" now }}`, want: local(time.Now(), "2006")},
		{name: "date of seconds", text: `{{ date "2006-01-02" 86400 }}`, want: local(time.Unix(86400, 0), "2006-01-02")},

		// Strings.
		{name: "alignLeft cut", text: `{{ alignLeft 5 "hello world"}}`, want: "hello"},
		{name: "alignLeft pad", text: `{{ alignLeft 5 "hi"}}`, want: "hi   "},
		{name: "alignRight cut", text: `{{ alignRight 5 "hello world"}}`, want: "world"},
		{name: "alignRight pad", text: `{{ alignRight 5 "hi"}}`, want: "   hi"},
		{name: "alignLeft label", text: "{{ alignLeft 4 .foo }}", labels: ls("foo", "hello"), want: "hell"},
		{name: "alignRight label", text: "{{ alignRight 4 .foo }}", labels: ls("foo", "hello"), want: "ello"},
		{name: "b64enc", text: "{{ .foo | b64enc }}", labels: ls("foo", "i'm a string, encode me!"), want: "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh"},
		{name: "b64enc prefix", text: "{{ b64enc  .foo }}", labels: ls("foo", "foob"), want: "Zm9vYg=="},
		{name: "b64dec", text: "{{ .foo | b64dec }}", labels: ls("foo", "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh"), want: "i'm a string, encode me!"},
		{name: "b64dec unpadded", text: "{{ .foo | b64dec }} {{ .bar | b64dec }}", labels: ls("foo", "Zm9vYmE", "bar", "Zm9vYg"), want: "fooba foob"},
		{name: "b64dec invalid is text", text: "{{ b64dec .foo }}", labels: ls("foo", "!!!!"), want: "illegal base64 data at input byte 0"},
		{name: "bytes", text: `{{ "1024" | bytes }}`, want: "1024"},
		{name: "bytes kB", text: "{{ .foo | bytes }}", labels: ls("foo", "3 kB"), want: "3000"},
		{name: "bytes MB", text: "{{ .foo | bytes }}", labels: ls("foo", "3MB"), want: "3e+06"},
		{name: "bytes prefix", text: "{{ bytes .foo }}", labels: ls("foo", "1.5KiB"), want: "1536"},
		{name: "bytes bad unit", text: "{{ bytes .foo }}", labels: ls("foo", "12 parsecs"),
			err: `template: line:1:3: executing "line" at <bytes .foo>: error calling bytes: unhandled size name: parsecs`},
		{name: "default empty", text: `{{ default "-" "" }}`, want: "-"},
		{name: "default set", text: `{{ default "-" "foo" }}`, want: "foo"},
		{name: "default missing label", text: `{{.http_request_headers_x_forwarded_for | default "-"}}`, want: "-"},
		{name: "default labels", text: `{{.foo | default "-" }}{{.bar | default "-"}}{{.unknown | default "-"}}`, labels: ls("foo", "blip", "bar", ""), want: "blip--"},
		{name: "fromJson", text: `{{fromJson "{\"foo\": 55}"}}`, want: "map[foo:55]"},
		{name: "fromJson range", text: `{{ range $q := fromJson .queries }} {{ $q.query }} {{ end }}`, labels: ls("queries", `[{"query":"up"},{"query":"sum(x)"}]`), want: " up  sum(x) "},
		// The docs say an empty string; text/template prints the nil
		// fromJson returns as "<no value>", and so does Loki.
		{name: "fromJson invalid", text: `{{ fromJson "{" }}`, want: "<no value>"},
		{name: "lower", text: `{{ lower  "HELLO"}}`, want: "hello"},
		{name: "lower label", text: `{{ .request_method | lower }}`, labels: ls("request_method", "GET"), want: "get"},
		{name: "indent", text: `{{ indent 4 .query }}`, labels: ls("query", "a\nb"), want: "    a\n    b"},
		{name: "indent piped", text: `{{ "foo\n bar" | indent 4 }}`, want: "    foo\n     bar"},
		{name: "nindent", text: `{{ nindent 4 .query }}`, labels: ls("query", "a\nb"), want: "\n    a\n    b"},
		{name: "repeat", text: `{{ repeat 3 "hello" }}`, want: "hellohellohello"},
		{name: "printf", text: `{{ printf "The IP address was %s" .remote_addr }}`, labels: ls("remote_addr", "129.168.1.1"), want: "The IP address was 129.168.1.1"},
		{name: "printf widths", text: `{{ printf "%-40.40s" .request_uri}} {{printf "%-5.5s" .request_method}}`, labels: ls("request_uri", "/id/609259548/hpr.html", "request_method", "GET"),
			want: "/id/609259548/hpr.html                   GET  "},
		{name: "printf of brief", text: `{{ printf "%-6s" .queue }}|`, labels: ls("queue", "low"), want: "low   |"},
		{name: "replace", text: `{{ .cluster | replace "-cluster" "" }}`, labels: ls("cluster", "prod-cluster"), want: "prod"},
		{name: "replace all", text: `{{ replace "hello" "world" "hello world" }}`, want: "world world"},
		{name: "substr", text: `{{ substr 0 5 "hello world"}}`, want: "hello"},
		{name: "substr end", text: `{{ substr 6 11 "hello world"}}`, want: "world"},
		{name: "substr piped", text: `{{ .path | substr 2 5 }}`, labels: ls("path", "/api/v1"), want: "pi/"},
		{name: "substr and trunc", text: `{{.foo | substr 1 3 }} {{ .bar  | trunc 1 }} {{ .bar  | trunc 3 }}`, labels: ls("foo", "blip", "bar", "blop"), want: "li b blo"},
		{name: "substr out of range", text: `{{ substr 20 -1 "hello" }}`,
			err: `template: line:1:3: executing "line" at <substr 20 -1 "hello">: error calling substr: runtime error: slice bounds out of range [20:5]`},
		{name: "title", text: `{{ title "hello world"}}`, want: "Hello World"},
		{name: "title label", text: `{{.request_method | title}}`, labels: ls("request_method", "get"), want: "Get"},
		{name: "trim", text: `{{ trim "   hello    " }}`, want: "hello"},
		{name: "trims", text: `{{.foo | trim }} {{ .bar  | trimAll "op" }} {{ .bar  | trimPrefix "b" }} {{ .bar  | trimSuffix "p" }}`, labels: ls("foo", "  blip ", "bar", "blop"), want: "blip bl lop blo"},
		{name: "trimAll", text: `{{ trimAll "$" "$5.00" }}`, want: "5.00"},
		{name: "trimAll path", text: `{{ .path | trimAll "/" }}`, labels: ls("path", "/a/b/"), want: "a/b"},
		{name: "trimPrefix", text: `{{ trimPrefix "-" "-hello" }}`, want: "hello"},
		{name: "trimSuffix", text: `{{ trimSuffix "-" "hello-" }}`, want: "hello"},
		{name: "trunc", text: `{{ trunc 5 "hello world"}}`, want: "hello"},
		{name: "trunc negative", text: `{{ trunc -5 "hello world"}}`, want: "world"},
		{name: "upper", text: `{{ upper  "hello"}}`, want: "HELLO"},
		{name: "urlencode", text: `{{.foo | urlencode }} {{ urlencode .foo }}`, labels: ls("foo", `/loki?query={a="b c"}`), want: "%2Floki%3Fquery%3D%7Ba%3D%22b+c%22%7D %2Floki%3Fquery%3D%7Ba%3D%22b+c%22%7D"},
		{name: "urldecode", text: `{{.foo | urldecode }} {{ urldecode .foo }}`, labels: ls("foo", "%2Floki%3Fquery%3D%7Ba%3D%22b+c%22%7D"), want: `/loki?query={a="b c"} /loki?query={a="b c"}`},
		{name: "urldecode invalid", text: `{{ urldecode "%zz" }}`,
			err: `template: line:1:3: executing "line" at <urldecode "%zz">: error calling urldecode: invalid URL escape "%zz"`},

		// Logic.
		{name: "contains", text: `{{ if  .foo | contains "p"}}yes{{end}}-{{ if  .foo | contains "z"}}no{{end}}`, labels: ls("foo", "BLIp"), want: "yes-"},
		{name: "contains label", text: `{{ if contains "ErrTimeout" .err }} timeout {{end}}`, labels: ls("err", "an ErrTimeout"), want: " timeout "},
		{name: "eq", text: `{{ if eq "ErrTimeout" .err }} timeout {{end}}{{ if eq "hello" "hello" }} yes {{end}}`, labels: ls("err", "ErrTimeout"), want: " timeout  yes "},
		{name: "hasPrefix", text: `{{ if hasPrefix "he" "hello" }} yes {{end}}`, want: " yes "},
		{name: "hasPrefix piped", text: `{{ if  .foo | hasPrefix "BL" }}yes{{end}}-{{ if  .foo | hasPrefix "p"}}no{{end}}`, labels: ls("foo", "BLIp"), want: "yes-"},
		{name: "hasSuffix piped", text: `{{ if  .foo | hasSuffix "Ip" }}yes{{end}}-{{ if  .foo | hasSuffix "pw"}}no{{end}}`, labels: ls("foo", "BLIp"), want: "yes-"},
		// The docs' example passes the label first: suffix=.err,
		// src="Timeout".
		{name: "hasSuffix as documented", text: `{{ if hasSuffix .err "Timeout" }} timeout {{end}}`, labels: ls("err", "out"), want: " timeout "},

		// Maths.
		{name: "add", text: `{{ add 3 2 5 }}`, want: "10"},
		{name: "addf", text: `{{ addf 3.5 2 5 }}`, want: "10.5"},
		{name: "ceil", text: `{{ ceil 123.001 }}`, want: "124"},
		{name: "div", text: `{{ div 10 2}}`, want: "5"},
		{name: "div of brief", text: `{{ div .a 2 }}`, labels: ls("a", "9"), want: "4"},
		{name: "div docs", text: "{{.ip}} {{.status}} {{div .duration 1000}}", labels: ls("ip", "1.1.1.1", "status", "200", "duration", "3000"), want: "1.1.1.1 200 3"},
		{name: "divf", text: `{{ divf 10 2 4}}`, want: "1.25"},
		{name: "float64", text: `{{ "3.5" | float64 }}`, want: "3.5"},
		{name: "floor", text: `{{ floor 123.9999 }}`, want: "123"},
		{name: "int", text: `{{ "3" | int }}`, want: "3"},
		{name: "max", text: `{{ max 1 2 3 }}`, want: "3"},
		{name: "maxf", text: `{{ maxf 1 2.5 3 }}`, want: "3"},
		{name: "min", text: `{{ min 1 2 3 }}`, want: "1"},
		// The docs say 1.5; the smallest of 1, 2.5 and 3 is 1.
		{name: "minf", text: `{{ minf 1 2.5 3 }}`, want: "1"},
		{name: "mul", text: `{{ mul 5 2 3}}`, want: "30"},
		{name: "mulf", text: `{{ mulf 5.5 2 2.5 }}`, want: "27.5"},
		{name: "mod", text: `{{ mod 10 3}}`, want: "1"},
		{name: "round", text: `{{ round 123.555555 3 }}`, want: "123.556"},
		{name: "round on", text: `{{ round 123.88571428571 5 .2 }}`, want: "123.88572"},
		{name: "round default on", text: `{{ round 123.88571428571 5 }}`, want: "123.88571"},
		{name: "sub", text: `{{ sub 5 2 }}`, want: "3"},
		{name: "subf", text: `{{ subf  5.5 2 1.5 }}`, want: "2"},
		{name: "math int labels", text: "{{ add .foo 1 | sub .bar | mul .baz | div .bazz}}", labels: ls("foo", "1", "bar", "3", "baz", "10", "bazz", "20"), want: "2"},
		{name: "math float labels", text: "{{ addf .foo 1.5 | subf .bar 1.5 | mulf .baz | divf .bazz }}", labels: ls("foo", "1.5", "bar", "5", "baz", "10.5", "bazz", "20.2"), want: "3.8476190476190477"},
		{name: "math round labels", text: "{{ round (addf .foo 1.5 | subf .bar | mulf .baz | divf .bazz) 5 .2}}", labels: ls("foo", "1.5", "bar", "3.5", "baz", "10.5", "bazz", "20.4"), want: "3.88572"},
		{name: "min max labels", text: "min is {{ min .foo .bar .baz }} and max is {{ max .foo .bar .baz }}", labels: ls("foo", "5", "bar", "10", "baz", "15"), want: "min is 5 and max is 15"},
		{name: "minf maxf labels", text: "minf is {{ minf .foo .bar .baz }} and maxf is {{maxf .foo .bar .baz}}", labels: ls("foo", "5.3", "bar", "10.5", "baz", "15.2"), want: "minf is 5.3 and maxf is 15.2"},
		{name: "ceil floor labels", text: "ceil is {{ ceil .foo }} and floor is {{floor .foo }}", labels: ls("foo", "5.3"), want: "ceil is 6 and floor is 5"},
		{name: "mod label", text: "mod is {{ mod .foo 3 }}", labels: ls("foo", "20"), want: "mod is 2"},
		{name: "float64 int add", text: `{{ "2.5" | float64 | int | add 10}}`, want: "12"},
		{name: "div by zero", text: `{{ div 1 0 }}`,
			err: `template: line:1:3: executing "line" at <div 1 0>: error calling div: runtime error: integer divide by zero`},

		// Regular expressions.
		{name: "count", text: `{{ count "a|b" "abab" }}`, want: "4"},
		{name: "count o", text: `{{ count "o" "foo" }}`, want: "2"},
		{name: "count label", text: `{{.foo | count "abc" }}`, labels: ls("foo", "abc abc abc"), want: "3"},
		{name: "count regex label", text: `{{.foo | count "a|b|c" }}`, labels: ls("foo", "abc abc abc"), want: "9"},
		{name: "count none", text: `{{ __line__ | count "notmatching.*" }}`, line: "test line", want: "0"},
		{name: "count bad regexp", text: `{{ count "a|b|\\K" "x" }}`,
			err: "template: line:1:3: executing \"line\" at <count \"a|b|\\\\K\" \"x\">: error calling count: error parsing regexp: invalid escape sequence: `\\K`"},
		{name: "regexReplaceAll", text: `{{ regexReplaceAll "(a*)bc" .some_label "${1}a" }}`, labels: ls("some_label", "aabc"), want: "aaa"},
		{name: "regexReplaceAll group", text: `{{ regexReplaceAll "(p)" .foo "t" }}`, labels: ls("foo", "BLIp"), want: "BLIt"},
		{name: "regexReplaceAllLiteral", text: `{{ regexReplaceAllLiteral "(ts=)" .timestamp "timestamp=" }}`, labels: ls("timestamp", "ts=1 other"), want: "timestamp=1 other"},
		{name: "regexReplaceAllLiteral no expand", text: `{{ regexReplaceAllLiteral "(p)" .foo "${1}" }}`, labels: ls("foo", "BLIp"), want: "BLI${1}"},
		{name: "regexReplaceAll bad regexp", text: `{{ regexReplaceAll "a|b|\\q" "input" "r" }}`,
			err: "template: line:1:3: executing \"line\" at <regexReplaceAll \"a|b|\\\\q\" \"input\" \"r\">: error calling regexReplaceAll: error parsing regexp: invalid escape sequence: `\\q`"},
		{name: "regexReplaceAllLiteral bad regexp", text: `{{ regexReplaceAllLiteral "\\h" "input" "r" }}`,
			err: "template: line:1:3: executing \"line\" at <regexReplaceAllLiteral \"\\\\h\" \"input\" \"r\">: error calling regexReplaceAllLiteral: error parsing regexp: invalid escape sequence: `\\h`"},

		// Loki's first functions.
		{name: "ToUpper", text: `{{ .status | ToUpper }}`, labels: ls("status", "ok"), want: "OK"},
		{name: "ToUpper between", text: "foo {{.foo | ToUpper }} buzz{{  .bar  }}", labels: ls("foo", "blip", "bar", "blop"), want: "foo BLIP buzzblop"},
		{name: "ToLower", text: `{{ ToLower .a }}`, labels: ls("a", "AbC"), want: "abc"},
		{name: "Replace", text: `foo{{.foo}}buzz{{ Replace .bar "blop" "bar" -1 }}`, labels: ls("foo", "blip", "bar", "blop"), want: "fooblipbuzzbar"},
		{name: "Replace count", text: `{{ Replace "aaa" "a" "b" 2 }}`, want: "bba"},
		{name: "Trim", text: `{{ Trim .a "x" }}`, labels: ls("a", "xxaxx"), want: "a"},
		{name: "TrimLeft", text: `{{ TrimLeft .a "xy" }}`, labels: ls("a", "yxaxy"), want: "axy"},
		{name: "TrimRight", text: `{{ TrimRight .a "xy" }}`, labels: ls("a", "yxaxy"), want: "yxa"},
		{name: "TrimPrefix", text: `{{ TrimPrefix .a "x" }}`, labels: ls("a", "xxa"), want: "xa"},
		{name: "TrimSuffix", text: `{{ TrimSuffix .a "x" }}`, labels: ls("a", "axx"), want: "ax"},
		{name: "TrimSpace", text: `[{{ TrimSpace .a }}]`, labels: ls("a", " \t a b \n"), want: "[a b]"},

		// Errors, as Loki's tests give them.
		{name: "field with arguments", text: `{{.foo Replace "foo"}}`, labels: ls("foo", "blip"),
			err: `template: line:1:2: executing "line" at <.foo>: foo is not a method but has arguments`},
		{name: "now with an argument", text: "{{.foo | now}}", labels: ls("foo", "blip"),
			err: `template: line:1:9: executing "line" at <now>: wrong number of args for now: want 0 got 1`},
	}
	runCases(t, LineName, cases)
}

// label_format templates are named "label", which their errors show.
func TestLabelTemplate(t *testing.T) {
	runCases(t, LabelName, []funcCase{
		{name: "combined", text: "{{.foo}} and {{.bar}}", labels: ls("foo", "blip", "bar", "blop"), want: "blip and blop"},
		{name: "math", text: "{{div .status 100 }}", labels: ls("status", "200"), want: "2"},
		{name: "line", text: "{{ __line__ }}", line: "test line", want: "test line"},
		{name: "count", text: `{{ __line__ | count "test" }}`, line: "test line", want: "1"},
		{name: "timestamp", text: "{{ __timestamp__ | unixEpoch }}", ts: 1661518453244672570, want: "1661518453"},
		{name: "error", text: `{{replace "test" .foo}}`, labels: ls("foo", "blip"),
			err: `template: label:1:2: executing "label" at <replace>: wrong number of args for replace: want 3 got 2`},
	})
}

// Loki 3.7 links spf13/cast v1.10.0; these pin how its integer functions
// read strings, which differs from older cast versions.
func TestNumberArguments(t *testing.T) {
	runCases(t, LineName, []funcCase{
		{name: "fraction dropped", text: `{{ div .d 1000 }}`, labels: ls("d", "1523.57"), want: "1"},
		{name: "int of fraction", text: `{{ "2.5" | int }}`, want: "2"},
		{name: "negative fraction", text: `{{ add "-2.9" 0 }}`, want: "-2"},
		{name: "only fraction", text: `{{ add ".5" 1 }}`, want: "1"},
		{name: "zero fraction", text: `{{ add "2.00" 1 }}`, want: "3"},
		{name: "empty", text: `{{ add "" 1 }}`, want: "1"},
		{name: "missing label", text: `{{ add .nope 1 }}`, want: "1"},
		{name: "hex", text: `{{ add "0x10" 1 }}`, want: "17"},
		{name: "octal", text: `{{ add "010" 1 }}`, want: "9"},
		{name: "bad octal", text: `{{ add "08" 1 }}`, want: "1"},
		{name: "underscores", text: `{{ add "1_000" 1 }}`, want: "1001"},
		{name: "exponent", text: `{{ add "1.5e3" 1 }}`, want: "1"},
		{name: "two dots", text: `{{ add "1.2.3" 1 }}`, want: "1"},
		{name: "hex fraction", text: `{{ add "0x1.0" 1 }}`, want: "1"},
		{name: "not a number", text: `{{ mul "abc" 3 }}`, want: "0"},
		{name: "max of strings", text: `{{ max "1.9" "1.1" "0.5" }}`, want: "1"},
		{name: "min of strings", text: `{{ min "-1.5" "3" }}`, want: "-1"},
		{name: "mod of strings", text: `{{ mod "7.9" "4.2" }}`, want: "3"},
		{name: "bool", text: `{{ add true 1 }}`, want: "2"},
		{name: "float", text: `{{ add 2.9 1 }}`, want: "3"},
		{name: "month", text: `{{ int (toDateInZone "2006-01-02" "UTC" "2021-11-02").Month }}`, want: "11"},
		{name: "month as float", text: `{{ float64 (toDateInZone "2006-01-02" "UTC" "2021-11-02").Month }}`, want: "11"},
		{name: "duration type", text: `{{ div ((toDateInZone "2006" "UTC" "2021").Sub (toDateInZone "2006" "UTC" "2020")) 1000000000 }}`, want: "31622400"},
		{name: "float strings", text: `{{ addf "1.5" "2.25" }}`, want: "3.75"},
		{name: "float not a number", text: `{{ addf "x" 1 }}`, want: "1"},
		{name: "ceil of string", text: `{{ ceil "1.2" }}`, want: "2"},
		{name: "divf by zero", text: `{{ divf 1 0 }}`,
			err: `template: line:1:3: executing "line" at <divf 1 0>: error calling divf: decimal division by 0`},
	})
}

func TestBytes(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		err  string
	}{
		{in: "42", want: 42},
		{in: "42B", want: 42},
		{in: "42 b", want: 42},
		{in: "3 kB", want: 3000},
		{in: "3k", want: 3000},
		{in: "1KiB", want: 1024},
		{in: "1.5KiB", want: 1536},
		{in: "1.5ki", want: 1536},
		{in: "42MB", want: 42e6},
		{in: "42mib", want: 44040192},
		{in: "1GB", want: 1e9},
		{in: "1gi", want: 1 << 30},
		{in: "2TB", want: 2e12},
		{in: "1TiB", want: 1 << 40},
		{in: "1PB", want: 1e15},
		{in: "1pib", want: 1 << 50},
		{in: "1EB", want: 1e18},
		{in: "1EiB", want: 1 << 60},
		{in: "1,024", want: 1024},
		{in: "1,024.5 kB", want: 1024500},
		{in: "0.5", want: 0},
		{in: "1.9", want: 1},
		{in: "", err: `strconv.ParseFloat: parsing "": invalid syntax`},
		{in: " 42", err: `strconv.ParseFloat: parsing "": invalid syntax`},
		{in: "kB", err: `strconv.ParseFloat: parsing "": invalid syntax`},
		{in: "1.2.3", err: `strconv.ParseFloat: parsing "1.2.3": invalid syntax`},
		{in: "42 parsecs", err: "unhandled size name: parsecs"},
		{in: "-1", err: `strconv.ParseFloat: parsing "": invalid syntax`},
		{in: "16EiB", err: "too large: 16EiB"},
		{in: "١٢kB", err: `strconv.ParseFloat: parsing "١": invalid syntax`},
	}
	for _, c := range cases {
		got, err := bytesToFloat(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("bytes(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("bytes(%q) = %v, %v, want %v", c.in, got, err, c.want)
		}
	}
}

// Loki's tests of its rune-aware alignLeft and alignRight.
func TestAlign(t *testing.T) {
	const s = "Hello, 世界"
	cases := []struct {
		count       int
		left, right string
	}{
		{-1, s, s},
		{0, "", ""},
		{1, "H", "界"},
		{2, "He", "世界"},
		{8, "Hello, 世", "ello, 世界"},
		{9, s, s},
		{20, s + "           ", "           " + s},
	}
	for _, c := range cases {
		if got := alignLeft(c.count, s); got != c.left {
			t.Errorf("alignLeft(%d) = %q, want %q", c.count, got, c.left)
		}
		if got := alignRight(c.count, s); got != c.right {
			t.Errorf("alignRight(%d) = %q, want %q", c.count, got, c.right)
		}
	}
}

func TestDropFraction(t *testing.T) {
	cases := map[string]string{
		"2.5": "2", "-2.5": "-2", "+2.5": "+2", ".5": "0", "-.5": "-0", ".": "0", "+.": "+0",
		"2.": "2", "2": "2", "": "", "1.2.3": "1.2.3", "1e3.5": "1e3.5", "0x1.0": "0x1.0",
		" 2.5": " 2.5", "2.5 ": "2.5 ", "-": "-", "--1.5": "--1.5", "1-.5": "1-.5",
	}
	for in, want := range cases {
		if got := dropFraction(in); got != want {
			t.Errorf("dropFraction(%q) = %q, want %q", in, got, want)
		}
	}
}

// The functions Loki 3 gives templates: Loki's own and the sprig subset of
// pkg/logql/log/fmt.go, and nothing else.
func TestFuncNames(t *testing.T) {
	want := []string{
		// Loki's own.
		"ToLower", "ToUpper", "Replace", "Trim", "TrimLeft", "TrimRight", "TrimPrefix", "TrimSuffix", "TrimSpace",
		"regexReplaceAll", "regexReplaceAllLiteral", "count", "urldecode", "urlencode", "bytes", "duration",
		"duration_seconds", "unixEpochMillis", "unixEpochNanos", "toDateInZone", "unixToTime", "alignLeft",
		"alignRight", "b64dec", "__line__", "__timestamp__",
		// sprig's.
		"b64enc", "lower", "upper", "title", "trunc", "substr", "contains", "hasPrefix", "hasSuffix", "indent",
		"nindent", "replace", "repeat", "trim", "trimAll", "trimSuffix", "trimPrefix", "int", "float64", "add",
		"sub", "mul", "div", "mod", "addf", "subf", "mulf", "divf", "max", "min", "maxf", "minf", "ceil", "floor",
		"round", "fromJson", "date", "toDate", "now", "unixEpoch", "default",
	}
	slices.Sort(want)
	if got := FuncNames(); !slices.Equal(got, want) {
		t.Errorf("FuncNames() = %q\nwant %q", got, want)
	}
}
