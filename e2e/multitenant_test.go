package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Multi-tenant queries (-querier.multi-tenant-queries-enabled, Loki's
// querier.multi_tenant_queries_enabled): X-Scope-OrgID: a|b on every read
// endpoint, alone, with auth, and across a cluster.

// mtData is what the multi-tenant tests push: {app="web"} to tenants
// mt-a (env=prod, 6 lines), mt-b (env=dev, 4) and mt-c (env=test, 3), in
// logfmt; and {app="pat"} to mt-a and mt-b, 20 lines each of one pattern,
// which only the two together see 30 times (the least /patterns shows).
type mtData struct {
	byTenant map[string][]entry
}

func pushMultiTenantData(t *testing.T, p *loam) mtData {
	t.Helper()
	base := time.Now().Add(-20 * time.Minute).Truncate(time.Millisecond)
	d := mtData{byTenant: map[string][]entry{}}
	seq := 0
	for _, tc := range []struct {
		tenant, env, level string
		n                  int
	}{{"mt-a", "prod", "info", 6}, {"mt-b", "dev", "warn", 4}, {"mt-c", "test", "error", 3}} {
		var es []entry
		for i := range tc.n {
			seq++
			es = append(es, entry{Labels: map[string]string{"app": "web", "env": tc.env}, T: base.Add(time.Duration(seq) * time.Second).UnixNano(),
				Line: fmt.Sprintf("level=%s tenant=%s n=%d", tc.level, tc.tenant, i)})
		}
		p.mustPush(t, tc.tenant, ctJSON, "", jsonBody(es))
		d.byTenant[tc.tenant] = es
		if tc.tenant == "mt-c" {
			continue
		}
		var pat []entry
		for i := range 20 {
			seq++
			pat = append(pat, entry{Labels: map[string]string{"app": "pat"}, T: base.Add(time.Duration(seq) * time.Second).UnixNano(),
				Line: fmt.Sprintf("GET /api/%d took %dms", i, 3*i+1)})
		}
		p.mustPush(t, tc.tenant, ctProto, "", protoBody(pat))
	}
	return d
}

// withTenant is the model of a log query of several tenants: each entry
// labelled with its tenant.
func (d mtData) withTenant(tenants ...string) []entry {
	var out []entry
	for _, tn := range tenants {
		for _, e := range d.byTenant[tn] {
			ls := map[string]string{"__tenant_id__": tn}
			for k, v := range e.Labels {
				ls[k] = v
			}
			out = append(out, entry{Labels: ls, T: e.T, Line: e.Line})
		}
	}
	return out
}

// getJSON does a GET as tenant, requires 200 and decodes the body.
func getJSON(t *testing.T, p *loam, path string, q url.Values, tenant string, v any) []byte {
	t.Helper()
	code, body := p.get(t, path, q, tenant)
	if code != http.StatusOK {
		t.Fatalf("GET %s %v (tenant %q): %d %s", path, q, tenant, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s %v: not JSON: %v\n%s", path, q, err, body)
	}
	return body
}

// checkMultiTenantReads asks every read endpoint of p for mt-a|mt-b and
// checks the answers against d: both tenants, never mt-c, streams and
// series labelled __tenant_id__, and __tenant_id__ matchers narrowing the
// tenants.
func checkMultiTenantReads(t *testing.T, p *loam, d mtData) {
	const ab = "mt-b|mt-a" // any order
	start := ns(time.Now().Add(-time.Hour))
	all := func(entry) bool { return true }
	from, to := time.Now().Add(-time.Hour).UnixNano(), time.Now().Add(time.Minute).UnixNano()

	t.Run("query_range", func(t *testing.T) {
		for _, tc := range []struct {
			query   string
			tenants []string
		}{
			{`{app="web"}`, []string{"mt-a", "mt-b"}},
			{`{app="web", __tenant_id__="mt-a"}`, []string{"mt-a"}},
			{`{app="web", __tenant_id__!="mt-a"}`, []string{"mt-b"}},
			{`{app="web", __tenant_id__=~"mt-(b|c)"}`, []string{"mt-b"}},
			{`{__tenant_id__="mt-b"} |= "tenant="`, []string{"mt-b"}},
		} {
			q := url.Values{"query": {tc.query}, "start": {start}, "limit": {"1000"}}
			got := p.queryRange(t, ab, q)
			want := expectStreams(d.withTenant(tc.tenants...), all, from, to, true, 1000)
			if diff := diffStreams(got, want); diff != "" {
				t.Errorf("%s:\n%s", tc.query, diff)
			}
		}
		// The pipeline runs without the tenant; the answer has it.
		q := url.Values{"query": {`{app="web"} | logfmt | keep level`}, "start": {start}}
		got := p.queryRange(t, ab, q)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		})
		if want := []string{`{__tenant_id__="mt-a", level="info"}`, `{__tenant_id__="mt-b", level="warn"}`}; !slices.Equal(keys, want) {
			t.Errorf("keep level: streams %q, want %q", keys, want)
		}
	})

	t.Run("query", func(t *testing.T) {
		var res struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		getJSON(t, p, "/loki/api/v1/query", url.Values{"query": {`sum by (__tenant_id__) (count_over_time({app="web"}[1h]))`}}, ab, &res)
		got := map[string]string{}
		for _, r := range res.Data.Result {
			got[r.Metric["__tenant_id__"]] = fmt.Sprint(r.Value[1])
		}
		if want := map[string]string{"mt-a": "6", "mt-b": "4"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sum by tenant: %v, want %v", got, want)
		}
		res.Data.Result = nil // a fresh decode, not one into the maps above
		getJSON(t, p, "/loki/api/v1/query", url.Values{"query": {`sum(count_over_time({app="web"}[1h]))`}}, ab, &res)
		if len(res.Data.Result) != 1 || fmt.Sprint(res.Data.Result[0].Value[1]) != "10" || len(res.Data.Result[0].Metric) != 0 {
			t.Errorf("sum across tenants: %+v, want one series {} of 10", res.Data.Result)
		}
	})

	t.Run("labels", func(t *testing.T) {
		var names, tenants, envs, narrowed []string
		p.getData(t, "/loki/api/v1/labels", url.Values{"start": {start}}, ab, &names)
		p.getData(t, "/loki/api/v1/label/__tenant_id__/values", url.Values{"start": {start}}, ab, &tenants)
		p.getData(t, "/loki/api/v1/label/env/values", url.Values{"start": {start}}, ab, &envs)
		p.getData(t, "/loki/api/v1/label/env/values", url.Values{"start": {start}, "query": {`{__tenant_id__="mt-b"}`}}, ab, &narrowed)
		if !slices.Equal(names, []string{"__tenant_id__", "app", "env"}) || !slices.Equal(tenants, []string{"mt-a", "mt-b"}) ||
			!slices.Equal(envs, []string{"dev", "prod"}) || !slices.Equal(narrowed, []string{"dev"}) {
			t.Errorf("labels %q, tenants %q, env %q, env of mt-b %q", names, tenants, envs, narrowed)
		}
	})

	t.Run("series", func(t *testing.T) {
		var series []map[string]string
		p.getData(t, "/loki/api/v1/series", url.Values{"match[]": {`{app="web"}`}, "start": {start}}, ab, &series)
		var got []string
		for _, s := range series {
			got = append(got, labelsText(s))
		}
		slices.Sort(got)
		want := []string{`{__tenant_id__="mt-a", app="web", env="prod"}`, `{__tenant_id__="mt-b", app="web", env="dev"}`}
		if !slices.Equal(got, want) {
			t.Errorf("series %q, want %q", got, want)
		}
		p.getData(t, "/loki/api/v1/series", url.Values{"match[]": {`{__tenant_id__="mt-a"}`}, "start": {start}}, ab, &series)
		for _, s := range series {
			if s["__tenant_id__"] != "mt-a" {
				t.Errorf("series of mt-a alone: %v", series)
			}
		}
	})

	t.Run("index", func(t *testing.T) {
		var stats struct{ Streams, Entries int }
		getJSON(t, p, "/loki/api/v1/index/stats", url.Values{"query": {`{app="web"}`}, "start": {start}}, ab, &stats)
		if stats.Streams != 2 || stats.Entries != 10 {
			t.Errorf("index/stats: %+v, want 2 streams of 10 entries", stats)
		}
		for _, path := range []string{"/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range"} {
			var vol struct {
				Data struct {
					Result []struct {
						Metric map[string]string `json:"metric"`
					} `json:"result"`
				} `json:"data"`
			}
			body := getJSON(t, p, path, url.Values{"query": {`{app=~"web|pat"}`}, "start": {start}, "targetLabels": {"app,__tenant_id__"}}, ab, &vol)
			var got []string
			for _, r := range vol.Data.Result {
				got = append(got, labelsText(r.Metric))
			}
			slices.Sort(got)
			want := []string{`{__tenant_id__="mt-a", app="pat"}`, `{__tenant_id__="mt-a", app="web"}`, `{__tenant_id__="mt-b", app="pat"}`, `{__tenant_id__="mt-b", app="web"}`}
			if !slices.Equal(got, want) {
				t.Errorf("%s by tenant: %q, want %q\n%s", path, got, want, body)
			}
		}
	})

	t.Run("drilldown", func(t *testing.T) {
		var dl struct {
			DetectedLabels []struct {
				Label       string
				Cardinality int
			} `json:"detectedLabels"`
		}
		getJSON(t, p, "/loki/api/v1/detected_labels", url.Values{"query": {`{app="web"}`}, "start": {start}}, ab, &dl)
		if fmt.Sprint(dl.DetectedLabels) != "[{app 1} {env 2}]" {
			t.Errorf("detected_labels: %+v, want app with 1 value, env with 2 and no __tenant_id__", dl.DetectedLabels)
		}
		var df struct {
			Fields []struct{ Label string } `json:"fields"`
			Values []string                 `json:"values"`
		}
		getJSON(t, p, "/loki/api/v1/detected_fields", url.Values{"query": {`{app="web"}`}, "start": {start}}, ab, &df)
		var labels []string
		for _, f := range df.Fields {
			labels = append(labels, f.Label)
		}
		if !slices.Contains(labels, "tenant") || !slices.Contains(labels, "level") {
			t.Errorf("detected_fields: %q", labels)
		}
		getJSON(t, p, "/loki/api/v1/detected_field/tenant/values", url.Values{"query": {`{app="web"}`}, "start": {start}}, ab, &df)
		if !slices.Equal(df.Values, []string{"mt-a", "mt-b"}) {
			t.Errorf("detected_field/tenant/values: %q", df.Values)
		}
	})

	t.Run("patterns", func(t *testing.T) {
		var pats []struct{ Pattern string }
		p.getData(t, "/loki/api/v1/patterns", url.Values{"query": {`{app="pat"}`}, "start": {start}}, ab, &pats)
		if len(pats) != 1 || pats[0].Pattern != "GET <_> took <_>" {
			t.Errorf("patterns of both tenants: %+v, want GET <_> took <_>", pats)
		}
		p.getData(t, "/loki/api/v1/patterns", url.Values{"query": {`{app="pat"}`}, "start": {start}}, "mt-a", &pats)
		if len(pats) != 0 {
			t.Errorf("patterns of mt-a alone (20 lines): %+v, want none", pats)
		}
	})

	t.Run("tail", func(t *testing.T) {
		q := url.Values{"query": {`{app="web", __tenant_id__=~"mt-.*"}`}, "start": {start}}
		c := p.mustTail(t, ab, q)
		want := asTailLines(d.withTenant("mt-a", "mt-b"))
		slices.SortStableFunc(want, func(a, b tailLine) int { return cmpInt64(a.T, b.T) })
		got := c.read(len(want))
		slices.SortStableFunc(got, func(a, b tailLine) int { return cmpInt64(a.T, b.T) })
		if !slices.Equal(got, want) {
			t.Fatalf("history:\n got %v\nwant %v", got, want)
		}
		now := time.Now().UnixNano()
		live := map[string]string{"app": "web", "env": "live"}
		p.mustPush(t, "mt-c", ctJSON, "", jsonBody([]entry{{Labels: live, T: now, Line: "not for a|b"}}))
		p.mustPush(t, "mt-b", ctJSON, "", jsonBody([]entry{{Labels: live, T: now + 1, Line: "live of mt-b"}}))
		if got := c.read(1); got[0].Labels != `{__tenant_id__="mt-b", app="web", env="live"}` || got[0].Line != "live of mt-b" {
			t.Fatalf("live: %v", got)
		}
	})
}

// TestMultiTenantQueries: with the option (here from -config.file, under
// querier: as in Loki's configuration), a|b reads both tenants at every
// read endpoint; pushes and deletes still take one tenant; the most
// restrictive limit of the tenants applies.
func TestMultiTenantQueries(t *testing.T) {
	out, _ := runLoam(t, "-help")
	if doc := flagDoc(out, "querier.multi-tenant-queries-enabled"); !strings.Contains(doc, "X-Scope-OrgID: a|b") {
		t.Errorf("-help does not document -querier.multi-tenant-queries-enabled:\n%s", doc)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "loam.yaml")
	rt := filepath.Join(dir, "runtime.yaml")
	os.WriteFile(cfg, []byte("querier:\n  multi_tenant_queries_enabled: true\n"), 0o600)
	os.WriteFile(rt, []byte("overrides:\n  mt-c:\n    max_entries_limit_per_query: 5\n"), 0o600)
	l := startLoam(t, filepath.Join(dir, "data"), "-config.file", cfg, "-runtime-config.file", rt)
	d := pushMultiTenantData(t, l)
	checkMultiTenantReads(t, l, d)

	t.Run("writes take one tenant", func(t *testing.T) {
		code, msg := l.pushRaw(t, "mt-a|mt-b", ctJSON, "", jsonBody(d.byTenant["mt-a"][:1]))
		if code != http.StatusBadRequest || !strings.Contains(msg, "multiple org IDs present") || !strings.Contains(msg, "a push applies to one tenant") {
			t.Errorf("push to a|b: %d %q, want 400", code, msg)
		}
		code, _, b := l.do(t, http.MethodPost, "/loki/api/v1/delete?query={app=\"web\"}&start=1", tenantHeader("mt-a|mt-b"), nil)
		if code != http.StatusBadRequest || !strings.Contains(string(b), "the delete API applies to one tenant") {
			t.Errorf("delete for a|b: %d %s, want 400", code, b)
		}
	})

	t.Run("limits", func(t *testing.T) {
		q := url.Values{"query": {`{app="web"}`}, "limit": {"6"}}
		if code, b := l.get(t, "/loki/api/v1/query_range", q, "mt-a|mt-c"); code != http.StatusBadRequest || !strings.Contains(string(b), "(6 > 5)") {
			t.Errorf("a|c over mt-c's max_entries_limit_per_query: %d %s, want 400", code, b)
		}
		if code, b := l.get(t, "/loki/api/v1/query_range", q, "mt-a|mt-b"); code != http.StatusOK {
			t.Errorf("a|b, neither limited: %d %s", code, b)
		}
	})
}

// multiTenantReads are a request to every read endpoint.
var multiTenantReads = []string{
	`/loki/api/v1/query_range?query={app="web"}`,
	`/loki/api/v1/query?query=count_over_time({app="web"}[5m])`,
	`/loki/api/v1/labels`,
	`/loki/api/v1/label/app/values`,
	`/loki/api/v1/series?match[]={app="web"}`,
	`/loki/api/v1/index/stats?query={app="web"}`,
	`/loki/api/v1/index/volume?query={app="web"}`,
	`/loki/api/v1/index/volume_range?query={app="web"}`,
	`/loki/api/v1/detected_labels?query={app="web"}`,
	`/loki/api/v1/detected_fields?query={app="web"}`,
	`/loki/api/v1/detected_field/level/values?query={app="web"}`,
	`/loki/api/v1/patterns?query={app="web"}`,
	`/loki/api/v1/tail?query={app="web"}`,
}

// readPath splits a target of multiTenantReads into its path and query.
func readPath(t *testing.T, target string) (string, url.Values) {
	path, raw, _ := strings.Cut(target, "?")
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return path, q
}

// TestMultiTenantQueriesOff: without the option, a|b is refused at every
// read endpoint with 400 and Loki's message, naming the option.
func TestMultiTenantQueriesOff(t *testing.T) {
	l := startLoam(t, t.TempDir())
	for _, target := range multiTenantReads {
		path, q := readPath(t, target)
		var code int
		var body string
		if strings.HasSuffix(path, "/tail") {
			_, code, body = l.dialTail(t, "mt-a|mt-b", q)
		} else {
			var b []byte
			code, b = l.get(t, path, q, "mt-a|mt-b")
			body = string(b)
		}
		if code != http.StatusBadRequest || !strings.Contains(body, "multiple org IDs present") || !strings.Contains(body, "-querier.multi-tenant-queries-enabled") {
			t.Errorf("%s: %d %q, want 400 naming the option", target, code, body)
		}
	}
}

// TestMultiTenantQueriesAuth: with -auth.enabled, a|b needs a credential
// allowed both tenants; one allowed a alone gets 403 naming b, at every
// read endpoint.
func TestMultiTenantQueriesAuth(t *testing.T) {
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.yaml")
	writeAuthFile(t, authFile, fmt.Sprintf(`tokens:
  - {name: read-a, token_sha256: %s, tenants: [mt-a], role: read}
  - {name: read-ab, token_sha256: %s, tenants: [mt-a, mt-b], role: read}
  - {name: push-all, token_sha256: %s, tenants: ["*"], role: push}
`, tokenSum("read-a-token"), tokenSum("read-ab-token"), tokenSum("push-token")))
	l := startLoam(t, filepath.Join(dir, "data"), "-auth.enabled", "-auth.file", authFile, "-querier.multi-tenant-queries-enabled")
	l.authz = "Bearer push-token"
	pushMultiTenantData(t, l)
	for _, target := range multiTenantReads {
		path, q := readPath(t, target)
		for _, tc := range []struct {
			token string
			code  int
			body  string
		}{
			{"read-a-token", http.StatusForbidden, `token "read-a" may not use tenant "mt-b", one of those X-Scope-OrgID "mt-a|mt-b" names; it may use mt-a`},
			{"read-ab-token", 0, ""},
		} {
			hdr := tenantHeader("mt-a|mt-b")
			hdr.Set("Authorization", "Bearer "+tc.token)
			if strings.HasSuffix(path, "/tail") {
				code, body := dialTailWith(t, l, hdr, q)
				if tc.code == 0 && code != http.StatusSwitchingProtocols || tc.code != 0 && (code != tc.code || !strings.Contains(body, tc.body)) {
					t.Errorf("%s with %s: %d %q", target, tc.token, code, body)
				}
				continue
			}
			code, _, b := l.do(t, http.MethodGet, path+"?"+q.Encode(), hdr, nil)
			if tc.code == 0 && code != http.StatusOK || tc.code != 0 && (code != tc.code || !strings.Contains(string(b), tc.body)) {
				t.Errorf("%s with %s: %d %s", target, tc.token, code, b)
			}
			if shows := strings.HasSuffix(path, "/query_range") || strings.HasSuffix(path, "/series"); tc.code == 0 && shows && !strings.Contains(string(b), `"__tenant_id__":"mt-b"`) {
				t.Errorf("%s with %s: the answer does not show mt-b's data: %s", target, tc.token, b)
			}
		}
	}
	// Pushing to several tenants is refused even with a credential of all.
	code, msg := l.pushRaw(t, "mt-a|mt-b", ctJSON, "", jsonBody([]entry{{Labels: map[string]string{"app": "x"}, T: time.Now().UnixNano(), Line: "x"}}))
	if code != http.StatusBadRequest || !strings.Contains(msg, "multiple org IDs present") {
		t.Errorf("push to a|b: %d %q, want 400", code, msg)
	}
}

// dialTailWith opens a tail with the given headers and returns the
// handshake's status and body.
func dialTailWith(t *testing.T, p *loam, hdr http.Header, q url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.base+"/loki/api/v1/tail?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if resp.StatusCode != http.StatusSwitchingProtocols {
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
	}
	return resp.StatusCode, b.String()
}

// TestMultiTenantQueriesCluster: in a cluster of three nodes (replication
// factor 2), a|b through any node reads both tenants from the replicas:
// the tenants are read one by one through the fan-out and merged on the
// node asked.
func TestMultiTenantQueriesCluster(t *testing.T) {
	c := startCluster(t, 3, 2, "-querier.multi-tenant-queries-enabled")
	d := pushMultiTenantData(t, c.nodes[0].proc)
	checkMultiTenantReads(t, c.nodes[2].proc, d)
}
