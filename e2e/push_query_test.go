package e2e

import (
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pushQueryData is the data set of TestPushAndQuery: every wire format, and
// the model of what was stored per tenant.
type pushQueryData struct {
	byTenant   map[string][]entry
	start, end int64 // a range holding every entry
}

// TestPushAndQuery pushes in every wire format a client may use, reads it
// back through every read endpoint, then restarts the server (after SIGTERM,
// so that the answers come from blocks on disk) and reads it again.
func TestPushAndQuery(t *testing.T) {
	dir := t.TempDir()
	l := startLoam(t, dir)

	base := time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	seq := 0
	mk := func(ls map[string]string, line string, meta map[string]string) entry {
		seq++
		return entry{Labels: ls, Meta: meta, T: base.Add(time.Duration(seq)*7*time.Millisecond).UnixNano() + int64(seq), Line: line}
	}
	api := map[string]string{"app": "api", "env": "prod"}
	webProd := map[string]string{"app": "web", "env": "prod"}
	webDev := map[string]string{"app": "web", "env": "dev"}
	dbProd := map[string]string{"app": "db", "env": "prod"}
	dbDev := map[string]string{"app": "db", "env": "dev"}
	meta := map[string]string{"app": "meta", "env": "prod"}
	weird := map[string]string{"app": "weird", "path": `C:\dir "x" {y}, z="w"`}

	// JSON, no compression.
	jsonPlain := []entry{
		mk(api, "GET /users status=200 took=12ms", nil),
		mk(api, `GET /orders status=500 error="db timeout"`, nil),
		mk(api, "POST /login status=401 user=bob", nil),
		mk(api, "GET /health status=200", nil),
		mk(api, "unicode: ünïcödé 日本語 \"quoted\" back\\slash\ttab", nil),
		mk(weird, "weird labels survive", nil),
	}
	// Protobuf + snappy, as Promtail and Alloy send.
	protoSnappy := []entry{
		mk(webProd, "render page=home status=200", nil),
		mk(webProd, `render page=cart status=502 error="upstream refused"`, nil),
		mk(webProd, "static asset=logo.png status=304", nil),
	}
	// Protobuf + snappy under Content-Encoding: gzip.
	protoSnappyGzip := []entry{
		mk(webDev, "debug: cache miss key=a1", nil),
		mk(webDev, "render page=home status=200 dev=true", nil),
	}
	// JSON + gzip.
	jsonGzip := []entry{
		mk(dbProd, "query ok rows=3", nil),
		mk(dbProd, "slow query took=2s", nil),
		mk(dbProd, "ERROR: deadlock detected", nil),
	}
	// JSON + deflate (zlib-wrapped per HTTP, and raw deflate as some clients send).
	jsonZlib := []entry{mk(dbDev, "migration started", nil), mk(dbDev, "migration done", nil)}
	jsonRawDeflate := []entry{mk(dbDev, "raw deflate ok", nil)}
	// Structured metadata, in JSON (third element) and protobuf.
	jsonMeta := []entry{
		mk(meta, "checkout done", map[string]string{"trace_id": "abc123", "user": "u1"}),
		mk(meta, "checkout started", map[string]string{"trace_id": "abc123", "user": "u1"}),
		mk(meta, "no metadata here", nil),
	}
	protoMeta := []entry{mk(meta, "payment accepted", map[string]string{"trace_id": "def456"})}

	l.mustPush(t, "", ctJSON, "", jsonBody(jsonPlain))
	l.mustPush(t, "", ctProto, "", protoBody(protoSnappy))
	l.mustPush(t, "", ctProto, "gzip", gzipBytes(protoBody(protoSnappyGzip)))
	l.mustPush(t, "", ctJSON, "gzip", gzipBytes(jsonBody(jsonGzip)))
	l.mustPush(t, "", ctJSON, "deflate", zlibBytes(jsonBody(jsonZlib)))
	l.mustPush(t, "", ctJSON+"; charset=utf-8", "deflate", rawDeflateBytes(jsonBody(jsonRawDeflate)))
	l.mustPush(t, "", ctJSON, "", jsonBody(jsonMeta))
	l.mustPush(t, "", ctProto, "", protoBody(protoMeta))

	// Other tenants.
	tenantA := []entry{mk(api, "tenant A secret", nil), mk(map[string]string{"app": "a-only"}, "only in A", nil)}
	tenantB := []entry{mk(map[string]string{"app": "b-only"}, "tenant B line", nil)}
	l.mustPush(t, "team-a", ctProto, "", protoBody(tenantA))
	l.mustPush(t, "team-b", ctJSON, "", jsonBody(tenantB))

	// Tenant "edge": out-of-order pushes, retried pushes, equal timestamps.
	edge := newEdgeData(base)
	edge.push(t, l)

	d := &pushQueryData{
		byTenant: map[string][]entry{
			"fake":   slices.Concat(jsonPlain, protoSnappy, protoSnappyGzip, jsonGzip, jsonZlib, jsonRawDeflate, jsonMeta, protoMeta),
			"team-a": tenantA,
			"team-b": tenantB,
		},
		start: base.Add(-time.Minute).UnixNano(),
		end:   time.Now().Add(time.Minute).UnixNano(),
	}

	t.Run("head", func(t *testing.T) { checkPushQuery(t, l, d) })
	t.Run("edge in head", func(t *testing.T) { edge.check(t, l) })

	// SIGTERM flushes the head into blocks; the next process reads them.
	l.stop()
	for _, tenant := range []string{"fake", "team-a", "team-b"} {
		blocks, _ := filepath.Glob(filepath.Join(dir, "blocks", "t-"+tenant, "*", "*.blk"))
		if len(blocks) == 0 {
			t.Errorf("no block files for tenant %s under %s after SIGTERM", tenant, dir)
		}
	}
	l2 := startLoam(t, dir)
	m := l2.metrics(t)
	if v, _ := m.value("loam_head_entries"); v != 0 {
		t.Errorf("after a clean restart the head holds %v entries, want 0 (everything in blocks)", v)
	}
	if v, _ := m.value("loam_blocks"); v < 3 {
		t.Errorf("loam_blocks = %v after restart, want >= 3 (one per tenant)", v)
	}
	t.Run("blocks", func(t *testing.T) { checkPushQuery(t, l2, d) })
	t.Run("edge in blocks", func(t *testing.T) { edge.check(t, l2) })

	// A client retrying after the restart: the entries are in a block and
	// now in the head again; after one more restart in two blocks. Each is
	// answered once.
	edge.retry(t, l2)
	t.Run("edge retried into block and head", func(t *testing.T) { edge.check(t, l2) })
	l2.stop()
	l3 := startLoam(t, dir)
	t.Run("edge in two blocks", func(t *testing.T) { edge.check(t, l3) })
	l3.stop()
}

// edgeData is what tenant "edge" holds: a stream pushed out of order (within
// the out-of-order window), a batch pushed several times as a retrying
// client would, and entries sharing one timestamp.
type edgeData struct {
	ooo, retried, ties []entry
	start, end         int64
}

func newEdgeData(base time.Time) *edgeData {
	d := &edgeData{start: base.Add(-time.Hour).UnixNano(), end: time.Now().Add(time.Minute).UnixNano()}
	t0 := base.Add(-30 * time.Minute).UnixNano()
	for i := 0; i < 6; i++ {
		d.ooo = append(d.ooo, entry{Labels: map[string]string{"app": "ooo"}, T: t0 + int64(i)*int64(time.Second), Line: "ooo " + strconv.Itoa(i)})
		d.retried = append(d.retried, entry{Labels: map[string]string{"app": "retry"}, T: t0 + int64(i)*int64(time.Second), Line: "retried " + strconv.Itoa(i)})
	}
	for i := 0; i < 3; i++ {
		d.ties = append(d.ties, entry{Labels: map[string]string{"app": "ties"}, T: t0, Line: "same timestamp " + strconv.Itoa(i)})
	}
	return d
}

func (d *edgeData) push(t *testing.T, l *loam) {
	t.Helper()
	o := d.ooo
	// Newest first, then older ones, in two formats: all within the window.
	l.mustPush(t, "edge", ctJSON, "", jsonBody([]entry{o[5], o[2]}))
	l.mustPush(t, "edge", ctProto, "", protoBody([]entry{o[3], o[0], o[4]}))
	l.mustPush(t, "edge", ctJSON, "gzip", gzipBytes(jsonBody([]entry{o[1]})))
	d.retry(t, l)
	d.retry(t, l)
	l.mustPush(t, "edge", ctProto, "", protoBody(d.ties))
	l.mustPush(t, "edge", ctJSON, "", jsonBody(d.ties[1:2])) // a duplicate of one of them
}

// retry pushes the retried batch once more, in both formats.
func (d *edgeData) retry(t *testing.T, l *loam) {
	t.Helper()
	l.mustPush(t, "edge", ctJSON, "", jsonBody(d.retried))
	l.mustPush(t, "edge", ctProto, "", protoBody(d.retried))
}

func (d *edgeData) check(t *testing.T, l *loam) {
	all := func(entry) bool { return true }
	for _, dir := range []string{"forward", "backward"} {
		for _, s := range []struct {
			sel string
			es  []entry
		}{{`{app="ooo"}`, d.ooo}, {`{app="retry"}`, d.retried}} {
			q := url.Values{"query": {s.sel}, "direction": {dir}, "start": {strconv.FormatInt(d.start, 10)}, "end": {strconv.FormatInt(d.end, 10)}}
			got := l.queryRange(t, "edge", q)
			if diff := diffStreams(got, expectStreams(s.es, all, d.start, d.end, dir == "backward", 100)); diff != "" {
				t.Errorf("%s %s:\n%s", s.sel, dir, diff)
			}
		}
	}
	// Equal timestamps: all three lines, once each, in any order.
	q := url.Values{"query": {`{app="ties"}`}, "start": {strconv.FormatInt(d.start, 10)}, "end": {strconv.FormatInt(d.end, 10)}}
	got := l.queryRange(t, "edge", q)[labelsText(d.ties[0].Labels)]
	var lines []string
	for _, v := range got {
		lines = append(lines, v[1])
		if v[0] != strconv.FormatInt(d.ties[0].T, 10) {
			t.Errorf("{app=\"ties\"}: timestamp %s, want %d", v[0], d.ties[0].T)
		}
	}
	slices.Sort(lines)
	if want := []string{"same timestamp 0", "same timestamp 1", "same timestamp 2"}; !slices.Equal(lines, want) {
		t.Errorf("{app=\"ties\"} answered %q, want %q", lines, want)
	}
}

// checkPushQuery runs every read check against l.
func checkPushQuery(t *testing.T, l *loam, d *pushQueryData) {
	fake := d.byTenant["fake"]
	rng := func(q url.Values) url.Values {
		if !q.Has("start") {
			q.Set("start", strconv.FormatInt(d.start, 10))
		}
		if !q.Has("end") {
			q.Set("end", strconv.FormatInt(d.end, 10))
		}
		return q
	}
	lbl := func(name, value string) func(entry) bool {
		return func(e entry) bool { return e.Labels[name] == value }
	}
	and := func(fs ...func(entry) bool) func(entry) bool {
		return func(e entry) bool {
			for _, f := range fs {
				if !f(e) {
					return false
				}
			}
			return true
		}
	}
	line := func(f func(string) bool) func(entry) bool { return func(e entry) bool { return f(e.Line) } }
	contains := func(s string) func(entry) bool {
		return line(func(l string) bool { return strings.Contains(l, s) })
	}
	not := func(f func(entry) bool) func(entry) bool { return func(e entry) bool { return !f(e) } }
	re := func(expr string) func(entry) bool { return line(regexp.MustCompile(expr).MatchString) }
	all := func(entry) bool { return true }
	hasEnv := func(e entry) bool { return e.Labels["env"] != "" }

	byApp := map[string][]entry{}
	for _, e := range fake {
		byApp[e.Labels["app"]] = append(byApp[e.Labels["app"]], e)
	}
	api := byApp["api"]

	cases := []struct {
		name      string
		query     string
		direction string // "" = backward (Loki's default)
		limit     int    // 0 = default 100
		start     int64  // 0 = d.start
		end       int64  // 0 = d.end
		sel       func(entry) bool
	}{
		{name: "selector forward", query: `{env="prod"}`, direction: "forward", limit: 1000, sel: lbl("env", "prod")},
		{name: "selector backward default", query: `{env="prod"}`, sel: lbl("env", "prod")},
		{name: "regex selector backward limit", query: `{env=~"prod|dev"}`, direction: "backward", limit: 5, sel: hasEnv},
		{name: "regex selector forward limit", query: `{env=~"prod|dev"}`, direction: "forward", limit: 5, sel: hasEnv},
		{name: "limit 1", query: `{app=~".+"}`, limit: 1, sel: all},
		{name: "not-equal matcher", query: `{app!="api", env="prod"}`, direction: "forward", sel: and(lbl("env", "prod"), not(lbl("app", "api")))},
		{name: "negative regex matcher", query: `{app!~"api|web", app=~".+"}`, direction: "forward", sel: not(func(e entry) bool { return e.Labels["app"] == "api" || e.Labels["app"] == "web" })},
		{name: "contains", query: `{app="api"} |= "status=500"`, sel: and(lbl("app", "api"), contains("status=500"))},
		{name: "not contains", query: `{app=~".+"} != "status=200"`, direction: "forward", sel: not(contains("status=200"))},
		{name: "regex filter", query: "{env=\"prod\"} |~ `status=5\\d\\d`", sel: and(lbl("env", "prod"), re(`status=5\d\d`))},
		{name: "regex filter in double quotes", query: `{env="prod"} |~ "status=5\\d\\d"`, sel: and(lbl("env", "prod"), re(`status=5\d\d`))},
		{name: "not regex filter", query: "{env=\"prod\"} !~ `status=[23]\\d\\d`", direction: "forward", sel: and(lbl("env", "prod"), not(re(`status=[23]\d\d`)))},
		{name: "case-insensitive regex", query: `{app=~"db|web"} |~ "(?i)error"`, sel: and(func(e entry) bool { return e.Labels["app"] == "db" || e.Labels["app"] == "web" }, re(`(?i)error`))},
		{name: "or", query: `{app=~".+"} |= "timeout" or "refused"`, sel: or(contains("timeout"), contains("refused"))},
		{name: "not-contains or", query: `{env="prod"} != "status" or "query"`, direction: "forward", sel: and(lbl("env", "prod"), not(contains("status")), not(contains("query")))},
		{name: "chained filters", query: `{env="prod"} |= "status" != "200" |~ "GET|POST"`, sel: and(lbl("env", "prod"), contains("status"), not(contains("200")), re("GET|POST"))},
		{name: "unicode filter", query: `{app="api"} |= "日本語"`, sel: and(lbl("app", "api"), contains("日本語"))},
		{name: "filter matching nothing", query: `{app=~".+"} |= "no such needle anywhere"`, sel: func(entry) bool { return false }},
		{name: "unknown stream", query: `{app="nope"}`, sel: func(entry) bool { return false }},
		{name: "structured metadata", query: `{app="meta"}`, direction: "forward", sel: lbl("app", "meta")},
		{name: "weird label values", query: `{app="weird"}`, sel: lbl("app", "weird")},
		{name: "time window: start inclusive, end exclusive forward", query: `{app="api"}`, direction: "forward",
			start: api[1].T, end: api[3].T, sel: lbl("app", "api")},
		{name: "time window backward", query: `{app="api"}`, start: api[1].T, end: api[3].T + 1, sel: lbl("app", "api")},
		{name: "time window in RFC3339", query: `{app="api"}`, direction: "forward", start: api[2].T, end: api[4].T, sel: lbl("app", "api")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{"query": {c.query}}
			if c.direction != "" {
				q.Set("direction", c.direction)
			}
			limit := 100
			if c.limit != 0 {
				limit = c.limit
				q.Set("limit", strconv.Itoa(c.limit))
			}
			start, end := d.start, d.end
			if c.start != 0 {
				start, end = c.start, c.end
				if strings.Contains(c.name, "RFC3339") {
					q.Set("start", time.Unix(0, start).UTC().Format(time.RFC3339Nano))
					q.Set("end", time.Unix(0, end).UTC().Format(time.RFC3339Nano))
				} else {
					q.Set("start", strconv.FormatInt(start, 10))
					q.Set("end", strconv.FormatInt(end, 10))
				}
			}
			got := l.queryRange(t, "", rng(q))
			want := expectStreams(fake, c.sel, start, end, c.direction != "forward", limit)
			if diff := diffStreams(got, want); diff != "" {
				t.Errorf("query %s:\n%s", c.query, diff)
			}
		})
	}

	t.Run("POST form query", func(t *testing.T) {
		q := rng(url.Values{"query": {`{app="db"}`}, "direction": {"forward"}})
		code, _, body := l.do(t, http.MethodPost, "/loki/api/v1/query_range",
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(q.Encode()))
		if code != http.StatusOK {
			t.Fatalf("POST query_range: %d %s", code, body)
		}
		got := parseStreams(t, q, body)
		if diff := diffStreams(got, expectStreams(fake, lbl("app", "db"), d.start, d.end, false, 100)); diff != "" {
			t.Error(diff)
		}
	})

	t.Run("labels", func(t *testing.T) {
		var names []string
		l.getData(t, "/loki/api/v1/labels", rng(url.Values{}), "", &names)
		// Structured metadata names are not labels.
		if want := []string{"app", "env", "path"}; !slices.Equal(names, want) {
			t.Errorf("labels = %q, want %q", names, want)
		}
		names = nil
		l.getData(t, "/loki/api/v1/labels", rng(url.Values{"query": {`{app="api"}`}}), "", &names)
		if want := []string{"app", "env"}; !slices.Equal(names, want) {
			t.Errorf("labels of {app=\"api\"} = %q, want %q", names, want)
		}
		names = nil
		l.getData(t, "/loki/api/v1/labels", url.Values{}, "", &names) // default range: the last hour
		if want := []string{"app", "env", "path"}; !slices.Equal(names, want) {
			t.Errorf("labels (default range) = %q, want %q", names, want)
		}
		names = nil
		old := time.Unix(0, d.start).Add(-2 * time.Hour)
		l.getData(t, "/loki/api/v1/labels", url.Values{"start": {ns(old)}, "end": {ns(old.Add(time.Hour))}}, "", &names)
		if len(names) != 0 {
			t.Errorf("labels of a range without data = %q, want []", names)
		}
	})

	t.Run("label values", func(t *testing.T) {
		check := func(name string, q url.Values, want []string) {
			t.Helper()
			var vals []string
			l.getData(t, "/loki/api/v1/label/"+name+"/values", rng(q), "", &vals)
			if !slices.Equal(vals, want) {
				t.Errorf("label %s values %v = %q, want %q", name, q, vals, want)
			}
		}
		check("app", url.Values{}, []string{"api", "db", "meta", "web", "weird"})
		check("env", url.Values{}, []string{"dev", "prod"})
		check("path", url.Values{}, []string{`C:\dir "x" {y}, z="w"`})
		check("app", url.Values{"query": {`{env="dev"}`}}, []string{"db", "web"})
		check("env", url.Values{"query": {`{app=~"w.*"}`}}, []string{"dev", "prod"})
		// A pipeline is refused there, as Loki's ParseMatchers refuses it.
		if code, body := l.get(t, "/loki/api/v1/label/app/values", rng(url.Values{"query": {`{env="prod"} |= "status"`}}), ""); code != http.StatusBadRequest || !strings.Contains(string(body), "only label matchers are supported") {
			t.Errorf("label values of a query with a pipeline: %d %s, want 400 only label matchers are supported", code, body)
		}
		check("trace_id", url.Values{}, []string{}) // metadata is not a label
		check("nope", url.Values{}, []string{})
		var vals []string
		l.getData(t, "/loki/api/v1/label/app/values", url.Values{}, "", &vals)
		if len(vals) != 5 {
			t.Errorf("label app values (default range) = %q, want 5 values", vals)
		}
	})

	t.Run("series", func(t *testing.T) {
		check := func(matches []string, want ...map[string]string) {
			t.Helper()
			var got []map[string]string
			l.getData(t, "/loki/api/v1/series", rng(url.Values{"match[]": matches}), "", &got)
			if g, w := seriesKeys(got), seriesKeys(want); !slices.Equal(g, w) {
				t.Errorf("series %q:\n got  %q\n want %q", matches, g, w)
			}
		}
		check([]string{`{app="web"}`}, map[string]string{"app": "web", "env": "prod"}, map[string]string{"app": "web", "env": "dev"})
		check([]string{`{app="web"}`, `{app="db", env="dev"}`},
			map[string]string{"app": "web", "env": "prod"}, map[string]string{"app": "web", "env": "dev"}, map[string]string{"app": "db", "env": "dev"})
		check([]string{`{app=~"w.*"}`, `{app="web"}`}, // overlapping matchers: each series once
			map[string]string{"app": "web", "env": "prod"}, map[string]string{"app": "web", "env": "dev"}, map[string]string{"app": "weird", "path": `C:\dir "x" {y}, z="w"`})
		check([]string{`{app="meta"}`}, map[string]string{"app": "meta", "env": "prod"}) // no metadata in series
		check([]string{`{app="nope"}`})
	})

	t.Run("tenants", func(t *testing.T) {
		q := func(sel string) url.Values { return rng(url.Values{"query": {sel}, "direction": {"forward"}}) }
		a, b := d.byTenant["team-a"], d.byTenant["team-b"]
		// Tenant A sees only its own lines.
		got := l.queryRange(t, "team-a", q(`{app=~".+"}`))
		if diff := diffStreams(got, expectStreams(a, all, d.start, d.end, false, 100)); diff != "" {
			t.Errorf("tenant team-a:\n%s", diff)
		}
		// B does not see A's streams, even asking for them by name.
		got = l.queryRange(t, "team-b", q(`{app="api"}`))
		if len(got) != 0 {
			t.Errorf("tenant team-b sees %v of another tenant", got)
		}
		got = l.queryRange(t, "team-b", q(`{app=~".+"}`))
		if diff := diffStreams(got, expectStreams(b, all, d.start, d.end, false, 100)); diff != "" {
			t.Errorf("tenant team-b:\n%s", diff)
		}
		// No header is tenant "fake": it does not see A's line in {app="api"}.
		noHeader := l.queryRange(t, "", q(`{app="api"}`))
		if diff := diffStreams(noHeader, expectStreams(fake, lbl("app", "api"), d.start, d.end, false, 100)); diff != "" {
			t.Errorf("no X-Scope-OrgID:\n%s", diff)
		}
		if diff := diffStreams(l.queryRange(t, "fake", q(`{app="api"}`)), noHeader); diff != "" {
			t.Errorf("X-Scope-OrgID: fake differs from no header:\n%s", diff)
		}
		var names []string
		l.getData(t, "/loki/api/v1/labels", rng(url.Values{}), "team-b", &names)
		if !slices.Equal(names, []string{"app"}) {
			t.Errorf("labels of team-b = %q, want [app]", names)
		}
		var vals []string
		l.getData(t, "/loki/api/v1/label/app/values", rng(url.Values{}), "team-a", &vals)
		if !slices.Equal(vals, []string{"a-only", "api"}) {
			t.Errorf("app values of team-a = %q, want [a-only api]", vals)
		}
		var series []map[string]string
		l.getData(t, "/loki/api/v1/series", rng(url.Values{"match[]": {`{app=~".+"}`}}), "team-b", &series)
		if g := seriesKeys(series); !slices.Equal(g, []string{`{app="b-only"}`}) {
			t.Errorf("series of team-b = %q", g)
		}
		vals = nil
		l.getData(t, "/loki/api/v1/label/app/values", rng(url.Values{}), "nobody", &vals)
		if len(vals) != 0 {
			t.Errorf("app values of an empty tenant = %q, want []", vals)
		}
	})
}

func or(fs ...func(entry) bool) func(entry) bool {
	return func(e entry) bool {
		for _, f := range fs {
			if f(e) {
				return true
			}
		}
		return false
	}
}

func seriesKeys(ms []map[string]string) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, labelsText(m))
	}
	slices.Sort(out)
	return out
}
