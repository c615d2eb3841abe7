package config

import (
	"regexp/syntax"
	"slices"
	"testing"
	"time"
)

func TestParseBool(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
		ok   bool
	}{
		{"on", true, true}, {"On", true, true}, {"true", true, true}, {"TRUE", true, true},
		{"yes", true, true}, {"Yes", true, true}, {"1", true, true},
		{"off", false, true}, {"OFF", false, true}, {"false", false, true}, {"False", false, true},
		{"no", false, true}, {"NO", false, true}, {"0", false, true},
		{"y", false, false}, {"2", false, false}, {"enabled", false, false}, {"", false, false},
	} {
		got, err := parseBool(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseBool(%q) = %v, %v; want %v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"10s", 10 * time.Second, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"2h", 2 * time.Hour, ""},
		{"5", 5 * time.Second, ""},
		{"0.5", 500 * time.Millisecond, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"1e3", 1000 * time.Second, ""},
		{"abc", 0, "not a duration (want e.g. 10s, 500ms or a number of seconds)"},
		{"10 s", 0, "not a duration (want e.g. 10s, 500ms or a number of seconds)"},
		{"10sec", 0, "not a duration (want e.g. 10s, 500ms or a number of seconds)"},
		{"-1s", 0, "negative duration (want e.g. 10s)"},
		{"-3", 0, "negative duration (want e.g. 10s)"},
		{"1e30", 0, "out of range (want e.g. 10s, 500ms or a number of seconds)"},
		{"NaN", 0, "out of range (want e.g. 10s, 500ms or a number of seconds)"},
		{"Inf", 0, "out of range (want e.g. 10s, 500ms or a number of seconds)"},
		{"9999999999h", 0, "not a duration (want e.g. 10s, 500ms or a number of seconds)"},
	} {
		got, err := parseDuration(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("parseDuration(%q) = %v, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	const want = "(want bytes such as 1048576, 512k, 1M or 1MiB)"
	for _, c := range []struct {
		in   string
		want int
		err  string
	}{
		{"1048576", 1 << 20, ""},
		{"1", 1, ""},
		{"512k", 512000, ""},
		{"512K", 512000, ""},
		{"512KB", 512000, ""},
		{"512kb", 512000, ""},
		{"512Ki", 512 << 10, ""},
		{"512KiB", 512 << 10, ""},
		{"1M", 1000000, ""},
		{"1MB", 1000000, ""},
		{"1MiB", 1 << 20, ""},
		{"1mib", 1 << 20, ""},
		{"1Mi", 1 << 20, ""},
		{"1 MiB", 1 << 20, ""},
		{"1.5M", 1500000, ""},
		{"1G", 1000000000, ""},
		{"1GiB", 1 << 30, ""},
		{"100B", 100, ""},
		{"0.5", 0, ""}, // truncated; Parse refuses 0
		{"", 0, "not a size " + want},
		{"M", 0, "not a size " + want},
		{"-1M", 0, "not a size " + want},
		{"1..2", 0, "not a size " + want},
		{"1X", 0, "unknown unit " + want},
		{"1 parsecs", 0, "unknown unit " + want},
		{"1T", 0, "unknown unit " + want},
		{"3GiB", 0, "too large (want at most 2GiB)"},
		{"1e3", 0, "unknown unit " + want},
	} {
		got, err := parseSize(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("parseSize(%q) = %v, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestMinMatchLen(t *testing.T) {
	for _, c := range []struct {
		re   string
		want int
	}{
		{`a`, 1}, {`abc`, 3}, {`é`, 2}, {`[a-z]`, 1}, {`.`, 1}, {`a+`, 1}, {`a*`, 0}, {`a?`, 0},
		{`a{2,5}`, 2}, {`a{0,3}`, 0}, {`(ab)+`, 2}, {`ab|c`, 1}, {`ab|`, 0}, {`^$`, 0}, {`\b`, 0},
		{`password=\S+`, 10}, {`(?i)token:\s*\w+`, 7}, {`x(?:y|)`, 1},
	} {
		tree, err := syntax.Parse(c.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := minMatchLen(tree.Simplify()); got != c.want {
			t.Errorf("minMatchLen(%q) = %d, want %d", c.re, got, c.want)
		}
	}
}

func TestSplitPatterns(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"kube-system", []string{"kube-system"}},
		{"kube-.*, monitoring ,", []string{"kube-.*", "monitoring"}},
		{"a{1,3},b", []string{"a{1,3}", "b"}},
		{"[,x],(a,b)", []string{"[,x]", "(a,b)"}},
		{`a\,b,c`, []string{`a\,b`, "c"}},
		{",,", nil},
	} {
		got := splitPatterns(c.in)
		if !slices.Equal(got, c.want) {
			t.Errorf("splitPatterns(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestValidTenant(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"team-a", true}, {"A_1.b*(x)'!", true}, {"", false}, {".", false}, {"..", false},
		{"a b", false}, {"a|b", false}, {"ä", false}, {string(make([]byte, 151)), false},
	} {
		if got := validTenant(c.in); got != c.want {
			t.Errorf("validTenant(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
