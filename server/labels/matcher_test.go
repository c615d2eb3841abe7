package labels

import (
	"slices"
	"strings"
	"testing"
)

// matcherTests give a matcher and values it must and must not match. The
// fuzz test uses them as seeds.
var matcherTests = []struct {
	name    string
	typ     MatchType
	value   string
	match   []string
	noMatch []string
}{
	{"equal", MatchEqual, "api", []string{"api"}, []string{"", "ap", "apis", "API", " api"}},
	{"equal empty", MatchEqual, "", []string{""}, []string{"x", " "}},
	{"not equal", MatchNotEqual, "api", []string{"", "web", "apis"}, []string{"api"}},
	{"not equal empty", MatchNotEqual, "", []string{"x"}, []string{""}},
	// Regexps match the whole value: anchored at both ends.
	{"regexp anchored", MatchRegexp, "ap.", []string{"api", "apx"}, []string{"xapi", "apix", "ap", ""}},
	{"regexp prefix needs .*", MatchRegexp, "api.*", []string{"api", "api-1"}, []string{"xapi"}},
	{"regexp suffix needs .*", MatchRegexp, ".*api", []string{"api", "x-api"}, []string{"apix"}},
	{"regexp explicit anchors", MatchRegexp, "^api$", []string{"api"}, []string{"apix"}},
	{"regexp dot matches newline", MatchRegexp, "a.b", []string{"a\nb", "axb"}, []string{"ab"}},
	{"regexp empty", MatchRegexp, "", []string{""}, []string{"x"}},
	{"regexp dot star", MatchRegexp, ".*", []string{"", "x", "a\nb"}, nil},
	{"regexp dot plus", MatchRegexp, ".+", []string{"x"}, []string{""}},
	{"regexp optional", MatchRegexp, "api|", []string{"api", ""}, []string{"x"}},
	{"regexp case insensitive", MatchRegexp, "(?i)api", []string{"api", "API", "Api"}, []string{"apix"}},
	{"regexp class", MatchRegexp, "[0-9]+", []string{"0", "123"}, []string{"", "1a", "a1"}},
	{"regexp unicode", MatchRegexp, "Z.rich", []string{"Zürich", "Zurich"}, []string{"Zuerich"}},
	// The precedence of | must not escape the anchors: ^(?s:a|b)$, never
	// ^a|b$.
	{"alternation anchored", MatchRegexp, "a.*|.*b", []string{"a", "ax", "xb"}, []string{"xa", "bx"}},
	{"alternation of regexps", MatchRegexp, "api-[0-9]|web", []string{"api-1", "web"}, []string{"api-x", "webx", "xweb"}},
	// Plain literal alternations take the map fast path.
	{"literal alternation", MatchRegexp, "api|web|db", []string{"api", "web", "db"}, []string{"", "ap", "apiweb", "api|web", "API"}},
	{"single-char alternation", MatchRegexp, "a|b|c", []string{"a", "b", "c"}, []string{"", "ab", "d"}},
	{"common-prefix alternation", MatchRegexp, "foo|bar|baz", []string{"foo", "bar", "baz"}, []string{"ba", "bax", "foobar"}},
	{"single literal", MatchRegexp, "api", []string{"api"}, []string{"apii", ""}},
	{"escaped literal", MatchRegexp, `a\.b|c\|d`, []string{"a.b", "c|d"}, []string{"axb", "c", "d"}},
	{"unicode literals", MatchRegexp, "Zürich|🦀", []string{"Zürich", "🦀"}, []string{"Zurich"}},
	{"case-insensitive alternation", MatchRegexp, "(?i)api|web", []string{"API", "Web"}, []string{"apix"}},
	{"partly case-insensitive", MatchRegexp, "api|(?i:web)", []string{"api", "WEB"}, []string{"API"}},
	{"not regexp", MatchNotRegexp, "api|web", []string{"", "db", "apiweb"}, []string{"api", "web"}},
	{"not regexp anchored", MatchNotRegexp, "ap.", []string{"xapi", "apix", ""}, []string{"api"}},
	{"not regexp dot plus", MatchNotRegexp, ".+", []string{""}, []string{"x"}},
	{"not regexp empty", MatchNotRegexp, "", []string{"x"}, []string{""}},
}

func TestMatcher(t *testing.T) {
	for _, tt := range matcherTests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMatcher(tt.typ, "l", tt.value)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.match {
				if !m.Matches(v) {
					t.Errorf("%s does not match %q", m, v)
				}
				if m.re != nil && m.re.MatchString(v) != (tt.typ == MatchRegexp) {
					t.Errorf("%s: the regexp disagrees on %q", m, v)
				}
			}
			for _, v := range tt.noMatch {
				if m.Matches(v) {
					t.Errorf("%s matches %q", m, v)
				}
				if m.re != nil && m.re.MatchString(v) != (tt.typ == MatchNotRegexp) {
					t.Errorf("%s: the regexp disagrees on %q", m, v)
				}
			}
		})
	}
}

// The fast path must be taken for plain alternations of literals, and only
// for them.
func TestMatcherLiteralSet(t *testing.T) {
	tests := []struct {
		expr string
		want []string // nil: no fast path
	}{
		{"api", []string{"api"}},
		{"api|web|db", []string{"api", "web", "db"}},
		{`a\.b|c\|d`, []string{"a.b", "c|d"}},
		{"Zürich|🦀", []string{"Zürich", "🦀"}},
		{"(?i)api", nil},
		{"api|(?i:web)", nil},
		{"api|", nil},
		{"", nil},
		{"a.b", nil},
		{"(api)", nil},
		{"^api$", nil},
		{"api|web.*", nil},
		{"[ab]", nil},
		// U+FFFD also stands for an invalid byte in the regexp engine, so a
		// map lookup would disagree with it on invalid UTF-8.
		{"\uFFFD", nil},
		{`\x{fffd}x|ab`, nil},
		// A surrogate cannot be encoded: string() would make it U+FFFD.
		{`\x{d800}a|b`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			set := literalSet(tt.expr)
			if (set == nil) != (tt.want == nil) || len(set) != len(tt.want) {
				t.Fatalf("literalSet(%q) = %v, want %q", tt.expr, set, tt.want)
			}
			for _, w := range tt.want {
				if _, ok := set[w]; !ok {
					t.Fatalf("literalSet(%q) = %v, missing %q", tt.expr, set, w)
				}
			}
		})
	}
}

// Literals lists what = and literal alternations accept, and nothing for
// matchers whose values must be tested one by one.
func TestMatcherLiterals(t *testing.T) {
	tests := []struct {
		t     MatchType
		value string
		want  []string // sorted; nil: not a known few
	}{
		{MatchEqual, "api", []string{"api"}},
		{MatchEqual, "", []string{""}},
		{MatchRegexp, "web|api", []string{"api", "web"}},
		{MatchRegexp, "api.*", nil},
		{MatchNotEqual, "api", nil},
		{MatchNotRegexp, "api|web", nil},
	}
	for _, tt := range tests {
		m := MustMatcher(tt.t, "x", tt.value)
		got, ok := m.Literals()
		slices.Sort(got)
		if ok != (tt.want != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Literals() = %q, %v; want %q", m, got, ok, tt.want)
		}
		for _, v := range got {
			if !m.Matches(v) {
				t.Errorf("%s does not match its literal %q", m, v)
			}
		}
	}
}

// An empty value means the label is absent: {x!="y"} selects streams
// without x, {x=""} selects only them.
func TestMatchesEmptySemantics(t *testing.T) {
	without := Labels{{"app", "api"}}
	with := Labels{{"app", "api"}, {"x", "y"}}
	withOther := Labels{{"app", "api"}, {"x", "z"}}
	tests := []struct {
		name                    string
		m                       *Matcher
		without, with, withOthr bool
		matchesEmpty            bool
	}{
		{`x!="y"`, MustMatcher(MatchNotEqual, "x", "y"), true, false, true, true},
		{`x=""`, MustMatcher(MatchEqual, "x", ""), true, false, false, true},
		{`x!=""`, MustMatcher(MatchNotEqual, "x", ""), false, true, true, false},
		{`x="y"`, MustMatcher(MatchEqual, "x", "y"), false, true, false, false},
		{`x=~"y|"`, MustMatcher(MatchRegexp, "x", "y|"), true, true, false, true},
		{`x=~".*"`, MustMatcher(MatchRegexp, "x", ".*"), true, true, true, true},
		{`x=~".+"`, MustMatcher(MatchRegexp, "x", ".+"), false, true, true, false},
		{`x!~"y"`, MustMatcher(MatchNotRegexp, "x", "y"), true, false, true, true},
		{`x!~".*"`, MustMatcher(MatchNotRegexp, "x", ".*"), false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := []*Matcher{MustMatcher(MatchEqual, "app", "api"), tt.m}
			if got := without.Matches(ms); got != tt.without {
				t.Errorf("%v on %v = %v, want %v", MatchersString(ms), without, got, tt.without)
			}
			if got := with.Matches(ms); got != tt.with {
				t.Errorf("%v on %v = %v, want %v", MatchersString(ms), with, got, tt.with)
			}
			if got := withOther.Matches(ms); got != tt.withOthr {
				t.Errorf("%v on %v = %v, want %v", MatchersString(ms), withOther, got, tt.withOthr)
			}
			if got := tt.m.MatchesEmpty(); got != tt.matchesEmpty {
				t.Errorf("%v.MatchesEmpty() = %v, want %v", tt.m, got, tt.matchesEmpty)
			}
		})
	}
	t.Run("no matchers match all", func(t *testing.T) {
		if !without.Matches(nil) || !Labels(nil).Matches(nil) {
			t.Fatal("an empty selector must match every set")
		}
	})
}

func TestNewMatcherErrors(t *testing.T) {
	tests := []struct {
		name  string
		typ   MatchType
		value string
		want  string
	}{
		{"unclosed group", MatchRegexp, "(a", "missing closing )"},
		{"unclosed class", MatchNotRegexp, "[a", "missing closing ]"},
		{"bad repeat", MatchRegexp, "*a", "missing argument to repetition operator"},
		{"bad escape", MatchRegexp, `\q`, "invalid escape sequence"},
		// A stray ) must not close the anchoring group and leave the rest
		// of the expression unanchored: ^(?s:a)|(b)$ would match "ax".
		{"stray close paren", MatchRegexp, "a)|(b", "unexpected )"},
		{"stray close paren alone", MatchRegexp, ")", "unexpected )"},
		{"stray close paren not regexp", MatchNotRegexp, "a)|(.*", "unexpected )"},
		{"invalid UTF-8", MatchRegexp, "a\xff", "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMatcher(tt.typ, "lbl", tt.value)
			if err == nil {
				t.Fatalf("NewMatcher(%q) = %v, want an error containing %q", tt.value, m, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "lbl") {
				t.Fatalf("NewMatcher(%q) error %q, want it to name the label and contain %q", tt.value, err, tt.want)
			}
		})
	}
	// Equality matchers take any value: it is not a regexp.
	for _, typ := range []MatchType{MatchEqual, MatchNotEqual} {
		if _, err := NewMatcher(typ, "lbl", "(a"); err != nil {
			t.Errorf("NewMatcher(%v, \"(a\"): %v", typ, err)
		}
	}
}

func TestMustMatcherPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustMatcher did not panic on a bad regexp")
		}
	}()
	MustMatcher(MatchRegexp, "a", "(")
}

func TestMatcherString(t *testing.T) {
	ms := []*Matcher{
		MustMatcher(MatchEqual, "a", "1"),
		MustMatcher(MatchNotEqual, "b", `x"y`),
		MustMatcher(MatchRegexp, "c", `a\.b|c`),
		MustMatcher(MatchNotRegexp, "d", ""),
	}
	want := `{a="1", b!="x\"y", c=~"a\\.b|c", d!~""}`
	if got := MatchersString(ms); got != want {
		t.Fatalf("MatchersString = %s, want %s", got, want)
	}
	if got := MatchersString(nil); got != "{}" {
		t.Fatalf("MatchersString(nil) = %s, want {}", got)
	}
}
