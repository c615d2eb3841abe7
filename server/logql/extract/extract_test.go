package extract

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// labels formats emitted labels as name="value", in emit order.
type labels []string

func (l *labels) emit(name, value string) bool {
	*l = append(*l, fmt.Sprintf("%s=%q", name, value))
	return true
}

// errString formats an extraction error for comparison; "" for nil.
func errString(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Kind + ": " + e.Details
}

func checkLabels(t *testing.T, got labels, want ...string) {
	t.Helper()
	if len(want) == 0 {
		want = nil
	}
	if !slices.Equal([]string(got), want) {
		t.Errorf("labels:\n got %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}

func checkErr(t *testing.T, got error, want string) {
	t.Helper()
	switch {
	case got == nil && want != "":
		t.Errorf("no error, want %q", want)
	case got != nil && got.Error() != want:
		t.Errorf("error %q, want %q", got.Error(), want)
	}
}

func TestSanitizeName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"level", "level"},
		{"cou-nter", "cou_nter"},
		{"foo.bar", "foo_bar"},
		{"1a", "_1a"},
		{"_1a", "_1a"},
		{" padded\t", "padded"},
		{"\u00a0nbsp\u00a0", "nbsp"}, // Unicode white space is trimmed
		{"with space", "with_space"},
		{"tiếng", "ti_ng"},     // one "_" per character
		{"a\xff\xfeb", "a__b"}, // one per invalid byte
		{"a\uFFFDb", "a_b"},    // U+FFFD is a character
		{"   ", ""},
		{"", ""},
		{"9", "_9"},
		{"ÜFT8👌", "_FT8_"},
	} {
		if got := SanitizeName(tt.in); got != tt.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestNameCacheBounded checks that lines with ever new keys do not grow
// the name caches without end.
func TestNameCacheBounded(t *testing.T) {
	j := NewJSON()
	l, _ := NewLogfmt(false, false, nil)
	for i := range 3 * maxCachedNames {
		key := fmt.Sprintf("k%d", i)
		j.Extract([]byte(`{"`+key+`":1,"n":{"`+key+`":2}}`), func(string, string) bool { return true })
		l.Extract([]byte(key+"=1"), func(string, string) bool { return true })
	}
	long := strings.Repeat("k", maxCachedKey+1)
	j.Extract([]byte(`{"`+long+`":1}`), func(string, string) bool { return true })
	if _, ok := j.top.m[long]; ok {
		t.Error("a huge key was cached")
	}
	if len(j.top.m) > maxCachedNames || len(j.nested.m) > maxCachedNames || len(l.cache.m) > maxCachedNames {
		t.Errorf("caches grew to %d, %d, %d entries", len(j.top.m), len(j.nested.m), len(l.cache.m))
	}
}

func TestErrorString(t *testing.T) {
	if got := (&Error{KindJSON, "x"}).Error(); got != "JSONParserErr: x" {
		t.Errorf("got %q", got)
	}
	if got := (&Error{Kind: KindJSON}).Error(); got != "JSONParserErr" {
		t.Errorf("got %q", got)
	}
}
