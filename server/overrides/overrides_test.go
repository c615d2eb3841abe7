package overrides

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loam-logs/loam/server/labels"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestNoFile(t *testing.T) {
	d := DefaultLimits()
	d.MaxLineSize = 10
	o, err := New(d, Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.For("anyone"); !reflect.DeepEqual(*got, d) || got != o.Defaults() {
		t.Fatalf("For = %+v, want the defaults %+v", got, d)
	}
	if len(o.Tenants()) != 0 {
		t.Fatalf("Tenants = %v", o.Tenants())
	}
	if err := o.Reload(); err != nil {
		t.Fatal(err)
	}
	o.Run(context.Background()) // returns at once without a file
}

func TestNewRefusesBadDefaults(t *testing.T) {
	d := DefaultLimits()
	d.RetentionStream = []StreamRetention{{Selector: `{a="b"}`, Period: Duration(time.Hour)}}
	if _, err := New(d, Config{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "limits: retention_stream[0]") {
		t.Fatalf("New = %v, want the defaults' error", err)
	}
	// The caller's defaults are not modified (the matchers are compiled in
	// a copy).
	d.RetentionStream[0].Period = Duration(48 * time.Hour)
	o, err := New(d, Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if d.RetentionStream[0].Matchers != nil || o.Defaults().RetentionStream[0].Matchers == nil {
		t.Fatal("the matchers were compiled into the caller's defaults, or not at all")
	}
}

// harness is a runtime configuration file under test with its Overrides.
type harness struct {
	file string
	reg  *prometheus.Registry
	logs *bytes.Buffer
	o    *Overrides
}

func newHarness(t *testing.T, content *string) (*harness, error) {
	t.Helper()
	h := &harness{file: filepath.Join(t.TempDir(), "runtime.yaml"), reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	if content != nil {
		h.write(t, *content)
	}
	var err error
	h.o, err = New(DefaultLimits(), Config{File: h.file, ReloadPeriod: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)), Metrics: NewMetrics(h.reg)})
	return h, err
}

func (h *harness) write(t *testing.T, content string) {
	t.Helper()
	// Through a rename, as an editor or a Kubernetes ConfigMap update does:
	// readers never see a half-written file.
	tmp := h.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, h.file); err != nil {
		t.Fatal(err)
	}
}

// gauge returns the value of a metric of the harness (-1 if absent) and,
// for the hash, its label.
func (h *harness) gauge(t *testing.T, name string) (float64, string) {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		label := ""
		if ls := m.GetLabel(); len(ls) > 0 {
			label = ls[0].GetValue()
		}
		return gaugeValue(m), label
	}
	return -1, ""
}

func gaugeValue(m *dto.Metric) float64 { return m.GetGauge().GetValue() }

func retentionOf(o *Overrides, tenant string) time.Duration {
	return time.Duration(o.For(tenant).RetentionPeriod)
}

func TestStart(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		h, err := newHarness(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.o.Tenants()) != 0 || !strings.Contains(h.logs.String(), "not found") {
			t.Fatalf("tenants %v, logs %s", h.o.Tenants(), h.logs)
		}
		if v, _ := h.gauge(t, "loam_runtime_config_last_reload_successful"); v != 1 {
			t.Fatalf("last_reload_successful = %v", v)
		}
		// Written later, it is read.
		h.write(t, "overrides:\n  a: {retention_period: 3d}\n")
		if err := h.o.Reload(); err != nil || retentionOf(h.o, "a") != 72*time.Hour {
			t.Fatalf("Reload = %v, retention %v", err, retentionOf(h.o, "a"))
		}
	})
	t.Run("empty file", func(t *testing.T) {
		empty := ""
		h, err := newHarness(t, &empty)
		if err != nil || len(h.o.Tenants()) != 0 || !strings.Contains(h.logs.String(), "empty") {
			t.Fatalf("New = %v, tenants %v, logs %s", err, h.o.Tenants(), h.logs)
		}
	})
	t.Run("bad file", func(t *testing.T) {
		bad := "overrides:\n  a: {retention_period: soon}\n"
		_, err := newHarness(t, &bad)
		if err == nil || !strings.Contains(err.Error(), "runtime.yaml") || !strings.Contains(err.Error(), `invalid duration "soon"`) {
			t.Fatalf("New = %v, want an error naming the file and the problem", err)
		}
	})
	t.Run("good file", func(t *testing.T) {
		good := "overrides:\n  b: {retention_period: 1d}\n  a: {max_line_size: 5}\n"
		h, err := newHarness(t, &good)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(h.o.Tenants(), []string{"a", "b"}) || retentionOf(h.o, "b") != 24*time.Hour ||
			h.o.For("a").MaxLineSize != 5 || retentionOf(h.o, "a") != 336*time.Hour || h.o.For("c") != h.o.Defaults() {
			t.Fatalf("tenants %v, b %+v, a %+v", h.o.Tenants(), h.o.For("b"), h.o.For("a"))
		}
		if v, hash := h.gauge(t, "loam_runtime_config_hash"); v != 1 || len(hash) != 64 {
			t.Fatalf("hash gauge %v %q", v, hash)
		}
		if v, _ := h.gauge(t, "loam_runtime_config_last_reload_success_timestamp_seconds"); v < float64(time.Now().Add(-time.Minute).Unix()) {
			t.Fatalf("success timestamp %v", v)
		}
	})
}

func TestReload(t *testing.T) {
	first := "overrides:\n  a: {retention_period: 3d}\n"
	h, err := newHarness(t, &first)
	if err != nil {
		t.Fatal(err)
	}
	success := func() float64 { v, _ := h.gauge(t, "loam_runtime_config_last_reload_successful"); return v }
	_, hash1 := h.gauge(t, "loam_runtime_config_hash")
	steps := []struct {
		name     string
		content  *string // nil: remove the file
		wantErr  string
		wantA    time.Duration
		tenants  []string
		success  float64
		logsWant string
	}{
		{"unchanged", &first, "", 72 * time.Hour, []string{"a"}, 1, ""},
		{"a new value", ptr("overrides:\n  a: {retention_period: 4d}\n  b: {}\n"), "", 96 * time.Hour, []string{"a", "b"}, 1, "runtime configuration loaded"},
		{"same size, new value", ptr("overrides:\n  a: {retention_period: 5d}\n  b: {}\n"), "", 120 * time.Hour, []string{"a", "b"}, 1, ""},
		{"bad YAML keeps the last good", ptr("overrides:\n  a: {retention_period: [\n"), "yaml", 120 * time.Hour, []string{"a", "b"}, 0,
			"level=WARN msg=\"runtime configuration not reloaded"},
		{"bad again, unchanged", ptr("overrides:\n  a: {retention_period: [\n"), "yaml", 120 * time.Hour, []string{"a", "b"}, 0, ""},
		{"invalid settings keep the last good", ptr("overrides:\n  a: {retention_stream: [{selector: '{a=\"b\"}', period: 1h}]}\n"),
			"retention period must be >= 24h", 120 * time.Hour, []string{"a", "b"}, 0, "retention period must be"},
		{"unknown key", ptr("overrides:\n  a: {retention: 1d}\n"), `unknown setting "retention"`, 120 * time.Hour, []string{"a", "b"}, 0, "unknown setting"},
		{"good again", ptr("overrides:\n  a: {retention_period: 6d}\n"), "", 144 * time.Hour, []string{"a"}, 1, ""},
		{"removed: kept", nil, "is gone", 144 * time.Hour, []string{"a"}, 0, "is gone"},
		{"back, unchanged", ptr("overrides:\n  a: {retention_period: 6d}\n"), "", 144 * time.Hour, []string{"a"}, 1, ""},
		{"emptied: no overrides", ptr(""), "", 336 * time.Hour, []string{}, 1, ""},
	}
	for _, s := range steps {
		h.logs.Reset()
		if s.content == nil {
			os.Remove(h.file)
		} else {
			h.write(t, *s.content)
		}
		err := h.o.Reload()
		if s.wantErr == "" && err != nil || s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)) {
			t.Fatalf("%s: Reload = %v, want %q", s.name, err, s.wantErr)
		}
		if got := retentionOf(h.o, "a"); got != s.wantA {
			t.Fatalf("%s: retention of a = %v, want %v", s.name, got, s.wantA)
		}
		if got := h.o.Tenants(); !reflect.DeepEqual(got, s.tenants) {
			t.Fatalf("%s: tenants %v, want %v", s.name, got, s.tenants)
		}
		if got := success(); got != s.success {
			t.Fatalf("%s: last_reload_successful = %v, want %v", s.name, got, s.success)
		}
		if !strings.Contains(h.logs.String(), s.logsWant) {
			t.Fatalf("%s: logs %q, want %q", s.name, h.logs, s.logsWant)
		}
		if s.wantErr != "" && !strings.Contains(h.logs.String(), h.file) && s.logsWant != "" {
			t.Fatalf("%s: the warning does not name the file: %s", s.name, h.logs)
		}
	}
	if _, hash := h.gauge(t, "loam_runtime_config_hash"); hash == hash1 {
		t.Fatal("the hash gauge did not change")
	}
}

func ptr(s string) *string { return &s }

// Run picks up a rewritten file by itself, and readers on other goroutines
// always see a whole set of settings (go test -race).
func TestRunConcurrentReaders(t *testing.T) {
	first := "overrides:\n  a: {retention_period: 2d, max_query_series: 2}\n"
	h, err := newHarness(t, &first)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.o.Run(ctx); close(done) }()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Each version of the file keeps days == series.
				l := h.o.For("a")
				if int(time.Duration(l.RetentionPeriod)/(24*time.Hour)) != l.MaxQuerySeries {
					t.Errorf("torn settings: %+v", l)
					return
				}
			}
		}()
	}
	for n := 3; n <= 6; n++ {
		h.write(t, fmt.Sprintf("overrides:\n  a: {retention_period: %dd, max_query_series: %d}\n", n, n))
		deadline := time.Now().Add(5 * time.Second)
		for h.o.For("a").MaxQuerySeries != n {
			if time.Now().After(deadline) {
				t.Fatalf("Run did not pick up version %d", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func BenchmarkFor(b *testing.B) {
	o, err := New(DefaultLimits(), Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	m := map[string]*Limits{}
	for i := range 1000 {
		l := DefaultLimits()
		m[fmt.Sprint("tenant-", i)] = &l
	}
	o.publish(m)
	b.ReportAllocs()
	for b.Loop() {
		if o.For("tenant-500") == nil || o.For("other") == nil {
			b.Fatal("nil")
		}
	}
}

// The retention of each tenant, as the store asks it.
func TestOverridesRetention(t *testing.T) {
	file := "overrides:\n  a:\n    retention_period: 3d\n    retention_stream: [{selector: '{env=\"dev\"}', period: 1d}, {selector: '{env=\"audit\"}', period: 1y}]\n  forever: {retention_period: 0}\n"
	h, err := newHarness(t, &file)
	if err != nil {
		t.Fatal(err)
	}
	dev := labels.FromMap(map[string]string{"env": "dev"})
	tests := []struct {
		tenant        string
		stream        labels.Labels
		want, max, mn time.Duration
	}{
		{"a", dev, 24 * time.Hour, 365 * 24 * time.Hour, 24 * time.Hour},
		{"a", nil, 72 * time.Hour, 365 * 24 * time.Hour, 24 * time.Hour},
		{"other", dev, 336 * time.Hour, 336 * time.Hour, 336 * time.Hour},
		{"forever", dev, 0, 0, 0},
	}
	for _, tt := range tests {
		if got := h.o.StreamRetention(tt.tenant, tt.stream); got != tt.want {
			t.Errorf("StreamRetention(%s, %v) = %v, want %v", tt.tenant, tt.stream, got, tt.want)
		}
		if got := h.o.MaxRetention(tt.tenant); got != tt.max {
			t.Errorf("MaxRetention(%s) = %v, want %v", tt.tenant, got, tt.max)
		}
		if got := h.o.MinRetention(tt.tenant); got != tt.mn {
			t.Errorf("MinRetention(%s) = %v, want %v", tt.tenant, got, tt.mn)
		}
	}
}
