package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/loam-logs/loam/server/logql"
)

// The Kubernetes kit's dashboards and rules against the real servers: a
// clustered loam (so that the ring metrics exist) with a byte budget of
// one, and a real Prometheus (Debian's package) scraping it the way the
// kit's ServiceMonitor says and evaluating ../rules.

// fluentBitMetrics are the names of Fluent Bit's /api/v2/metrics/prometheus
// the dashboards may use (Fluent Bit's monitoring documentation, v2
// metrics); no Fluent Bit runs in this test.
var fluentBitMetrics = []string{
	"fluentbit_output_retries_total",
	"fluentbit_output_retries_failed_total",
	"fluentbit_output_errors_total",
	"fluentbit_output_dropped_records_total",
	"fluentbit_output_proc_records_total",
	"fluentbit_output_proc_bytes_total",
	"fluentbit_input_records_total",
	"fluentbit_input_bytes_total",
	"fluentbit_input_storage_chunks_busy_bytes",
	"fluentbit_output_chunk_available_capacity_percent",
}

// dashQuery is one query of a dashboard: a panel target or a variable.
type dashQuery struct {
	where string // dashboard file and panel or variable, for messages
	kind  string // "loki" or "prometheus"
	expr  string
	label string // variables: the label whose values are asked
}

// dashboardQueries reads ../dashboards/*.json and returns every query with
// the datasource it goes to, known by its uid variable.
func dashboardQueries(t *testing.T) []dashQuery {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards in ../dashboards")
	}
	type ds struct{ Type, UID string }
	kindOf := func(d *ds, where string) string {
		switch {
		case d == nil:
			t.Fatalf("%s: no datasource", where)
		case d.Type == "loki" && d.UID == "${loam}", d.Type == "prometheus" && d.UID == "${prometheus}":
			return d.Type
		default:
			t.Fatalf("%s: datasource %+v: want loki ${loam} or prometheus ${prometheus}", where, *d)
		}
		return ""
	}
	var qs []dashQuery
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID           string `json:"uid"`
			SchemaVersion int    `json:"schemaVersion"`
			Templating    struct {
				List []struct {
					Name, Type string
					Datasource *ds
					Query      json.RawMessage
				}
			}
			Panels []struct {
				Title      string
				Type       string
				Datasource *ds
				Targets    []struct {
					Expr       string
					Datasource *ds
				}
			}
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.SchemaVersion < 39 {
			t.Errorf("%s: uid %q, schemaVersion %d (want a uid, and Grafana 11's schema or later)", f, d.UID, d.SchemaVersion)
		}
		base := filepath.Base(f)
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			where := base + ": variable " + v.Name
			switch kindOf(v.Datasource, where) {
			case "loki":
				var q struct{ Label, Stream string }
				if err := json.Unmarshal(v.Query, &q); err != nil || q.Label == "" {
					t.Fatalf("%s: query %s: want Loki's label-values query object", where, v.Query)
				}
				qs = append(qs, dashQuery{where: where, kind: "loki", expr: q.Stream, label: q.Label})
			case "prometheus":
				var q struct{ Query string }
				if err := json.Unmarshal(v.Query, &q); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				m := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`).FindStringSubmatch(q.Query)
				if m == nil {
					t.Fatalf("%s: query %q is not label_values(selector, label)", where, q.Query)
				}
				qs = append(qs, dashQuery{where: where, kind: "prometheus", expr: m[1], label: m[2]})
			}
		}
		for _, p := range d.Panels {
			for i, tg := range p.Targets {
				where := fmt.Sprintf("%s: panel %q target %d", base, p.Title, i)
				dsrc := tg.Datasource
				if dsrc == nil {
					dsrc = p.Datasource
				}
				if tg.Expr == "" {
					t.Fatalf("%s: no expr", where)
				}
				qs = append(qs, dashQuery{where: where, kind: kindOf(dsrc, where), expr: tg.Expr})
			}
		}
	}
	return qs
}

var dashVar = regexp.MustCompile(`\$\{?(\w+)\}?`)

// substitute replaces Grafana's variables as a dashboard with every
// variable at "All" (allValue .+) and an empty search box sends them.
func substitute(expr string) string {
	return dashVar.ReplaceAllStringFunc(expr, func(v string) string {
		switch strings.Trim(v, "${}") {
		case "__auto", "__rate_interval", "__interval":
			return "1m"
		case "search":
			return ""
		default:
			return ".+"
		}
	})
}

// metricNames returns the metric names a PromQL expression selects: what
// is left once strings, matchers, ranges, label lists and function calls
// are taken out.
func metricNames(expr string) []string {
	for _, re := range []string{`"(\\.|[^"\\])*"`, `\{[^}]*\}`, `\[[^\]]*\]`,
		`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`,
		`\b\d+(\.\d+)?([eE][+-]?\d+)?[a-zA-Z]*`} { // numbers, and offset durations
		expr = regexp.MustCompile(re).ReplaceAllString(expr, " ")
	}
	keywords := []string{"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
	var names []string
	for _, m := range regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`).FindAllString(expr, -1) {
		m = strings.TrimSpace(m)
		if strings.HasSuffix(m, "(") || slices.Contains(keywords, strings.ToLower(m)) {
			continue
		}
		names = append(names, m)
	}
	return names
}

type promRule struct {
	Record, Alert, Expr string
}

func readRules(t *testing.T) (files []string, rules []promRule) {
	t.Helper()
	files, _ = filepath.Glob(filepath.Join("..", "rules", "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Rules []promRule
			}
		}
		if err := yaml.Unmarshal(data, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			rules = append(rules, g.Rules...)
		}
	}
	if len(rules) == 0 {
		t.Fatal("no rules in ../rules")
	}
	return files, rules
}

// scrapeSpec is what the kit's ServiceMonitor loam says of the scrape,
// with its port resolved through the Service loam.
type scrapeSpec struct {
	path, interval string
}

func loamServiceMonitor(t *testing.T) scrapeSpec {
	t.Helper()
	read := func(path string, v any) {
		data, err := os.ReadFile(filepath.Join("..", "deploy", "base", "loam", path))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var sm struct {
		Spec struct {
			Endpoints []struct{ Port, Path, Interval string }
		}
	}
	read("servicemonitor.yaml", &sm)
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor loam: %d endpoints", len(sm.Spec.Endpoints))
	}
	e := sm.Spec.Endpoints[0]
	// The port name is the Service's; its target is the container port
	// "http" (3100), on which loam listens: here, the test's own address.
	data, err := os.ReadFile(filepath.Join("..", "deploy", "base", "loam", "services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var svc struct {
			Metadata struct{ Name string }
			Spec     struct {
				Ports []struct {
					Name       string
					TargetPort any `json:"targetPort"`
				}
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &svc); err != nil {
			t.Fatal(err)
		}
		if svc.Metadata.Name != "loam" {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == e.Port && (p.TargetPort == "http" || p.TargetPort == float64(3100)) {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("ServiceMonitor loam scrapes port %q, which is not the Service loam's port to loam's listener", e.Port)
	}
	if _, err := time.ParseDuration(e.Interval); err != nil {
		t.Fatalf("ServiceMonitor loam: interval %q: %v", e.Interval, err)
	}
	return scrapeSpec{path: e.Path, interval: e.Interval}
}

// prometheus is one running Prometheus server.
type prometheus struct {
	base string
	out  *syncBuffer
}

// startPrometheus runs /usr/bin/prometheus (or the one on PATH) with the
// given config on a free port, until the test ends.
func startPrometheus(t *testing.T, config string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus; CI installs it)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := &prometheus{base: "http://" + addr, out: &syncBuffer{}}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("--- prometheus output ---\n%s", p.out.String())
		}
	})
	waitFor(t, 20*time.Second, "prometheus to be ready", func() bool {
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", p.out.String())
		default:
		}
		resp, err := client.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// query evaluates expr at now; it returns the HTTP status, Prometheus's
// error and the number of series or samples of the answer.
func (p *prometheus) query(t *testing.T, expr string) (int, string, int) {
	t.Helper()
	resp, err := client.PostForm(p.base+"/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Data          struct {
			Result json.RawMessage
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	var series []any
	json.Unmarshal(r.Data.Result, &series)
	return resp.StatusCode, r.Error, len(series)
}

func (p *prometheus) firing(t *testing.T, alert string) bool {
	t.Helper()
	resp, err := client.Get(p.base + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string
				State  string
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == alert && a.State == "firing" {
			return true
		}
	}
	return false
}

// TestKitDashboardsAndRules: every query of ../dashboards and every rule
// of ../rules runs against the real servers, every metric they name is
// one loam (or Fluent Bit) exports, and a size purge makes the
// LoamSizePurge alert fire in a Prometheus that scrapes loam as the kit's
// ServiceMonitor does (path, port; the interval is 1 s here, not the
// ServiceMonitor's, so that the test takes seconds).
func TestKitDashboardsAndRules(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus; CI installs it)")
	}
	queries := dashboardQueries(t)
	ruleFiles, rules := readRules(t)
	sm := loamServiceMonitor(t)

	// A one-node cluster (gossip on, for the ring metrics) whose byte
	// budget of one purges every cold block older than a minute.
	gossip := freeAddr(t)
	_, gossipPort, _ := strings.Cut(gossip, ":")
	l := startLoam(t, t.TempDir(), "-ring.replication-factor", "1", "-node.name", "kit-1",
		"-memberlist.bind-addr", "127.0.0.1", "-memberlist.port", gossipPort, "-memberlist.join", gossip,
		"-compaction.cold-after", "1s", "-retention.interval", "1s", "-retention.min-age", "1m",
		"-retention.max-bytes", "1")

	now := time.Now()
	old := now.Add(-2 * time.Hour)
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	pod := map[string]string{"node": "node-a", "namespace": "shop", "pod": "web-7d9f", "container": "web"}
	journal := map[string]string{"node": "node-a", "unit": "kubelet.service"}
	var streams []stream
	// The old lines are purged; the recent ones, younger than
	// -retention.min-age, stay for the dashboards' queries.
	for _, at := range []time.Time{old, now.Add(-10 * time.Second)} {
		streams = append(streams,
			stream{pod, [][]any{{ns(at), "level=info msg=\"order placed\" id=1"}, {ns(at.Add(time.Millisecond)), "level=error msg=\"payment refused\""}, {ns(at.Add(2 * time.Millisecond)), "plain text, no level"}}},
			stream{journal, [][]any{{ns(at), "Started kubelet", map[string]string{"level": "info"}}, {ns(at.Add(time.Millisecond)), "failed to sync pod", map[string]string{"level": "error"}}}})
	}
	body, _ := json.Marshal(map[string]any{"streams": streams})
	l.mustPush(t, "", "application/json", "", body)
	// A line from the future is discarded: loam_discarded_lines_total exists.
	future, _ := json.Marshal(map[string]any{"streams": []stream{{pod, [][]any{{ns(now.Add(time.Hour)), "from the future"}}}}})
	if code, msg := l.pushRaw(t, "", "application/json", "", future); code != http.StatusBadRequest {
		t.Fatalf("push from the future: %d %s, want 400", code, msg)
	}
	if code, _, b := l.do(t, "POST", "/flush", nil, nil); code != http.StatusNoContent {
		t.Fatalf("POST /flush: %d %s", code, b)
	}

	prom := startPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: loam
    metrics_path: %s
    scrape_timeout: 1s
    static_configs:
      - targets: [%q]
`, quoteAll(t, ruleFiles), sm.path, l.addr))

	// The real condition: the size purge, then the alert.
	waitFor(t, 20*time.Second, "a size purge", func() bool {
		v, _ := l.metrics(t).value("loam_retention_purged_bytes_total", "reason", "size")
		return v > 0
	})
	waitFor(t, 30*time.Second, "LoamSizePurge to fire", func() bool { return prom.firing(t, "LoamSizePurge") })

	// Every metric named exists.
	known := map[string]bool{"up": true}
	for name := range l.metrics(t) {
		known[name] = true
	}
	for _, n := range fluentBitMetrics {
		known[n] = true
	}
	for _, r := range rules {
		if r.Record != "" {
			known[r.Record] = true
		}
	}
	checkNames := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %s names no metric", where, expr)
		}
		for _, n := range names {
			if !known[n] {
				t.Errorf("%s: metric %s is not exported by loam (nor Fluent Bit, nor a recording rule)", where, n)
			}
		}
	}

	// PromQL: every rule and every dashboard query is accepted; the
	// recording rules have evaluated over live series.
	for _, r := range rules {
		name := r.Record + r.Alert
		checkNames("rule "+name, r.Expr)
		if code, msg, _ := prom.query(t, r.Expr); code != http.StatusOK {
			t.Errorf("rule %s: %d %s", name, code, msg)
		}
	}
	for _, rec := range []string{"job_tenant:loam_distributor_lines_received:rate5m", "instance:loam_disk_usage:ratio"} {
		waitFor(t, 10*time.Second, rec+" to be recorded", func() bool {
			_, _, n := prom.query(t, rec)
			return n > 0
		})
	}
	start, end := now.Add(-3*time.Hour), time.Now().Add(time.Minute)
	for _, q := range queries {
		expr := substitute(q.expr)
		if q.kind == "prometheus" {
			checkNames(q.where, expr)
			if code, msg, _ := prom.query(t, expr); code != http.StatusOK {
				t.Errorf("%s: %s: %d %s", q.where, expr, code, msg)
			}
			continue
		}
		// LogQL: Loam's parser accepts it, and loam answers it.
		if q.label != "" {
			if expr != "" {
				if _, err := logql.ParseLogSelector(expr); err != nil {
					t.Errorf("%s: %s: %v", q.where, expr, err)
				}
			}
			v := url.Values{"start": {ns(start)}, "end": {ns(end)}}
			if expr != "" {
				v.Set("query", expr)
			}
			code, b := l.get(t, "/loki/api/v1/label/"+q.label+"/values", v, "")
			var r struct{ Data []string }
			if code != http.StatusOK || json.Unmarshal(b, &r) != nil || len(r.Data) == 0 {
				t.Errorf("%s: values of %s for %s: %d %s", q.where, q.label, expr, code, b)
			}
			continue
		}
		if _, err := logql.ParseExpr(expr); err != nil {
			t.Errorf("%s: %s: %v", q.where, expr, err)
			continue
		}
		v := url.Values{"query": {expr}, "start": {ns(start)}, "end": {ns(end)}, "step": {"60"}, "limit": {"100"}}
		code, b := l.get(t, "/loki/api/v1/query_range", v, "")
		var r struct {
			Data struct{ Result []json.RawMessage }
		}
		if code != http.StatusOK || json.Unmarshal(b, &r) != nil || len(r.Data.Result) == 0 {
			t.Errorf("%s: %s: %d %s (want 200 and a result over the lines pushed)", q.where, expr, code, b)
		}
	}
}

func quoteAll(t *testing.T, files []string) string {
	t.Helper()
	var q []string
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		q = append(q, strconv.Quote(abs))
	}
	return strings.Join(q, ", ")
}
