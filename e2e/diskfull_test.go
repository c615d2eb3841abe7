//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of the given size ("64m") on dir and unmounts it
// when the test ends, after the processes started later are gone (cleanups
// run last-registered first). It skips the test where mounting is
// impossible.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (mount -t tmpfs -o size=" + size + ")")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v: %s)", dir, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; unmounting lazily", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

// fillTo writes a file into the file system of path until only about free
// bytes are left for others.
func fillTo(t *testing.T, path string, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	n := int64(st.Bavail)*int64(st.Bsize) - free
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for ; n > 0; n -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(n, int64(len(buf)))]); err != nil {
			t.Fatalf("write filler: %v", err)
		}
	}
}

// diskPusher pushes batches of lines to two streams of its own and keeps
// what was acknowledged and what was refused.
type diskPusher struct {
	id      int
	streams []map[string]string
	lastT   []int64
	batch   int
	sent    map[string]int // line → batch
	size    map[int]int    // batch → lines in it
	acked   map[int]bool   // batches answered 204
	refused int            // pushes answered 503 disk full
	bad     []string       // any other answer
}

const diskLinesPerStream = 50

func newDiskPusher(id int) *diskPusher {
	p := &diskPusher{id: id, sent: map[string]int{}, size: map[int]int{}, acked: map[int]bool{}}
	for s := range 2 {
		p.streams = append(p.streams, map[string]string{"job": "diskfull", "pusher": fmt.Sprint(id), "stream": fmt.Sprint(s)})
		p.lastT = append(p.lastT, 0)
	}
	return p
}

// push sends one batch (100 lines of ~200 bytes), JSON and protobuf in
// turn, and returns the status.
func (p *diskPusher) push(c *http.Client, base string) int {
	p.batch++
	var es []entry
	for s := range p.streams {
		for i := range diskLinesPerStream {
			t := max(time.Now().UnixNano(), p.lastT[s]+1)
			p.lastT[s] = t
			line := fmt.Sprintf("p%d b%05d s%d l%02d %s %s", p.id, p.batch, s, i, padding, padding[:80])
			es = append(es, entry{Labels: p.streams[s], T: t, Line: line})
			p.sent[line] = p.batch
		}
	}
	p.size[p.batch] = len(es)
	body, ct := jsonBody(es), ctJSON
	if p.batch%2 == 0 {
		body, ct = protoBody(es), ctProto
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/loki/api/v1/push", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	resp, err := c.Do(req)
	if err != nil {
		p.bad = append(p.bad, fmt.Sprintf("batch %d: %v", p.batch, err))
		return 0
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNoContent:
		p.acked[p.batch] = true
	case resp.StatusCode == http.StatusServiceUnavailable && strings.HasPrefix(string(msg), "disk full: ") &&
		resp.Header.Get("Retry-After") != "":
		p.refused++
	default:
		p.bad = append(p.bad, fmt.Sprintf("batch %d: %d %q (Retry-After %q)", p.batch, resp.StatusCode, msg, resp.Header.Get("Retry-After")))
	}
	return resp.StatusCode
}

// verify reads the pusher's streams back: every acknowledged batch is
// there exactly once, and a refused batch is there whole or not at all
// (the store took it but the answer got lost is allowed; half of it is not).
func (p *diskPusher) verify(t *testing.T, l *loam, from time.Time, when string) {
	t.Helper()
	count := map[string]int{}
	perBatch := map[int]int{}
	for _, ls := range p.streams {
		for _, v := range queryAllForward(t, l, labelsText(ls), from.UnixNano(), time.Now().Add(time.Minute).UnixNano()) {
			line := v[1]
			b, ok := p.sent[line]
			if !ok {
				t.Fatalf("%s: pusher %d: line never sent: %q", when, p.id, line)
			}
			if count[line]++; count[line] == 2 {
				t.Errorf("%s: pusher %d: line read twice: %q", when, p.id, line)
			}
			perBatch[b]++
		}
	}
	for b := 1; b <= p.batch; b++ {
		n := perBatch[b]
		switch {
		case p.acked[b] && n != p.size[b]:
			t.Errorf("%s: pusher %d: acknowledged batch %d: %d of %d lines readable", when, p.id, b, n, p.size[b])
		case !p.acked[b] && n != 0 && n != p.size[b]:
			t.Errorf("%s: pusher %d: refused batch %d is half visible: %d of %d lines", when, p.id, b, n, p.size[b])
		}
	}
}

// TestDiskFull runs loam on a 64 MiB tmpfs that a filler file leaves about
// 8 MiB of: concurrent pushes fill it until they are refused with a
// retryable 503 that says the disk is full, /metrics shows loam_disk_full 1,
// and queries still answer, also after a restart on the full disk.
// Removing the filler lets pushes succeed again without a restart, and loam_disk_full returns to 0. After a SIGKILL and
// restart, and after a clean restart, every acknowledged line is readable
// exactly once, and no refused push is half visible.
func TestDiskFull(t *testing.T) {
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	mnt := t.TempDir()
	mountTmpfs(t, mnt, "64m")
	filler := filepath.Join(mnt, "filler")
	fillTo(t, filler, 8<<20)
	dataDir := filepath.Join(mnt, "data")
	args := append([]string{"-head.max-bytes", "1048576", "-wal.fsync", "always"}, noIngestLimits...)
	from := time.Now().Add(-time.Minute)
	l := startLoam(t, dataDir, args...)

	pushers := []*diskPusher{newDiskPusher(0), newDiskPusher(1)}
	c := &http.Client{Timeout: 10 * time.Second}
	// Fill the disk: each pusher goes on until five pushes in a row were
	// refused.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for inARow := 0; inARow < 5 && ctx.Err() == nil && len(p.bad) == 0; {
				if p.push(c, l.base) == http.StatusServiceUnavailable {
					inARow++
				} else {
					inARow = 0
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("the disk did not fill up within 20s")
	}
	acked, refused := 0, 0
	for _, p := range pushers {
		for _, b := range p.bad {
			t.Errorf("pusher %d: %s", p.id, b)
		}
		acked += len(p.acked)
		refused += p.refused
	}
	if t.Failed() {
		t.FailNow()
	}
	if acked == 0 {
		t.Fatal("no push was acknowledged before the disk was full")
	}
	t.Logf("disk full after %d acknowledged and %d refused pushes", acked, refused)

	m := l.metrics(t)
	if v, _ := m.value("loam_disk_full"); v != 1 {
		t.Errorf("loam_disk_full = %g while pushes are refused, want 1", v)
	}
	if v, _ := m.value("loam_disk_capacity_bytes"); v < 60<<20 || v > 64<<20 {
		t.Errorf("loam_disk_capacity_bytes = %g, want about 64 MiB", v)
	}
	if v, _ := m.value("loam_disk_usage_bytes"); v < 50<<20 {
		t.Errorf("loam_disk_usage_bytes = %g on a full 64 MiB tmpfs", v)
	}
	if _, ok := m.value("loam_data_bytes", "kind", "wal"); !ok {
		t.Error(`no loam_data_bytes{kind="wal"}`)
	}
	// The state is logged when it starts, not for each refused push.
	if n := strings.Count(l.out.String(), `msg="disk full:`); n == 0 || n > 2 {
		t.Errorf("%d \"disk full\" log lines for %d refused pushes, want 1 (2 if it flapped)", n, refused)
	}
	for _, p := range pushers {
		p.verify(t, l, from, "while the disk is full")
	}

	// A restart on the full disk: loam comes up, replays its WAL, answers
	// queries and refuses pushes as before.
	l.kill9()
	l = startLoam(t, dataDir, args...)
	for _, p := range pushers {
		p.verify(t, l, from, "restarted on the full disk")
	}
	waitFor(t, 10*time.Second, "a push refused on the restarted full disk", func() bool {
		return pushers[0].push(c, l.base) == http.StatusServiceUnavailable
	})
	if v, _ := l.metrics(t).value("loam_disk_full"); v != 1 {
		t.Errorf("loam_disk_full = %g after a restart on the full disk, want 1", v)
	}

	// Space comes back: the next pushes succeed, without a restart, once
	// the flusher (retrying each second) has written out the head.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for _, p := range pushers {
		waitFor(t, 10*time.Second, "a push to succeed after space was freed", func() bool {
			return p.push(c, l.base) == http.StatusNoContent
		})
		for range 10 {
			if code := p.push(c, l.base); code != http.StatusNoContent {
				t.Fatalf("push after space came back: %d", code)
			}
		}
	}
	waitFor(t, 10*time.Second, "loam_disk_full 0", func() bool {
		v, _ := l.metrics(t).value("loam_disk_full")
		return v == 0
	})
	if !strings.Contains(l.out.String(), `msg="disk space available again`) {
		t.Error("no log line saying the disk has room again")
	}
	for _, p := range pushers {
		if len(p.bad) > 0 {
			t.Fatalf("pusher %d: %v", p.id, p.bad)
		}
		p.verify(t, l, from, "after space came back")
	}

	l.kill9()
	l = startLoam(t, dataDir, args...)
	for _, p := range pushers {
		p.verify(t, l, from, "after SIGKILL and restart")
	}
	l.stop()
	l = startLoam(t, dataDir, args...)
	for _, p := range pushers {
		p.verify(t, l, from, "after a clean restart")
	}
	l.stop()
}
