package block

import (
	"bytes"
	"fmt"
	"math/rand/v2"
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

// TestTemplatedNeedles compares the search of templated frames (in the
// templates and columns, rebuilding only candidates) with searching every
// rebuilt line, for needles of word bytes (exact without rebuilding) and
// others (checked on the rebuilt line).
func TestTemplatedNeedles(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	words := []string{"timeout", "GET", "user", "req-42", "/v1/timeout/7", "a1", "x", "status=500", "ms", "db"}
	var tf tmplFrame // reused, as a ChunkData reuses it
	for round := 0; round < 400; round++ {
		n := 1 + r.IntN(80)
		es := make([]Entry, n)
		times := make([]int64, n)
		for i := range es {
			var b []byte
			for k := r.IntN(8); k >= 0; k-- {
				b = append(b, words[r.IntN(len(words))]...)
				b = append(b, " :,=\"{}"[r.IntN(7)])
			}
			es[i] = Entry{T: int64(i), Line: b}
			times[i] = int64(i)
		}
		needles := make(Needles, 1+r.IntN(2))
		for i := range needles {
			for k := r.IntN(2); k >= 0; k-- {
				w := words[r.IntN(len(words))]
				if r.IntN(3) == 0 && len(w) > 2 {
					w = w[1 : len(w)-1]
				}
				needles[i] = append(needles[i], []byte(w))
			}
		}
		var want []int64
		for _, e := range es {
			if needles.Match(e.Line) {
				want = append(want, e.T)
			}
		}
		payload := appendTemplated(nil, es)
		var scratch []byte
		got, err := decodeFrame(payload, times, chunkTmpl, needles, &scratch, &tf, nil)
		if err != nil {
			t.Fatal(err)
		}
		var gotT []int64
		for _, e := range got {
			gotT = append(gotT, e.T)
			if string(e.Line) != string(es[e.T].Line) {
				t.Fatalf("line %d rebuilt as %q, want %q", e.T, e.Line, es[e.T].Line)
			}
		}
		if fmt.Sprint(gotT) != fmt.Sprint(want) {
			t.Fatalf("needles %q over %d lines: got %v, want %v", needles, n, gotT, want)
		}
	}
}

// FuzzTemplatedNeedles: any frame, any needle, no panic; on frames the
// encoder writes (whose variables are maximal runs of word bytes), the
// search agrees with searching the rebuilt lines.
func FuzzTemplatedNeedles(f *testing.F) {
	f.Add(appendTemplated(nil, []Entry{{Line: []byte("GET /v1/users/42 200")}, {Line: []byte("timeout after 5s")}}), "timeout", uint8(2))
	f.Fuzz(func(t *testing.T, payload []byte, needle string, n uint8) {
		times := make([]int64, n)
		for i := range times {
			times[i] = int64(i)
		}
		var scratch []byte
		all := make([]Entry, n)
		if _, _, err := decodeTemplated(payload, all, nil); err != nil {
			decodeFrame(payload, times, chunkTmpl, Needles{{[]byte(needle)}}, &scratch, &tmplFrame{}, nil)
			return
		}
		got, err := decodeFrame(payload, times, chunkTmpl, Needles{{[]byte(needle)}}, &scratch, &tmplFrame{}, nil)
		if err != nil {
			t.Fatalf("whole frame decodes, search fails: %v", err)
		}
		if !bytes.Equal(appendTemplated(nil, all), payload) {
			return // not as the encoder writes it: no promise but no panic
		}
		var want int
		for _, e := range all {
			if bytes.Contains(e.Line, []byte(needle)) {
				want++
			}
		}
		if len(got) != want {
			t.Fatalf("search found %d lines, rebuilt lines hold %d", len(got), want)
		}
	})
}

func FuzzNewlines(f *testing.F) {
	f.Add([]byte("a\nbb\n\n0123456789\nxyz\n\xff\n"), 3)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		n = max(n, 0) % (len(b) + 2)
		var want []int32
		for i, c := range b {
			if c == '\n' && len(want) < n {
				want = append(want, int32(i))
			}
		}
		if got := newlines(b, nil, n); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("newlines(%q, %d) = %v, want %v", b, n, got, want)
		}
	})
}
