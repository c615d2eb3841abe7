package block

import (
	"bytes"
	"fmt"
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
	checkCompat(t, compatV2, 2)
}

// testdata/v3.blk was written by the version 3 writer (before the index was
// cut into pages) from compatStreams with compatOptions; v3-streams.blk
// from genStreams(300, 1, 11) with Options{NoFilters: true}, so that its
// index, rebuilt as pages in memory, fills several.
const (
	compatV3        = "testdata/v3.blk"
	compatV3Streams = "testdata/v3-streams.blk"
)

func TestReadsVersion3(t *testing.T) {
	checkCompat(t, compatV3, 3)
	r, err := Open(compatV3Streams)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.version != 3 || len(r.dir.spages) < 2 {
		t.Fatalf("version %d, %d stream pages: the test proves less than it says", r.version, len(r.dir.spages))
	}
	checkStreams(t, r, genStreams(300, 1, 11))
}

// TestReadsVersion4 writes the compatibility streams with this code, for
// the day a version 5 keeps a golden copy of it.
func TestReadsVersion4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.blk")
	writeBlock(t, path, compatStreams(), compatOptions)
	checkCompat(t, path, 4)
	path = filepath.Join(t.TempDir(), "v4-streams.blk")
	writeBlock(t, path, genStreams(300, 1, 11), Options{NoFilters: true})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checkStreams(t, r, genStreams(300, 1, 11))
}

// checkStreams compares every stream of r, walked and selected by each of
// its labels, with want.
func checkStreams(t *testing.T, r *Reader, want []testStream) {
	t.Helper()
	got := allStreams(t, r)
	if len(got) != len(want) || r.NumStreams() != len(want) {
		t.Fatalf("%d streams (NumStreams %d), want %d", len(got), r.NumStreams(), len(want))
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b testStream) int { return labels.Compare(a.ls, b.ls) })
	var d ChunkData
	for i, w := range want {
		if !got[i].Labels.Equal(w.ls) {
			t.Fatalf("stream %d: %s, want %s", i, got[i].Labels, w.ls)
		}
		var es []Entry
		for j := range got[i].Chunks {
			if err := r.ReadChunk(&got[i].Chunks[j], &d); err != nil {
				t.Fatal(err)
			}
			es = append(es, cloneEntries(d.Entries)...)
		}
		if !sameEntries(es, w.es) {
			t.Fatalf("%s: entries differ", w.ls)
		}
		for _, l := range w.ls {
			sel := selectStreams(t, r, labels.MustMatcher(labels.MatchEqual, l.Name, l.Value))
			if !slices.ContainsFunc(sel, func(sm StreamMeta) bool { return sm.Labels.Equal(w.ls) }) {
				t.Fatalf("select %s=%q misses %s", l.Name, l.Value, w.ls)
			}
		}
	}
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
	streams := allStreams(t, r)
	if len(streams) != len(want) {
		t.Fatalf("%d streams, want %d", len(streams), len(want))
	}
	byName := map[string][]Entry{}
	for _, s := range want {
		byName[s.ls[0].Value] = s.es
	}
	layouts := map[byte]bool{}
	for _, s := range streams {
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
