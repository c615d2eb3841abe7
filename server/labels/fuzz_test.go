package labels

import (
	"regexp"
	"regexp/syntax"
	"testing"
)

// FuzzParse: Parse never panics, and what it accepts prints in a canonical
// form that parses back to the same set.
func FuzzParse(f *testing.F) {
	for _, tt := range parseValidTests {
		f.Add(tt.in)
	}
	for _, tt := range parseInvalidTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ls, err := Parse(in)
		if err != nil {
			return
		}
		for i := 1; i < len(ls); i++ {
			if ls[i-1].Name > ls[i].Name {
				t.Fatalf("Parse(%q) = %#v: not sorted", in, ls)
			}
		}
		text := ls.String()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, but its text %s does not parse: %v", in, ls, text, err)
		}
		if !again.Equal(ls) {
			t.Fatalf("Parse(%q) = %#v, but its text %s parses as %#v", in, ls, text, again)
		}
		if again.String() != text {
			t.Fatalf("canonical text is not stable: %s then %s", text, again.String())
		}
		if again.Hash() != ls.Hash() {
			t.Fatalf("equal sets %s hash differently", text)
		}
		// Validate may refuse the set, but must not panic on it.
		_ = ls.Validate()
		_ = ls.WithoutEmpty()
	})
}

// FuzzMatcher: a regexp matcher agrees with the plain anchored regexp on
// every value, whether it takes the literal fast path or not.
func FuzzMatcher(f *testing.F) {
	for _, tt := range matcherTests {
		for _, v := range append(append([]string{""}, tt.match...), tt.noMatch...) {
			f.Add(tt.value, v)
		}
	}
	f.Add("\uFFFD", "\xff")
	f.Add("a)|(b", "ax")
	f.Fuzz(func(t *testing.T, expr, v string) {
		m, err := NewMatcher(MatchRegexp, "l", expr)
		if err != nil {
			return
		}
		// The reference: the expression parsed on its own (so that nothing
		// it holds can escape the anchors), matched leftmost-longest. The
		// value matches in full iff that match spans all of it.
		re, err := syntax.Parse(expr, syntax.Perl|syntax.DotNL)
		if err != nil {
			t.Fatalf("NewMatcher accepted %q, which does not parse alone: %v", expr, err)
		}
		ref, err := regexp.Compile(re.String())
		if err != nil {
			t.Fatalf("%q reprinted as %q does not compile: %v", expr, re.String(), err)
		}
		ref.Longest()
		loc := ref.FindStringIndex(v)
		want := loc != nil && loc[0] == 0 && loc[1] == len(v)
		if got := m.Matches(v); got != want {
			t.Fatalf("=~%q on %q: Matches = %v, want %v (fast path %v)", expr, v, got, want, m.set != nil)
		}
		if got := m.re.MatchString(v); got != want {
			t.Fatalf("=~%q on %q: the anchored regexp says %v, want %v", expr, v, got, want)
		}
		not := MustMatcher(MatchNotRegexp, "l", expr)
		if got := not.Matches(v); got == want {
			t.Fatalf("!~%q on %q = %v, want %v", expr, v, got, !want)
		}
	})
}
