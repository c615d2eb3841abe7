package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/overrides"
)

func TestFormatQuery(t *testing.T) {
	_, h, _ := newTestServer(t) // needs no store: answers before Serve
	tests := []struct {
		method, query string
		status        int
		body          string
	}{
		{"GET", `{app="api",env=~"p.*"}|="x"   | json|level = "error"`, 200,
			`{"status":"success","data":"{app=\"api\", env=~\"p.*\"} |= \"x\" | json | level=\"error\""}`},
		{"POST", `sum by (app) (rate({app="api"}[5m]))`, 200, `{"status":"success","data":"sum by (app) (rate({app=\"api\"}[5m]))"}`},
		{"GET", `{app=`, 400, `{"status":"invalid-query","error":"parse error at line 1, col 6:`},
		{"GET", ``, 400, `{"status":"invalid-query","error":"parse error`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.query, func(t *testing.T) {
			var r *http.Request
			if tt.method == "GET" {
				r = httptest.NewRequest("GET", "/loki/api/v1/format_query?"+url.Values{"query": {tt.query}}.Encode(), nil)
			} else {
				r = httptest.NewRequest("POST", "/loki/api/v1/format_query", strings.NewReader(url.Values{"query": {tt.query}}.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || !strings.HasPrefix(w.Body.String(), tt.body) {
				t.Fatalf("%d %s\nwant %d %s", w.Code, w.Body, tt.status, tt.body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

func TestBuildInfo(t *testing.T) {
	_, h, _ := newTestServer(t)
	w := getAs(h, "", "/loki/api/v1/status/buildinfo", nil)
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Loki's six fields, and Loam's own.
	if want := []string{"branch", "buildDate", "buildUser", "goVersion", "loam", "revision", "version"}; !slices.Equal(keys, want) {
		t.Fatalf("fields %v, want %v", keys, want)
	}
	if got["version"] != LokiVersion || got["goVersion"] != runtime.Version() || !strings.HasPrefix(got["loam"], "loam ") {
		t.Fatalf("%v", got)
	}
}

func TestDrilldownLimits(t *testing.T) {
	reg := prometheus.NewRegistry()
	limits := testLimits(t, func(l *overrides.Limits) {
		l.MaxEntriesLimitPerQuery, l.MaxQuerySeries, l.QueryTimeout = 2000, 300, overrides.Duration(90*time.Second)
	}, "overrides:\n  a: {retention_period: 3d, max_query_length: 0, max_query_series: 7}\n  forever: {retention_period: 0}\n")
	a := New(Options{Limits: limits}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, reg)
	h := a.Handler()
	base := map[string]any{
		"max_entries_limit_per_query": 2000.0, "max_query_series": 300.0, "query_timeout": "1m30s",
		"retention_period": "2w", "volume_enabled": true, "volume_max_series": 1000.0, "max_query_length": "30d1h",
		"discover_log_levels": false, "otlp_config": nil, "max_query_bytes_read": "0B",
	}
	for _, tt := range []struct {
		tenant string
		want   map[string]any // over base
	}{
		{"", nil},
		{"other", nil},
		{"a", map[string]any{"retention_period": "3d", "max_query_length": "0s", "max_query_series": 7.0}},
		{"forever", map[string]any{"retention_period": "0s"}},
	} {
		w := getAs(h, tt.tenant, "/loki/api/v1/drilldown-limits", nil)
		var got struct {
			Limits                 map[string]any `json:"limits"`
			PatternIngesterEnabled bool           `json:"pattern_ingester_enabled"`
			Version                string         `json:"version"`
		}
		decodeStrict(t, w, &got)
		if !got.PatternIngesterEnabled || got.Version != LokiVersion {
			t.Fatalf("%s", w.Body)
		}
		want := maps.Clone(base)
		maps.Copy(want, tt.want)
		for k, v := range want {
			if got.Limits[k] != v {
				t.Errorf("tenant %q: %s = %v, want %v", tt.tenant, k, got.Limits[k], v)
			}
		}
		// Loki's published fields (tenant_limits_allow_publish), no others.
		if len(got.Limits) != 17 {
			t.Errorf("%d limits: %s", len(got.Limits), w.Body)
		}
	}
	if w := getAs(h, "a/b", "/loki/api/v1/drilldown-limits", nil); w.Code != http.StatusBadRequest {
		t.Fatalf("bad tenant: %d", w.Code)
	}
}

func TestPromDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {time.Minute, "1m"}, {90 * time.Second, "1m30s"}, {721 * time.Hour, "30d1h"},
		{14 * 24 * time.Hour, "2w"}, {90 * 24 * time.Hour, "90d"}, {365 * 24 * time.Hour, "1y"},
		{1500 * time.Millisecond, "1s500ms"}, {time.Microsecond, "0s"},
	}
	for _, tt := range tests {
		if got := promDuration(tt.d); got != tt.want {
			t.Errorf("promDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// The metadata routes answer while the WAL replays; the data routes say
// not ready, as the others do.
func TestNewRoutesBeforeServe(t *testing.T) {
	_, h, _ := newTestServer(t)
	for _, path := range []string{"/loki/api/v1/status/buildinfo", "/loki/api/v1/drilldown-limits", `/loki/api/v1/format_query?query={a="b"}`} {
		if res := do(h, "GET", path, ""); res.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, res.status, res.body)
		}
	}
	for _, path := range []string{"/loki/api/v1/index/stats", "/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range",
		"/loki/api/v1/detected_labels", "/loki/api/v1/detected_fields", "/loki/api/v1/detected_field/level/values"} {
		if res := do(h, "GET", path, ""); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "not ready") {
			t.Errorf("GET %s: %d %s", path, res.status, res.body)
		}
	}
	for _, tt := range []struct{ method, path string }{
		{"POST", "/loki/api/v1/status/buildinfo"}, {"POST", "/loki/api/v1/drilldown-limits"}, {"DELETE", "/loki/api/v1/index/stats"},
	} {
		if res := do(h, tt.method, tt.path, ""); res.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", tt.method, tt.path, res.status)
		}
	}
}
