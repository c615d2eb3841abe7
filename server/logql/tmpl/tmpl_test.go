package tmpl

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

func mustParse(t testing.TB, name, text string) *Template {
	t.Helper()
	tp, err := Parse(name, text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return tp
}

func execString(t testing.TB, tp *Template, line string, ts int64, labels map[string]string) string {
	t.Helper()
	out, err := tp.Execute(nil, []byte(line), ts, labels)
	if err != nil {
		t.Fatalf("Execute(%q): %v", tp, err)
	}
	return string(out)
}

// Loki runs templates with missingkey=zero over a map[string]string: a
// label the entry lacks reads as "", not "<no value>".
func TestMissingLabel(t *testing.T) {
	cases := []struct{ text, want string }{
		{"{{.missing}}", ""},
		{"[{{ .missing }}]", "[]"},
		{"foo {{.foo}}buzz{{  .bar  }}", "foo buzzblop"},
		{"{{ if .missing }}set{{ else }}unset{{ end }}", "unset"},
		{"{{ len .missing }}", "0"},
	}
	for _, c := range cases {
		tp := mustParse(t, LineName, c.text)
		if got := execString(t, tp, "", 0, ls("bar", "blop")); got != c.want {
			t.Errorf("%q = %q, want %q", c.text, got, c.want)
		}
		if got := execString(t, tp, "", 0, nil); c.text != "foo {{.foo}}buzz{{  .bar  }}" && got != c.want {
			t.Errorf("%q with nil labels = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		parse func(string) (*Template, error)
		text  string
		want  string
	}{
		{ParseLine, "{{ foo }}", `invalid line template: template: line:1: function "foo" not defined`},
		{ParseLine, "{{ .a", `invalid line template: template: line:1: unclosed action`},
		{ParseLine, "{{ if .a }}x", `invalid line template: template: line:1: unexpected EOF`},
		{ParseLine, "{{ end }}", `invalid line template: template: line:1: unexpected {{end}}`},
		{func(s string) (*Template, error) { return ParseLabel("dst", s) }, "{{ .a | nope }}",
			`invalid template for label 'dst': template: label:1: function "nope" not defined`},
		{func(s string) (*Template, error) { return Parse("x", s) }, "{{ .a", `template: x:1: unclosed action`},
	}
	for _, c := range cases {
		tp, err := c.parse(c.text)
		if err == nil || err.Error() != c.want {
			t.Errorf("parse %q: %v, %v; want error %q", c.text, tp, err, c.want)
		}
	}
	// The wrapped error is text/template's own.
	_, err := ParseLine("{{ .a")
	if errors.Unwrap(err) == nil {
		t.Errorf("ParseLine error %v does not wrap text/template's", err)
	}
}

// An execution error leaves dst as it was: Loki then keeps the line (or the
// label) unchanged and sets __error__ and __error_details__.
func TestExecuteErrorKeepsDst(t *testing.T) {
	tp := mustParse(t, LineName, `partial output {{ div 1 .zero }} more`)
	dst := make([]byte, 0, 64)
	dst = append(dst, "kept"...)
	out, err := tp.Execute(dst, nil, 0, ls("zero", "0"))
	if err == nil {
		t.Fatal("no error for div by zero")
	}
	if string(out) != "kept" {
		t.Errorf("Execute returned %q on error, want %q", out, "kept")
	}
	const details = `template: line:1:18: executing "line" at <div 1 .zero>: error calling div: runtime error: integer divide by zero`
	if err.Error() != details {
		t.Errorf("error %q, want %q", err, details)
	}
	var ee template.ExecError
	if !errors.As(err, &ee) {
		t.Errorf("error %T is not a template.ExecError", err)
	}
	// The executor that failed goes back to the pool in a usable state.
	if got := execString(t, tp, "", 0, ls("zero", "1")); got != "partial output 1 more" {
		t.Errorf("after an error: %q", got)
	}
}

func TestLiteral(t *testing.T) {
	cases := []struct {
		text    string
		literal string
		ok      bool
	}{
		{"plain text", "plain text", true},
		{"", "", true},
		{"}} not an action", "}} not an action", true},
		{"a {{/* comment */}} b", "a  b", true},
		{"a {{- /* comment */ -}} b", "ab", true},
		{`{{define "x"}}in x{{end}}out`, "out", true},
		{"a {{.b}}", "", false},
		{`{{ "constant" }}`, "", false},
	}
	for _, c := range cases {
		tp := mustParse(t, LineName, c.text)
		lit, ok := tp.Literal()
		if lit != c.literal || ok != c.ok {
			t.Errorf("Literal(%q) = %q, %v; want %q, %v", c.text, lit, ok, c.literal, c.ok)
		}
		if ok {
			if got := execString(t, tp, "line", 0, ls("b", "x")); got != c.literal {
				t.Errorf("Execute(%q) = %q, want the literal %q", c.text, got, c.literal)
			}
		}
	}
}

// Templates made only of text and {{.name}} run without text/template.
func TestPlan(t *testing.T) {
	labels := ls("foo", "bar", "x", "X")
	cases := []struct {
		text    string
		planned bool
		want    string
	}{
		{"{{.foo}}", true, "bar"},
		{"{{ .foo }}", true, "bar"},
		{"{{- .foo -}}", true, "bar"},
		{"{{.foo}}  ", true, "bar  "},
		{"{{.missing}}", true, ""},
		{"a {{.foo}} b {{/* c */}} c {{.x}}{{.missing}}{{.foo}}", true, "a bar b  c Xbar"},
		{"a\n{{- .foo }}\n", true, "abar\n"},
		{"{{.foo.bar}}", false, ""},
		{"{{.foo | lower}}", false, ""},
		{"{{ $.foo }}", false, ""},
		{"{{ $x := .foo }}", false, ""},
		{"{{ . }}", false, ""},
		{"{{ .foo }}{{ __line__ }}", false, ""},
	}
	for _, c := range cases {
		tp := mustParse(t, LineName, c.text)
		if tp.planned != c.planned {
			t.Errorf("%q: planned %v, want %v", c.text, tp.planned, c.planned)
		}
		if !c.planned {
			continue
		}
		want, err := reference(LineName, c.text, nil, 0, labels)
		if err != nil || want != c.want {
			t.Fatalf("%q: reference %q, %v; the case wants %q", c.text, want, err, c.want)
		}
		if got := execString(t, tp, "", 0, labels); got != want {
			t.Errorf("%q = %q, want %q", c.text, got, want)
		}
	}
}

// Loki's line_format shortcut for {{.name}} also catches a declaration; its
// label_format runs the template, which outputs nothing.
func TestDeclarationQuirk(t *testing.T) {
	const text = "{{ $x := .foo }}"
	labels := ls("foo", "bar")
	line, err := ParseLine(text)
	if err != nil {
		t.Fatal(err)
	}
	if got := execString(t, line, "", 0, labels); got != "bar" {
		t.Errorf("line_format %q = %q, want bar as in Loki", text, got)
	}
	label, err := ParseLabel("dst", text)
	if err != nil {
		t.Fatal(err)
	}
	if got := execString(t, label, "", 0, labels); got != "" {
		t.Errorf("label_format %q = %q, want empty", text, got)
	}
}

func TestExecuteString(t *testing.T) {
	for text, want := range map[string]string{
		"literal":                  "literal",
		"{{.a}}":                   "A",
		"{{.a}}-{{ __line__ }}":    "A-the line",
		"{{ __timestamp__.Unix }}": "7",
	} {
		tp := mustParse(t, LabelName, text)
		got, err := tp.ExecuteString([]byte("the line"), 7e9, ls("a", "A"))
		if err != nil || got != want {
			t.Errorf("ExecuteString(%q) = %q, %v; want %q", text, got, err, want)
		}
	}
	tp := mustParse(t, LabelName, "{{ div 1 0 }}")
	if got, err := tp.ExecuteString(nil, 0, nil); err == nil || got != "" {
		t.Errorf("ExecuteString of a failing template = %q, %v", got, err)
	}
}

func TestLabelNames(t *testing.T) {
	cases := []struct {
		text string
		want []string
		all  bool
	}{
		{"literal", nil, false},
		{`{{.foo}} and {{.bar}}`, []string{"bar", "foo"}, false},
		{`{{ .foo | ToUpper }} and {{.bar}} {{ .foo }}`, []string{"bar", "foo"}, false},
		{`{{ regexReplaceAllLiteral "(p)" .foo "${1}" }}`, []string{"foo"}, false},
		{`{{ if .foo | hasSuffix "Ip" }} {{.bar}} {{end}}-{{ if .foo | hasSuffix "pw"}}no{{end}}`, []string{"bar", "foo"}, false},
		{`{{with .foo}}{{printf "%q" .}} {{else}} {{ .buzz | lower }} {{end}}`, []string{"buzz", "foo"}, true},
		{`{{ .a.b }}`, []string{"a"}, false},
		{`{{ $.a }}`, []string{"a"}, false},
		{`{{ range $k, $v := . }}{{$k}}{{end}}`, nil, true},
		{`{{ index . "a" }}`, nil, true},
		{`{{ $m := $ }}{{ $m.x }}`, nil, true},
		{`{{ define "t" }}{{ .inner }}{{ end }}{{ template "t" . }}`, []string{"inner"}, true},
		{`{{ (fromJson .j).k }}`, []string{"j"}, false},
		{`{{ __line__ }}`, nil, false},
	}
	for _, c := range cases {
		names, all := mustParse(t, LineName, c.text).LabelNames()
		if !slices.Equal(names, c.want) || all != c.all {
			t.Errorf("LabelNames(%q) = %q, %v; want %q, %v", c.text, names, all, c.want, c.all)
		}
	}
}

// Execute copies everything it outputs: changing the line or the labels
// afterwards changes nothing already returned, nor later results (the
// regexp cache keeps its own copy of a pattern that came from __line__).
func TestExecuteKeepsNoReferences(t *testing.T) {
	tp := mustParse(t, LineName, `{{ __line__ }}|{{ count __line__ "abcabc" }}|{{ .a }}`)
	line := []byte("abc")
	labels := ls("a", "x")
	out := execString(t, tp, string(line), 0, labels)
	first, err := tp.Execute(nil, line, 0, labels)
	if err != nil {
		t.Fatal(err)
	}
	copy(line, "zzz")
	labels["a"] = "y"
	if string(first) != out || out != "abc|2|x" {
		t.Errorf("output changed with its inputs: %q, want %q", first, "abc|2|x")
	}
	if got := execString(t, tp, "zzz", 0, ls("a", "x")); got != "zzz|0|x" {
		t.Errorf("second run = %q, want %q", got, "zzz|0|x")
	}
	line2 := []byte("abc")
	if got, _ := tp.Execute(nil, line2, 0, labels); string(got) != "abc|2|y" {
		t.Errorf("third run = %q, want %q", got, "abc|2|y")
	}
}

// Many goroutines run one *Template at once, each with its own line,
// timestamp and labels; run with -race. Each result must be built from its
// own entry only.
func TestConcurrentExecute(t *testing.T) {
	tp := mustParse(t, LineName,
		`{{ __line__ }} {{ __timestamp__.UnixNano }} {{ .g }}/{{ .i }} {{ __line__ | count "x" }} {{ .g | upper }}`)
	const goroutines, iterations = 16, 300
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			var buf []byte
			for i := range iterations {
				line := strings.Repeat("x", g) + fmt.Sprint(i)
				ts := int64(g*1_000_000 + i)
				labels := ls("g", fmt.Sprintf("g%d", g), "i", fmt.Sprint(i))
				var err error
				buf, err = tp.Execute(buf[:0], []byte(line), ts, labels)
				if err != nil {
					errs <- err
					return
				}
				want := fmt.Sprintf("%s %d g%d/%d %d G%d", line, ts, g, i, g, g)
				if string(buf) != want {
					errs <- fmt.Errorf("goroutine %d: got %q, want %q", g, buf, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A label template and a line template parsed from the same text keep
// their own names in errors.
func TestNamesInErrors(t *testing.T) {
	line, _ := ParseLine("{{ .a.b }}")
	label, _ := ParseLabel("x", "{{ .a.b }}")
	_, lerr := line.Execute(nil, nil, 0, ls("a", "s"))
	_, berr := label.Execute(nil, nil, 0, ls("a", "s"))
	if lerr == nil || !strings.HasPrefix(lerr.Error(), `template: line:1:5: executing "line"`) {
		t.Errorf("line error: %v", lerr)
	}
	if berr == nil || !strings.HasPrefix(berr.Error(), `template: label:1:5: executing "label"`) {
		t.Errorf("label error: %v", berr)
	}
}

// __timestamp__ is in the server's zone, like Loki's time.Unix(0, ts).
func TestTimestampZone(t *testing.T) {
	tp := mustParse(t, LineName, `{{ __timestamp__ }}`)
	if got, want := execString(t, tp, "", 42, nil), time.Unix(0, 42).String(); got != want {
		t.Errorf("__timestamp__ = %q, want %q", got, want)
	}
}
