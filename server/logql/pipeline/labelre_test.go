package pipeline

import (
	"regexp"
	"testing"
	"unicode/utf8"
)

// TestLabelRegexp pins the label-filter regexps to Loki's tests: literals
// and alternations of literals compare whole values, concatenations look
// for substrings, and what cannot be simplified matches anchored.
func TestLabelRegexp(t *testing.T) {
	cases := []struct {
		re, value string
		want      bool
	}{
		{"info|warn", "info", true},
		{"info|warn", "xinfo", false},
		{"error", "error", true},
		{"error", "errors", false},
		{"(?i)error", "ERROR", true},
		{"(?i)error", "ERRORS", false},
		// Concatenations test substrings.
		{"/v1.*", "/v1/users", true},
		{"/v1.*", "/x/v1", true},
		{".*foo.*", "afoob", true},
		{"5|503", "503", true},
		{"5|503", "250", true}, // 5(?:|03): contains "5"
		{"5|503", "200", false},
		{"err|error", "xerrx", true},
		{"b(ar|uzz)", "xbuzzx", true},
		{"b(ar|uzz)", "bat", false},
		{"(?i)b(ar|uzz)", "XBUZZ", true},
		// Simplified to "always" or "not empty".
		{".*", "", true},
		{".+", "", false},
		{".+", "x", true},
		{"", "", true},
		// Not simplified: anchored.
		{"5..", "503", true},
		{"5..", "2503", false},
		{"[a-z]+", "abc1", false},
		{"a.*b.*c", "xabcx", false},
		{"a.*b.*c", "abc", true},
	}
	for _, c := range cases {
		test, err := labelRegexp(c.re, false)
		if err != nil {
			t.Fatalf("%q: %v", c.re, err)
		}
		if got := test(c.value); got != c.want {
			t.Errorf("=~%q on %q: %v, want %v", c.re, c.value, got, c.want)
		}
		neg, _ := labelRegexp(c.re, true)
		if neg(c.value) == c.want {
			t.Errorf("!~%q on %q: %v, want %v", c.re, c.value, !c.want, !c.want)
		}
	}
}

// FuzzLabelRegexp checks that any regexp Go compiles gives a test, that
// the test never panics, and that !~ is the negation of =~; a value equal
// to a plain literal regexp always passes.
func FuzzLabelRegexp(f *testing.F) {
	for _, c := range []string{"info|warn", "/v1.*", "5|503", "b(ar|uzz)", "(?i)b(ar|uzz)", ".+", "a.*b.*c", "(a|)b", "[a-z]+"} {
		f.Add(c, "value")
	}
	f.Fuzz(func(t *testing.T, re, value string) {
		if _, err := regexp.Compile(re); err != nil || len(re) > 256 {
			return
		}
		pos, err := labelRegexp(re, false)
		if err != nil {
			t.Fatalf("%q: %v", re, err)
		}
		neg, _ := labelRegexp(re, true)
		if pos(value) == neg(value) {
			t.Fatalf("%q on %q: =~ and !~ agree", re, value)
		}
		if regexp.QuoteMeta(value) == value && value != "" && utf8.ValidString(value) {
			if lit, err := labelRegexp(value, false); err != nil || !lit(value) {
				t.Fatalf("literal %q does not match itself", value)
			}
		}
	})
}
