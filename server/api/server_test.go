package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// These tests need no store: they cover what the API answers on its own
// (readiness, routing, errors, instrumentation). The e2e suite covers the
// handlers against a real server.

func newTestServer(t *testing.T) (*API, http.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	a := New(Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, reg)
	a.now = func() time.Time { return now }
	return a, a.Handler(), reg
}

type result struct {
	status int
	body   string
	header http.Header
}

func do(h http.Handler, method, target string, body string) result {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, escape(target), rd)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return result{w.Code, w.Body.String(), w.Header()}
}

// escape encodes the query of target, so that tables can hold LogQL as is.
func escape(target string) string {
	path, query, ok := strings.Cut(target, "?")
	if !ok {
		return target
	}
	v, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	return path + "?" + v.Encode()
}

func TestReady(t *testing.T) {
	a, h, _ := newTestServer(t)
	// Until Serve, the port is up but the WAL is being replayed: a load
	// balancer must not send traffic yet.
	res := do(h, "GET", "/ready", "")
	if res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "not ready") {
		t.Fatalf("/ready before Serve: %d %q, want 503 not ready", res.status, res.body)
	}
	a.Serve(nil, nil)
	if res := do(h, "GET", "/ready", ""); res.status != http.StatusOK || res.body != "ready\n" {
		t.Fatalf("/ready after Serve: %d %q, want 200 ready", res.status, res.body)
	}
	// Stop, for a graceful shutdown, makes it not ready again.
	a.Stop()
	if res := do(h, "GET", "/ready", ""); res.status != http.StatusServiceUnavailable {
		t.Fatalf("/ready after Stop: %d, want 503", res.status)
	}
}

func TestDataRoutesBeforeServe(t *testing.T) {
	tests := []struct{ method, target string }{
		{"POST", "/loki/api/v1/push"},
		{"GET", `/loki/api/v1/query_range?query={app="x"}`},
		{"POST", "/loki/api/v1/query_range"},
		{"GET", "/loki/api/v1/query?query=x"},
		{"GET", "/loki/api/v1/labels"},
		{"GET", "/loki/api/v1/label"},
		{"GET", "/loki/api/v1/label/app/values"},
		{"POST", "/loki/api/v1/series"},
	}
	_, h, _ := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			res := do(h, tt.method, tt.target, "")
			// A readable reason, so that a client logs something useful and
			// retries.
			if res.status != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", res.status)
			}
			if !strings.Contains(res.body, "not ready") || !strings.Contains(res.body, "retry") {
				t.Fatalf("body %q does not say the server is not ready yet", res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		method, target string
		status         int
		body           string
	}{
		{"GET", "/", 404, "404 page not found: / is not an endpoint of this server"},
		{"GET", "/nope", 404, "/nope is not an endpoint"},
		{"GET", "/loki/api/v1/nope", 404, "/loki/api/v1/nope is not an endpoint"},
		{"GET", "/loki/api/v1/label/app", 404, "not an endpoint"},
		{"GET", "/loki/api/v1/push", 405, "method GET is not allowed on /loki/api/v1/push"},
		{"PUT", "/loki/api/v1/push", 405, "method PUT is not allowed"},
		{"DELETE", "/loki/api/v1/query_range", 405, "method DELETE is not allowed on /loki/api/v1/query_range"},
		{"PATCH", "/loki/api/v1/label/app/values", 405, "method PATCH is not allowed"},
		{"POST", "/ready", 405, "method POST is not allowed on /ready"},
		{"POST", "/metrics", 405, "method POST is not allowed on /metrics"},
	}
	_, h, _ := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			res := do(h, tt.method, tt.target, "")
			if res.status != tt.status || !strings.Contains(res.body, tt.body) {
				t.Fatalf("%d %q, want %d with %q", res.status, res.body, tt.status, tt.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// Handler errors that come before any storage access surface as 400s with
// the message; the backend is set but has no store.
func TestBadRequests(t *testing.T) {
	tests := []struct {
		method, target, tenant string
		status                 int
		body                   string
	}{
		{"GET", "/loki/api/v1/query_range", "", 400, "missing query parameter"},
		{"GET", `/loki/api/v1/query_range?query={a="b"}&limit=5001`, "", 400, "(5001 > 5000)"},
		{"GET", `/loki/api/v1/query_range?query={a="b"}&direction=up`, "", 400, `invalid direction "up"`},
		{"GET", `/loki/api/v1/query_range?query={a="b"}`, "a/b", 400, `holds "/"`},
		{"GET", `/loki/api/v1/query?query={a="b"}`, "", 400, "log queries are not supported as an instant query type"},
		{"GET", "/loki/api/v1/labels?start=x", "", 400, `invalid start "x"`},
		{"GET", "/loki/api/v1/labels", "..", 400, `".." is not allowed`},
		{"GET", "/loki/api/v1/label/app/values?start=2&end=1", "", 400, "end timestamp must not be before start time"},
		{"GET", "/loki/api/v1/series?match[]={", "", 400, "invalid match[]"},
		{"POST", "/loki/api/v1/push", "a b", 400, `holds " "`},
	}
	a, h, _ := newTestServer(t)
	a.Serve(nil, nil)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, escape(tt.target), nil)
			if tt.tenant != "" {
				r.Header.Set("X-Scope-OrgID", tt.tenant)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
				t.Fatalf("%d %q, want %d with %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
		})
	}
}

// A panicking handler answers 500 instead of killing the connection, and is
// counted. Here the push reaches the missing distributor.
func TestPanicRecovered(t *testing.T) {
	a, h, reg := newTestServer(t)
	a.Serve(nil, nil)
	body := `{"streams":[{"stream":{"app":"x"},"values":[["1700000000000000000","line"]]}]}`
	r := httptest.NewRequest("POST", "/loki/api/v1/push", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "internal error") {
		t.Fatalf("%d %q, want 500 internal error", w.Code, w.Body.String())
	}
	if got := durationCounts(t, reg); !slices.Equal(got, []string{`/loki/api/v1/push POST 500: 1`}) {
		t.Fatalf("request metric %q", got)
	}
}

func TestRequestDurationMetric(t *testing.T) {
	_, h, reg := newTestServer(t)
	do(h, "GET", "/ready", "")
	do(h, "GET", "/ready", "")
	do(h, "GET", "/loki/api/v1/label/app/values", "")
	do(h, "POST", "/loki/api/v1/push", "")
	do(h, "GET", "/no/such/route", "")
	do(h, "GET", "/loki/api/v1/push", "")
	// The route is the template, not the path: one series per endpoint
	// whatever the label name. Unmatched paths are "other", so that
	// scanners cannot create series at will.
	want := []string{
		"/loki/api/v1/label/{name}/values GET 503: 1",
		"/loki/api/v1/push POST 503: 1",
		"/ready GET 503: 2",
		"other GET 404: 1",
		"other GET 405: 1",
	}
	if got := durationCounts(t, reg); !slices.Equal(got, want) {
		t.Fatalf("loam_request_duration_seconds counts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// /metrics serves the gatherer, and is itself counted.
	res := do(h, "GET", "/metrics", "")
	if res.status != http.StatusOK || !strings.Contains(res.body, `loam_request_duration_seconds_count{method="GET",route="/ready",status="503"} 2`) {
		t.Fatalf("/metrics: %d\n%s", res.status, res.body)
	}
}

// durationCounts returns the sample counts of loam_request_duration_seconds
// as sorted "route method status: count" lines. (client_golang's testutil
// needs a module that go.mod does not list.)
func durationCounts(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "loam_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			out = append(out, fmt.Sprintf("%s %s %s: %d", ls["route"], ls["method"], ls["status"], m.GetHistogram().GetSampleCount()))
		}
	}
	slices.Sort(out)
	return out
}
