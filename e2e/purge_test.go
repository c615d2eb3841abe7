package e2e

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
)

// blockLines decodes every block under a data directory with the block
// reader and returns the lines it holds, by stream app label.
func blockLines(t *testing.T, dir string) map[string][]string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "blocks", "*", "*", "*.blk"))
	out := map[string][]string{}
	for _, p := range paths {
		r, err := block.Open(p)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		for it := r.Iter(); it.Next(); {
			sm := it.At()
			for ci := range sm.Chunks {
				var d block.ChunkData
				if err := r.ReadChunk(&sm.Chunks[ci], &d); err != nil {
					t.Fatalf("read %s: %v", p, err)
				}
				for _, e := range d.Entries {
					out[sm.Labels.Get("app")] = append(out[sm.Labels.Get("app")], string(e.Line))
				}
			}
		}
		r.Close()
	}
	return out
}

// TestDeletePurgesBlocks: a delete request hides its lines from queries at
// once, and once applied (-retention.delete-delay 0) no block under the
// data directory holds one of them, while every other line is still there.
func TestDeletePurgesBlocks(t *testing.T) {
	dir := t.TempDir()
	l := startLoam(t, dir, "-retention.delete-delay", "0s", "-compaction.cold-after", "1s")
	now := time.Now().Add(-10 * time.Minute)
	var es []entry
	for i := 0; i < 200; i++ {
		line := fmt.Sprintf("line %d", i)
		if i%10 == 3 {
			line += " password=hunter2"
		}
		es = append(es, entry{Labels: map[string]string{"app": "pay"}, T: now.UnixNano() + int64(i)*int64(time.Millisecond), Line: line})
		es = append(es, entry{Labels: map[string]string{"app": "web"}, T: now.UnixNano() + int64(i)*int64(time.Millisecond), Line: line})
	}
	l.mustPush(t, "", "application/json", "", jsonBody(es))
	if code, _, body := l.do(t, "POST", "/flush", nil, nil); code != 204 {
		t.Fatalf("POST /flush: %d %s", code, body)
	}
	q := url.Values{"query": {`{app="pay"} |= "password"`}, "limit": {"1000"},
		"start": {strconv.FormatInt(now.Add(-time.Minute).UnixNano(), 10)}, "end": {strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10)}}
	if got := l.queryRange(t, "", q).count(); got != 20 {
		t.Fatalf("%d lines with a password before the delete, want 20", got)
	}
	del := url.Values{"query": {`{app="pay"} |= "password="`}, "start": {strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)}}
	if code, _, body := l.addDelete(t, "POST", "", del); code != 204 {
		t.Fatalf("POST delete: %d %s", code, body)
	}
	if got := l.queryRange(t, "", q).count(); got != 0 {
		t.Fatalf("%d deleted lines still answered", got)
	}
	waitFor(t, 20*time.Second, "the delete to be processed", func() bool {
		rs, _ := l.listDeletes(t, "")
		return len(rs) == 1 && rs[0].Status == "processed"
	})
	if got := l.queryRange(t, "", q).count(); got != 0 {
		t.Fatalf("%d deleted lines answered after the purge", got)
	}
	l.stop()
	lines := blockLines(t, dir)
	for _, line := range lines["pay"] {
		if strings.Contains(line, "password") {
			t.Fatalf("a block still holds the deleted line %q", line)
		}
	}
	if len(lines["pay"]) != 180 || len(lines["web"]) != 200 {
		t.Fatalf("blocks hold %d pay and %d web lines, want 180 and 200", len(lines["pay"]), len(lines["web"]))
	}
}
