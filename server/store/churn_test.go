package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

// TestNewestForgetsIdleStreams: a stream's newest timestamp is kept while
// it can refuse entries, forgotten once neither it nor the stream's last
// append is within the window and newestGrace of now, and the map's memory
// goes with what it forgets.
func TestNewestForgetsIdleStreams(t *testing.T) {
	s := openChurn(t)
	// The fake clock starts at the real one and runs ahead: the flusher's
	// sweeps, on the real clock, forget nothing the test's would keep.
	var clock atomic.Int64
	t0 := time.Now()
	clock.Store(t0.UnixNano())
	s.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	push := func(stream string, ts time.Time) []Rejected {
		rej, err := s.Append("t1", []Stream{{ls(stream), []block.Entry{{T: ts.UnixNano(), Line: []byte("x")}}}})
		if err != nil {
			t.Fatal(err)
		}
		return rej
	}
	push("a", t0)
	for i := range 2000 {
		push(fmt.Sprint("gone", i), t0)
	}
	// A backfill: old timestamps, appended now and again.
	push("backfill", t0.Add(-48*time.Hour))
	s.sweepNewest(at(time.Minute))
	if rej := push("a", t0.Add(-2*time.Minute)); len(rej) != 1 {
		t.Fatalf("within the grace, an entry 2 windows behind was accepted")
	}
	clock.Store(at(4 * time.Minute).UnixNano())
	push("backfill", t0.Add(-48*time.Hour+time.Second))
	if !s.sweepNewest(at(7 * time.Minute)) {
		t.Fatal("the sweep that forgot all but one stream did not rebuild the map")
	}
	s.newest.mu.Lock()
	n, peak := len(s.newest.m), s.newest.peak
	s.newest.mu.Unlock()
	if n != 1 || peak != 1 {
		t.Fatalf("after the sweep: %d streams kept (peak %d), want the backfill only", n, peak)
	}
	if rej := push("backfill", t0.Add(-50*time.Hour)); len(rej) != 1 {
		t.Fatalf("the backfill stream, appended recently, was forgotten")
	}
	if rej := push("a", t0.Add(-2*time.Minute)); len(rej) != 0 {
		t.Fatalf("a forgotten stream still refuses old entries: %v", rej)
	}
}

// TestStreamChurn pushes streams that come and go, a few lines each,
// through the store (flushes and compactions included) as a fake clock
// advances, and requires the heap after flushing to stay flat: what a
// quarter of the streams left behind, all of them leave. LOAM_CHURN_STREAMS
// sets their number (20,000, 8,000 under the race detector; make bench:
// 1,000,000).
func TestStreamChurn(t *testing.T) {
	total := 20_000
	if raceEnabled {
		total = 8_000
	}
	if v := os.Getenv("LOAM_CHURN_STREAMS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4000 {
			t.Fatalf("LOAM_CHURN_STREAMS=%q: want a number of at least 4000", v)
		}
		total = n
	}
	// Forty batches: the newest timestamps kept level off after seven.
	batch := total / 40
	s := openChurn(t)
	var clock atomic.Int64
	t0 := time.Now()
	clock.Store(t0.UnixNano())
	s.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	line := []byte(`{"level":"info","msg":"request served","path":"/v1/users/42","status":200,"duration":"3.1ms"}`)
	streams := make([]Stream, batch)
	var quarter uint64
	start := time.Now()
	for done := 0; done+batch <= total; done += batch {
		now := clock.Load()
		for i := range streams {
			id := done + i
			streams[i] = Stream{
				Labels: labels.FromMap(map[string]string{"namespace": fmt.Sprintf("ns-%d", id%20),
					"pod": fmt.Sprintf("app-%d-%07d", id%50, id), "container": "main", "job": "churn"}),
				Entries: []block.Entry{{T: now, Line: line}, {T: now + 1000, Line: line}, {T: now + 2000, Line: line}},
			}
		}
		if _, err := s.Append("t1", streams); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A batch of pods a (fake) minute: streams idle for the window
		// and the grace are forgotten.
		clock.Add(int64(time.Minute))
		s.sweepNewest(s.now())
		if done+batch == 10*batch {
			quarter = heapAfterGC()
		}
	}
	all := heapAfterGC()
	s.newest.mu.Lock()
	kept := len(s.newest.m)
	s.newest.mu.Unlock()
	t.Logf("%d streams in %s: heap %.1f MiB after a quarter, %.1f MiB after all; %d streams' newest timestamps kept",
		total, time.Since(start).Round(time.Millisecond), float64(quarter)/(1<<20), float64(all)/(1<<20), kept)
	if want := int((time.Minute+newestGrace)/time.Minute+2) * batch; kept > want {
		t.Errorf("%d streams' newest timestamps kept, want at most %d", kept, want)
	}
	// What grows with the streams is the sparse index of the day's merged
	// block (its directory: a few bytes a stream).
	if limit := quarter + 2<<20 + uint64(total)*4; all > limit {
		t.Errorf("heap grew from %.1f MiB to %.1f MiB (limit %.1f MiB)", float64(quarter)/(1<<20), float64(all)/(1<<20), float64(limit)/(1<<20))
	}
}

// openChurn opens a store with a one-minute out-of-order window that
// flushes and compacts (fan-in 4) only when told.
func openChurn(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour,
		MaxHeadBytes: 1 << 30, OutOfOrderWindow: time.Minute, CompactionFanIn: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
