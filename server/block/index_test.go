package block

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

// indexStreams returns n streams of two short lines, labelled like
// pushbench's: few values of most labels, one pod per stream.
func indexStreams(n int) []testStream {
	out := make([]testStream, n)
	for i := range out {
		out[i] = testStream{
			ls: labels.FromMap(map[string]string{"cluster": "lab", "namespace": fmt.Sprintf("ns-%d", i%20),
				"pod": fmt.Sprintf("app-%d-%06d", i%50, i), "container": fmt.Sprintf("c%d", i%3), "node": fmt.Sprintf("node-%d", i%7), "job": "bench"}),
			es: []Entry{{T: int64(i), Line: []byte("a line")}, {T: int64(i) + 1, Line: []byte("another line")}},
		}
		if i%10 == 0 {
			out[i].ls = append(out[i].ls, labels.Label{Name: "rare", Value: fmt.Sprint(i % 30)})
			slices.SortFunc(out[i].ls, func(a, b labels.Label) int { return cmpStrings(a.Name, b.Name) })
		}
	}
	return out
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestSelectPages selects from a block whose stream table and postings
// take many pages, with every kind of matcher, and compares with testing
// every stream's labels; with the index cache on, off, and too small for
// the block.
func TestSelectPages(t *testing.T) {
	streams := indexStreams(5000)
	path := filepath.Join(t.TempDir(), "b.blk")
	writeBlock(t, path, streams, Options{NoFilters: true, Codec: CodecNone})
	m := labels.MustMatcher
	cases := [][]*labels.Matcher{
		{m(labels.MatchEqual, "pod", "app-7-000357")},
		{m(labels.MatchEqual, "pod", "app-7-999999")}, // after the last value
		{m(labels.MatchEqual, "pod", "a")},            // before the first
		{m(labels.MatchEqual, "job", "bench")},
		{m(labels.MatchEqual, "namespace", "ns-3"), m(labels.MatchEqual, "container", "c1")},
		{m(labels.MatchRegexp, "pod", "app-1-0001.*")},
		{m(labels.MatchRegexp, "pod", "app-1-000001|app-2-000002|app-2-004952|nowhere")},
		{m(labels.MatchNotEqual, "namespace", "ns-3"), m(labels.MatchRegexp, "node", "node-[12]")},
		{m(labels.MatchNotRegexp, "namespace", "ns-1.*")},
		{m(labels.MatchEqual, "rare", "")},
		{m(labels.MatchEqual, "rare", "7")},
		{m(labels.MatchNotEqual, "rare", "")},
		{m(labels.MatchEqual, "missing", "x")},
		{m(labels.MatchNotEqual, "missing", "x"), m(labels.MatchEqual, "node", "node-6")},
		{},
	}
	for _, budget := range []int64{DefaultIndexCacheBytes, 0, 40 << 10} {
		t.Run(fmt.Sprint("cache ", budget), func(t *testing.T) {
			defer IndexCacheBytes.Store(IndexCacheBytes.Load())
			IndexCacheBytes.Store(budget)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if len(r.dir.spages) < 10 || len(r.dir.names[slices.IndexFunc(r.dir.names, func(n nameIndex) bool { return n.name == "pod" })].pages) < 10 {
				t.Fatalf("%d stream pages: the test proves less than it says", len(r.dir.spages))
			}
			all := allStreams(t, r)
			for _, ms := range cases {
				var want []string
				for _, sm := range all {
					if sm.Labels.Matches(ms) {
						want = append(want, sm.Labels.String())
					}
				}
				var got []string
				for _, sm := range selectStreams(t, r, ms...) {
					if len(sm.Chunks) != 1 || sm.Chunks[0].Count != 2 {
						t.Fatalf("%s: %d chunks", sm.Labels, len(sm.Chunks))
					}
					got = append(got, sm.Labels.String())
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: %d streams, want %d", labels.MatchersString(ms), len(got), len(want))
				}
				if used, _ := IndexCacheUsed(); used > budget {
					t.Fatalf("index cache holds %d bytes, budget %d", used, budget)
				}
			}
			r.Close()
			if used, n := IndexCacheUsed(); used != 0 || n != 0 {
				t.Fatalf("closed reader left %d pages, %d bytes in the cache", n, used)
			}
		})
	}
}

// The writer refuses streams out of label order: the postings and a
// reader's walk rely on it.
func TestWriterOrder(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "b.blk"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	es := []Entry{{T: 1, Line: []byte("x")}}
	if err := w.AddStream(labels.FromMap(map[string]string{"a": "2"}), es); err != nil {
		t.Fatal(err)
	}
	if err := w.AddStream(labels.FromMap(map[string]string{"a": "1"}), es); err == nil {
		t.Fatal("a stream out of order was accepted")
	}
	sw := w.StartStream(labels.FromMap(map[string]string{"a": "0"}))
	sw.Add(es[0])
	if err := sw.End(); err == nil {
		t.Fatal("a stream out of order was accepted")
	}
}

func FuzzIndexDirectory(f *testing.F) {
	path := filepath.Join(f.TempDir(), "b.blk")
	writeBlock(f, path, indexStreams(500), Options{NoFilters: true, Codec: CodecNone})
	r, err := Open(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(appendDirectory(nil, &r.dir), uint64(r.size))
	r.Close()
	f.Fuzz(func(t *testing.T, b []byte, limit uint64) {
		d, err := decodeDirectory(b, limit)
		if err != nil {
			return
		}
		// What decodes encodes to something that decodes the same.
		again, err := decodeDirectory(appendDirectory(nil, &d), limit)
		if err != nil || again.streams != d.streams || len(again.spages) != len(d.spages) || len(again.names) != len(d.names) {
			t.Fatalf("re-encoded directory: %v", err)
		}
	})
}

// FuzzIndexPage parses arbitrary bytes as a page of the stream table or the
// postings and decodes every item as a reader would.
func FuzzIndexPage(f *testing.F) {
	iw := newIndexWriter()
	sorted := indexStreams(40)
	slices.SortFunc(sorted, func(a, b testStream) int { return labels.Compare(a.ls, b.ls) })
	for _, s := range sorted {
		iw.add(s.ls, []ChunkMeta{{MinT: 1, MaxT: 5, Count: 2, LinesOff: 16, LinesLen: 10, TsLen: 3},
			{MinT: 6, MaxT: 9, Count: 30, LinesOff: 26, LinesLen: 100, Flags: chunkTail | chunkCols | chunkTmpl, TailCount: 3, TailLen: 10, TailMinT: 8, HeadMaxT: 7}})
	}
	f.Add(slices.Clone(iw.page), 40, true)
	iw.page = appendString(iw.page[:0], "value")
	iw.page = append(iw.page, 3, 1, 2, 30)
	f.Add(slices.Clone(iw.page), 1, false)
	r := &Reader{path: "fuzz", version: Version, size: 1 << 20, dir: directory{streams: 40}, tsBase: 1 << 10, filterBase: 1 << 19}
	f.Fuzz(func(t *testing.T, b []byte, n int, streams bool) {
		if n < 0 || n > 1000 {
			return
		}
		section := sectionNames
		if streams {
			section = sectionStreams
		}
		pg, err := r.parsePage(slices.Clone(b), section, n)
		if err != nil {
			return
		}
		// What a page that parses names is in bounds.
		if streams {
			if len(pg.ls) != n || len(pg.cs) != n {
				t.Fatalf("%d streams parsed, want %d", len(pg.ls), n)
			}
			for _, cs := range pg.cs {
				for _, c := range cs {
					if c.LinesOff+uint64(c.LinesLen) > uint64(r.size) || c.TsOff+uint64(c.TsLen) > uint64(r.size) ||
						c.FilterOff+uint64(c.FilterLen) > uint64(r.size) {
						t.Fatalf("chunk out of bounds: %+v", c)
					}
				}
			}
			return
		}
		for i := range pg.offs {
			d := dec{s: pg.item(i)}
			d.str()
			for _, ref := range d.refs(nil) {
				if int(ref) >= r.dir.streams {
					t.Fatalf("posting names stream %d of %d", ref, r.dir.streams)
				}
			}
		}
	})
}

// BenchmarkIndex opens a block of 100,000 streams (what a reader keeps in
// memory: heap-B/open-block) and selects from it: one stream by pod, all of
// them (from the cache, and read again), a regexp over the pods, two common
// values.
func BenchmarkIndex(b *testing.B) {
	path := filepath.Join(b.TempDir(), "idx.blk")
	writeBlock(b, path, indexStreams(100_000), Options{NoFilters: true, Codec: CodecNone})
	if st, err := os.Stat(path); err == nil {
		b.Logf("block of %d bytes", st.Size())
	}
	b.Run("open", func(b *testing.B) {
		before := heapInUse()
		var keep []*Reader
		for b.Loop() {
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if len(keep) < 10 {
				keep = append(keep, r)
			} else {
				r.Close()
			}
		}
		b.ReportMetric(float64(heapInUse()-before)/float64(len(keep)), "heap-B/open-block")
		for _, r := range keep {
			r.Close()
		}
	})
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	m := labels.MustMatcher
	for _, c := range []struct {
		name string
		ms   []*labels.Matcher
	}{
		{"one", []*labels.Matcher{m(labels.MatchEqual, "pod", "app-7-012357")}},
		{"all", []*labels.Matcher{m(labels.MatchEqual, "job", "bench")}},
		{"regex", []*labels.Matcher{m(labels.MatchRegexp, "pod", "app-7-0123.*")}},
		{"ns", []*labels.Matcher{m(labels.MatchEqual, "namespace", "ns-3"), m(labels.MatchEqual, "container", "c1")}},
	} {
		b.Run("select-"+c.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				if err := r.Select(c.ms, func(sm *StreamMeta) error { n += len(sm.Chunks); return nil }); err != nil || n == 0 {
					b.Fatal(err, n)
				}
			}
		})
	}
	// Every stream, with a cache too small for the block: each page read
	// and decoded again.
	b.Run("select-all-uncached", func(b *testing.B) {
		defer IndexCacheBytes.Store(IndexCacheBytes.Load())
		IndexCacheBytes.Store(1 << 20)
		r, err := Open(path) // none of its pages cached
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		ms := []*labels.Matcher{m(labels.MatchEqual, "job", "bench")}
		for b.Loop() {
			n := 0
			if err := r.Select(ms, func(sm *StreamMeta) error { n += len(sm.Chunks); return nil }); err != nil || n == 0 {
				b.Fatal(err, n)
			}
		}
	})
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
