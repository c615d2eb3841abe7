package block

import (
	"fmt"
	"testing"
)

func TestTokenize(t *testing.T) {
	cases := []struct {
		line, tmpl string
		vars       []string
	}{
		{`level=info msg="served" status=200 took=1.5ms`, "level=info msg=\"served\" status=\x01 took=\x01", []string{"200", "1.5ms"}},
		{`10.0.0.1 - - [01/Nov/2026:00:00:01 +0000] "GET /v1/users/42 HTTP/1.1" 200`, "\x01 - - [\x01 +\x01] \"GET \x01 \x01\" \x01", []string{"10.0.0.1", "01/Nov/2026:00:00:01", "0000", "/v1/users/42", "HTTP/1.1", "200"}},
		{`no digits here`, `no digits here`, nil},
		{``, ``, nil},
		// ':' is a word byte (times, addresses), so it joins a JSON number.
		{`{"id":"9f1c-ab","n":7}`, "{\"id\":\"\x01\",\"n\"\x01}", []string{"9f1c-ab", ":7"}},
	}
	for _, c := range cases {
		tmpl, vars := tokenize([]byte(c.line), nil, nil)
		if string(tmpl) != c.tmpl {
			t.Errorf("%q: template %q, want %q", c.line, tmpl, c.tmpl)
		}
		if fmt.Sprintf("%q", vars) != fmt.Sprintf("%q", c.vars) && !(len(vars) == 0 && len(c.vars) == 0) {
			t.Errorf("%q: vars %q, want %q", c.line, vars, c.vars)
		}
	}
}

func templatedRoundTrip(t *testing.T, lines []string) {
	t.Helper()
	es := make([]Entry, len(lines))
	for i, l := range lines {
		es[i] = Entry{T: int64(i), Line: []byte(l)}
	}
	if !templatable(es) {
		return
	}
	payload := appendTemplated(nil, es)
	got := make([]Entry, len(es))
	rest, _, err := decodeTemplated(payload, got, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left over", len(rest))
	}
	for i := range es {
		if string(got[i].Line) != lines[i] {
			t.Fatalf("line %d: %q, want %q", i, got[i].Line, lines[i])
		}
	}
}

func TestTemplatedRoundTrip(t *testing.T) {
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, fmt.Sprintf(`{"level":"info","status":%d,"took":"%dms","id":"%08x"}`, 200+i%3, i, i*7919))
		if i%17 == 0 {
			lines = append(lines, "", "plain words only", fmt.Sprintf("k%d=v%d", i, i))
		}
	}
	templatedRoundTrip(t, lines)
}

func FuzzTemplated(f *testing.F) {
	f.Add("a1 b2\x02c3", "x", "10.0.0.1 - GET /a/1")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		templatedRoundTrip(t, []string{a, b, c, a, c})
		// Garbage must never panic the decoder.
		es := make([]Entry, 3)
		decodeTemplated([]byte(a+b+c), es, nil)
	})
}
