package block

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/ngram"
)

func TestTimestampsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	poisson := make([]int64, 5000)
	tt := int64(1_700_000_000_000_000_000)
	for i := range poisson {
		tt += int64(r.ExpFloat64() * 1e9)
		poisson[i] = tt
	}
	cases := map[string][]int64{
		"empty":       {},
		"one":         {42},
		"negative":    {-5, -3, 0, 7},
		"equal":       {10, 10, 10, 10},
		"huge gap":    {0, 1, 2, 1 << 62},
		"poisson":     poisson,
		"millisecond": {1e15, 1e15 + 1e6, 1e15 + 2e6, 1e15 + 3e6},
	}
	for name, ts := range cases {
		t.Run(name, func(t *testing.T) {
			enc := appendTimestamps(nil, ts)
			got, err := decodeTimestamps(enc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, ts) && !(len(got) == 0 && len(ts) == 0) {
				t.Fatalf("round trip: got %v, want %v", got, ts)
			}
		})
	}
	// Rice coding of Poisson gaps should cost about the entropy: ~32 bits
	// for one line a second at nanosecond precision.
	bits := float64(len(appendTimestamps(nil, poisson))*8) / float64(len(poisson))
	if bits > 34 {
		t.Errorf("poisson timestamps cost %.1f bits each, want ≤ 34", bits)
	}
}

func FuzzDecodeTimestamps(f *testing.F) {
	f.Add(appendTimestamps(nil, []int64{1, 2, 3}))
	f.Add(appendTimestamps(nil, []int64{0, 1 << 62}))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := decodeTimestamps(b, nil)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same values.
		if slices.IsSorted(ts) {
			again, err := decodeTimestamps(appendTimestamps(nil, ts), nil)
			if err != nil || !slices.Equal(again, ts) {
				t.Fatalf("re-encode of %v: %v %v", ts, again, err)
			}
		}
	})
}

type testStream struct {
	ls labels.Labels
	es []Entry
}

func genStreams(n, per int, seed uint64) []testStream {
	r := rand.New(rand.NewPCG(seed, 7))
	var out []testStream
	for i := 0; i < n; i++ {
		ls := labels.FromMap(map[string]string{"app": fmt.Sprintf("app-%d", i%3), "pod": fmt.Sprintf("pod-%d", i)})
		var es []Entry
		t := int64(1_700_000_000_000_000_000)
		for j := 0; j < per; j++ {
			t += int64(r.IntN(1e9))
			e := Entry{T: t, Line: fmt.Appendf(nil, `{"level":"info","msg":"request %d served","request_id":"%016x"}`, j, r.Uint64())}
			if j%5 == 0 {
				e.Meta = labels.Labels{{Name: "trace_id", Value: fmt.Sprintf("t%d", j)}}
			}
			es = append(es, e)
		}
		out = append(out, testStream{ls, es})
	}
	return out
}

// writeBlock writes streams, in label order, into a block at path.
func writeBlock(t testing.TB, path string, streams []testStream, opts Options) {
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	streams = slices.Clone(streams)
	slices.SortFunc(streams, func(a, b testStream) int { return labels.Compare(a.ls, b.ls) })
	for _, s := range streams {
		if err := w.AddStream(s.ls, s.es); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
}

// allStreams returns every stream of r, in order.
func allStreams(t testing.TB, r *Reader) []StreamMeta {
	t.Helper()
	var out []StreamMeta
	it := r.Iter()
	for it.Next() {
		out = append(out, *it.At())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// selectStreams returns the streams Select gives for ms.
func selectStreams(t testing.TB, r *Reader, ms ...*labels.Matcher) []StreamMeta {
	t.Helper()
	var out []StreamMeta
	if err := r.Select(ms, func(sm *StreamMeta) error { out = append(out, *sm); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.blk")
	streams := genStreams(5, 700, 1)
	writeBlock(t, path, streams, Options{ChunkTargetSize: 16 << 10, Templated: true})
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := len(allStreams(t, r)); got != 5 || r.NumStreams() != 5 {
		t.Fatalf("streams: %d, NumStreams %d", got, r.NumStreams())
	}
	for _, want := range streams {
		found := selectStreams(t, r, labels.MustMatcher(labels.MatchEqual, "pod", want.ls.Get("pod")))
		if len(found) != 1 {
			t.Fatalf("select %s: %v", want.ls, found)
		}
		sm := found[0]
		if !sm.Labels.Equal(want.ls) {
			t.Fatalf("labels %s, want %s", sm.Labels, want.ls)
		}
		if len(sm.Chunks) < 2 {
			t.Fatalf("expected several chunks, got %d", len(sm.Chunks))
		}
		var got []Entry
		var d ChunkData
		for i := range sm.Chunks {
			if err := r.ReadChunk(&sm.Chunks[i], &d); err != nil {
				t.Fatal(err)
			}
			for _, e := range d.Entries {
				got = append(got, Entry{T: e.T, Line: slices.Clone(e.Line), Meta: e.Meta})
			}
		}
		if len(got) != len(want.es) {
			t.Fatalf("%d entries, want %d", len(got), len(want.es))
		}
		for i := range got {
			if got[i].T != want.es[i].T || string(got[i].Line) != string(want.es[i].Line) || !got[i].Meta.Equal(want.es[i].Meta) {
				t.Fatalf("entry %d: got %+v, want %+v", i, got[i], want.es[i])
			}
		}
		// The filter of each chunk admits its own lines and (almost always)
		// rejects an id that is nowhere.
		c := &sm.Chunks[0]
		f, err := r.Filter(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !f.MayContain(ngram.NewNeedle(string(want.es[0].Line[10:40]))) {
			t.Fatal("filter rejects a present substring")
		}
	}
	regex := selectStreams(t, r, labels.MustMatcher(labels.MatchRegexp, "app", "app-[01]"),
		labels.MustMatcher(labels.MatchNotEqual, "pod", "pod-0"))
	if len(regex) != 3 { // pods 1, 3 and 4
		t.Fatalf("regexp select: %v", regex)
	}
	if got := r.LabelNames(); !slices.Equal(got, []string{"app", "pod"}) {
		t.Fatalf("label names %v", got)
	}
}

func TestCorruptBlocks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.blk")
	writeBlock(t, path, genStreams(3, 100, 2), Options{})
	good, _ := os.ReadFile(path)
	cases := map[string]func([]byte) []byte{
		"truncated":     func(b []byte) []byte { return b[:len(b)-10] },
		"short":         func(b []byte) []byte { return b[:20] },
		"bad magic":     func(b []byte) []byte { b[0] = 'X'; return b },
		"index flipped": func(b []byte) []byte { b[len(b)-footerSize-3] ^= 0x40; return b },
		"footer bits":   func(b []byte) []byte { b[len(b)-footerSize+50] ^= 1; return b },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".blk")
			os.WriteFile(p, mutate(slices.Clone(good)), 0o644)
			_, err := Open(p)
			if err == nil {
				t.Fatal("opened a corrupt block")
			}
		})
	}
	// Corrupt lines are found when read, thanks to the zstd checksum.
	p := filepath.Join(dir, "lines.blk")
	b := slices.Clone(good)
	b[headerSize+40] ^= 0xff
	os.WriteFile(p, b, 0o644)
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var d ChunkData
	err = r.ReadChunk(&allStreams(t, r)[0].Chunks[0], &d)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading corrupt lines: %v", err)
	}
}

// A corrupt index page opens (only the directory is read at open) and fails
// every read that needs the page with ErrCorrupt, never with wrong streams.
func TestCorruptIndexPage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.blk")
	writeBlock(t, path, genStreams(3, 10, 2), Options{})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	streamPage, postPage := r.dir.spages[0], r.dir.names[0].pages[0]
	r.Close()
	good, _ := os.ReadFile(path)
	for name, ref := range map[string]pageRef{"stream table": streamPage, "postings": postPage} {
		t.Run(name, func(t *testing.T) {
			b := slices.Clone(good)
			b[ref.off+uint64(ref.n)/2] ^= 0x10
			p := filepath.Join(dir, "corrupt.blk")
			os.WriteFile(p, b, 0o644)
			r, err := Open(p)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer r.Close()
			it := r.Iter()
			for it.Next() {
			}
			errSel := r.Select([]*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "app-1")}, func(*StreamMeta) error { return nil })
			if ref == streamPage && !errors.Is(it.Err(), ErrCorrupt) {
				t.Errorf("walk: %v", it.Err())
			}
			if !errors.Is(errSel, ErrCorrupt) {
				t.Errorf("select: %v", errSel)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.blk")
	writeBlock(f, path, genStreams(2, 20, 3), Options{})
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	// Templated chunks with tail frames.
	writeBlock(f, path, genStreams(1, 3000, 4), Options{ChunkTargetSize: 200 << 10, Templated: true})
	seed, _ = os.ReadFile(path)
	f.Add(seed)
	seed, _ = os.ReadFile(compatV2)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.blk")
		os.WriteFile(p, b, 0o644)
		r, err := Open(p)
		if err != nil {
			return
		}
		defer r.Close()
		var d ChunkData
		needles := Needles{{[]byte("served")}, {[]byte("request 1"), []byte("7")}}
		sms := []StreamMeta{}
		it := r.Iter()
		for it.Next() {
			sms = append(sms, *it.At())
		}
		r.Select([]*labels.Matcher{labels.MustMatcher(labels.MatchRegexp, "pod", "pod-1|x")}, func(*StreamMeta) error { return nil })
		r.Select([]*labels.Matcher{labels.MustMatcher(labels.MatchRegexp, "pod", ".+1")}, func(*StreamMeta) error { return nil })
		for _, s := range sms {
			for i := range s.Chunks {
				c := &s.Chunks[i]
				r.ReadChunk(c, &d)
				r.Filter(c, nil)
				for _, p := range []Part{PartHead, PartTail} {
					r.ReadChunkPart(c, &d, p, needles)
				}
				r.MatchTimestamps(c, &d, needles[:1], nil)
				r.MatchTimestamps(c, &d, Needles{{[]byte("7")}}, nil) // every column class
			}
		}
	})
}

func BenchmarkWriteBlock(b *testing.B) {
	streams := genStreams(100, 1000, 4)
	var raw int64
	for _, s := range streams {
		for _, e := range s.es {
			raw += int64(len(e.Line))
		}
	}
	dir := b.TempDir()
	b.SetBytes(raw)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		writeBlock(b, filepath.Join(dir, fmt.Sprintf("%d.blk", i)), streams, Options{})
	}
}

func BenchmarkReadChunk(b *testing.B) {
	path := filepath.Join(b.TempDir(), "b.blk")
	writeBlock(b, path, genStreams(1, 20000, 5), Options{ChunkTargetSize: 1 << 20})
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := &allStreams(b, r)[0].Chunks[0]
	b.SetBytes(int64(c.RawBytes))
	var d ChunkData
	for b.Loop() {
		if err := r.ReadChunk(c, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// Lines holding newlines take the length-column layout; both layouts round
// trip, with and without metadata.
func TestLinesLayouts(t *testing.T) {
	cases := map[string][]Entry{
		"newline separated": {{T: 1, Line: []byte("a")}, {T: 2, Line: []byte("")}, {T: 3, Line: []byte("ccc")}},
		"with newlines":     {{T: 1, Line: []byte("a\nb")}, {T: 2, Line: []byte("")}, {T: 3, Line: []byte("\n")}},
		"metadata":          {{T: 1, Line: []byte("x"), Meta: labels.Labels{{Name: "k", Value: "v"}}}, {T: 2, Line: []byte("y\n")}},
	}
	for name, es := range cases {
		// Enough lines for the templated layout to be chosen.
		for len(es) < 2*minTemplatedLines {
			es = append(es, es...)
		}
		for _, opts := range []Options{{}, {Templated: true}, {Codec: CodecS2}, {Codec: CodecNone}} {
			t.Run(fmt.Sprintf("%s %+v", name, opts), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "b.blk")
				writeBlock(t, path, []testStream{{labels.FromMap(map[string]string{"a": "b"}), es}}, opts)
				r, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				var d ChunkData
				if err := r.ReadChunk(&allStreams(t, r)[0].Chunks[0], &d); err != nil {
					t.Fatal(err)
				}
				for i := range es {
					if string(d.Entries[i].Line) != string(es[i].Line) || !d.Entries[i].Meta.Equal(es[i].Meta) {
						t.Fatalf("entry %d: %q %v, want %q %v", i, d.Entries[i].Line, d.Entries[i].Meta, es[i].Line, es[i].Meta)
					}
				}
			})
		}
	}
}

// TestTimestampsRoundTripScales round-trips gaps of every magnitude, so
// that every Rice parameter and both paths of the bit reader (a word at a
// time, and bit by bit near the end) are exercised.
func TestTimestampsRoundTripScales(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for shift := 0; shift < 62; shift += 3 {
		for _, n := range []int{1, 2, 3, 17, 1000} {
			ts := make([]int64, n)
			var cur int64
			for i := range ts {
				cur += r.Int64N(1<<shift + 1)
				if r.IntN(50) == 0 {
					cur += r.Int64N(1 << 40) // an outlier: the escape code
				}
				ts[i] = cur
			}
			got, err := decodeTimestamps(appendTimestamps(nil, ts), nil)
			if err != nil || !slices.Equal(got, ts) {
				t.Fatalf("shift %d n %d: %v (got %d values)", shift, n, err, len(got))
			}
		}
	}
}

// TestTailFrames checks that a big chunk keeps its newest lines in a frame
// of their own, and that head and tail read apart give what the whole chunk
// gives, in every layout.
func TestTailFrames(t *testing.T) {
	streams := genStreams(1, 4000, 3) // ~300 KB of lines
	for _, opts := range []Options{{ChunkTargetSize: 1 << 20}, {ChunkTargetSize: 1 << 20, Templated: true}, {ChunkTargetSize: 1 << 20, Codec: CodecS2}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.blk")
			writeBlock(t, path, streams, Options{ChunkTargetSize: 256 << 10, Templated: opts.Templated, Codec: opts.Codec})
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			c := &allStreams(t, r)[0].Chunks[0]
			if opts.Codec != CodecZstd {
				if c.HasTail() {
					t.Fatal("only zstd chunks get a tail frame")
				}
				return
			}
			if !c.HasTail() || c.TailCount == 0 || c.TailCount > c.Count/4 {
				t.Fatalf("chunk of %d bytes: tail %v, %d of %d entries", c.RawBytes, c.HasTail(), c.TailCount, c.Count)
			}
			var whole, part ChunkData
			if err := r.ReadChunk(c, &whole); err != nil {
				t.Fatal(err)
			}
			var got []Entry
			for _, p := range []Part{PartHead, PartTail} {
				if _, err := r.ReadChunkPart(c, &part, p, nil); err != nil {
					t.Fatal(err)
				}
				for _, e := range part.Entries {
					got = append(got, Entry{T: e.T, Line: slices.Clone(e.Line), Meta: e.Meta})
				}
				if p == PartHead && part.Entries[len(part.Entries)-1].T != c.HeadMaxT {
					t.Fatalf("head ends at %d, index says %d", part.Entries[len(part.Entries)-1].T, c.HeadMaxT)
				}
				if p == PartTail && (part.Entries[0].T != c.TailMinT || len(part.Entries) != int(c.TailCount)) {
					t.Fatalf("tail starts at %d with %d entries, index says %d, %d", part.Entries[0].T, len(part.Entries), c.TailMinT, c.TailCount)
				}
			}
			if len(got) != len(whole.Entries) {
				t.Fatalf("parts hold %d entries, the chunk %d", len(got), len(whole.Entries))
			}
			for i, e := range whole.Entries {
				if got[i].T != e.T || string(got[i].Line) != string(e.Line) || !got[i].Meta.Equal(e.Meta) ||
					string(e.Line) != string(streams[0].es[i].Line) {
					t.Fatalf("entry %d: parts %+v, whole %+v", i, got[i], e)
				}
			}
			// A needle test sees both frames' text.
			last := streams[0].es[c.Count-1].Line
			ok, err := r.ReadChunkPart(c, &whole, PartAll, Needles{{last}})
			if err != nil || !ok || len(whole.Entries) != 1 || !bytes.Equal(whole.Entries[0].Line, last) {
				t.Fatalf("needle search missed the tail's last line: %v %v %d", ok, err, len(whole.Entries))
			}
		})
	}
}

// TestMatchTimestamps compares counting matches without rebuilding lines
// with filtering rebuilt lines, over chunks with and without a tail frame,
// templated and not, for needles of word bytes and others.
func TestMatchTimestamps(t *testing.T) {
	streams := genStreams(2, 4000, 11)
	for _, opts := range []Options{{ChunkTargetSize: 256 << 10, Templated: true}, {ChunkTargetSize: 256 << 10}, {ChunkTargetSize: 64 << 10, Templated: true}} {
		path := filepath.Join(t.TempDir(), "b.blk")
		writeBlock(t, path, streams, opts)
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, needles := range []Needles{
			{{[]byte("served")}},
			{{[]byte("request 12")}},            // spans a literal and a variable: not word bytes only
			{{[]byte("123")}, {[]byte("info")}}, // in variables and in the template
			{{[]byte("nowhere"), []byte("7 served")}},
			{{[]byte("trace_id")}}, // metadata, never in lines
		} {
			var d ChunkData
			for _, sm := range allStreams(t, r) {
				for i := range sm.Chunks {
					c := &sm.Chunks[i]
					got, err := r.MatchTimestamps(c, &d, needles, nil)
					if err != nil {
						t.Fatal(err)
					}
					if err := r.ReadChunk(c, &d); err != nil {
						t.Fatal(err)
					}
					var want []int64
					for _, e := range d.Entries {
						if needles.Match(e.Line) {
							want = append(want, e.T)
						}
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%+v, needles %q, chunk %d (tail %v): %d matches, want %d", opts, needles, i, c.HasTail(), len(got), len(want))
					}
				}
			}
		}
		r.Close()
	}
}

// BenchmarkMatchTimestamps counts the lines holding a word in chunks of
// lines shaped like ../shared/bench's (the count target of
// scripts/bench-query.sh): the head and word columns of each group are read
// and searched, no line is rebuilt.
func BenchmarkMatchTimestamps(b *testing.B) {
	r := rand.New(rand.NewPCG(8, 9))
	words := strings.Fields("GET POST PUT request served payment accepted upstream timeout cache miss user order " +
		"status duration bytes level info warn error debug reconcile lease pod node container handler db query")
	var es []Entry
	for i := range 40000 {
		es = append(es, Entry{T: int64(i), Line: fmt.Appendf(nil,
			`{"level":"%s","msg":"%s %s","path":"/v1/%s/%d","status":%d,"duration":"%.1fms","request_id":"%016x%016x","user":%d}`,
			words[13+r.IntN(4)], words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))],
			r.IntN(10000), []int{200, 200, 200, 201, 404, 500}[r.IntN(6)], r.Float64()*900, r.Uint64(), r.Uint64(), r.IntN(500))})
	}
	path := filepath.Join(b.TempDir(), "b.blk")
	writeBlock(b, path, []testStream{{labels.FromMap(map[string]string{"job": "bench"}), es}},
		Options{ChunkTargetSize: 1 << 20, Level: LevelBest, Templated: true})
	rd, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	var d ChunkData
	var ts []int64
	needles := Needles{{[]byte("timeout")}}
	raw := 0
	chunks := allStreams(b, rd)[0].Chunks
	for _, c := range chunks {
		raw += int(c.RawBytes)
	}
	b.SetBytes(int64(raw))
	for b.Loop() {
		for i := range chunks {
			if ts, err = rd.MatchTimestamps(&chunks[i], &d, needles, ts[:0]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
