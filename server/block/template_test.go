package block

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/loam-logs/loam/server/labels"
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

func TestClassOf(t *testing.T) {
	cases := []struct {
		values string
		class  int
	}{
		{"200\n404\n", classHex},
		{"9f1c-ab\n550e8400-e29b-41d4-a716-446655440000\n", classHex},
		{"10.0.0.1\n:8080\n2026-11-22T09:00:01.5Z\n", classNum},
		{"10.0.0.1\n:8080\n01/11/2026\n", classNum},
		{"1.5ms\n2h45m0s\n120ns\n", classNum},
		{"1.5ms\nv1.2\n", classWord},
		{"app-7d9f8b6c5-x2k4j\n", classWord},
		{"DEADBEEF\n", classHex},
		{"", classHex},
	}
	for _, c := range cases {
		if got := classOf([]byte(c.values)); got != c.class {
			t.Errorf("classOf(%q) = %d, want %d", c.values, got, c.class)
		}
	}
}

// zstdCompress compresses a part of a group as the writer does.
func zstdCompress(dst, src []byte) []byte { return encoder(LevelFastest).EncodeAll(src, dst) }

func zstdCompressPart(dst, src []byte, _ int) []byte { return zstdCompress(dst, src) }

// groupOf returns the templated group of es (version 3).
func groupOf(es []Entry, flags byte) []byte {
	return appendGroup(nil, es, flags, make([][]byte, numParts), zstdCompressPart)
}

// singleFrame returns the templated frame of es as version 1 and 2 wrote
// it: templates, template numbers, every column in template, slot order,
// then the metadata (with chunkHasMeta), in one frame.
func singleFrame(es []Entry, flags byte) []byte {
	cols := make([][]byte, numClasses)
	head := appendTemplated(nil, cols, es)
	var f tmplFrame
	if _, err := f.parseHead(head, len(es), true); err != nil {
		panic(err)
	}
	// head: count, templates (region), a class per slot, numbers.
	numbers := head[len(appendUvarint(nil, uint64(len(f.tmpls))))+len(f.region)+len(f.refs):]
	for c := range f.cols {
		f.cols[c].reset(nil, true)
		f.cols[c].text = cols[c]
	}
	if err := f.countValues(-1); err != nil {
		panic(err)
	}
	if err := f.prepare(); err != nil {
		panic(err)
	}
	out := appendUvarint(nil, uint64(len(f.tmpls)))
	out = append(out, f.region...)
	out = append(out, numbers...)
	for t := range f.tmpls {
		for _, ref := range f.slots[t] {
			for r := range int32(f.counts[t]) {
				out = append(append(out, f.value(ref.class, ref.first+r)...), '\n')
			}
		}
	}
	if flags&chunkHasMeta != 0 {
		out = appendMeta(out, es)
	}
	return out
}

// readTemplated reads the entries of a templated group (or, with single,
// frame) whose lines hold needles.
func readTemplated(src []byte, single bool, times []int64, flags byte, needles Needles, f *tmplFrame) ([]Entry, error) {
	var err error
	if single {
		err = f.parseSingle(src, len(times), flags&chunkHasMeta != 0)
	} else {
		err = f.parseGroupBytes(src, len(times), flags&chunkHasMeta != 0)
	}
	if err != nil {
		return nil, err
	}
	var lines []byte
	return f.appendEntries(times, needles, &lines, nil)
}

func templatedRoundTrip(t *testing.T, lines []string) {
	t.Helper()
	es := make([]Entry, len(lines))
	times := make([]int64, len(lines))
	for i, l := range lines {
		es[i] = Entry{T: int64(i), Line: []byte(l)}
		if i%3 == 0 {
			es[i].Meta = labels.Labels{{Name: "trace_id", Value: fmt.Sprint(i)}}
		}
		times[i] = int64(i)
	}
	if !templatable(es) {
		return
	}
	for _, flags := range []byte{0, chunkHasMeta} {
		for _, single := range []bool{false, true} {
			src := groupOf(es, flags)
			if single {
				src = singleFrame(es, flags)
			}
			got, err := readTemplated(src, single, times, flags, nil, &tmplFrame{})
			if err != nil {
				t.Fatalf("decode (single %v, flags %#x): %v", single, flags, err)
			}
			for i := range es {
				if string(got[i].Line) != lines[i] {
					t.Fatalf("line %d: %q, want %q", i, got[i].Line, lines[i])
				}
				if flags != 0 && !got[i].Meta.Equal(es[i].Meta) {
					t.Fatalf("metadata %d: %v, want %v", i, got[i].Meta, es[i].Meta)
				}
			}
		}
	}
}

func TestTemplatedRoundTrip(t *testing.T) {
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, fmt.Sprintf(`{"level":"info","status":%d,"took":"%dms","id":"%08x","ip":"10.0.%d.1"}`, 200+i%3, i, i*7919, i))
		if i%17 == 0 {
			lines = append(lines, "", "plain words only", fmt.Sprintf("k%d=v%d", i, i))
		}
	}
	templatedRoundTrip(t, lines)
}

func FuzzTemplated(f *testing.F) {
	f.Add("a1 b2\x05c3", "x", "10.0.0.1 - GET /a/1", []byte{})
	f.Add("", "", "", []byte{1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, a, b, c string, garbage []byte) {
		templatedRoundTrip(t, []string{a, b, c, a, c})
		// Garbage must never panic the decoders.
		var tf tmplFrame
		times := make([]int64, 3)
		for _, flags := range []byte{0, chunkHasMeta} {
			readTemplated(garbage, true, times, flags, nil, &tf)
			readTemplated(garbage, true, times, flags, Needles{{[]byte("a1")}}, &tf)
			readTemplated(garbage, false, times, flags, nil, &tf)
		}
	})
}

// TestTemplatedNeedles compares the search of templated frames (in the
// templates and columns, rebuilding only candidates) with searching every
// rebuilt line, for needles of word bytes (exact without rebuilding) and
// others (checked on the rebuilt line), in groups and single frames.
func TestTemplatedNeedles(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	words := []string{"timeout", "GET", "user", "req-42", "/v1/timeout/7", "a1", "x", "status=500", "ms", "db",
		"10.0.0.1", "9f1c", "7", "0a-ff", "15ms", "2026-11-22T09:00:01Z", "mush"}
	var tf tmplFrame // reused, as ReadChunkPart reuses it
	for round := 0; round < 600; round++ {
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
		single := round%2 == 1
		src := groupOf(es, 0)
		if single {
			src = singleFrame(es, 0)
		}
		got, err := readTemplated(src, single, times, 0, needles, &tf)
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
			t.Fatalf("needles %q over %d lines (single %v): got %v, want %v", needles, n, single, gotT, want)
		}
	}
}

// FuzzTemplatedNeedles: any content of a group's parts, any needle, no
// panic; on parts the encoder writes (whose variables are maximal runs of
// word bytes, in the column of their class), the search agrees with
// searching the rebuilt lines.
func FuzzTemplatedNeedles(f *testing.F) {
	parts := make([][]byte, numParts)
	parts[partHead] = appendTemplated(nil, parts[partCols:partCols+numClasses],
		[]Entry{{Line: []byte("GET /v1/users/42 200")}, {Line: []byte("timeout after 5s")}, {Line: []byte("id 9f1c-ab at 10.0.0.1")}})
	f.Add(parts[0], parts[1], parts[2], parts[3], "timeout", uint8(3))
	f.Fuzz(func(t *testing.T, head, word, num, hex []byte, needle string, n uint8) {
		times := make([]int64, n)
		for i := range times {
			times[i] = int64(i)
		}
		// A group of these parts, compressed as the writer does.
		var group []byte
		var frames []byte
		for _, p := range [][]byte{head, word, num, hex} {
			k := len(frames)
			if len(p) > 0 {
				frames = zstdCompress(frames, p)
			}
			group = appendUvarint(group, uint64(len(frames)-k))
		}
		group = append(group, frames...)
		nd := Needles{{[]byte(needle)}}
		all, err := readTemplated(group, false, times, 0, nil, &tmplFrame{})
		if err != nil {
			readTemplated(group, false, times, 0, nd, &tmplFrame{})
			return
		}
		all = cloneEntries(all)
		got, err := readTemplated(group, false, times, 0, nd, &tmplFrame{})
		if err != nil {
			t.Fatalf("whole group decodes, search fails: %v", err)
		}
		if !templatable(all) {
			return // lines the encoder would not template
		}
		again := make([][]byte, numParts)
		again[partHead] = appendTemplated(nil, again[partCols:partCols+numClasses], all)
		if !bytes.Equal(again[partHead], head) || !bytes.Equal(again[partCols+classWord], word) ||
			!bytes.Equal(again[partCols+classNum], num) || !bytes.Equal(again[partCols+classHex], hex) {
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
