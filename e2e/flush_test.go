package e2e

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestFlushAndCompaction drives the storage life cycle through HTTP: /flush
// writes the head into a level-0 block, the cold day is then merged into a
// compacted block per hour, and every answer stays the same throughout.
func TestFlushAndCompaction(t *testing.T) {
	dir := t.TempDir()
	l := startLoam(t, dir, "-compaction.cold-after", "1s")
	now := time.Now().Add(-time.Minute).UnixNano()
	var es []entry
	for i := 0; i < 300; i++ {
		es = append(es, entry{Labels: map[string]string{"app": "flush", "pod": fmt.Sprint("p", i%3)},
			T: now + int64(i)*1000, Line: fmt.Sprintf("line %d request_id=%016x", i, i*7919)})
	}
	l.mustPush(t, "", "application/json", "", jsonBody(es))
	q := url.Values{"query": {`{app="flush"}`}, "limit": {"1000"},
		"start": {strconv.FormatInt(now-1, 10)}, "end": {strconv.FormatInt(now+int64(time.Second), 10)}}
	check := func(stage string) {
		t.Helper()
		if got := l.queryRange(t, "", q).count(); got != 300 {
			t.Fatalf("%s: %d entries, want 300", stage, got)
		}
	}
	check("head")
	if code, _, body := l.do(t, "POST", "/flush", nil, nil); code != 204 {
		t.Fatalf("POST /flush: %d %s", code, body)
	}
	if v, _ := l.metrics(t).value("loam_head_entries"); v != 0 {
		t.Fatalf("head holds %v entries after /flush", v)
	}
	l0, _ := filepath.Glob(filepath.Join(dir, "blocks", "*", "*", "L0-*.blk"))
	if len(l0) != 1 {
		t.Fatalf("level-0 blocks after /flush: %v", l0)
	}
	check("level-0 block")
	waitFor(t, 15*time.Second, "the cold day to be compacted", func() bool {
		v, _ := l.metrics(t).value("loam_compactions_total")
		return v >= 1
	})
	// A cold day is kept as one block per hour of data (H…).
	cold, _ := filepath.Glob(filepath.Join(dir, "blocks", "*", "*", "H*.blk"))
	all, _ := filepath.Glob(filepath.Join(dir, "blocks", "*", "*", "*.blk"))
	if len(cold) != 1 || len(all) != 1 {
		t.Fatalf("compacted blocks: %v of %v", cold, all)
	}
	check("compacted block")
	// The filter of the compacted block skips it for an absent request id.
	q.Set("query", `{app="flush"} |= "request_id=ffffffffffffffff"`)
	if got := l.queryRange(t, "", q).count(); got != 0 {
		t.Fatalf("absent needle: %d entries", got)
	}
	if v, _ := l.metrics(t).value("loam_query_chunks_skipped_total", "reason", "filter"); v < 1 {
		t.Fatalf("no chunk skipped by its filter (%v)", v)
	}
}
