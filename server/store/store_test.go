package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// crash stops s as a killed process would: its WAL closed, its loops
// stopped, nothing flushed.
func crash(s *Store) {
	s.wal.Close()
	close(s.stop)
	s.stopCancel()
	<-s.loopDone
}

var base = time.Now().Add(-time.Hour).UnixNano()

func ls(app string) labels.Labels {
	return labels.FromMap(map[string]string{"app": app, "env": "test"})
}

func entries(n int, step int64, prefix string) []block.Entry {
	es := make([]block.Entry, n)
	for i := range es {
		es[i] = block.Entry{T: base + int64(i)*step, Line: fmt.Appendf(nil, "%s line %d", prefix, i)}
	}
	return es
}

type got struct {
	stream string
	t      int64
	line   string
}

func selectAll(t *testing.T, s *Store, p SelectParams) []got {
	t.Helper()
	if p.Tenant == "" {
		p.Tenant = "t1"
	}
	if p.End == 0 {
		p.Start, p.End = base-1, base+int64(time.Hour)
	}
	it, err := s.Select(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []got
	for it.Next() {
		l, e := it.At()
		out = append(out, got{l.Get("app"), e.T, string(e.Line)})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendSelectFlushReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.Append("t1", []Stream{{ls("a"), entries(100, 1000, "a")}, {ls("b"), entries(50, 1500, "b")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("t2", []Stream{{ls("a"), entries(10, 1000, "other tenant")}}); err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		fw := selectAll(t, s, SelectParams{})
		if len(fw) != 150 {
			t.Fatalf("%s: %d entries, want 150", stage, len(fw))
		}
		if !slices.IsSortedFunc(fw, func(a, b got) int { return cmpInt(a.t, b.t) }) {
			t.Fatalf("%s: forward not sorted", stage)
		}
		bw := selectAll(t, s, SelectParams{Direction: Backward})
		slices.Reverse(bw)
		for i := range bw {
			if bw[i].t != fw[i].t {
				t.Fatalf("%s: backward differs from reversed forward at %d", stage, i)
			}
		}
		one := selectAll(t, s, SelectParams{Matchers: []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "b")},
			Start: base + 1500*10, End: base + 1500*20})
		if len(one) != 10 || one[0].line != "b line 10" {
			t.Fatalf("%s: range select got %v", stage, one)
		}
		if got := selectAll(t, s, SelectParams{Tenant: "t2"}); len(got) != 10 {
			t.Fatalf("%s: tenant t2 sees %d entries", stage, len(got))
		}
		names, _ := s.LabelNames(context.Background(), "t1", nil, base, base+int64(time.Hour))
		if !slices.Equal(names, []string{"app", "env"}) {
			t.Fatalf("%s: names %v", stage, names)
		}
		vals, _ := s.LabelValues(context.Background(), "t1", "app", nil, base, base+int64(time.Hour))
		if !slices.Equal(vals, []string{"a", "b"}) {
			t.Fatalf("%s: values %v", stage, vals)
		}
	}
	check("head")
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("blocks")
	// Reopen: blocks come back, the WAL behind them is gone.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	if n := s.head.entries.Load(); n != 0 {
		t.Fatalf("replayed %d entries that were already flushed", n)
	}
	check("reopened")
}

func TestReplayWithoutFlush(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	s.Append("t1", []Stream{{ls("a"), entries(20, 1000, "a")}})
	// Simulate a crash: do not Close (which would flush).
	crash(s)
	s2 := openTest(t, dir)
	defer s2.Close()
	if got := selectAll(t, s2, SelectParams{}); len(got) != 20 {
		t.Fatalf("after replay: %d entries, want 20", len(got))
	}
}

func TestDuplicatesAndOutOfOrder(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	es := entries(10, 1000, "x")
	s.Append("t1", []Stream{{ls("a"), slices.Clone(es)}})
	// The same entries again (a client retry), then out of order ones.
	s.Append("t1", []Stream{{ls("a"), slices.Clone(es)}})
	late := []block.Entry{{T: base + 500, Line: []byte("late")}, {T: base + 2000, Line: []byte("x line 2")}, {T: base + 2000, Line: []byte("same time, other line")}}
	s.Append("t1", []Stream{{ls("a"), late}})
	out := selectAll(t, s, SelectParams{})
	if len(out) != 12 {
		t.Fatalf("got %d entries, want 12: %v", len(out), out)
	}
	if out[1].line != "late" {
		t.Fatalf("out-of-order entry not in place: %v", out[:3])
	}
	// Duplicates across head and block collapse too.
	s.Flush(context.Background())
	s.Append("t1", []Stream{{ls("a"), slices.Clone(es)}})
	if out := selectAll(t, s, SelectParams{}); len(out) != 12 {
		t.Fatalf("after flush and re-push: %d entries, want 12", len(out))
	}
}

func TestOutOfOrderWindow(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	s.Append("t1", []Stream{{ls("a"), []block.Entry{{T: base + int64(2*time.Hour), Line: []byte("new")}}}})
	rej, err := s.Append("t1", []Stream{{ls("a"), []block.Entry{{T: base, Line: []byte("too old")}, {T: base + int64(90*time.Minute), Line: []byte("ok")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 1 || rej[0].T != base {
		t.Fatalf("rejected %v", rej)
	}
}

func TestOutOfOrderWindowAfterReplay(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	s.Append("t1", []Stream{{ls("a"), []block.Entry{{T: base + int64(2*time.Hour), Line: []byte("new")}}}})
	crash(s)
	s = openTest(t, dir)
	defer s.Close()
	rej, _ := s.Append("t1", []Stream{{ls("a"), []block.Entry{{T: base, Line: []byte("too old")}}}})
	if len(rej) != 1 {
		t.Fatalf("after replay, an entry 2h behind was not refused: %v", rej)
	}
}

func TestNeedlesSkipChunks(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	r := rand.New(rand.NewPCG(3, 4))
	var tokens []string
	for i := 0; i < 20; i++ {
		tokens = append(tokens, fmt.Sprintf("%016x", r.Uint64()))
		s.Append("t1", []Stream{{ls(fmt.Sprintf("app%d", i)), entries(200, 1000, "token "+tokens[i])}})
	}
	s.Flush(context.Background())
	// Level 0 has no filters: its chunks are skipped by their text.
	st0 := &Stats{}
	if out := selectAll(t, s, SelectParams{Needles: [][]string{{tokens[7]}}, Stats: st0}); len(out) != 200 {
		t.Fatalf("level 0: %d entries, want 200", len(out))
	}
	if st0.ChunksRef.Load() != 20 || st0.ChunksTested.Load() != 0 || st0.ChunksDownloaded.Load() != 20 || st0.ChunksNoMatch.Load() != 19 {
		t.Fatalf("level 0: %d chunks referenced, %d read, %d without a match; want 20, 20 and 19",
			st0.ChunksRef.Load(), st0.ChunksDownloaded.Load(), st0.ChunksNoMatch.Load())
	}
	s.setOpts(func(o *Options) { o.CompactionColdAfter = time.Nanosecond }) // merge it, filters come
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := &Stats{}
	out := selectAll(t, s, SelectParams{Needles: [][]string{{tokens[7]}}, Stats: st})
	if len(out) != 200 {
		t.Fatalf("needle select returned %d entries, want all 200 of the stream (filtering lines is the caller's job)", len(out))
	}
	if st.ChunksRef.Load() != 20 || st.ChunksTested.Load() != 20 || st.ChunksFiltered.Load() != 19 || st.ChunksDownloaded.Load() != 1 {
		t.Fatalf("%d chunks referenced, %d tested, %d filtered out, %d read; want 20, 20, 19 and 1",
			st.ChunksRef.Load(), st.ChunksTested.Load(), st.ChunksFiltered.Load(), st.ChunksDownloaded.Load())
	}
	if st.Streams.Load() != 20 {
		t.Fatalf("%d streams matched, want 20 (filtered chunks still match their stream)", st.Streams.Load())
	}
}

func TestConcurrentAppendFlushSelect(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	var wg sync.WaitGroup
	const writers, batches, per = 4, 50, 20
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				es := make([]block.Entry, per)
				for i := range es {
					es[i] = block.Entry{T: base + int64(b*per+i), Line: fmt.Appendf(nil, "w%d b%d i%d", w, b, i)}
				}
				if _, err := s.Append("t1", []Stream{{ls(fmt.Sprintf("w%d", w)), es}}); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	done := make(chan struct{})
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		for {
			select {
			case <-done:
				return
			default:
			}
			s.Flush(context.Background())
			selectAll(t, s, SelectParams{})
		}
	}()
	wg.Wait()
	close(done)
	<-reader
	if out := selectAll(t, s, SelectParams{}); len(out) != writers*batches*per {
		t.Fatalf("%d entries, want %d", len(out), writers*batches*per)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	s.setOpts(func(o *Options) { o.CompactionFanIn = 3 })
	var want int
	for i := 0; i < 7; i++ {
		es := entries(100, 1000, fmt.Sprintf("round %d", i))
		for j := range es {
			es[j].T += int64(i) * 100_000
		}
		if _, err := s.Append("t1", []Stream{{ls("a"), es}, {ls(fmt.Sprintf("only%d", i)), entries(10, 1000, "x")}}); err != nil {
			t.Fatal(err)
		}
		want += 110
		if i == 3 {
			// A retried push: its duplicates must vanish in the merge.
			s.Append("t1", []Stream{{ls("a"), es[:50]}})
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	p := s.parts["t1"][dayOf(base)]
	levels := map[int]int{}
	for _, b := range p.blocks {
		levels[b.level]++
	}
	// 7 flushes with fan-in 3: two merges into level 1, one level-0 block left.
	if levels[0] != 1 || levels[1] != 2 {
		t.Fatalf("levels after compaction: %v", levels)
	}
	if got := selectAll(t, s, SelectParams{}); len(got) != want {
		t.Fatalf("%d entries after compaction, want %d", len(got), want)
	}
	// A cold partition is merged whole.
	s.setOpts(func(o *Options) { o.CompactionColdAfter = time.Nanosecond })
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.parts["t1"][dayOf(base)].blocks); n != 1 {
		t.Fatalf("cold partition has %d blocks, want 1", n)
	}
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	if got := selectAll(t, s, SelectParams{}); len(got) != want {
		t.Fatalf("%d entries after reopen, want %d", len(got), want)
	}
}

// setOpts changes options of an open store, under the lock compaction reads
// them with.
func (s *Store) setOpts(f func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.opts)
}

// streamsOf returns every stream of a block.
func streamsOf(t *testing.T, r *block.Reader) []block.StreamMeta {
	t.Helper()
	var out []block.StreamMeta
	it := r.Iter()
	for it.Next() {
		out = append(out, *it.At())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTailFrameSources reads a cold block whose chunks keep their newest
// lines in a frame of their own: every range, in both directions, returns
// what the entries say, whether it starts or ends in the head, the tail or
// on their boundary.
func TestTailFrameSources(t *testing.T) {
	es := make([]block.Entry, 6000) // ~400 KB: two chunks with tails
	for i := range es {
		es[i] = block.Entry{T: base + int64(i/2)*1000, Line: fmt.Appendf(nil, `{"msg":"request %d served","status":%d,"pad":"%040d"}`, i, 200+i%3, i)}
	}
	s := coldStore(t, es)
	var tails []*block.ChunkMeta
	for _, b := range s.parts["t1"][dayOf(base)].blocks {
		for _, sm := range streamsOf(t, b.r) {
			for i := range sm.Chunks {
				if sm.Chunks[i].HasTail() {
					tails = append(tails, &sm.Chunks[i])
				}
			}
		}
	}
	if len(tails) == 0 {
		t.Fatal("no chunk got a tail frame")
	}
	c := tails[0]
	bounds := []int64{base - 1, base + 5, c.HeadMaxT - 1, c.HeadMaxT, c.TailMinT, c.TailMinT + 1, c.MaxT, c.MaxT + 1, es[len(es)-1].T + 1}
	for _, start := range bounds {
		for _, end := range bounds {
			if end <= start {
				continue
			}
			var want []got
			for _, e := range es {
				if e.T >= start && e.T < end {
					want = append(want, got{"a", e.T, string(e.Line)})
				}
			}
			for _, dir := range []Direction{Forward, Backward} {
				w := want
				if dir == Backward {
					w = slices.Clone(want)
					slices.Reverse(w)
				}
				g := selectAll(t, s, SelectParams{Start: start, End: end, Direction: dir, Matchers: []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "a")}})
				if !sameOrder(g, w) {
					t.Fatalf("[%d, %d) %v: %d entries, want %d", start-base, end-base, dir, len(g), len(w))
				}
			}
		}
	}
}

// sameOrder compares in order, except that entries of one timestamp may
// come in any order (a backward read gives them as the store keeps them).
func sameOrder(a, b []got) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(g got) string { return fmt.Sprint(g.t, g.line) }
	for i := 0; i < len(a); {
		j := i
		for j < len(a) && a[j].t == a[i].t {
			j++
		}
		x, y := make([]string, 0, j-i), make([]string, 0, j-i)
		for k := i; k < j; k++ {
			x, y = append(x, key(a[k])), append(y, key(b[k]))
		}
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			return false
		}
		i = j
	}
	return true
}

// TestTimestampsExactNeedles counts matches in templated blocks without
// rebuilding lines and compares with filtering every line.
func TestTimestampsExactNeedles(t *testing.T) {
	es := make([]block.Entry, 6000)
	for i := range es {
		es[i] = block.Entry{T: base + int64(i)*1000, Line: fmt.Appendf(nil, `{"msg":"request %d %s","path":"/v1/%s/%d"}`, i, []string{"served", "timeout"}[i%2], []string{"users", "timeout"}[i%3%2], i)}
	}
	s := coldStore(t, es)
	for _, needle := range []string{"timeout", "served", "users/1", "nowhere"} {
		keep := func(l []byte) bool { return strings.Contains(string(l), needle) }
		want := 0
		for _, e := range es {
			if keep(e.Line) {
				want++
			}
		}
		for _, exact := range []bool{false, true} {
			got := 0
			p := SelectParams{Tenant: "t1", Start: base, End: base + int64(time.Hour), Needles: [][]string{{needle}}, NeedlesExact: exact,
				Matchers: []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "a")}}
			if err := s.Timestamps(context.Background(), p, keep, func(_, _ labels.Labels, ts []int64) { got += len(ts) }); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%q exact=%v: %d matches, want %d", needle, exact, got, want)
			}
		}
	}
}

// coldStore returns a store holding es as stream {app="a"} of tenant t1 in
// one cold-compacted block (zstd, templated, chunks of 200 KiB).
func coldStore(t *testing.T, es []block.Entry) *Store {
	t.Helper()
	s := openTest(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	s.setOpts(func(o *Options) {
		o.Block.ChunkTargetSize = 200 << 10
		o.CompactionColdAfter = time.Nanosecond
	})
	if _, err := s.Append("t1", []Stream{{ls("a"), es}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUnorderedStreamOrder: an unordered Select and Timestamps hand the
// streams over in labels.Compare order, whether they are in the head or in
// blocks, as package fanout relies on to merge replicas stream by stream.
func TestUnorderedStreamOrder(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	var streams []Stream
	for i := range 40 {
		streams = append(streams, Stream{ls(fmt.Sprintf("s%d", (i*7)%40)), entries(5, 1000, "x")})
	}
	if _, err := s.Append("t1", streams[:20]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("t1", streams[20:]); err != nil {
		t.Fatal(err)
	}
	sorted := func(what string, names []string) {
		t.Helper()
		if len(names) != 40 {
			t.Fatalf("%s: %d streams, want 40", what, len(names))
		}
		if !slices.IsSortedFunc(names, func(a, b string) int { return labels.Compare(ls(a), ls(b)) }) {
			t.Errorf("%s: streams not in label order: %v", what, names)
		}
	}
	for _, dir := range []Direction{Forward, Backward} {
		var names []string
		for _, g := range selectAll(t, s, SelectParams{Unordered: true, Direction: dir}) {
			if len(names) == 0 || names[len(names)-1] != g.stream {
				names = append(names, g.stream)
			}
		}
		sorted(fmt.Sprintf("select %d", dir), names)
	}
	var names []string
	err := s.Timestamps(context.Background(), SelectParams{Tenant: "t1", Start: base - 1, End: base + int64(time.Hour)}, nil,
		func(l, _ labels.Labels, _ []int64) {
			if len(names) == 0 || names[len(names)-1] != l.Get("app") {
				names = append(names, l.Get("app"))
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	sorted("timestamps", names)
}

// TestNoLinesSameTime: a timestamps-only read keeps the entries of a
// stream that share a timestamp (different lines), as Timestamps counts
// them, rather than taking them for copies of each other.
func TestNoLinesSameTime(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	es := entries(30, 1000, "x")
	for i := range es {
		es[i].T = base + int64(i/3)*1000 // three lines a time
	}
	if _, err := s.Append("t1", []Stream{{ls("a"), es[:15]}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("t1", []Stream{{ls("a"), es[15:]}}); err != nil {
		t.Fatal(err)
	}
	counted := 0
	if err := s.Timestamps(context.Background(), SelectParams{Tenant: "t1", Start: base - 1, End: base + int64(time.Hour)}, nil,
		func(_, _ labels.Labels, ts []int64) { counted += len(ts) }); err != nil {
		t.Fatal(err)
	}
	for _, unordered := range []bool{false, true} {
		for _, dir := range []Direction{Forward, Backward} {
			got := selectAll(t, s, SelectParams{NoLines: true, Unordered: unordered, Direction: dir})
			if len(got) != 30 || counted != 30 {
				t.Errorf("unordered=%v dir=%d: %d entries, Timestamps %d, want 30", unordered, dir, len(got), counted)
			}
		}
	}
}
