package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// blockFiles returns the names of the files under the store's blocks
// directory.
func blockFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.blocksDir(), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// flushedStore returns a store holding n level-0 blocks of one partition,
// each with the same two streams of 100 entries (distinct times), and the
// number of entries.
func flushedStore(t *testing.T, n int) (*Store, int) {
	t.Helper()
	s := openTest(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	s.setOpts(func(o *Options) { o.CompactionFanIn = 1000 }) // only Compact with cold partitions merges
	for i := range n {
		es := entries(100, 1000, fmt.Sprint("block ", i))
		for j := range es {
			es[j].T += int64(i) * 100_000
		}
		if _, err := s.Append("t1", []Stream{{ls("a"), es}, {ls("b"), es}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return s, 200 * n
}

// A query iterating while compaction replaces its blocks finishes with the
// old data; the old files stay (renamed aside) until it closes, and are
// deleted then; a query started after the swap reads the merged block.
func TestCompactionWhileReading(t *testing.T) {
	s, want := flushedStore(t, 4)
	it, err := s.Select(context.Background(), SelectParams{Tenant: "t1", Start: base - 1, End: base + int64(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 10 && it.Next() {
		n++
	}
	s.setOpts(func(o *Options) { o.CompactionColdAfter = time.Nanosecond })
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := blockFiles(t, s)
	var removed, live int
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, ".blk"+removedSuffix):
			removed++
		case strings.HasSuffix(f, ".blk"):
			live++
		}
	}
	if removed != 4 || live != 1 || gauge(t, s.m.blocksRemovedPending) != 4 {
		t.Fatalf("during the read: files %v, pending %v", files, gauge(t, s.m.blocksRemovedPending))
	}
	if got := selectAll(t, s, SelectParams{}); len(got) != want {
		t.Fatalf("a query after the swap read %d entries, want %d", len(got), want)
	}
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("the query read %d entries across the swap, want %d", n, want)
	}
	it.Close()
	if files := blockFiles(t, s); len(files) != 1 || gauge(t, s.m.blocksRemovedPending) != 0 {
		t.Fatalf("after the read: files %v, pending %v", files, gauge(t, s.m.blocksRemovedPending))
	}
	it.Close() // a second Close releases nothing more
}

// copyBlock copies the file of h to a new level-0 name beside it and returns
// its handle: a replacement that holds the same data.
func copyBlock(t *testing.T, s *Store, h *blockHandle) *blockHandle {
	b, err := os.ReadFile(h.filePath())
	if err != nil {
		t.Error(err)
		return nil
	}
	path := filepath.Join(filepath.Dir(h.filePath()), blockName(0))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Error(err)
		return nil
	}
	meta, err := block.ReadMeta(path)
	if err != nil {
		t.Error(err)
		return nil
	}
	return s.newHandle(path, meta)
}

// Blocks replaced over and over by copies of themselves, while queries of
// every kind run: each query sees every entry exactly once (never both a
// block and its replacement, never neither), none fails, and once all is
// done only the live blocks' files remain. Run with -race.
func TestRemoveBlocksUnderQueries(t *testing.T) {
	s, want := flushedStore(t, 3)
	s.readers.max = 1 // idle readers are closed and opened again all the time
	day := dayOf(base)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var queries atomic.Int64
	run := func(query func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := query(); err != nil {
					t.Errorf("%v", err)
					return
				}
				queries.Add(1)
			}
		}()
	}
	p := SelectParams{Tenant: "t1", Start: base - 1, End: base + int64(time.Hour)}
	run(func() error {
		it, err := s.Select(ctx, p)
		if err != nil {
			return err
		}
		defer it.Close()
		n := 0
		for it.Next() {
			n++
		}
		if it.Err() != nil || n != want {
			return fmt.Errorf("select: %d entries, want %d (%v)", n, want, it.Err())
		}
		return nil
	})
	run(func() error {
		n := 0
		err := s.Timestamps(ctx, p, nil, func(_, _ labels.Labels, ts []int64) { n += len(ts) })
		if err != nil || n != want {
			return fmt.Errorf("timestamps: %d, want %d (%v)", n, want, err)
		}
		return nil
	})
	run(func() error {
		var n int64
		err := s.Stats(ctx, StatsParams{Tenant: "t1", Bounds: []int64{p.Start, p.End}}, func(_ labels.Labels, figs []Figures) {
			n += figs[0].Entries
		})
		if err != nil || n != int64(want) {
			return fmt.Errorf("stats: %d entries, want %d (%v)", n, want, err)
		}
		return nil
	})
	run(func() error {
		vals, err := s.LabelValues(ctx, "t1", "app", nil, p.Start, p.End)
		if err != nil || len(vals) != 2 {
			return fmt.Errorf("label values %v (%v)", vals, err)
		}
		return nil
	})
	for i := 0; i < 100 && !t.Failed(); i++ {
		// The first block, rewritten as a copy of itself, as a delete
		// that removes nothing from it would.
		first := true
		old := s.acquireBlocks("t1", day, func(*blockHandle) bool { ok := first; first = false; return ok })
		repl := copyBlock(t, s, old[0])
		if repl == nil {
			break
		}
		if err := s.removeBlocks("t1", day, old, []*blockHandle{repl}); err != nil {
			t.Fatal(err)
		}
		if err := s.removeBlocks("t1", day, old, nil); !errors.Is(err, errBlocksGone) {
			t.Fatalf("removing a removed block: %v", err)
		}
		old[0].release()
	}
	close(stop)
	wg.Wait()
	if queries.Load() < 4 {
		t.Fatalf("only %d queries ran", queries.Load())
	}
	t.Logf("%d queries ran during 100 swaps", queries.Load())
	if files := blockFiles(t, s); len(files) != 3 || gauge(t, s.m.blocksRemovedPending) != 0 {
		t.Fatalf("files left: %v, pending %v", files, gauge(t, s.m.blocksRemovedPending))
	}
	if open := gauge(t, s.m.blockReaders); open > 1 {
		t.Fatalf("%v readers open, limit 1", open)
	}
}

// Retention drops a whole day while a query reads it: the query finishes
// with the day's entries, later ones see none, and the files go when the
// query is done.
func TestRemoveBlocksWithoutReplacement(t *testing.T) {
	s, want := flushedStore(t, 2)
	day := dayOf(base)
	it, err := s.Select(context.Background(), SelectParams{Tenant: "t1", Start: base - 1, End: base + int64(time.Hour), Direction: Backward})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 5 && it.Next() {
		n++
	}
	old := s.acquireBlocks("t1", day, nil)
	if len(old) != 2 {
		t.Fatalf("acquired %d blocks, want 2", len(old))
	}
	if err := s.removeBlocks("t1", day, old, nil); err != nil {
		t.Fatal(err)
	}
	for _, h := range old {
		h.release()
	}
	if _, ok := s.parts["t1"]; ok {
		t.Fatal("the tenant's emptied partition is still listed")
	}
	if got := selectAll(t, s, SelectParams{}); len(got) != 0 {
		t.Fatalf("a query after the removal read %d entries", len(got))
	}
	for it.Next() {
		n++
	}
	it.Close()
	if err := it.Err(); err != nil || n != want {
		t.Fatalf("the query read %d entries (%v), want %d", n, err, want)
	}
	if files := blockFiles(t, s); len(files) != 0 {
		t.Fatalf("files left: %v", files)
	}
}

// A restart deletes the files of blocks removed while a query read them:
// the process ended before the query released them.
func TestRestartDeletesRemovedBlocks(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.Append("t1", []Stream{{ls("a"), entries(10, 1000, "x")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := s.parts["t1"][dayOf(base)].blocks[0]
	aside := h.path + removedSuffix
	b, _ := os.ReadFile(h.path)
	os.WriteFile(aside, b, 0o644)
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	if _, err := os.Stat(aside); !os.IsNotExist(err) {
		t.Fatalf("removed block left after restart: %v", err)
	}
	if got := selectAll(t, s, SelectParams{}); len(got) != 10 {
		t.Fatalf("%d entries, want 10: the removed copy was loaded", len(got))
	}
}

// Beyond the limit, readers no query holds are closed, and opened again
// when needed.
func TestIdleReadersClosed(t *testing.T) {
	s, want := flushedStore(t, 5)
	s.readers.max = 2
	s.mu.RLock()
	for _, b := range s.parts["t1"][dayOf(base)].blocks {
		b.acquire()
		b.reader()
		b.release()
	}
	s.mu.RUnlock()
	if open := gauge(t, s.m.blockReaders); open != 2 {
		t.Fatalf("%v readers open, want 2", open)
	}
	if got := selectAll(t, s, SelectParams{}); len(got) != want {
		t.Fatalf("%d entries, want %d", len(got), want)
	}
	if open := gauge(t, s.m.blockReaders); open != 2 {
		t.Fatalf("after a query: %v readers open, want 2", open)
	}
	var opened int
	s.mu.RLock()
	for _, b := range s.parts["t1"][dayOf(base)].blocks {
		b.mu.Lock()
		if b.r != nil {
			opened++
		}
		b.mu.Unlock()
	}
	s.mu.RUnlock()
	if opened != 2 {
		t.Fatalf("%d handles hold a reader, want 2", opened)
	}
}
