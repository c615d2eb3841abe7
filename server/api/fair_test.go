package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// gatedReader reads from a store, but each LabelNames call first reports
// its tenant on entered and waits for proceed: a slow query whose end the
// test decides.
type gatedReader struct {
	Reader
	entered chan string
	proceed chan struct{}
}

func (g gatedReader) LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	g.entered <- tenant
	select {
	case <-g.proceed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Reader.LabelNames(ctx, tenant, ms, start, end)
}

// TestFairQueries: with one query slot, tenant a running a slow query and
// five more waiting, tenant b's query is the next to run, not the sixth;
// a's reads past MaxQueuedQueriesPerTenant waiting are refused with
// Loki's 429.
func TestFairQueries(t *testing.T) {
	g := gatedReader{Reader: store.Local{Store: readerStore(t)}, entered: make(chan string, 10), proceed: make(chan struct{})}
	a := New(Options{MaxConcurrentQueries: 1, MaxQueuedQueriesPerTenant: 5},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.now = func() time.Time { return now }
	a.ServeFrom(g, nil, nil)
	h := a.Handler()
	statuses := make(chan int, 10)
	get := func(tenant string) {
		r := httptest.NewRequest("GET", "/loki/api/v1/labels", nil)
		r.Header.Set("X-Scope-OrgID", tenant)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		statuses <- w.Code
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(100 * time.Microsecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}
	entered := func() string {
		t.Helper()
		select {
		case tenant := <-g.entered:
			return tenant
		case <-time.After(5 * time.Second):
			t.Fatal("no query started")
			return ""
		}
	}

	go get("a")
	if got := entered(); got != "a" {
		t.Fatalf("first query of %s", got)
	}
	for i := range 5 {
		go get("a")
		waitFor("a's queries queued", func() bool { return a.querySlots.Waiting("a") == i+1 })
	}
	r := httptest.NewRequest("GET", "/loki/api/v1/labels", nil)
	r.Header.Set("X-Scope-OrgID", "a")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusTooManyRequests || strings.TrimSpace(w.Body.String()) != "too many outstanding requests" {
		t.Errorf("a's sixth waiting query: %d %q, want 429 too many outstanding requests", w.Code, w.Body)
	}
	go get("b")
	waitFor("b's query queued", func() bool { return a.querySlots.Waiting("b") == 1 })

	var order []string
	for range 6 {
		g.proceed <- struct{}{} // the running query ends, the next starts
		order = append(order, entered())
	}
	g.proceed <- struct{}{}
	if got := strings.Join(order, " "); got != "b a a a a a" {
		t.Errorf("queries ran in the order %s, want b first", got)
	}
	for range 7 {
		if s := <-statuses; s != 200 {
			t.Errorf("status %d", s)
		}
	}
	if n := a.querySlots.Held(); n != 0 {
		t.Errorf("%d slots held at the end", n)
	}
}
