package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestRuntimeConfig: the per-tenant settings of -runtime-config.file are in
// force, shown by /config, /runtime_config and /drilldown-limits, and
// follow the file without a restart; a bad version keeps the last good
// one and says so on /metrics; a bad file at start stops loam.
func TestRuntimeConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runtime.yaml")
	write := func(content string) {
		t.Helper()
		// Through a rename, as a ConfigMap update is: never half a file.
		if err := os.WriteFile(file+".tmp", []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write(`overrides:
  a:
    retention_period: 72h
    max_line_size: 100
    retention_stream:
      - selector: '{namespace="dev"}'
        priority: 1
        period: 24h
`)
	l := startLoam(t, filepath.Join(dir, "data"), "-runtime-config.file", file, "-runtime-config.reload-period", "200ms",
		"-retention.period", "10d")

	retention := func(tenant string) string { t.Helper(); return drilldownRetention(t, l, tenant) }
	yamlOf := func(path string) map[string]any {
		t.Helper()
		code, body := l.get(t, path, nil, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(body, &m); err != nil {
			t.Fatalf("GET %s: not YAML: %v\n%s", path, err, body)
		}
		return m
	}
	reloadOK := func() float64 {
		v, ok := l.metrics(t).value("loam_runtime_config_last_reload_successful")
		if !ok {
			t.Fatal("no loam_runtime_config_last_reload_successful on /metrics")
		}
		return v
	}

	t.Run("start", func(t *testing.T) {
		if got := retention("a"); got != "3d" {
			t.Errorf("drilldown-limits of tenant a: retention_period %q, want 3d", got)
		}
		for _, tenant := range []string{"b", ""} {
			if got := retention(tenant); got != "10d" {
				t.Errorf("drilldown-limits of tenant %q: retention_period %q, want -retention.period's 10d", tenant, got)
			}
		}
		cfg := yamlOf("/config")
		limits, _ := cfg["limits"].(map[string]any)
		rc, _ := cfg["runtime_config"].(map[string]any)
		if limits["retention_period"] != "10d" || limits["max_line_size"] != "256KB" || rc["file"] != file || rc["period"] != "200ms" {
			t.Errorf("/config: limits %v, runtime_config %v", limits, rc)
		}
		diff := yamlOf("/config?mode=diff")
		if dl, _ := diff["limits"].(map[string]any); len(dl) != 1 || dl["retention_period"] != "10d" {
			t.Errorf("/config?mode=diff: limits %v, want only retention_period", diff["limits"])
		}
		rt := yamlOf("/runtime_config")
		ov, _ := rt["overrides"].(map[string]any)
		a, _ := ov["a"].(map[string]any)
		if len(ov) != 1 || a["retention_period"] != "3d" || a["max_line_size"] != "100B" || a["max_query_series"] != 500 {
			t.Errorf("/runtime_config: %v", rt)
		}
		if reloadOK() != 1 {
			t.Error("loam_runtime_config_last_reload_successful is not 1 after a good start")
		}
	})

	t.Run("max_line_size per tenant", func(t *testing.T) {
		e := []entry{{Labels: map[string]string{"app": "long"}, T: time.Now().Add(-time.Minute).UnixNano(), Line: strings.Repeat("z", 200)}}
		if code, msg := l.pushRaw(t, "a", ctJSON, "", jsonBody(e)); code != http.StatusBadRequest || !strings.Contains(msg, "max entry size '100' bytes exceeded") {
			t.Errorf("tenant a, 200-byte line: %d %q, want 400 naming max_line_size 100", code, msg)
		}
		l.mustPush(t, "b", ctJSON, "", jsonBody(e))
	})

	t.Run("reload", func(t *testing.T) {
		write("overrides:\n  a:\n    retention_period: 96h\n    max_line_size: 100\n  c:\n    retention_period: 0\n")
		waitFor(t, 10*time.Second, "tenant a's new retention_period", func() bool { return retention("a") == "4d" })
		if got := retention("c"); got != "0s" {
			t.Errorf("tenant c added by the reload: retention_period %q, want 0s", got)
		}
	})

	t.Run("bad file keeps the last good", func(t *testing.T) {
		write("overrides:\n  a:\n    retention_period: [\n")
		waitFor(t, 10*time.Second, "loam_runtime_config_last_reload_successful 0", func() bool { return reloadOK() == 0 })
		if got := retention("a"); got != "4d" {
			t.Errorf("after a bad file: tenant a retention_period %q, want the last good 4d", got)
		}
		if !strings.Contains(l.out.String(), "level=WARN") || !strings.Contains(l.out.String(), file) {
			t.Errorf("no warning naming the file in the log:\n%s", l.out.String())
		}
		// Invalid settings count as bad too.
		write("overrides:\n  a:\n    retention_stream: [{selector: '{a=\"b\"}', period: 1h}]\n")
		waitFor(t, 10*time.Second, "the invalid settings to be refused in the log", func() bool {
			return strings.Contains(l.out.String(), "retention period must be >= 24h was 1h")
		})
		if reloadOK() != 0 || retention("a") != "4d" {
			t.Errorf("after invalid settings: successful %v, retention %q", reloadOK(), retention("a"))
		}
		write("overrides:\n  a:\n    retention_period: 5d\n")
		waitFor(t, 10*time.Second, "a good file again", func() bool { return reloadOK() == 1 && retention("a") == "5d" })
	})

	l.stop()

	t.Run("bad file at start", func(t *testing.T) {
		write("overrides:\n  a:\n    retention_perod: 1d\n")
		out, code := runLoam(t, "-http.addr", freeAddr(t), "-data.dir", filepath.Join(dir, "data2"), "-runtime-config.file", file)
		if code == 0 || !strings.Contains(out, file) || !strings.Contains(out, `unknown setting "retention_perod"`) {
			t.Errorf("loam with a bad runtime configuration file exited %d:\n%s", code, out)
		}
	})
	t.Run("missing file at start", func(t *testing.T) {
		missing := filepath.Join(dir, "not-yet.yaml")
		l := startLoam(t, filepath.Join(dir, "data3"), "-runtime-config.file", missing, "-runtime-config.reload-period", "200ms")
		if got := drilldownRetention(t, l, "a"); got != "2w" {
			t.Errorf("no file: retention %q, want the default 2w", got)
		}
		if err := os.WriteFile(missing, []byte("overrides:\n  a: {retention_period: 1w1d}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the file written after the start", func() bool { return drilldownRetention(t, l, "a") == "8d" })
		l.stop()
	})
}

// drilldownRetention returns the retention_period /drilldown-limits gives
// tenant.
func drilldownRetention(t *testing.T, l *loam, tenant string) string {
	t.Helper()
	var got struct {
		Limits map[string]any `json:"limits"`
	}
	l.getJSON(t, "/loki/api/v1/drilldown-limits", nil, tenant, &got)
	s, _ := got.Limits["retention_period"].(string)
	return s
}
