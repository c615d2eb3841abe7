package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// mountTmpfs mounts a tmpfs of the given size ("2m") on dir, and unmounts it
// when the test ends. It skips the test where mounting is impossible.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux to mount a small tmpfs")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; unmounting lazily", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

func remountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s with size %s: %v %s", dir, size, err, out)
	}
}

func TestDiskUsageAndDataBytes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("statfs figures are read on Linux only")
	}
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	used, capacity, err := s.DiskUsage()
	if err != nil || used <= 0 || capacity < used {
		t.Fatalf("DiskUsage() = %d, %d, %v", used, capacity, err)
	}
	if blocks, walBytes := s.DataBytes(); blocks != 0 || walBytes != wal.HeaderSize {
		t.Fatalf("empty store: DataBytes() = %d, %d; want 0, %d", blocks, walBytes, wal.HeaderSize)
	}
	if _, err := s.Append("t1", []Stream{{ls("a"), entries(100, 1000, "a")}}); err != nil {
		t.Fatal(err)
	}
	if _, walBytes := s.DataBytes(); walBytes <= wal.HeaderSize {
		t.Fatalf("WAL bytes %d after an append", walBytes)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	blocks, walBytes := s.DataBytes()
	if blocks <= 0 || walBytes != wal.HeaderSize {
		t.Fatalf("after a flush: DataBytes() = %d, %d; want >0, %d", blocks, walBytes, wal.HeaderSize)
	}
	// The gauges were refreshed by the flush.
	if got := gaugeValue(t, s.m.disk.dataBytes.WithLabelValues("blocks")); got != float64(blocks) {
		t.Errorf("loam_data_bytes{kind=blocks} = %g, want %d", got, blocks)
	}
	if got := gaugeValue(t, s.m.disk.capacity); got <= 0 {
		t.Errorf("loam_disk_capacity_bytes = %g", got)
	}
	if s.DiskFull() || gaugeValue(t, s.m.disk.full) != 0 {
		t.Error("disk full on a disk with room")
	}
}

// TestDiskFull fills a small tmpfs through the store: appends fail with
// ErrDiskFull (fast, also when the head would have to wait for a flush),
// reads go on, and once the file system grows, appends and flushes
// succeed again by themselves. Every acknowledged push is then read back
// exactly once, nothing of a refused push is visible, and the blocks hold
// no line twice (a flush that failed halfway is retried without
// rewriting the blocks it had finished).
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	mountTmpfs(t, dir, "2m")
	open := func() *Store {
		s, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			MaxHeadBytes: 32 << 10, MaxHeadAge: time.Hour, IdleFlush: time.Hour,
			CompactionFanIn: 1000, CompactionColdAfter: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() }) // before the unmount
		return s
	}
	s := open()
	pad := strings.Repeat("x", 150)
	// push i: 40 lines over two tenants, so a flush writes several blocks.
	push := func(i int) error {
		for _, tenant := range []string{"t1", "t2"} {
			var es []block.Entry
			for j := range 20 {
				es = append(es, block.Entry{T: base + int64(i)*1000 + int64(j), Line: fmt.Appendf(nil, "push %05d line %02d %s", i, j, pad)})
			}
			if _, err := s.Append(tenant, []Stream{{ls("a"), es}}); err != nil {
				return err
			}
		}
		return nil
	}
	// A push counts as acknowledged when both tenants' appends succeeded;
	// half of a push may be stored.
	acked := map[int]bool{}
	tried := map[int]bool{}
	failedInARow, i := 0, 0
	deadline := time.Now().Add(20 * time.Second)
	for ; failedInARow < 20; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d pushes (%d acknowledged) the disk is still not full", i, len(acked))
		}
		tried[i] = true
		start := time.Now()
		err := push(i)
		if err == nil {
			acked[i] = true
			failedInARow = 0
			continue
		}
		if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("push %d: %v; want ErrDiskFull wrapping ENOSPC", i, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("refused push %d took %v", i, d)
		}
		failedInARow++
	}
	if len(acked) == 0 {
		t.Fatal("no push was acknowledged")
	}
	if !s.DiskFull() || gaugeValue(t, s.m.disk.full) != 1 {
		t.Fatalf("DiskFull() = %v, loam_disk_full = %g after 20 refused pushes", s.DiskFull(), gaugeValue(t, s.m.disk.full))
	}
	t.Logf("%d pushes, %d acknowledged before the disk was full", i, len(acked))
	check := func(stage string) {
		t.Helper()
		for _, tenant := range []string{"t1", "t2"} {
			seen := map[string]int{}
			for _, g := range selectAll(t, s, SelectParams{Tenant: tenant}) {
				seen[g.line]++
				var p, l int
				fmt.Sscanf(g.line, "push %d line %d", &p, &l)
				if !tried[p] {
					t.Fatalf("%s: %s: line of push %d that was never made", stage, tenant, p)
				}
			}
			for p := range tried {
				n := 0
				for j := range 20 {
					c := seen[fmt.Sprintf("push %05d line %02d %s", p, j, pad)]
					if c > 1 {
						t.Fatalf("%s: %s: push %d line %d read %d times", stage, tenant, p, j, c)
					}
					n += c
				}
				if acked[p] && n != 20 || n != 0 && n != 20 {
					t.Fatalf("%s: %s: %d of 20 lines of push %d (acknowledged %v)", stage, tenant, n, p, acked[p])
				}
			}
		}
	}
	check("disk full")

	// Space comes back. Pushes are refused until the flusher has written
	// the head out; then they succeed.
	remountTmpfs(t, dir, "64m")
	s.recheckDisk() // as retention does after freeing space: the flusher retries now
	deadline = time.Now().Add(10 * time.Second)
	for ok := 0; ok < 3; i++ {
		tried[i] = true
		err := push(i)
		if err == nil {
			acked[i] = true
			ok++
			continue
		}
		if !errors.Is(err, ErrDiskFull) || time.Now().After(deadline) {
			t.Fatalf("push %d after space came back: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("flush after space came back: %v", err)
	}
	if s.DiskFull() || gaugeValue(t, s.m.disk.full) != 0 {
		t.Fatal("still disk full after a push and a flush succeeded")
	}
	check("space back")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var tmp []string
	var lines int
	filepath.WalkDir(filepath.Join(dir, "blocks"), func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			t.Fatal(err)
		case strings.HasSuffix(path, ".tmp"):
			tmp = append(tmp, path)
		case strings.HasSuffix(path, ".blk"):
			r, err := block.Open(path)
			if err != nil {
				t.Fatalf("block %s: %v", path, err)
			}
			for it := r.Iter(); it.Next(); {
				sm := it.At()
				for _, c := range sm.Chunks {
					lines += int(c.Count)
				}
			}
			r.Close()
		}
		return nil
	})
	if len(tmp) > 0 {
		t.Errorf("temp files left: %v", tmp)
	}
	s = open()
	defer s.Close()
	check("reopened")
	// Everything was flushed by Close: the blocks hold each stored line
	// once (2 tenants × 20 lines a push).
	stored := 0
	for _, tenant := range []string{"t1", "t2"} {
		stored += len(selectAll(t, s, SelectParams{Tenant: tenant, Matchers: []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "a")}}))
	}
	if lines != stored {
		t.Errorf("blocks hold %d lines for %d distinct ones: a retried flush wrote some twice", lines, stored)
	}
}

// TestDiskFullWAL fills a small tmpfs with the WAL alone (the head is never
// flushed): appends fail with ErrDiskFull from the WAL write, the WAL is
// left without a torn record, and the first append after the file system
// grows succeeds and ends the disk-full state, with no flush needed.
func TestDiskFullWAL(t *testing.T) {
	dir := t.TempDir()
	mountTmpfs(t, dir, "1m")
	s, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxHeadBytes: 1 << 30, MaxHeadAge: time.Hour, IdleFlush: time.Hour,
		WAL: wal.Options{SyncPolicy: wal.SyncAlways}, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	var acked []string
	push := func(i int) error {
		// Random hex does not compress below half: the WAL grows.
		line := fmt.Sprintf("append %05d %x", i, r.Uint64())
		for len(line) < 2000 {
			line += fmt.Sprintf("%016x", r.Uint64())
		}
		_, err := s.Append("t1", []Stream{{ls("a"), []block.Entry{{T: base + int64(i), Line: []byte(line)}}}})
		if err == nil {
			acked = append(acked, line)
		}
		return err
	}
	i := 0
	for ; ; i++ {
		err := push(i)
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "write WAL") {
			t.Fatalf("append %d: %v; want ErrDiskFull from the WAL", i, err)
		}
		break
	}
	if len(acked) < 100 || !s.DiskFull() || gaugeValue(t, s.m.disk.full) != 1 {
		t.Fatalf("%d appends acknowledged; DiskFull %v", len(acked), s.DiskFull())
	}
	// The WAL as it is now replays every acknowledged append and nothing
	// torn (a copy: replay may not run beside the open WAL).
	replayCount := func() (int, int) {
		cp := t.TempDir()
		ents, _ := os.ReadDir(filepath.Join(dir, "wal"))
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, "wal", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(cp, e.Name()), b, 0o644)
		}
		st, err := wal.Replay(cp, wal.Options{}, func([]byte) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return st.Records, st.Corruptions
	}
	if n, c := replayCount(); n != len(acked) || c != 0 {
		t.Fatalf("WAL replays %d records (%d corrupt), want %d", n, c, len(acked))
	}
	if got := len(selectAll(t, s, SelectParams{})); got != len(acked) {
		t.Fatalf("read %d entries on a full disk, want %d", got, len(acked))
	}

	remountTmpfs(t, dir, "4m")
	if err := push(i + 1); err != nil {
		t.Fatalf("append after space came back: %v", err)
	}
	if s.DiskFull() || gaugeValue(t, s.m.disk.full) != 0 {
		t.Fatal("still disk full after an append succeeded")
	}
	if n, c := replayCount(); n != len(acked) || c != 0 {
		t.Fatalf("WAL replays %d records (%d corrupt), want %d", n, c, len(acked))
	}
}
