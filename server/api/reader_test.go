package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/wal"
)

// readTargets are the read endpoints, each asking for something that
// exists in readerStore.
var readTargets = []string{
	`/loki/api/v1/query?query=count_over_time({app="a"}[5m])`,
	`/loki/api/v1/query_range?query={app="a"}`,
	`/loki/api/v1/labels`,
	`/loki/api/v1/label/app/values`,
	`/loki/api/v1/series?match[]={app="a"}`,
	`/loki/api/v1/index/stats?query={app="a"}`,
	`/loki/api/v1/index/volume?query={app="a"}`,
	`/loki/api/v1/index/volume_range?query={app="a"}&step=60`,
	`/loki/api/v1/detected_labels?query={app="a"}`,
	`/loki/api/v1/detected_fields?query={app="a"}`,
	`/loki/api/v1/detected_field/level/values?query={app="a"}`,
	`/loki/api/v1/patterns?query={app="a"}`,
}

// readerStore returns a store holding a few lines of {app="a"} in the
// minute before now.
func readerStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var es []block.Entry
	for i := range 10 {
		es = append(es, block.Entry{T: now.Add(-time.Minute + time.Duration(i)*time.Second).UnixNano(),
			Line: fmt.Appendf(nil, "level=info msg=\"request %d served\"", i)})
	}
	if _, err := st.Append("fake", []store.Stream{{Labels: labels.FromMap(map[string]string{"app": "a"}), Entries: es}}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestReadsTakeQuerySlots: every read endpoint, not only queries, waits
// for one of the -query.max-concurrent slots, and gives up when its
// timeout passes meanwhile; with a slot free, each answers.
func TestReadsTakeQuerySlots(t *testing.T) {
	st := readerStore(t)
	a := New(Options{MaxConcurrentQueries: 2, Limits: fixedLimits(func(l *overrides.Limits) {
		l.QueryTimeout = overrides.Duration(30 * time.Millisecond)
	})}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.now = func() time.Time { return now }
	a.Serve(nil, st)
	h := a.Handler()
	for _, target := range readTargets {
		if res := do(h, "GET", target, ""); res.status != 200 {
			t.Errorf("%s with free slots: %d %s", target, res.status, res.body)
		}
	}
	for range 2 {
		if err := a.querySlots.Acquire(context.Background(), "other"); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range readTargets {
		// Loki's status and words for a read past query_timeout.
		if res := do(h, "GET", target, ""); res.status != 504 || res.body != queryTimeoutMsg+"\n" {
			t.Errorf("%s with every slot taken: %d %q, want 504 %q", target, res.status, res.body, queryTimeoutMsg)
		}
	}
	// A tail's history is a read too: it times out waiting.
	srv := httptest.NewServer(h)
	defer srv.Close()
	q := url.Values{"query": {`{app="a"}`}, "start": {fmt.Sprint(now.Add(-time.Hour).UnixNano())}}
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/loki/api/v1/tail?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseInternalServerErr || !strings.Contains(ce.Text, "timed out") {
		t.Errorf("tail with every slot taken: %v, want a close for the timeout", err)
	}
}

// TestUnavailableReplicas: a read that misses more replicas than allowed
// answers 503 naming them, at every read endpoint.
func TestUnavailableReplicas(t *testing.T) {
	st := readerStore(t)
	down := func() bool { return false }
	r := fanout.New(fanout.Config{MaxMissing: 1}, []fanout.Replica{
		{Name: "node-a", Reader: store.Local{Store: st}},
		{Name: "node-b", Reader: store.Local{Store: st}, Healthy: down},
		{Name: "node-c", Reader: store.Local{Store: st}, Healthy: down},
	})
	a := New(Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.now = func() time.Time { return now }
	a.ServeFrom(r, nil, st)
	h := a.Handler()
	for _, target := range readTargets {
		res := do(h, "GET", target, "")
		if res.status != 503 || !strings.Contains(res.body, "node-b: unhealthy") || !strings.Contains(res.body, "node-c: unhealthy") {
			t.Errorf("%s: %d %s, want 503 naming node-b and node-c", target, res.status, res.body)
		}
	}
	// One down is allowed: the answers come from node-a.
	r = fanout.New(fanout.Config{MaxMissing: 1}, []fanout.Replica{
		{Name: "node-a", Reader: store.Local{Store: st}},
		{Name: "node-b", Reader: store.Local{Store: st}, Healthy: down},
	})
	a.ServeFrom(r, nil, st)
	for _, target := range readTargets {
		if res := do(h, "GET", target, ""); res.status != 200 {
			t.Errorf("%s with one replica down of two: %d %s", target, res.status, res.body)
		}
	}
}

// TestQueryTimeoutBeforeStart: a read whose query_timeout is over before
// it starts answers 504, however little it would read.
func TestQueryTimeoutBeforeStart(t *testing.T) {
	st := readerStore(t)
	a := New(Options{MaxConcurrentQueries: 2, Limits: fixedLimits(func(l *overrides.Limits) {
		l.QueryTimeout = overrides.Duration(time.Nanosecond)
	})}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.now = func() time.Time { return now }
	a.Serve(nil, st)
	h := a.Handler()
	for _, target := range readTargets {
		if res := do(h, "GET", target, ""); res.status != 504 || res.body != queryTimeoutMsg+"\n" {
			t.Errorf("%s: %d %q, want 504 %q", target, res.status, res.body, queryTimeoutMsg)
		}
	}
	// The slots were given back.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 2 {
		if err := a.querySlots.Acquire(ctx, "other"); err != nil {
			t.Fatalf("a slot was not given back: %v", err)
		}
	}
}

// TestMaxQueryLength: max_query_length holds every read endpoint, as
// Loki's query frontend does (queries by the rules of queryLength).
func TestMaxQueryLength(t *testing.T) {
	st := readerStore(t)
	a := New(Options{Limits: fixedLimits(func(l *overrides.Limits) {
		l.MaxQueryLength = overrides.Duration(time.Hour)
	})}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.now = func() time.Time { return now }
	a.Serve(nil, st)
	h := a.Handler()
	for _, target := range readTargets {
		if strings.Contains(target, "/query?") {
			continue // an instant query has no range
		}
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		// One hour and one millisecond, and one hour: the limit is inclusive.
		start, end := now.Add(-time.Hour-time.Millisecond), now
		over := fmt.Sprintf("%s%sstart=%d&end=%d", target, sep, start.UnixNano(), end.UnixNano())
		at := fmt.Sprintf("%s%sstart=%d&end=%d", target, sep, start.Add(time.Millisecond).UnixNano(), end.UnixNano())
		want := "the query time range exceeds the limit (query length: 1h0m0.001s, limit: 1h)\n"
		if res := do(h, "GET", over, ""); res.status != 400 || res.body != want {
			t.Errorf("%s over max_query_length: %d %q, want 400 %q", over, res.status, res.body, want)
		}
		if res := do(h, "GET", at, ""); res.status != 200 {
			t.Errorf("%s at max_query_length: %d %s", at, res.status, res.body)
		}
	}
}
