package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/loam-logs/loam/internal/golden"
	"github.com/loam-logs/loam/server/auth"
	"github.com/loam-logs/loam/server/deletes"
)

// nopDeletes serves no delete request; the delete routes exist with it.
type nopDeletes struct{}

func (nopDeletes) Add(string, deletes.Params) (deletes.Request, error)        { return deletes.Request{}, nil }
func (nopDeletes) List(string, deletes.ListParams) ([]deletes.Request, error) { return nil, nil }
func (nopDeletes) Cancel(string, string, bool) error                          { return nil }

// fullAPI is an API with every route: the delete API and the mounts of a
// clustered node.
func fullAPI(g Guard) *API {
	a := New(Options{Guard: g}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.ServeDeletes(nopDeletes{})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mounted") })
	a.Mount("/ring", ok, "GET")
	a.Mount("/ring/forget", ok, "POST")
	a.Mount("/internal/{path:.+}", ok)
	return a
}

// TestRouteAccess: who may use each route, the table docs/auth.md shows.
// A new route shows here first.
func TestRouteAccess(t *testing.T) {
	var b strings.Builder
	for _, rt := range fullAPI(nil).routes() {
		methods := strings.Join(rt.methods, ",")
		if methods == "" {
			methods = "any"
		}
		path := rt.path
		if rt.prefix {
			path += "*"
		}
		fmt.Fprintf(&b, "%-44s %-11s %s\n", path, methods, rt.rule)
	}
	golden.Check(t, "testdata/access.golden", []byte(b.String()))
}

// denyGuard refuses every request whose rule is not open, saying which
// rule it was given.
type denyGuard struct{ wrapped int }

func (g *denyGuard) Wrap(rule auth.Rule, h http.Handler) http.Handler {
	g.wrapped++
	if rule.Access == auth.Open {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "refused: "+rule.String(), http.StatusUnauthorized)
	})
}

// TestGuarded: with a Guard every route goes through it with its rule,
// and so do unknown paths under /loki/api/ (and only those).
func TestGuarded(t *testing.T) {
	g := &denyGuard{}
	a := fullAPI(g)
	h := a.Handler()
	if n := len(a.routes()); g.wrapped < n {
		t.Errorf("%d routes wrapped, want %d", g.wrapped, len(a.routes()))
	}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/ready", 503, "not ready"},
		{"GET", "/metrics", 401, "refused: metrics"},
		{"POST", "/loki/api/v1/push", 401, "refused: push (tenant)"},
		{"GET", "/loki/api/v1/query_range", 401, "refused: read (tenant)"},
		{"GET", "/loki/api/v1/label/app/values", 401, "refused: read (tenant)"},
		{"POST", "/loki/api/v1/format_query", 401, "refused: read\n"},
		{"GET", "/loki/api/v1/status/buildinfo", 401, "refused: any"},
		{"DELETE", "/loki/api/v1/delete", 401, "refused: admin (tenant)"},
		{"POST", "/flush", 401, "refused: admin\n"},
		{"GET", "/debug/pprof/heap", 401, "refused: admin"},
		{"GET", "/ring", 401, "refused: admin"},
		{"POST", "/ring/forget", 401, "refused: admin"},
		{"POST", "/internal/v1/push", 200, "mounted"},
		{"GET", "/loki/api/v1/nothing", 401, "refused: any"},
		{"GET", "/loki/api/v1/push", 401, "refused: any"},
		{"GET", "/nothing", 404, "not an endpoint"},
	} {
		r := do(h, tc.method, tc.path, "")
		if r.status != tc.status || !strings.Contains(r.body, tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, r.status, r.body, tc.status, tc.body)
		}
	}
}
