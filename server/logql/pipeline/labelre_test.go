package pipeline

import "testing"

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
