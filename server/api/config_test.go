package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/loam-logs/loam/server/overrides"
)

// testLimits returns the settings of the tests: Loki's defaults changed by
// set (may be nil), and the tenants of the runtime configuration file
// content runtime (may be "").
func testLimits(t testing.TB, set func(*overrides.Limits), runtime string) *overrides.Overrides {
	t.Helper()
	d := overrides.DefaultLimits()
	if set != nil {
		set(&d)
	}
	cfg := overrides.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if runtime != "" {
		cfg.File = filepath.Join(t.TempDir(), "runtime.yaml")
		if err := os.WriteFile(cfg.File, []byte(runtime), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o, err := overrides.New(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// fixedLimits gives every tenant Loki's defaults changed by set.
func fixedLimits(set func(*overrides.Limits)) TenantLimits {
	d := overrides.DefaultLimits()
	if set != nil {
		set(&d)
	}
	return defaultLimits{&d}
}

// testConfig stands for the configuration of cmd/loam.
type testConfig struct {
	HTTPAddr string           `yaml:"http_addr"`
	Limits   overrides.Limits `yaml:"limits"`
	WAL      struct {
		Fsync string `yaml:"fsync"`
	} `yaml:"wal"`
}

func TestConfigEndpoint(t *testing.T) {
	var def, cur testConfig
	def.HTTPAddr, def.WAL.Fsync, def.Limits = "127.0.0.1:3100", "interval", overrides.DefaultLimits()
	cur = def
	cur.HTTPAddr = ":3100"
	cur.Limits.RetentionPeriod = overrides.Duration(72 * time.Hour)
	cur.Limits.RetentionStream = []overrides.StreamRetention{{Selector: `{a="b"}`, Priority: 1, Period: overrides.Duration(48 * time.Hour)}}
	reg := prometheus.NewRegistry()
	h := New(Options{Config: cur, DefaultConfig: def}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, reg).Handler()

	tests := []struct {
		path string
		want string
	}{
		{"/config", `http_addr: :3100
limits:
    max_label_names_per_series: 15
    max_label_name_length: 1024
    max_label_value_length: 2048
    max_line_size: 256KB
    reject_old_samples: true
    reject_old_samples_max_age: 1w
    creation_grace_period: 10m
    ingestion_rate_mb: 4
    ingestion_burst_size_mb: 6
    per_stream_rate_limit: 3MB
    per_stream_rate_limit_burst: 15MB
    max_global_streams_per_user: 5000
    max_entries_limit_per_query: 5000
    max_query_series: 500
    max_query_length: 30d1h
    query_timeout: 1m
    retention_period: 3d
    retention_stream:
        - selector: '{a="b"}'
          priority: 1
          period: 2d
wal:
    fsync: interval
`},
		{"/config?mode=diff", `http_addr: :3100
limits:
    retention_period: 3d
    retention_stream:
        - period: 2d
          priority: 1
          selector: '{a="b"}'
`},
		{"/config?mode=defaults", ""}, // checked below
		{"/config?mode=other", ""},
	}
	for _, tt := range tests {
		res := do(h, "GET", tt.path, "")
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("GET %s: %d %s %s", tt.path, res.status, res.header.Get("Content-Type"), res.body)
		}
		if tt.want != "" && res.body != tt.want {
			t.Errorf("GET %s:\n%s\nwant:\n%s", tt.path, res.body, tt.want)
		}
		// Whatever the mode, the answer reads back as the configuration.
		var back testConfig
		if err := yaml.Unmarshal([]byte(res.body), &back); err != nil {
			t.Errorf("GET %s does not read back: %v", tt.path, err)
		}
		switch tt.path {
		case "/config", "/config?mode=other":
			if back.Limits.RetentionPeriod != cur.Limits.RetentionPeriod || back.HTTPAddr != cur.HTTPAddr {
				t.Errorf("GET %s read back as %+v", tt.path, back)
			}
		case "/config?mode=defaults":
			if back.Limits.RetentionPeriod != def.Limits.RetentionPeriod || back.HTTPAddr != def.HTTPAddr || back.WAL.Fsync != "interval" {
				t.Errorf("GET %s read back as %+v", tt.path, back)
			}
		}
	}
	// Without a configuration, nothing to show.
	h = New(Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, prometheus.NewRegistry()).Handler()
	if res := do(h, "GET", "/config", ""); res.status != http.StatusNotFound {
		t.Fatalf("GET /config without a configuration: %d %s", res.status, res.body)
	}
}

func TestRuntimeConfigEndpoint(t *testing.T) {
	limits := testLimits(t, func(l *overrides.Limits) { l.MaxLineSize = 100 },
		"overrides:\n  b: {retention_period: 3d}\n  a: {max_query_series: 7, retention_stream: [{selector: '{x=\"y\"}', period: 1d}]}\n  same: {}\n")
	h := New(Options{Limits: limits}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, prometheus.NewRegistry()).Handler()
	res := do(h, "GET", "/runtime_config", "")
	if res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	// Every tenant with all its settings: the file's over the defaults.
	var all struct {
		Overrides map[string]map[string]any `yaml:"overrides"`
	}
	if err := yaml.Unmarshal([]byte(res.body), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Overrides) != 3 || all.Overrides["b"]["retention_period"] != "3d" || all.Overrides["b"]["max_line_size"] != "100B" ||
		all.Overrides["a"]["max_query_series"] != 7 || all.Overrides["a"]["retention_period"] != "2w" || len(all.Overrides["same"]) != 17 {
		t.Fatalf("GET /runtime_config:\n%s", res.body)
	}
	// The same read as a runtime configuration file gives the same settings.
	back, err := overrides.Parse([]byte(res.body), limits.Defaults())
	if err != nil || back["a"].MaxQuerySeries != 7 || back["a"].RetentionFor(nil) != 336*time.Hour || len(back) != 3 {
		t.Fatalf("GET /runtime_config does not read back: %v %+v", err, back)
	}

	res = do(h, "GET", "/runtime_config?mode=diff", "")
	want := `overrides:
    a:
        max_query_series: 7
        retention_stream:
            - period: 1d
              priority: 0
              selector: '{x="y"}'
    b:
        retention_period: 3d
`
	if res.status != http.StatusOK || res.body != want {
		t.Fatalf("GET /runtime_config?mode=diff: %d\n%s\nwant:\n%s", res.status, res.body, want)
	}

	// No file: no tenant.
	h = New(Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, prometheus.NewRegistry()).Handler()
	if res := do(h, "GET", "/runtime_config", ""); res.status != http.StatusOK || strings.TrimSpace(res.body) != "overrides: {}" {
		t.Fatalf("GET /runtime_config without a file: %d %q", res.status, res.body)
	}
}

func TestDiffTree(t *testing.T) {
	def := map[string]any{"a": 1, "b": "x", "m": map[string]any{"c": 1, "d": []any{1, 2}}, "gone": true}
	cur := map[string]any{"a": 1, "b": "z", "m": map[string]any{"c": 1, "d": []any{1, 3}}, "new": 2.5}
	got := diffTree(def, cur)
	b, _ := yaml.Marshal(got)
	if want := "b: z\nm:\n    d:\n        - 1\n        - 3\nnew: 2.5\n"; string(b) != want {
		t.Fatalf("diffTree:\n%s\nwant:\n%s", b, want)
	}
	if len(diffTree(def, def)) != 0 {
		t.Fatal("a configuration differs from itself")
	}
}

// The query limits are those of the asking tenant.
func TestQueryLimitsPerTenant(t *testing.T) {
	limits := testLimits(t, nil, "overrides:\n  small: {max_query_series: 1, max_query_length: 1h, max_entries_limit_per_query: 10, query_timeout: 5m}\n")
	h := newStoreServerWith(t, Options{Limits: limits})
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	for _, tenant := range []string{"small", "big"} {
		for _, app := range []string{"a", "b"} {
			pushLines(t, h, tenant, "app="+app, start, linesOf(3, func(i int) string { return fmt.Sprint("line ", i) }))
		}
	}
	end := time.Now().Add(time.Minute)
	metric := url.Values{"query": {`sum by (app) (count_over_time({app=~".+"}[1m]))`},
		"start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"60"}}
	logs := url.Values{"query": {`{app=~".+"}`}, "limit": {"20"}, "start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}}
	long := url.Values{"query": {`{app="a"}`}, "limit": {"5"}, "start": {fmt.Sprint(end.Add(-2 * time.Hour).Unix())}, "end": {fmt.Sprint(end.Unix())}}
	tests := []struct {
		tenant string
		q      url.Values
		want   string // error for small; big succeeds
	}{
		{"small", metric, "maximum number of series (1) reached for a single query"},
		{"small", logs, "max entries limit per query exceeded, limit > max_entries_limit_per_query (20 > 10)"},
		{"small", long, "the query time range exceeds the limit (query length: 2h0m0s, limit: 1h)"},
	}
	for _, tt := range tests {
		w := getAs(h, "small", "/loki/api/v1/query_range", tt.q)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("small: %s: %d %s, want 400 %q", tt.q.Get("query"), w.Code, w.Body, tt.want)
		}
		if w := getAs(h, "big", "/loki/api/v1/query_range", tt.q); w.Code != http.StatusOK {
			t.Errorf("big: %s: %d %s", tt.q.Get("query"), w.Code, w.Body)
		}
	}
	// The timeout of a query is its tenant's.
	a := New(Options{Limits: limits}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	for tenant, want := range map[string]time.Duration{"small": 5 * time.Minute, "big": time.Minute} {
		r := httptest.NewRequest("GET", "/loki/api/v1/query", nil)
		r.Header.Set("X-Scope-OrgID", tenant)
		ctx, cancel := a.queryContext(r)
		deadline, ok := ctx.Deadline()
		cancel()
		if left := time.Until(deadline); !ok || left > want || left < want-10*time.Second {
			t.Errorf("tenant %s: query deadline in %v, want %v", tenant, left, want)
		}
	}
}
