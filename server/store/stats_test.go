package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

// scanFigures computes the figures Stats should give by reading every entry
// back with Select: entries and bytes per stream and bucket.
func scanFigures(t *testing.T, s *Store, ms []*labels.Matcher, bounds []int64) map[string][]Figures {
	t.Helper()
	it, err := s.Select(context.Background(), SelectParams{Tenant: "t1", Matchers: ms,
		Start: bounds[0], End: bounds[len(bounds)-1]})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[string][]Figures{}
	for it.Next() {
		l, e := it.At()
		f := out[l.String()]
		if f == nil {
			f = make([]Figures, len(bounds)-1)
			out[l.String()] = f
		}
		for b := 0; b+1 < len(bounds); b++ {
			if e.T >= bounds[b] && e.T < bounds[b+1] {
				f[b].Entries++
				f[b].Bytes += int64(len(e.Line))
			}
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func statsOf(t *testing.T, s *Store, ms []*labels.Matcher, bounds []int64) map[string][]Figures {
	t.Helper()
	out := map[string][]Figures{}
	err := s.Stats(context.Background(), StatsParams{Tenant: "t1", Matchers: ms, Bounds: bounds}, func(ls labels.Labels, figs []Figures) {
		f := out[ls.String()]
		if f == nil {
			f = make([]Figures, len(figs))
			out[ls.String()] = f
		}
		for i := range figs {
			f[i].Entries += figs[i].Entries
			f[i].Bytes += figs[i].Bytes
			f[i].Chunks += figs[i].Chunks
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fixedLines are entries whose lines all have the same length, so that a
// chunk's bytes shared out by entries are exact too.
func fixedLines(n int, step int64, prefix string) []block.Entry {
	es := make([]block.Entry, n)
	for i := range es {
		es[i] = block.Entry{T: base + int64(i)*step, Line: fmt.Appendf(nil, "%s line %06d", prefix, i)}
	}
	return es
}

// TestStatsMatchesScan checks Stats against a scan of the same data, in the
// head, in level-0 blocks cut into many chunks, and in both at once: entries
// are exact everywhere; bytes are exact here since every line of a stream
// has the same length.
func TestStatsMatchesScan(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	s.setOpts(func(o *Options) { o.Block.ChunkTargetSize = 400 })
	const step = int64(time.Millisecond)
	if _, err := s.Append("t1", []Stream{{ls("a"), fixedLines(300, step, "a")}, {ls("b"), fixedLines(120, 3*step, "bb")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("t2", []Stream{{ls("a"), fixedLines(50, step, "other tenant")}}); err != nil {
		t.Fatal(err)
	}
	all := []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "env", "test")}
	onlyA := []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "a")}
	boundSets := map[string][]int64{
		"one bucket, all":        {base - 1, base + int64(time.Hour)},
		"one bucket, cut inside": {base + 17*step + 1, base + 211*step},
		"buckets of 7ms":         {base + 3*step, base + 10*step, base + 17*step, base + 24*step, base + 200*step, base + 361*step},
		"before the data":        {base - int64(time.Hour), base - 1},
	}
	check := func(stage string) {
		t.Helper()
		for name, bounds := range boundSets {
			for _, ms := range [][]*labels.Matcher{all, onlyA} {
				want := scanFigures(t, s, ms, bounds)
				got := statsOf(t, s, ms, bounds)
				if len(got) != len(want) {
					t.Fatalf("%s, %s, %s: %d streams, want %d", stage, name, labels.MatchersString(ms), len(got), len(want))
				}
				for k, wf := range want {
					gf := got[k]
					for b := range wf {
						if gf[b].Entries != wf[b].Entries || gf[b].Bytes != wf[b].Bytes {
							t.Fatalf("%s, %s, stream %s, bucket %d: %d entries and %d bytes, want %d and %d",
								stage, name, k, b, gf[b].Entries, gf[b].Bytes, wf[b].Entries, wf[b].Bytes)
						}
						if (gf[b].Entries > 0) != (gf[b].Chunks > 0) {
							t.Fatalf("%s, %s, stream %s, bucket %d: %d chunks for %d entries", stage, name, k, b, gf[b].Chunks, gf[b].Entries)
						}
					}
				}
			}
		}
	}
	check("head")
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("blocks")
	got := statsOf(t, s, onlyA, boundSets["one bucket, all"])
	if c := got[ls("a").String()][0].Chunks; c < 10 {
		t.Fatalf("stream a is in %d chunks; the test wants many", c)
	}
	// Newer entries in the head, older ones in blocks.
	more := fixedLines(100, step, "a")
	for i := range more {
		more[i].T += 300 * step
	}
	if _, err := s.Append("t1", []Stream{{ls("a"), more}}); err != nil {
		t.Fatal(err)
	}
	check("blocks and head")
	got = statsOf(t, s, onlyA, []int64{base, base + 300*step, base + 400*step})
	if f := got[ls("a").String()][1]; f.Entries != 100 || f.Chunks != 1 {
		t.Fatalf("head bucket: %+v, want 100 entries in one (head) chunk", f)
	}
}

// TestStatsBytesOfCutChunk: a chunk cut by a bound shares its bytes out by
// entries, and the shares add up to the chunk's bytes.
func TestStatsBytesOfCutChunk(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	es := []block.Entry{
		{T: base, Line: []byte("x")},
		{T: base + 1, Line: []byte("xxxxxxxxxxxxxxxxxxx")}, // 19
		{T: base + 2, Line: []byte("xxxx")},
		{T: base + 3, Line: []byte("xxxxxxxxxxxxxxxx")}, // 16
	}
	if _, err := s.Append("t1", []Stream{{ls("a"), es}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := statsOf(t, s, nil, []int64{base, base + 1, base + 4})
	f := got[ls("a").String()]
	if f[0].Entries != 1 || f[1].Entries != 3 {
		t.Fatalf("entries %d and %d, want 1 and 3", f[0].Entries, f[1].Entries)
	}
	// 40 bytes in 4 entries: 10 and 30 at the average line length (the
	// exact figures are 1 and 39).
	if f[0].Bytes != 10 || f[1].Bytes != 30 {
		t.Fatalf("bytes %d and %d, want 10 and 30", f[0].Bytes, f[1].Bytes)
	}
	if f[0].Chunks != 1 || f[1].Chunks != 1 {
		t.Fatalf("chunks %d and %d, want the cut chunk counted in both buckets", f[0].Chunks, f[1].Chunks)
	}
	if err := s.Stats(context.Background(), StatsParams{Tenant: "t1", Bounds: []int64{2, 1}}, nil); err == nil {
		t.Fatal("descending bounds accepted")
	}
}

// BenchmarkStats compares what /index/stats costs with the scan it
// replaces: figures of 1,000 streams of flushed blocks over a range whose
// bounds cut chunks, against reading every entry back with Select.
func BenchmarkStats(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now().Add(-time.Hour).UnixNano()
	for i := 0; i < 100; i++ {
		if _, err := s.Append("t1", benchPush(r, i*100, t0+int64(i)*100_000)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	ms := []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "job", "bench")}
	lo, hi := t0+2_000_000, t0+9_000_000
	b.Run("stats", func(b *testing.B) {
		for b.Loop() {
			var entries int64
			err := s.Stats(context.Background(), StatsParams{Tenant: "t1", Matchers: ms, Bounds: []int64{lo, hi}},
				func(_ labels.Labels, figs []Figures) { entries += figs[0].Entries })
			if err != nil || entries == 0 {
				b.Fatal(err, entries)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			it, err := s.Select(context.Background(), SelectParams{Tenant: "t1", Matchers: ms, Start: lo, End: hi})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for it.Next() {
				n++
			}
			it.Close()
			if n == 0 {
				b.Fatal("no entries")
			}
		}
	})
}
