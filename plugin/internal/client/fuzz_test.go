package client

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", "-1", "99999999999999999999", "Sun, 22 Nov 2026 10:00:30 GMT", "Sunday, 22-Nov-26 10:01:00 GMT", "Sun Nov 22 10:00:10 2026", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d := parseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v < 0", s, d)
		}
	})
}

func FuzzTrimMessage(f *testing.F) {
	for _, s := range []string{"", "hello", "a\nb", "bad \xff", strings.Repeat("é", 600), strings.Repeat("a", 1023) + "€"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := trimMessage(b)
		if !utf8.ValidString(s) {
			t.Fatalf("trimMessage gave invalid UTF-8 %q", s)
		}
		if strings.ContainsAny(s, "\n\r") {
			t.Fatalf("trimMessage kept a line break: %q", s)
		}
		if len(s) > maxMessage*3+len("…") { // \xff → U+FFFD triples at most
			t.Fatalf("trimMessage gave %d bytes", len(s))
		}
	})
}
