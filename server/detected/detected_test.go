package detected

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

func lbls(kv ...string) labels.Labels {
	var out []labels.Label
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, labels.Label{Name: kv[i], Value: kv[i+1]})
	}
	return labels.New(out...)
}

func TestTypeOf(t *testing.T) {
	tests := []struct{ v, want string }{
		{"42", TypeInt}, {"-7", TypeInt}, {"0", TypeInt}, {"1", TypeInt},
		{"1.5", TypeFloat}, {"1e3", TypeFloat}, {"NaN", TypeFloat}, {"inf", TypeFloat},
		{"true", TypeBoolean}, {"F", TypeBoolean}, {"t", TypeBoolean},
		{"5m", TypeDuration}, {"1h30m", TypeDuration}, {"250ms", TypeDuration}, {"-1.5s", TypeDuration},
		{"10 KiB", TypeBytes}, {"3MB", TypeBytes}, {"1,024 kb", TypeBytes}, {"12b", TypeBytes},
		{"", TypeString}, {"hello", TypeString}, {"5 apples", TypeString}, {"1.2.3", TypeString}, {"yes", TypeString},
	}
	for _, tt := range tests {
		if got := TypeOf(tt.v); got != tt.want {
			t.Errorf("TypeOf(%q) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestNormalizeBytes(t *testing.T) {
	tests := []struct{ v, want string }{
		{"2048 KiB", "2.1MB"},
		{"1024kb", "1.0MB"},
		{"5 B", "5B"},
		{"15kb", "15kB"},
		{"12345 b", "12kB"},
		{"1.5GiB", "1.6GB"},
		{"123", "123"},   // a bare number is not rewritten
		{"fast", "fast"}, // not a size
		{"10 apples", "10 apples"},
	}
	for _, tt := range tests {
		if got := NormalizeBytes(tt.v); got != tt.want {
			t.Errorf("NormalizeBytes(%q) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestKeepLabel(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   bool
	}{
		{"app", []string{"api", "web"}, true},
		{"app", nil, false},
		{"request_id", []string{"1", "2", "3"}, false},
		{"trace", []string{"8c2a7e7e-2bd0-4b43-9d4c-5a8cb4f1c1a0", "{8C2A7E7E-2BD0-4B43-9D4C-5A8CB4F1C1A1}",
			"urn:UUID:8c2a7e7e-2bd0-4b43-9d4c-5a8cb4f1c1a2", "8c2a7e7e2bd04b439d4c5a8cb4f1c1a3"}, false},
		{"mixed", []string{"1", "2", "three"}, true},
		{"flag", []string{"0", "1"}, true},
		{"flag", []string{"1"}, true},
		{"two_numbers", []string{"1", "2"}, false},
		{"pod", []string{"1", "2", "3"}, true}, // static
		{"namespace", []string{"8c2a7e7e-2bd0-4b43-9d4c-5a8cb4f1c1a0"}, true},
		{"float", []string{"1.5", "NaN", "1e9"}, false},
		{"almost_uuid", []string{"8c2a7e7e-2bd0-4b43-9d4c-5a8cb4f1c1ag"}, true},
	}
	for _, tt := range tests {
		if got := KeepLabel(tt.name, tt.values); got != tt.want {
			t.Errorf("KeepLabel(%s, %q) = %v, want %v", tt.name, tt.values, got, tt.want)
		}
	}
}

func TestFields(t *testing.T) {
	stream := lbls("app", "api", "env", "prod")
	f := NewFields(1000)
	entries := []Entry{
		{Stream: stream, Line: `{"level":"info","user":{"id":7,"name":"ann"},"took":"15ms","tags":["a"],"app":"x","ok":true,"n":null}`,
			Metadata: lbls("trace_id", "abc", "pod", "p1")},
		{Stream: stream, Line: `{"level":"error","user":{"id":8,"name":"bob"},"took":"3s","app":"x","ok":false}`,
			Metadata: lbls("trace_id", "def")},
		{Stream: stream, Line: `level=warn status=200 size="10 KiB" msg="hello world" empty=`},
		{Stream: stream, Line: `plain text without pairs`},
		{Stream: stream, Line: `level=debug status=404.5 pod=p2`, Metadata: lbls("pod", "p1")},
	}
	for _, e := range entries {
		f.Add(e)
	}
	got := f.List()
	want := []Field{
		{Label: "app_extracted", Type: TypeString, Cardinality: 1, Parsers: []string{ParserJSON}, JSONPath: []string{"app"}},
		{Label: "level", Type: TypeString, Cardinality: 4, Parsers: []string{ParserJSON, ParserLogfmt}, JSONPath: []string{"level"}}, // the path stays from the JSON lines
		{Label: "msg", Type: TypeString, Cardinality: 1, Parsers: []string{ParserLogfmt}},
		{Label: "ok", Type: TypeBoolean, Cardinality: 2, Parsers: []string{ParserJSON}, JSONPath: []string{"ok"}},
		{Label: "pod", Type: TypeString, Cardinality: 2, Parsers: []string{ParserLogfmt}},
		{Label: "size", Type: TypeBytes, Cardinality: 1, Parsers: []string{ParserLogfmt}},
		{Label: "status", Type: TypeFloat, Cardinality: 2, Parsers: []string{ParserLogfmt}},
		{Label: "took", Type: TypeDuration, Cardinality: 2, Parsers: []string{ParserJSON}, JSONPath: []string{"took"}},
		{Label: "trace_id", Type: TypeString, Cardinality: 2},
		{Label: "user_id", Type: TypeInt, Cardinality: 2, Parsers: []string{ParserJSON}, JSONPath: []string{"user", "id"}},
		{Label: "user_name", Type: TypeString, Cardinality: 2, Parsers: []string{ParserJSON}, JSONPath: []string{"user", "name"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields:\n%s\nwant:\n%s", dump(got), dump(want))
	}
}

func dump(fs []Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Label + " " + f.Type + " " + strings.Join(f.Parsers, ",") + " [" + strings.Join(f.JSONPath, ".") + "] ")
		b.WriteString(string(rune('0' + f.Cardinality)))
		b.WriteByte('\n')
	}
	return b.String()
}

// A field that the query's own parser extracted is counted, and does not
// collide with itself; error labels are no fields.
func TestFieldsFromQueryParser(t *testing.T) {
	f := NewFields(10)
	f.Add(Entry{Stream: lbls("app", "api"), Parsed: lbls("status", "200", "__error__", "JSONParserErr"), Line: `status=200 x=1`})
	got := f.List()
	names := make([]string, len(got))
	for i, fl := range got {
		names[i] = fl.Label
	}
	if !slices.Equal(names, []string{"status", "x"}) || got[0].Cardinality != 1 {
		t.Fatalf("fields %v", got)
	}
}

func TestFieldsLimit(t *testing.T) {
	f := NewFields(2)
	f.Add(Entry{Line: `a=1 b=2 c=3`})
	f.Add(Entry{Line: `a=4 d=5`})
	got := f.List()
	if len(got) != 2 || got[0].Label != "a" || got[0].Cardinality != 2 || got[1].Label != "b" {
		t.Fatalf("fields %v, want a (2 values) and b", got)
	}
}

func TestValues(t *testing.T) {
	v := NewValues("size", 3)
	v.Add(Entry{Line: `size="2048 KiB"`})
	v.Add(Entry{Line: `{"size":"15kb"}`})
	v.Add(Entry{Line: `size=123`, Metadata: lbls("size", "1 KiB")}) // metadata values stay as they are
	v.Add(Entry{Line: `size=7`})                                    // full: not taken
	if got := v.List(); !slices.Equal(got, []string{"1 KiB", "123", "15kB", "2.1MB"}) {
		t.Fatalf("values %q", got)
	}
	if !v.Full() {
		t.Fatal("not full")
	}
}

func TestJSONPaths(t *testing.T) {
	got := jsonPaths(`{"a":{"b-c":1,"2x":{"y":"z"}}," ":{"k":true},"9lives":1,"arr":[{"q":1}],"a_b_c":"later"}`)
	want := map[string][]string{
		"a_b_c":   {"a", "b-c"},
		"a_2x_y":  {"a", "2x", "y"},
		"k":       {" ", "k"},
		"_9lives": {"9lives"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paths %v, want %v", got, want)
	}
	if jsonPaths(`[1]`) != nil || jsonPaths(`{"a":`) != nil {
		t.Fatal("paths of a line that is no object")
	}
}

func FuzzFields(f *testing.F) {
	for _, s := range []string{`{"a":{"b":1}}`, `a=1 b="x y"`, `{"a":[1,{"b":2}],"c":null}`, `{" ":{" ":"x"}}`, "{\"\\u00e9\":1}", `=`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		fs := NewFields(100)
		fs.Add(Entry{Stream: lbls("a", "1"), Line: line})
		for _, fl := range fs.List() {
			if fl.Cardinality < 1 {
				t.Fatalf("field %q with no value", fl.Label)
			}
		}
		vs := NewValues("a_extracted", 10)
		vs.Add(Entry{Stream: lbls("a", "1"), Line: line})
	})
}
