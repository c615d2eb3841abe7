package labels

import (
	"strings"
	"testing"
)

// parseValidTests are label texts Parse accepts, with the set they mean. The
// fuzz tests use them as seeds.
var parseValidTests = []struct {
	name string
	in   string
	want Labels
}{
	{"empty set", `{}`, Labels{}},
	{"one label", `{a="1"}`, Labels{{"a", "1"}}},
	{"canonical form", `{a="1", b="2"}`, Labels{{"a", "1"}, {"b", "2"}}},
	{"sorted by name", `{b="2", a="1", c="3"}`, Labels{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
	{"no spaces", `{a="1",b="2"}`, Labels{{"a", "1"}, {"b", "2"}}},
	{"spaces everywhere", " \t{ a = \"1\" ,\n b\r\n=\t\"2\" } \n", Labels{{"a", "1"}, {"b", "2"}}},
	{"empty value", `{a=""}`, Labels{{"a", ""}}},
	{"escaped quote and backslash", `{a="x\"y\\z"}`, Labels{{"a", `x"y\z`}}},
	{"escaped newline and tab", `{a="x\ny\tz"}`, Labels{{"a", "x\ny\tz"}}},
	{"hex and unicode escapes", `{a="\x41\u00e9\U0001F600"}`, Labels{{"a", "Aé😀"}}},
	{"escaped value ending in backslash", `{a="x\\"}`, Labels{{"a", `x\`}}},
	{"backtick value", "{a=`x\"y\\n`}", Labels{{"a", `x"y\n`}}},
	{"backtick value with newline", "{a=`x\ny`}", Labels{{"a", "x\ny"}}},
	{"empty backtick value", "{a=``}", Labels{{"a", ""}}},
	{"quoted name", `{"foo-bar"="x"}`, Labels{{"foo-bar", "x"}}},
	{"quoted name with space and escape", `{"a b\"c"="x"}`, Labels{{`a b"c`, "x"}}},
	{"quoted plain name", `{"app"="x", b="y"}`, Labels{{"app", "x"}, {"b", "y"}}},
	{"unquoted name with dot dash slash", `{k8s.io/app-name="x"}`, Labels{{"k8s.io/app-name", "x"}}},
	{"unicode value", `{city="Zürich", emoji="🦀"}`, Labels{{"city", "Zürich"}, {"emoji", "🦀"}}},
	{"unicode quoted name", `{"größe"="1"}`, Labels{{"größe", "1"}}},
	{"value with braces and commas", `{a="}, b=\"2\"{"}`, Labels{{"a", `}, b="2"{`}}},
	{"name starting with digit", `{1a="x"}`, Labels{{"1a", "x"}}}, // Validate refuses it
	{"duplicate names", `{a="1", a="1"}`, Labels{{"a", "1"}, {"a", "1"}}},
}

// parseInvalidTests are label texts Parse refuses, with a substring of the
// error that tells the client what is wrong.
var parseInvalidTests = []struct {
	name string
	in   string
	want string
}{
	{"empty string", ``, "must start with '{'"},
	{"only spaces", `   `, "must start with '{'"},
	{"no braces", `a="1"`, "must start with '{'"},
	{"unclosed set", `{a="1"`, "expected ',' or '}'"},
	{"unclosed empty set", `{`, "expected a label name"},
	{"missing comma", `{a="1" b="2"}`, "expected ',' or '}'"},
	{"trailing comma", `{a="1",}`, "expected a label name"},
	{"leading comma", `{,a="1"}`, "expected a label name"},
	{"missing equals", `{a "1"}`, `expected '=' after "a"`},
	{"matcher operator", `{a!="1"}`, `expected '=' after "a"`},
	{"regexp operator", `{a=~"1"}`, "value must be quoted"},
	{"unquoted value", `{a=1}`, "value must be quoted"},
	{"single-quoted value", `{a='1'}`, "value must be quoted"},
	{"missing value", `{a=}`, "value must be quoted"},
	{"value at end of input", `{a=`, "missing quoted value"},
	{"unterminated value", `{a="1}`, "unterminated quoted string"},
	{"unterminated value after escape", `{a="1\"}`, "unterminated quoted string"},
	{"value ends in lone backslash", `{a="1\`, "unterminated quoted string"},
	{"unterminated raw value", "{a=`1}", "unterminated raw string"},
	{"bad escape", `{a="\q"}`, `bad escape in "\q"`},
	{"bad hex escape", `{a="\xZZ"}`, "bad escape"},
	{"text after set", `{a="1"} x`, "unexpected text after '}'"},
	{"two sets", `{a="1"}{b="2"}`, "unexpected text after '}'"},
	{"unterminated quoted name", `{"a=1}`, "label name: unterminated quoted string"},
	{"bad escape in quoted name", `{"\q"="1"}`, "label name: bad escape"},
	{"empty quoted name", `{""="1"}`, "expected a label name"},
	{"name with bad character", `{a+b="1"}`, `expected '=' after "a"`},
	{"error names the stream", `{app="x", ?}`, `label set "{app=\"x\", ?}"`},
}

func TestParse(t *testing.T) {
	for _, tt := range parseValidTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			// The canonical form must read back as the same set.
			again, err := Parse(got.String())
			if err != nil || !again.Equal(got) {
				t.Fatalf("Parse(%q) = %#v, %v; want %#v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseInvalidTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) error %q does not contain %q", tt.in, err, tt.want)
			}
		})
	}
}

// A long label text is clipped in the error so that a bad push cannot make
// huge error messages.
func TestParseErrorClipsInput(t *testing.T) {
	in := `{a="` + strings.Repeat("x", 1000) + `"`
	_, err := Parse(in)
	if err == nil {
		t.Fatal("want an error")
	}
	if len(err.Error()) > 300 {
		t.Fatalf("error is %d bytes long: %q", len(err.Error()), err)
	}
	if !strings.Contains(err.Error(), "…") {
		t.Fatalf("error %q does not mark the clipped input", err)
	}
}

// The common case, values without escapes, must not allocate per value:
// Parse runs for every uncached stream of every push. Three labels cost the
// growing result slice (3) and New's sorted copy (1).
func TestParseAllocs(t *testing.T) {
	const in = `{app="api", env="prod", host="h1"}`
	n := testing.AllocsPerRun(100, func() {
		if _, err := Parse(in); err != nil {
			t.Fatal(err)
		}
	})
	if n > 4 {
		t.Fatalf("Parse allocates %v times, want at most 4", n)
	}
}
