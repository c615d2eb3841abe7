package patterns

import (
	"slices"
	"strings"
	"testing"
)

var tokenizeTests = []struct {
	name   string
	in     string
	tokens []string // nil: not mined
	json   bool
}{
	{"words and punctuation", `GET /api/users/42 HTTP/1.1 "ok"`,
		[]string{"GET", "/api/users/42", "HTTP/1.1", `"`, "ok", `"`}, false},
	{"logfmt", `level=info msg="user logged in" took=12ms`,
		[]string{"level", "=", "info", "msg", "=", `"`, "user", "logged", "in", `"`, "took", "=", "12ms"}, false},
	// Times, paths, versions and addresses stay one token.
	{"nginx", `10.0.0.1 - - [01/Jun/2025:12:00:00 +0000] "GET / HTTP/1.1" 200`,
		[]string{"10.0.0.1", "-", "-", "[", "01/Jun/2025:12:00:00", "+0000", "]", `"`, "GET", "/", "HTTP/1.1", `"`, "200"}, false},
	{"klog", `I0601 12:00:00.000001       1 reflector.go:325] Listing *v1.Pod`,
		[]string{"I0601", "12:00:00.000001", "1", "reflector.go:325", "]", "Listing", "*v1.Pod"}, false},
	{"brackets and captures", `err=<nil> (retry) {a,b}`,
		[]string{"err", "=", "<", "nil", ">", "(", "retry", ")", "{", "a", ",", "b", "}"}, false},
	{"utf-8 is part of words", `Größe überschritten: 42 Bytes`,
		[]string{"Größe", "überschritten:", "42", "Bytes"}, false},
	{"tabs and newlines separate", "panic: boom\n\tgoroutine 1 [running]",
		[]string{"panic:", "boom", "goroutine", "1", "[", "running", "]"}, false},
	// A JSON object is mined on its message, raw.
	{"json message", `{"level":"info","msg":"user 42 logged in","ts":1}`,
		[]string{"user", "42", "logged", "in"}, true},
	{"json message preference", `{"content":"a b c d","log":"w x y z"}`,
		[]string{"w", "x", "y", "z"}, true},
	{"json escaped message", `{"msg":"said \"hi\" to bob"}`,
		[]string{"said", `\`, `"`, "hi", `\`, `"`, "to", "bob"}, true},
	{"json nested values skipped", `{"a":{"msg":"x"},"b":[1,{"c":"]"}],"message":"one two three four"}`,
		[]string{"one", "two", "three", "four"}, true},
	{"json without message", `{"level":"info","user":"bob","action":"login"}`, nil, true},
	{"json message not a string", `{"msg":{"text":"a b c d"}}`, nil, true},
	{"json malformed", `{"msg" "a b c d"}`, nil, true},
	{"too few tokens", "migration done", nil, false},
	{"empty", "", nil, false},
	{"too many tokens", strings.Repeat("a ", 81), nil, false},
	{"eighty tokens", strings.Repeat("a ", 80), slices.Repeat([]string{"a"}, 80), false},
	{"too long", "x " + strings.Repeat("y", 3000), nil, false},
}

func TestTokenize(t *testing.T) {
	for _, tt := range tokenizeTests {
		t.Run(tt.name, func(t *testing.T) {
			var l line
			ok := l.tokenize([]byte(tt.in))
			if ok != (tt.tokens != nil) {
				t.Fatalf("tokenize(%q) = %v, want %v", tt.in, ok, tt.tokens != nil)
			}
			if !ok {
				return
			}
			var got []string
			for i := range l.tokens {
				got = append(got, string(l.token(i)))
			}
			if !slices.Equal(got, tt.tokens) {
				t.Fatalf("tokens of %q:\n got %q\nwant %q", tt.in, got, tt.tokens)
			}
			if (l.format == formatJSON) != tt.json {
				t.Fatalf("format %d, want JSON %v", l.format, tt.json)
			}
			// Tokens and gaps give back the content.
			var b strings.Builder
			for i := range l.tokens {
				b.Write(l.gap(i))
				b.Write(l.token(i))
			}
			b.Write(l.gap(len(l.tokens)))
			if b.String() != string(l.content) {
				t.Fatalf("tokens and gaps make %q, want %q", b.String(), l.content)
			}
		})
	}
}

// The layout separates lines that differ only in whitespace, so that a
// pattern reproduces each line's spacing.
func TestLayout(t *testing.T) {
	var a, b, c line
	a.tokenize([]byte("a b  c d"))
	b.tokenize([]byte("w x  y z"))
	c.tokenize([]byte("a b c  d"))
	if a.layout != b.layout {
		t.Errorf("same spacing, different layouts")
	}
	if a.layout == c.layout {
		t.Errorf("different spacing, same layout")
	}
}
