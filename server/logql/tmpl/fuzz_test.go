package tmpl

import (
	"bytes"
	"maps"
	"strings"
	"testing"
	"text/template"
	"time"
)

// reference runs text the plain way Loki does: a template parsed for this
// one call, with __line__ and __timestamp__ bound to this entry. Execute,
// with its pool of clones and its shortcuts, must give the same results.
func reference(name, text string, line []byte, ts int64, labels map[string]string) (string, error) {
	fm := maps.Clone(parseFuncs)
	fm[lineFunc] = func() string { return string(line) }
	fm[timestampFunc] = func() time.Time { return time.Unix(0, ts) }
	t, err := template.New(name).Option("missingkey=zero").Funcs(fm).Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, labels)
	return b.String(), err
}

// growers are functions whose output can be much longer than their input,
// and loops, each matched as a substring ("print" is also printf and
// println, "indent" nindent, "eplace" replace, Replace and the regexp
// ones); numberMakers make numbers that can be large.
var (
	growers = []string{
		"repeat", "indent", "alignLeft", "alignRight", "print", "eplace",
		"urlencode", "urlquery", "html", "js", "b64enc", "range",
	}
	numberMakers = []string{
		"int", "float64", "add", "mul", "sub", "div", "mod", "max", "min", "ceil", "floor", "round",
		"bytes", "duration", "unix", "now", "__timestamp__", "toDate", "fromJson", "index", "slice", "call",
	}
)

// withinBudget rejects the inputs that would only make the fuzzer run out
// of memory or time, as they would make Loki: recursion through
// {{template}}, loops, several functions that multiply the length of
// their output, and large numbers fed to one.
func withinBudget(text, line, value string) bool {
	if len(text) > 200 || len(line) > 256 || len(value) > 64 {
		return false
	}
	if strings.Contains(text, "template") || strings.Contains(text, "block") {
		return false
	}
	for _, s := range []string{text, line, value} {
		if !smallNumbers(s) {
			return false
		}
	}
	grow := 0
	for _, g := range growers {
		grow += strings.Count(text, g)
	}
	if grow > 1 {
		return false
	}
	if grow == 1 {
		for _, n := range numberMakers {
			if strings.Contains(text, n) {
				return false
			}
		}
	}
	return true
}

// smallNumbers reports whether every number written in s is below 1000 and
// plain decimal: no exponent, base prefix or digit separator.
func smallNumbers(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			run++
			if run > 3 {
				return false
			}
			continue
		}
		if run > 0 && strings.IndexByte("eEpPxXoObB_", c) >= 0 {
			return false
		}
		run = 0
	}
	return true
}

// FuzzExecute parses and runs arbitrary templates on arbitrary entries:
// nothing may panic, and the results must be those of a template parsed
// afresh for the call.
func FuzzExecute(f *testing.F) {
	seeds := []string{
		"plain", "{{.a}}", "{{ .a }}", "{{.b}}", "{{ $x := .a }}", "{{ __line__ }}", "{{ __timestamp__ }}",
		"{{ .a | upper }} {{ __line__ | count \"a\" }}", `{{ if eq .a "x" }}y{{ else }}n{{ end }}`,
		`{{ range $k, $v := . }}{{ $k }}={{ $v }} {{ end }}`, `{{ with .a }}{{ . }}{{ end }}`,
		`{{ div .a 0 }}`, `{{ .a.b }}`, `{{ index . "a" }}`, `{{ slice __line__ 1 2 }}`,
		`{{ printf "%-6s|" .a }}`, `{{ alignLeft 5 .a }}{{ alignRight 5 __line__ }}`, `{{ bytes .a }}`,
		`{{ duration .a }}`, `{{ unixToTime .a }}`, `{{ date "2006" (unixToTime .a) }}`, `{{ b64dec .a }}`,
		`{{ fromJson __line__ }}`, `{{ regexReplaceAll .a __line__ "$1" }}`, `{{ substr 1 3 .a }}`,
		`{{ trunc -2 .a }}`, `{{ default "-" .a }}`, `{{ toDateInZone "2006" .a "2021" }}`, `{{ round .a 2 }}`,
		`{{ addf .a 1 }}`, `{{ add .a 1 }}`, `{{ urldecode .a }}`, `{{- /* c */ -}}x`, `{{define "x"}}a{{end}}b`,
		"{{ break }}", "{{", "}}", `{{ "\x00" }}`,
	}
	for _, s := range seeds {
		f.Add(s, "line a=1 x", "1.5")
	}
	f.Fuzz(func(t *testing.T, text, line, value string) {
		if !withinBudget(text, line, value) {
			t.Skip()
		}
		labels := map[string]string{"a": value, "b": "B"}
		const ts = 1_700_000_000_123_456_789
		for _, name := range []string{LineName, LabelName} {
			tp, err := Parse(name, text)
			_, rerr := reference(name, text, []byte(line), ts, labels)
			if err != nil {
				if rerr == nil {
					t.Fatalf("Parse(%q): %v; the reference parsed it", text, err)
				}
				return
			}
			got, err := tp.Execute([]byte("dst:"), []byte(line), ts, labels)
			if err == nil && !bytes.HasPrefix(got, []byte("dst:")) {
				t.Fatalf("Execute(%q) lost dst: %q", text, got)
			}
			if err != nil && string(got) != "dst:" {
				t.Fatalf("Execute(%q) failed (%v) but changed dst: %q", text, err, got)
			}
			if strings.Contains(text, "now") {
				continue // the two runs see different times
			}
			want, rerr := reference(name, text, []byte(line), ts, labels)
			if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
				t.Fatalf("Execute(%q) error %v, reference %v", text, err, rerr)
			}
			if err == nil && string(got[len("dst:"):]) != want {
				t.Fatalf("Execute(%q) = %q, reference %q", text, got[len("dst:"):], want)
			}
		}
	})
}
