package block

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

// testdata/v2.blk was written by the version 2 writer (before templated
// frames were split into column frames) from compatStreams, with
// ChunkTargetSize 160 KiB and LevelFastest. Blocks of every version a
// server may have on disk must keep reading exactly.
const compatV2 = "testdata/v2.blk"

// compatStreams returns the streams of the compatibility blocks: one chunk
// each of every lines layout, templated with a tail frame, templated with
// metadata, with newlines (length column) and short ('\n'-separated).
func compatStreams() []testStream {
	x := uint64(88172645463325252)
	next := func() uint64 { // xorshift64: the same lines whatever the Go version
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	words := []string{"GET", "PUT", "timeout", "served", "cache", "miss", "upstream", "retry"}
	line := func() string {
		return fmt.Sprintf(`level=%s msg="%s %s" id=%016x took=%d.%dms path=/api/v%d/items/%d peer=10.0.%d.%d`,
			[]string{"info", "warn", "error"}[next()%3], words[next()%8], words[next()%8], next(),
			next()%900, next()%10, next()%3, next()%10000, next()%256, next()%256)
	}
	stream := func(name string, n int, mk func(i int) Entry) testStream {
		s := testStream{ls: labels.Labels{{Name: "s", Value: name}}}
		for i := range n {
			e := mk(i)
			e.T = 1_790_000_000_000_000_000 + int64(i)*1_000_003
			s.es = append(s.es, e)
		}
		return s
	}
	return []testStream{
		stream("lf", 10, func(int) Entry { return Entry{Line: []byte(line())} }),
		stream("lengths", 40, func(i int) Entry { return Entry{Line: []byte(line() + "\n\tat frame " + fmt.Sprint(i))} }),
		stream("meta", 100, func(i int) Entry {
			e := Entry{Line: []byte(line())}
			if i%3 == 0 {
				e.Meta = labels.Labels{{Name: "trace_id", Value: fmt.Sprintf("%016x", next())}}
			}
			return e
		}),
		stream("tail", 1500, func(int) Entry { return Entry{Line: []byte(line())} }),
	}
}

var compatOptions = Options{ChunkTargetSize: 160 << 10, Level: LevelFastest, Templated: true}

func TestReadsVersion2(t *testing.T) {
	if os.Getenv("LOAM_WRITE_COMPAT") != "" { // how testdata/v2.blk was made
		w, err := Create(compatV2, compatOptions)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range compatStreams() {
			if err := w.AddStream(s.ls, s.es); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	checkCompat(t, compatV2, 2)
}

// TestReadsVersion3 writes the compatibility streams with this code, for
// the day a version 4 keeps a golden copy of it.
func TestReadsVersion3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.blk")
	writeBlock(t, path, compatStreams(), compatOptions)
	checkCompat(t, path, 3)
}

// checkCompat reads every stream of the block at path whole, in parts, and
// searched, and compares with compatStreams.
func checkCompat(t *testing.T, path string, version byte) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.version != version {
		t.Fatalf("version %d, want %d", r.version, version)
	}
	want := compatStreams()
	if len(r.Streams()) != len(want) {
		t.Fatalf("%d streams, want %d", len(r.Streams()), len(want))
	}
	byName := map[string][]Entry{}
	for _, s := range want {
		byName[s.ls[0].Value] = s.es
	}
	layouts := map[byte]bool{}
	for _, s := range r.Streams() {
		es := byName[s.Labels[0].Value]
		var got []Entry
		for i := range s.Chunks {
			c := &s.Chunks[i]
			layouts[c.Flags&(chunkLF|chunkTmpl|chunkHasMeta|chunkTail)] = true
			var d ChunkData
			if err := r.ReadChunk(c, &d); err != nil {
				t.Fatal(err)
			}
			got = append(got, cloneEntries(d.Entries)...)
			if c.HasTail() {
				var head, tail ChunkData
				if _, err := r.ReadChunkPart(c, &head, PartHead, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := r.ReadChunkPart(c, &tail, PartTail, nil); err != nil {
					t.Fatal(err)
				}
				if !sameEntries(append(cloneEntries(head.Entries), tail.Entries...), d.Entries) {
					t.Errorf("%s: head and tail differ from the whole chunk", s.Labels)
				}
			}
			for _, needle := range []string{"timeout", "10.0.1", "ms path", "at frame 3"} {
				var want []int64
				for _, e := range d.Entries {
					if bytes.Contains(e.Line, []byte(needle)) {
						want = append(want, e.T)
					}
				}
				nd := Needles{{[]byte(needle)}}
				var found ChunkData
				if _, err := r.ReadChunkPart(c, &found, PartAll, nd); err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, e := range found.Entries {
					got = append(got, e.T)
				}
				ts, err := r.MatchTimestamps(c, &found, nd, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) || !slices.Equal(ts, want) {
					t.Errorf("%s %q: ReadChunkPart found %d, MatchTimestamps %d, want %d", s.Labels, needle, len(got), len(ts), len(want))
				}
			}
		}
		if !sameEntries(got, es) {
			t.Errorf("%s: entries differ from what was written", s.Labels)
		}
	}
	// Every layout must be in the block, or the test proves less than it says.
	for _, l := range []byte{chunkLF, 0, chunkTmpl | chunkHasMeta, chunkTmpl | chunkTail} {
		if !layouts[l] {
			t.Errorf("no chunk with flags %#x in %s (have %v)", l, filepath.Base(path), layouts)
		}
	}
}

// cloneEntries copies entries out of a ChunkData's buffers.
func cloneEntries(es []Entry) []Entry {
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{T: e.T, Line: bytes.Clone(e.Line), Meta: e.Meta}
	}
	return out
}

func sameEntries(a, b []Entry) bool {
	return slices.EqualFunc(a, b, func(x, y Entry) bool {
		return x.T == y.T && bytes.Equal(x.Line, y.Line) && x.Meta.Equal(y.Meta)
	})
}
