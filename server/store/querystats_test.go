package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// statsEntries are n entries from t0, one second apart, every other holding
// the word "keep"; unless prefix is "b", every third has structured
// metadata.
func statsEntries(n int, t0 int64, prefix string) []block.Entry {
	es := make([]block.Entry, n)
	for i := range es {
		es[i] = block.Entry{T: t0 + int64(i)*int64(time.Second), Line: fmt.Appendf(nil, "%s %d %s", prefix, i, []string{"keep", "drop"}[i%2])}
		if i%3 == 0 && prefix != "b" {
			es[i].Meta = labels.New(labels.Label{Name: "trace_id", Value: fmt.Sprintf("%08x", i)})
		}
	}
	return es
}

// figures are the lines, bytes (metadata included), metadata bytes and
// lines holding "keep" of some entries.
type figures struct{ lines, bytes, meta, kept int64 }

func figuresOf(es []block.Entry) figures {
	var f figures
	for _, e := range es {
		f.lines++
		f.bytes += int64(len(e.Line))
		for _, l := range e.Meta {
			f.meta += int64(len(l.Name) + len(l.Value))
		}
		if bytes.Contains(e.Line, []byte("keep")) {
			f.kept++
		}
	}
	f.bytes += f.meta
	return f
}

// blockChunks returns the chunks of tenant t1's blocks.
func blockChunks(t *testing.T, s *Store) []block.ChunkMeta {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []block.ChunkMeta
	for _, p := range s.parts["t1"] {
		for _, h := range p.blocks {
			r, err := h.reader()
			if err != nil {
				t.Fatal(err)
			}
			for _, sm := range streamsOf(t, r) {
				out = append(out, sm.Chunks...)
			}
		}
	}
	return out
}

// TestSelectStats reads two streams whole, from the head, from blocks and
// from both, keeping the lines that hold "keep" as a pipeline would, and
// checks every figure against the entries pushed. Timestamps reads stream
// b, without metadata, source by source, and stream a entry by entry.
func TestSelectStats(t *testing.T) {
	const n = 300
	t0 := time.Now().Add(-30 * time.Minute).UnixNano()
	streams := []labels.Labels{ls("a"), ls("b")}
	tests := []struct {
		name    string
		flushed int // entries of each stream flushed to blocks; the rest stay in the head
	}{
		{"head", 0},
		{"blocks", n},
		{"both", n / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			defer s.Close()
			var inHead, inBlocks []block.Entry
			push := func(from, to int) {
				for _, l := range streams {
					es := statsEntries(n, t0, l.Get("app"))[from:to]
					if _, err := s.Append("t1", []Stream{{l, slices.Clone(es)}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.flushed > 0 {
				push(0, tt.flushed)
				if err := s.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			push(tt.flushed, n)
			for _, l := range streams {
				es := statsEntries(n, t0, l.Get("app"))
				inBlocks = append(inBlocks, es[:tt.flushed]...)
				inHead = append(inHead, es[tt.flushed:]...)
			}
			head, blocks := figuresOf(inHead), figuresOf(inBlocks)

			st := &Stats{}
			it, err := s.Select(context.Background(), SelectParams{Tenant: "t1", Start: t0, End: t0 + int64(time.Hour), Stats: st})
			if err != nil {
				t.Fatal(err)
			}
			kept := CountKept(it, st)
			returned := 0
			for it.Next() {
				returned++
				if _, e := it.At(); bytes.Contains(e.Line, []byte("keep")) {
					kept.Add()
				}
			}
			kept.Flush()
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			if returned != 2*n {
				t.Fatalf("%d entries, want %d", returned, 2*n)
			}

			var chunks, compressed int64
			for _, c := range blockChunks(t, s) {
				chunks++
				compressed += int64(c.TsLen + c.LinesLen)
				if c.HasTail() { // read as two parts, each with the timestamps
					compressed += int64(c.TsLen)
				}
			}
			headStreams := int64(0)
			if head.lines > 0 {
				headStreams = int64(len(streams))
			}
			check := []struct {
				name      string
				got, want int64
			}{
				{"HeadReached", st.HeadReached.Load(), 1},
				{"HeadChunks", st.HeadChunks.Load(), headStreams},
				{"HeadBatches", st.HeadBatches.Load(), headStreams},
				{"HeadLines", st.HeadLines.Load(), head.lines},
				{"HeadBytes", st.HeadBytes.Load(), head.bytes},
				{"HeadMetaBytes", st.HeadMetaBytes.Load(), head.meta},
				{"HeadSent", st.HeadSent.Load(), head.lines},
				{"HeadDuplicates", st.HeadDuplicates.Load(), 0},
				{"HeadPostFilter", st.HeadPostFilter.Load(), head.kept},
				{"ChunksRef", st.ChunksRef.Load(), chunks},
				{"ChunksTested", st.ChunksTested.Load(), 0},
				{"ChunksDownloaded", st.ChunksDownloaded.Load(), chunks},
				{"CompressedBytes", st.CompressedBytes.Load(), compressed},
				{"Lines", st.Lines.Load(), blocks.lines},
				{"Bytes", st.Bytes.Load(), blocks.bytes},
				{"MetaBytes", st.MetaBytes.Load(), blocks.meta},
				{"Duplicates", st.Duplicates.Load(), 0},
				{"PostFilter", st.PostFilter.Load(), blocks.kept},
				{"Streams", st.Streams.Load(), int64(len(streams))},
				{"Selects", st.Selects.Load(), 1},
				{"ProcessedLines", st.ProcessedLines(), 2 * n},
			}
			for _, c := range check {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
				}
			}
			if (chunks > 0) != (st.ReadTime.Load() > 0) {
				t.Errorf("ReadTime %d for %d chunks", st.ReadTime.Load(), chunks)
			}
			if chunks > 0 && st.IndexTime.Load() <= 0 {
				t.Errorf("IndexTime %d for %d chunks", st.IndexTime.Load(), chunks)
			}

			// Counting lines through Timestamps: every line is searched,
			// the kept ones are handed over.
			ts := &Stats{}
			var counted int64
			keep := func(l []byte) bool { return bytes.Contains(l, []byte("keep")) }
			err = s.Timestamps(context.Background(), SelectParams{Tenant: "t1", Start: t0, End: t0 + int64(time.Hour), Stats: ts},
				keep, func(_, _ labels.Labels, t []int64) { counted += int64(len(t)) })
			if err != nil {
				t.Fatal(err)
			}
			if counted != head.kept+blocks.kept || ts.HeadPostFilter.Load() != head.kept || ts.PostFilter.Load() != blocks.kept {
				t.Errorf("Timestamps kept %d: %d from the head, %d from blocks; want %d and %d",
					counted, ts.HeadPostFilter.Load(), ts.PostFilter.Load(), head.kept, blocks.kept)
			}
			if ts.ProcessedLines() != 2*n || ts.HeadSent.Load() != head.lines || ts.ChunksDownloaded.Load() != chunks {
				t.Errorf("Timestamps processed %d lines, sent %d from the head, read %d chunks; want %d, %d and %d",
					ts.ProcessedLines(), ts.HeadSent.Load(), ts.ChunksDownloaded.Load(), 2*n, head.lines, chunks)
			}
			if ts.HeadBytes.Load() != head.bytes || ts.HeadLines.Load() != head.lines {
				t.Errorf("Timestamps read %d head lines of %d bytes, want %d and %d", ts.HeadLines.Load(), ts.HeadBytes.Load(), head.lines, head.bytes)
			}
			// Without a filter, every line in range is kept.
			ts = &Stats{}
			counted = 0
			err = s.Timestamps(context.Background(), SelectParams{Tenant: "t1", Start: t0, End: t0 + int64(time.Hour), Stats: ts},
				nil, func(_, _ labels.Labels, t []int64) { counted += int64(len(t)) })
			if err != nil {
				t.Fatal(err)
			}
			if counted != 2*n || ts.HeadPostFilter.Load() != head.lines || ts.PostFilter.Load() != blocks.lines || ts.Lines.Load() != blocks.lines {
				t.Errorf("Timestamps without filter kept %d: %d from the head, %d from blocks, of %d block lines; want %d, %d and %d",
					counted, ts.HeadPostFilter.Load(), ts.PostFilter.Load(), ts.Lines.Load(), 2*n, head.lines, blocks.lines)
			}
		})
	}
}

// TestSelectStatsDuplicates pushes entries, flushes them, and pushes them
// again: each entry is in the head and in a block, and one of the two is
// dropped.
func TestSelectStatsDuplicates(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	t0 := time.Now().Add(-30 * time.Minute).UnixNano()
	es := statsEntries(100, t0, "a")
	s.Append("t1", []Stream{{ls("a"), slices.Clone(es)}})
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Append("t1", []Stream{{ls("a"), slices.Clone(es)}})
	for _, dir := range []Direction{Forward, Backward} {
		st := &Stats{}
		out := selectAll(t, s, SelectParams{Start: t0, End: t0 + int64(time.Hour), Direction: dir, Stats: st})
		if len(out) != len(es) {
			t.Fatalf("%v: %d entries, want %d", dir, len(out), len(es))
		}
		dups := st.HeadDuplicates.Load() + st.Duplicates.Load()
		if st.HeadLines.Load() != 100 || st.Lines.Load() != 100 || dups != 100 {
			t.Errorf("%v: %d head and %d block lines, %d duplicates; want 100, 100, 100", dir, st.HeadLines.Load(), st.Lines.Load(), dups)
		}
		if st.HeadSent.Load() != st.HeadLines.Load()-st.HeadDuplicates.Load() {
			t.Errorf("%v: %d head lines sent, want %d - %d", dir, st.HeadSent.Load(), st.HeadLines.Load(), st.HeadDuplicates.Load())
		}
	}
}

// TestSelectStatsStopEarly reads a cold block whose chunks keep their
// newest lines in a frame of their own: a chunk read in two parts counts
// once, and a read that stops at the first entry reads one chunk of those
// referenced.
func TestSelectStatsStopEarly(t *testing.T) {
	es := make([]block.Entry, 6000)
	for i := range es {
		es[i] = block.Entry{T: base + int64(i)*1000, Line: fmt.Appendf(nil, `{"msg":"request %d served","pad":"%040d"}`, i, i)}
	}
	s := coldStore(t, es)
	chunks := blockChunks(t, s)
	if len(chunks) < 2 || !chunks[0].HasTail() {
		t.Fatalf("want two chunks at least, with tails: %d", len(chunks))
	}
	for _, dir := range []Direction{Forward, Backward} {
		st := &Stats{}
		if out := selectAll(t, s, SelectParams{Direction: dir, Stats: st}); len(out) != len(es) {
			t.Fatalf("%v: %d entries", dir, len(out))
		}
		if st.ChunksRef.Load() != int64(len(chunks)) || st.ChunksDownloaded.Load() != int64(len(chunks)) {
			t.Errorf("%v whole: %d chunks referenced, %d read; want %d", dir, st.ChunksRef.Load(), st.ChunksDownloaded.Load(), len(chunks))
		}
		st = &Stats{}
		it, err := s.Select(context.Background(), SelectParams{Tenant: "t1", Start: base, End: base + int64(time.Hour), Direction: dir, Stats: st})
		if err != nil {
			t.Fatal(err)
		}
		if !it.Next() {
			t.Fatal("no entry")
		}
		it.Close()
		if st.ChunksRef.Load() != int64(len(chunks)) || st.ChunksDownloaded.Load() != 1 {
			t.Errorf("%v first entry: %d chunks referenced, %d read; want %d and 1", dir, st.ChunksRef.Load(), st.ChunksDownloaded.Load(), len(chunks))
		}
		if st.HeadSent.Load() != 0 || st.Lines.Load() >= int64(len(es)) {
			t.Errorf("%v first entry: %d head lines sent, %d block lines decoded", dir, st.HeadSent.Load(), st.Lines.Load())
		}
	}
}
