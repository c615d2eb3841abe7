package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/loam-logs/loam/plugin/fbtest"
)

// TestPlugin drives the real out_loam.so through the C harness, which calls
// it exactly as Fluent Bit's Go proxy does, against real loam processes.
func TestPlugin(t *testing.T) {
	bins := buildPlugin(t)
	t.Run("Records", func(t *testing.T) { testPluginRecords(t, bins) })
	t.Run("Tenants", func(t *testing.T) { testPluginTenants(t, bins) })
	t.Run("Workers", func(t *testing.T) { testPluginWorkers(t, bins) })
	t.Run("Outage", func(t *testing.T) { testPluginOutage(t, bins) })
	t.Run("Timeout", func(t *testing.T) { testPluginTimeout(t, bins) })
	t.Run("BadConfig", func(t *testing.T) { testPluginBadConfig(t, bins) })
	t.Run("Rejected", func(t *testing.T) { testPluginRejected(t, bins) })
	t.Run("FlushWithoutContext", func(t *testing.T) { testPluginFlushNoCtx(t, bins) })
	t.Run("Auth", func(t *testing.T) { testPluginAuth(t, bins) })
	t.Run("TLS", func(t *testing.T) { testPluginTLS(t, bins) })
}

// pluginBase is a recent time with every nanosecond digit significant, so
// that truncation anywhere on the way shows.
func pluginBase() time.Time {
	return time.Now().Add(-10 * time.Minute).Truncate(time.Second).Add(123456789)
}

// sent is one record flushed and what the server must show for it.
type sent struct {
	tag   string
	event fbtest.Event
	want  entry
}

// flushAll flushes each record's chunk (records of one tag together, in
// order, as Fluent Bit builds chunks per tag) and requires FLB_OK.
func flushAll(t *testing.T, h *harness, inst int, recs []sent, extra ...fbtest.Event) {
	t.Helper()
	var tags []string
	byTag := map[string][]fbtest.Event{}
	for _, r := range recs {
		if _, ok := byTag[r.tag]; !ok {
			tags = append(tags, r.tag)
		}
		byTag[r.tag] = append(byTag[r.tag], r.event)
	}
	for _, tag := range tags {
		if got := h.flush1(inst, tag, fbtest.Chunk(append(byTag[tag], extra...)...)); got != flbOK {
			t.Fatalf("flush of %d records with tag %s: %s, want FLB_OK\n%s", len(byTag[tag]), tag, flbName(got), h.stderr.String())
		}
	}
}

func wants(recs []sent) []entry {
	out := make([]entry, len(recs))
	for i, r := range recs {
		out[i] = r.want
	}
	return out
}

// checkQuery requires query_range of sel over [start, end) to answer exactly
// the model's entries that match keep.
func checkQuery(t *testing.T, l *loam, tenant, sel string, model []entry, keep func(entry) bool, start, end int64) {
	t.Helper()
	q := url.Values{"query": {sel}, "start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)},
		"direction": {"forward"}, "limit": {"5000"}}
	got := l.queryRange(t, tenant, q)
	if diff := diffStreams(got, expectStreams(model, keep, start, end, false, 5000)); diff != "" {
		t.Errorf("query_range %s (tenant %q):\n%s", sel, tenant, diff)
	}
}

func anyEntry(entry) bool { return true }

func labelIs(name, value string) func(entry) bool {
	return func(e entry) bool { return e.Labels[name] == value }
}

// checkSeries requires /loki/api/v1/series for match to list exactly the
// label sets of the model's entries that match keep (no metadata).
func checkSeries(t *testing.T, l *loam, tenant, match string, model []entry, keep func(entry) bool, start, end int64) {
	t.Helper()
	var got []map[string]string
	l.getData(t, "/loki/api/v1/series", url.Values{"match[]": {match}, "start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)}}, tenant, &got)
	var want []map[string]string
	seen := map[string]bool{}
	for _, e := range model {
		if k := labelsText(e.Labels); keep(e) && !seen[k] {
			seen[k] = true
			want = append(want, e.Labels)
		}
	}
	if g, w := seriesKeys(got), seriesKeys(want); !slices.Equal(g, w) {
		t.Errorf("series %s (tenant %q):\n got  %q\n want %q", match, tenant, g, w)
	}
}

// testPluginRecords: container records (CRI and docker, with and without
// Merge_Log, v1 and v2 events, group markers) and journald records (a unit,
// a process known only by SYSLOG_IDENTIFIER, the kernel) arrive with the
// right labels, lines, nanosecond timestamps and level metadata.
func testPluginRecords(t *testing.T, bins pluginBins) {
	l := startLoam(t, t.TempDir())
	h := startHarness(t, bins)
	// Keys spelt in other cases: Fluent Bit's lookup ignores case.
	inst := h.mustInit("url", l.base+"/loki/api/v1/push", "LABELS", `{cluster="lab"}`, "batchWait", "100ms")

	base := pluginBase()
	at := func(i int) time.Time { return base.Add(time.Duration(i)*time.Millisecond + time.Duration(i)) }
	node := "node-a"
	kube := func(ns, pod, container, app string) map[string]string {
		m := map[string]string{"cluster": "lab", "node": node, "namespace": ns, "pod": pod, "container": container}
		if app != "" {
			m["app"] = app
		}
		return m
	}
	unit := func(u string) map[string]string { return map[string]string{"cluster": "lab", "node": node, "unit": u} }

	webLabels := kube("shop", "web-5d8f7c9b4-x2x7q", "web", "web")
	webTag := fbtest.Tag("shop", "web-5d8f7c9b4-x2x7q", "web")
	web := func(i int, line string, merge bool, form fbtest.Form) sent {
		c := fbtest.Container{Time: at(i), Node: node, Namespace: "shop", Pod: "web-5d8f7c9b4-x2x7q", Name: "web", Line: line, MergeLog: merge, Form: form}
		return sent{webTag, c.CRI(), entry{Labels: webLabels, T: at(i).UnixNano(), Line: line}}
	}
	cartTag := fbtest.Tag("shop", "cart-0", "cart")
	cart := func(i int, line string) sent {
		c := fbtest.Container{Time: at(i), Node: node, Namespace: "shop", Pod: "cart-0", Name: "cart", Line: line,
			Labels: map[string]string{"app": "cart", "statefulset.kubernetes.io/pod-name": "cart-0"}}
		return sent{cartTag, c.CRI(), entry{Labels: kube("shop", "cart-0", "cart", "cart"), T: at(i).UnixNano(), Line: line}}
	}
	noAppTag := fbtest.Tag("kube-system", "etcd-node-a", "etcd")
	noApp := func(i int, line string) sent {
		c := fbtest.Container{Time: at(i), Node: node, Namespace: "kube-system", Pod: "etcd-node-a", Name: "etcd", Line: line,
			Labels: map[string]string{"tier": "control-plane"}}
		return sent{noAppTag, c.CRI(), entry{Labels: kube("kube-system", "etcd-node-a", "etcd", ""), T: at(i).UnixNano(), Line: line}}
	}
	dbTag := fbtest.Tag("shop", "db-0", "postgres")
	docker := func(i int, line string, merge bool) sent {
		c := fbtest.Container{Time: at(i), Node: node, Namespace: "shop", Pod: "db-0", Name: "postgres", Line: line, MergeLog: merge}
		return sent{dbTag, c.Docker(), entry{Labels: kube("shop", "db-0", "postgres", "postgres"), T: at(i).UnixNano(), Line: line}}
	}
	journal := func(i int, u, msg string, prio int, level string) sent {
		e := fbtest.Journal(node, u, msg, prio)
		e.Time = at(i).Truncate(time.Microsecond) // journald keeps microseconds
		return sent{"host." + u, e, entry{Labels: unit(u), Meta: map[string]string{"level": level}, T: e.Time.UnixNano(), Line: msg}}
	}
	// A process logging through syslog(3) outside any unit of its own:
	// SYSLOG_IDENTIFIER only.
	syslogOnly := func(i int, ident, msg string, prio int, level string) sent {
		e := fbtest.Journal(node, ident+".service", msg, prio)
		for _, k := range []string{"_SYSTEMD_UNIT", "_SYSTEMD_CGROUP", "_SYSTEMD_SLICE", "_SYSTEMD_INVOCATION_ID"} {
			delete(e.Record, k)
		}
		e.Time = at(i).Truncate(time.Microsecond)
		return sent{"host." + ident, e, entry{Labels: unit(ident), Meta: map[string]string{"level": level}, T: e.Time.UnixNano(), Line: msg}}
	}
	kernel := func(i int, msg string) sent {
		e := fbtest.Kernel(node, msg)
		e.Time = at(i).Truncate(time.Microsecond)
		return sent{"host.kernel", e, entry{Labels: unit("kernel"), Meta: map[string]string{"level": "info"}, T: e.Time.UnixNano(), Line: msg}}
	}

	recs := []sent{
		web(0, "GET /cart 200 12ms", false, fbtest.V1EventTime),
		web(1, `{"level":"warn","msg":"slow query","ms":812}`, true, fbtest.V1EventTime), // Merge_Log On
		web(2, `{"level":"info","msg":"ok"}`, false, fbtest.V2),                          // Merge_Log Off, v2 event
		web(3, "GET /health 200 1ms", true, fbtest.V2),                                   // Merge_Log On, not JSON
		cart(4, "order 42 placed"),
		noApp(5, "etcd: compacted revision 1234"),
		docker(6, "checkpoint complete", false),
		docker(7, `{"level":"error","msg":"deadlock detected"}`, true),
		journal(8, "kubelet.service", "Started container web", 6, "info"),
		journal(9, "kubelet.service", "failed to pull image", 3, "error"),
		journal(10, "containerd.service", "shim disconnected", 4, "warn"),
		syslogOnly(11, "CRON", "pam_unix(cron:session): session opened", 6, "info"),
		kernel(12, "eth0: Link is Up - 10Gbps/Full"),
	}
	// Group markers (Fluent Bit 4/5 passes them through) must be skipped.
	markers := []fbtest.Event{
		{Group: fbtest.GroupStart, Time: at(13), Record: map[string]any{"resource": "r"}},
		{Group: fbtest.GroupEnd, Time: at(13), Record: map[string]any{}},
	}
	flushAll(t, h, inst, recs, markers...)

	// Legacy integer-second timestamps: whole seconds, as sent.
	sec := base.Truncate(time.Second).Add(20 * time.Second)
	legacy := fbtest.Container{Time: sec, Node: node, Namespace: "shop", Pod: "web-5d8f7c9b4-x2x7q", Name: "web", Line: "legacy forward record", Form: fbtest.V1Int}
	recs = append(recs, sent{webTag, legacy.CRI(), entry{Labels: webLabels, T: sec.UnixNano(), Line: "legacy forward record"}})
	flushAll(t, h, inst, recs[len(recs)-1:])

	start, end := base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano()
	want := wants(recs)
	checkQuery(t, l, "", `{cluster="lab"}`, want, anyEntry, start, end)
	checkQuery(t, l, "", `{namespace="shop"}`, want, labelIs("namespace", "shop"), start, end)
	checkQuery(t, l, "", `{unit="kernel"}`, want, labelIs("unit", "kernel"), start, end)
	checkQuery(t, l, "", `{app="cart"}`, want, labelIs("app", "cart"), start, end)
	checkSeries(t, l, "", `{node="node-a"}`, want, anyEntry, start, end)
	checkSeries(t, l, "", `{unit=~".+"}`, want, func(e entry) bool { return e.Labels["unit"] != "" }, start, end)
	if h.exit(inst) != flbOK {
		t.Errorf("exit: not FLB_OK")
	}
}

// testPluginTenants: two instances in one Fluent Bit, each with its own
// tenant, deliver to their own tenant only — also when the first one
// flushes after the second was initialised (Loki's plugin once sent
// everything to the last instance initialised).
func testPluginTenants(t *testing.T, bins pluginBins) {
	l := startLoam(t, t.TempDir())
	h := startHarness(t, bins)
	metrics := freeAddr(t)
	push := l.base + "/loki/api/v1/push"
	a := h.mustInit("Url", push, "TenantID", "team-a", "Labels", `{job="a"}`, "MetricsAddr", metrics)
	b := h.mustInit("Url", push, "TenantID", "team-b", "Labels", `{job="b"}`, "MetricsAddr", metrics)

	base := pluginBase()
	rec := func(job string, i int) sent {
		line := fmt.Sprintf("%s line %d", job, i)
		c := fbtest.Container{Time: base.Add(time.Duration(i) * time.Microsecond), Node: "n1", Namespace: "ns-" + job, Pod: "p", Name: "c", Line: line}
		return sent{fbtest.Tag("ns-"+job, "p", "c"), c.CRI(), entry{
			Labels: map[string]string{"job": job, "node": "n1", "namespace": "ns-" + job, "pod": "p", "container": "c", "app": "c"},
			T:      c.Time.UnixNano(), Line: line}}
	}
	var ra, rb []sent
	for i := 0; i < 5; i++ {
		ra = append(ra, rec("a", i))
		rb = append(rb, rec("b", i))
	}
	flushAll(t, h, a, ra[:2])
	flushAll(t, h, b, rb[:3])
	flushAll(t, h, a, ra[2:]) // after b's init and flush
	flushAll(t, h, b, rb[3:])

	start, end := base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano()
	wa, wb := wants(ra), wants(rb)
	checkQuery(t, l, "team-a", `{job=~".+"}`, wa, anyEntry, start, end)
	checkQuery(t, l, "team-b", `{job=~".+"}`, wb, anyEntry, start, end)
	checkQuery(t, l, "", `{job=~".+"}`, nil, anyEntry, start, end) // nothing without a tenant

	m := scrapePlugin(t, metrics)
	for _, c := range []struct {
		output string
		want   float64
	}{{"loam.0", 5}, {"loam.1", 5}} {
		if got, _ := m.value("loam_plugin_records_total", "output", c.output); got != c.want {
			t.Errorf("loam_plugin_records_total{output=%q} = %v, want %v", c.output, got, c.want)
		}
	}
}

// scrapePlugin reads the plugin's own metrics endpoint (MetricsAddr).
func scrapePlugin(t *testing.T, addr string) promMetrics {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET plugin metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET plugin metrics: %d %v %s", resp.StatusCode, err, body)
	}
	m, err := parseMetrics(body)
	if err != nil {
		t.Fatalf("plugin metrics: %v", err)
	}
	return m
}

// testPluginWorkers: with `Workers N` Fluent Bit flushes one instance from
// N threads at once; every chunk must arrive, once.
func testPluginWorkers(t *testing.T, bins pluginBins) {
	l := startLoam(t, t.TempDir())
	h := startHarness(t, bins)
	inst := h.mustInit("Url", l.base+"/loki/api/v1/push", "Labels", `{job="workers"}`)

	base := pluginBase()
	const chunks, per = 8, 250
	var recs []entry
	bufs := make([][]byte, chunks)
	for c := 0; c < chunks; c++ {
		var es []fbtest.Event
		for i := 0; i < per; i++ {
			n := c*per + i
			line := fbtest.Line(n, 200)
			ct := fbtest.Container{Time: base.Add(time.Duration(n) * time.Microsecond), Node: "n1", Namespace: "load", Pod: fmt.Sprintf("p%d", c%3), Name: "app", Line: line}
			es = append(es, ct.CRI())
			recs = append(recs, entry{Labels: map[string]string{"job": "workers", "node": "n1", "namespace": "load", "pod": ct.Pod, "container": "app", "app": "app"},
				T: ct.Time.UnixNano(), Line: line})
		}
		bufs[c] = fbtest.Chunk(es...)
	}
	for i, got := range h.flush(inst, fbtest.Tag("load", "p0", "app"), bufs...) {
		if got != flbOK {
			t.Errorf("concurrent flush %d: %s, want FLB_OK", i, flbName(got))
		}
	}
	start, end := base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano()
	checkQuery(t, l, "", `{job="workers"}`, recs, anyEntry, start, end)
}

// testPluginOutage: loam is killed; a flush answers FLB_RETRY within the
// configured Timeout and MaxRetries; loam restarts on the same port and
// data; the same chunk flushed again answers FLB_OK; every record is there
// exactly once.
func testPluginOutage(t *testing.T, bins pluginBins) {
	dir := t.TempDir()
	l := startLoam(t, dir)
	h := startHarness(t, bins)
	const timeout, retries, maxBackoff = 2 * time.Second, 2, 200 * time.Millisecond
	inst := h.mustInit("Url", l.base+"/loki/api/v1/push", "Labels", `{job="outage"}`,
		"Timeout", timeout.String(), "MaxRetries", strconv.Itoa(retries), "MinBackoff", "50ms", "MaxBackoff", maxBackoff.String())

	base := pluginBase()
	tag := fbtest.Tag("shop", "web-0", "web")
	var model []entry
	chunk := func(from, n int) []byte {
		var es []fbtest.Event
		for i := from; i < from+n; i++ {
			line := fmt.Sprintf("outage record %04d", i)
			c := fbtest.Container{Time: base.Add(time.Duration(i)*time.Millisecond + time.Duration(i)), Node: "n1", Namespace: "shop", Pod: "web-0", Name: "web", Line: line}
			es = append(es, c.CRI())
			model = append(model, entry{Labels: map[string]string{"job": "outage", "node": "n1", "namespace": "shop", "pod": "web-0", "container": "web", "app": "web"},
				T: c.Time.UnixNano(), Line: line})
		}
		return fbtest.Chunk(es...)
	}
	before, during := chunk(0, 100), chunk(100, 100)
	if got := h.flush1(inst, tag, before); got != flbOK {
		t.Fatalf("flush before the outage: %s, want FLB_OK", flbName(got))
	}

	l.kill9()
	// Every attempt may take up to Timeout, with at most MaxBackoff between
	// attempts; a little slack for the machine.
	bound := time.Duration(retries+1)*timeout + time.Duration(retries)*maxBackoff + 5*time.Second
	for i := 0; i < 2; i++ { // Fluent Bit's own retry meets the same outage
		startFlush := time.Now()
		got := h.flush1(inst, tag, during)
		took := time.Since(startFlush)
		if got != flbRetry {
			t.Fatalf("flush %d with loam down: %s, want FLB_RETRY", i+1, flbName(got))
		}
		if took > bound {
			t.Errorf("flush %d with loam down took %s, want at most %s (Timeout %s, MaxRetries %d)", i+1, took, bound, timeout, retries)
		}
	}

	l2 := spawn(t, l.addr, "-http.addr", l.addr, "-data.dir", dir)
	if err := l2.waitReady(readyTimeout); err != nil {
		t.Fatalf("restart on %s: %v\n%s", l.addr, err, l2.out.String())
	}
	if got := h.flush1(inst, tag, during); got != flbOK {
		t.Fatalf("flush after the restart: %s, want FLB_OK\n%s", flbName(got), h.stderr.String())
	}

	start, end := base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano()
	checkQuery(t, l2, "", `{job="outage"}`, model, anyEntry, start, end)
	h.logSince(0, "retry")
}

// testPluginTimeout: a server that accepts connections and never answers
// makes a flush answer FLB_RETRY after Timeout per attempt, not hang.
func testPluginTimeout(t *testing.T, bins pluginBins) {
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Accept and hold every connection: read nothing, answer nothing.
	conns := make(chan net.Conn, 16)
	go func() {
		defer close(conns)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	defer func() {
		ln.Close()
		for c := range conns {
			c.Close()
		}
	}()
	h := startHarness(t, bins)
	const timeout, retries = 500 * time.Millisecond, 1
	inst := h.mustInit("Url", "http://"+ln.Addr().String()+"/loki/api/v1/push",
		"Timeout", timeout.String(), "MaxRetries", strconv.Itoa(retries), "MinBackoff", "10ms", "MaxBackoff", "10ms")
	chunk := fbtest.Chunk(fbtest.CRIKubernetes("n1", "shop", "web-0", "web", "to nowhere", false))
	startFlush := time.Now()
	got := h.flush1(inst, "kube.x", chunk)
	took := time.Since(startFlush)
	if got != flbRetry {
		t.Fatalf("flush to a server that never answers: %s, want FLB_RETRY", flbName(got))
	}
	if min, max := time.Duration(retries+1)*timeout, time.Duration(retries+1)*timeout+5*time.Second; took < min || took > max {
		t.Errorf("flush took %s, want between %s and %s (Timeout %s × %d attempts)", took, min, max, timeout, retries+1)
	}
}

// testPluginBadConfig: a bad value makes FLBPluginInit answer FLB_ERROR
// (Fluent Bit then refuses to start) with a message naming the key.
func testPluginBadConfig(t *testing.T, bins pluginBins) {
	h := startHarness(t, bins)
	cases := []struct {
		key, value string
	}{
		{"Url", "ftp://loam:3100"},
		{"Url", "http://[::1"},
		{"TenantID", "a|b"},
		{"Labels", `{cluster="lab"`},
		{"LineFormat", "xml"},
		{"AutoKubernetesLabels", "perhaps"},
		{"BatchWait", "banana"},
		{"BatchSize", "-1"},
		{"Timeout", "0s"},
		{"MinBackoff", "soon"},
		{"MaxRetries", "-3"},
		{"Redact", "(unclosed"},
		{"ExcludeNamespaces", "[z-a]"},
		{"CAFile", "/nonexistent/ca.pem"},
		{"BearerTokenFile", "/nonexistent/token"},
		{"MetricsAddr", "not an address"},
		{"labelmappath", "/nonexistent/map.json"}, // any case
	}
	for _, c := range cases {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			before := h.logLen()
			_, ret := h.init(c.key, c.value)
			if ret != flbError {
				t.Fatalf("FLBPluginInit with %s %q = %s, want FLB_ERROR\n%s", c.key, c.value, flbName(ret), h.stderr.String()[before:])
			}
			// The message is Fluent Bit's style, and names the key and the value.
			h.logSince(before, "[error] [output:loam]", c.key, c.value)
		})
	}
	// A MetricsAddr whose port is taken fails when the instance is made
	// (output.New), still at start-up.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	t.Run("MetricsAddr in use", func(t *testing.T) {
		before := h.logLen()
		if _, ret := h.init("MetricsAddr", busy.Addr().String()); ret != flbError {
			t.Fatalf("FLBPluginInit with a MetricsAddr in use = %s, want FLB_ERROR", flbName(ret))
		}
		h.logSince(before, "[error] [output:loam]", "MetricsAddr", busy.Addr().String())
	})
	// A good section still initialises afterwards.
	h.mustInit("Url", "http://127.0.0.1:1/loki/api/v1/push")
}

// testPluginRejected: a 4xx (a line over the server's -limits.max-line-size)
// answers FLB_ERROR, with the server's message in the log and the rejection
// counted; records of other flushes are unaffected.
func testPluginRejected(t *testing.T, bins pluginBins) {
	const maxLine = 1000
	l := startLoam(t, t.TempDir(), "-limits.max-line-size", strconv.Itoa(maxLine))
	h := startHarness(t, bins)
	metrics := freeAddr(t)
	inst := h.mustInit("Url", l.base+"/loki/api/v1/push", "Labels", `{job="rejected"}`, "MetricsAddr", metrics)

	base := pluginBase()
	tag := fbtest.Tag("shop", "web-0", "web")
	var model []entry
	rec := func(i int, line string) fbtest.Event {
		c := fbtest.Container{Time: base.Add(time.Duration(i) * time.Millisecond), Node: "n1", Namespace: "shop", Pod: "web-0", Name: "web", Line: line}
		if len(line) <= maxLine {
			model = append(model, entry{Labels: map[string]string{"job": "rejected", "node": "n1", "namespace": "shop", "pod": "web-0", "container": "web", "app": "web"},
				T: c.Time.UnixNano(), Line: line})
		}
		return c.CRI()
	}
	if got := h.flush1(inst, tag, fbtest.Chunk(rec(0, "before"), rec(1, "before, too"))); got != flbOK {
		t.Fatalf("flush before: %s, want FLB_OK", flbName(got))
	}
	before := h.logLen()
	long := fbtest.Line(2, 2*maxLine)
	if got := h.flush1(inst, tag, fbtest.Chunk(rec(2, long))); got != flbError {
		t.Fatalf("flush of a line over the limit: %s, want FLB_ERROR", flbName(got))
	}
	// The server's own message, with its status.
	h.logSince(before, "400", "max entry size '1000' bytes exceeded")
	if got := h.flush1(inst, tag, fbtest.Chunk(rec(3, "after"))); got != flbOK {
		t.Fatalf("flush after: %s, want FLB_OK", flbName(got))
	}

	start, end := base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano()
	checkQuery(t, l, "", `{job="rejected"}`, model, anyEntry, start, end)
	m := scrapePlugin(t, metrics)
	if got, _ := m.value("loam_plugin_rejected_total", "output", "loam.0", "status", "400"); got != 1 {
		t.Errorf("loam_plugin_rejected_total{status=\"400\"} = %v, want 1", got)
	}
	if got, _ := m.value("loam_plugin_records_total", "output", "loam.0"); got != 3 {
		t.Errorf("loam_plugin_records_total = %v, want 3", got)
	}
}

// testPluginFlushNoCtx: FLBPluginFlush, the fallback for hosts without
// FLBPluginFlushCtx, serves a single instance and refuses to guess among
// several.
func testPluginFlushNoCtx(t *testing.T, bins pluginBins) {
	l := startLoam(t, t.TempDir())
	h := startHarness(t, bins)
	push := l.base + "/loki/api/v1/push"
	h.mustInit("Url", push, "Labels", `{job="noctx"}`)
	c := fbtest.Container{Time: pluginBase(), Node: "n1", Namespace: "shop", Pod: "web-0", Name: "web", Line: "no context"}
	chunk := fbtest.Chunk(c.CRI())
	if got := h.flushNoCtx("kube.x", chunk); got != flbOK {
		t.Fatalf("FLBPluginFlush with one instance: %s, want FLB_OK\n%s", flbName(got), h.stderr.String())
	}
	h.mustInit("Url", push, "Labels", `{job="noctx2"}`)
	before := h.logLen()
	if got := h.flushNoCtx("kube.x", chunk); got != flbError {
		t.Fatalf("FLBPluginFlush with two instances: %s, want FLB_ERROR", flbName(got))
	}
	h.logSince(before, "2 instances", "FLBPluginFlushCtx")
}

// testPluginAuth: out_loam pushes to a loam with -auth.enabled with basic
// auth and with a bearer token file that is rotated while it runs (the old
// token then revoked); a wrong password is refused with the server's
// message and the chunk dropped (FLB_ERROR), nothing stored.
func testPluginAuth(t *testing.T, bins pluginBins) {
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.yaml")
	users := fmt.Sprintf("users:\n  - {name: fb, password_bcrypt: %q, tenants: [team-a], role: push}\n", hashWith(t, "hash-password", "fb-pw"))
	tok := func(name, secret string) string {
		return fmt.Sprintf("  - {name: %s, token_sha256: %s, tenants: [team-b], role: push}\n", name, tokenSum(secret))
	}
	admin := fmt.Sprintf("  - {name: root, token_sha256: %s, tenants: [\"*\"], role: admin}\n", tokenSum("root-token"))
	writeAuthFile(t, authFile, users+"tokens:\n"+admin+tok("fb-old", "token-1")+tok("fb-new", "token-2"))
	tokenFile := filepath.Join(dir, "token")
	writeAuthFile(t, tokenFile, "token-1\n")
	l := startLoam(t, filepath.Join(dir, "data"), "-auth.enabled", "-auth.file", authFile, "-auth.reload-period", "100ms")
	l.authz = "Bearer root-token" // the checks below read as an admin

	h := startHarness(t, bins)
	push := l.base + "/loki/api/v1/push"
	basic := h.mustInit("Url", push, "TenantID", "team-a", "Username", "fb", "Password", "fb-pw", "Labels", `{job="basic"}`)
	bearer := h.mustInit("Url", push, "BearerTokenFile", tokenFile, "Labels", `{job="bearer"}`) // no TenantID: the token's one tenant
	wrong := h.mustInit("Url", push, "TenantID", "team-a", "Username", "fb", "Password", "not-fb-pw", "Labels", `{job="wrong"}`)

	base := pluginBase()
	rec := func(job string, i int) sent {
		line := fmt.Sprintf("%s line %d", job, i)
		c := fbtest.Container{Time: base.Add(time.Duration(i) * time.Microsecond), Node: "n1", Namespace: "ns", Pod: "p", Name: "c", Line: line}
		return sent{fbtest.Tag("ns", "p", "c"), c.CRI(), entry{
			Labels: map[string]string{"job": job, "node": "n1", "namespace": "ns", "pod": "p", "container": "c", "app": "c"},
			T:      c.Time.UnixNano(), Line: line}}
	}
	var ra, rb []sent
	for i := range 4 {
		ra = append(ra, rec("basic", i))
		rb = append(rb, rec("bearer", i))
	}
	flushAll(t, h, basic, ra)
	flushAll(t, h, bearer, rb[:2])

	// Rotate: the file gets the new token, then the old one is revoked.
	writeAuthFile(t, tokenFile, "token-2\n")
	writeAuthFile(t, authFile, users+"tokens:\n"+admin+tok("fb-new", "token-2"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := l.do(t, "GET", "/loki/api/v1/status/buildinfo", http.Header{"Authorization": {"Bearer token-1"}}, nil)
		if code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old token still admitted 10s after it was removed from the auth file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	flushAll(t, h, bearer, rb[2:])

	from := h.logLen()
	if got := h.flush1(wrong, "ns.p.c", fbtest.Chunk(rec("wrong", 0).event)); got != flbError {
		t.Errorf("flush with a wrong password: %s, want FLB_ERROR (a 401 is not retried)", flbName(got))
	}
	h.logSince(from, "401", "wrong user name or password")

	start, end := base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano()
	checkQuery(t, l, "team-a", `{job=~".+"}`, wants(ra), anyEntry, start, end)
	checkQuery(t, l, "team-b", `{job=~".+"}`, wants(rb), anyEntry, start, end)
}

// testPluginTLS: out_loam pushes over mutual TLS (its CAFile, CertFile,
// KeyFile) with a bearer token to a loam serving HTTPS with
// -http.tls-client-ca-file and -auth.enabled.
func testPluginTLS(t *testing.T, bins pluginBins) {
	f := newTLSFiles(t, "loam")
	client, err := f.ca.Client("fluent-bit")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, clientKey := filepath.Join(f.dir, "client.crt"), filepath.Join(f.dir, "client.key")
	if err := client.Write(clientCert, clientKey); err != nil {
		t.Fatal(err)
	}
	authFile := filepath.Join(f.dir, "auth.yaml")
	writeAuthFile(t, authFile, fmt.Sprintf("tokens:\n  - {name: fb, token_sha256: %s, tenants: [team-a], role: push}\n  - {name: root, token_sha256: %s, tenants: [\"*\"], role: admin}\n",
		tokenSum("fb-token"), tokenSum("root-token")))
	l := startTLSLoam(t, f, f.httpsClient(t, client), "-http.tls-client-ca-file", f.caPE, "-auth.enabled", "-auth.file", authFile)
	l.authz = "Bearer root-token"

	h := startHarness(t, bins)
	inst := h.mustInit("Url", l.base+"/loki/api/v1/push", "CAFile", f.caPE, "CertFile", clientCert, "KeyFile", clientKey,
		"BearerToken", "fb-token", "Labels", `{job="tls"}`)
	base := pluginBase()
	var recs []sent
	for i := range 3 {
		line := fmt.Sprintf("tls line %d", i)
		c := fbtest.Container{Time: base.Add(time.Duration(i) * time.Microsecond), Node: "n1", Namespace: "ns", Pod: "p", Name: "c", Line: line}
		recs = append(recs, sent{fbtest.Tag("ns", "p", "c"), c.CRI(), entry{
			Labels: map[string]string{"job": "tls", "node": "n1", "namespace": "ns", "pod": "p", "container": "c", "app": "c"},
			T:      c.Time.UnixNano(), Line: line}})
	}
	flushAll(t, h, inst, recs)
	checkQuery(t, l, "team-a", `{job="tls"}`, wants(recs), anyEntry, base.Add(-time.Minute).UnixNano(), time.Now().Add(time.Minute).UnixNano())
}
