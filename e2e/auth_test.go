package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hashWith runs `loam <cmd>` with secret on stdin and returns what it
// prints: the auth file's form of the secret.
func hashWith(t *testing.T, cmd, secret string) string {
	t.Helper()
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	c := exec.Command(loamBin, cmd)
	c.Stdin = strings.NewReader(secret + "\n")
	out, err := c.Output()
	if err != nil {
		t.Fatalf("loam %s: %v", cmd, err)
	}
	return strings.TrimSpace(string(out))
}

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// authCred is one column of the matrix: a credential and what it is.
type authCred struct {
	name   string
	header string // Authorization; "" for none
	valid  bool   // in the auth file with this secret
	role   string // push, read, admin
	all    bool   // tenants ["*"]
	tenant string // its one tenant otherwise
}

// authRoute is one row: a request and who may make it.
type authRoute struct {
	method, path string
	query        url.Values
	body         func(cred string) []byte // push bodies name the credential
	// access: open, metrics, cluster (/internal/), any, push, read,
	// admin (of the tenant), admin-all (of every tenant).
	access string
	ok     int // the status of an admitted request
}

// writeAuthFile writes the auth file through a rename, as a Secret update.
func writeAuthFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
}

func tokenSum(tok string) string { s := sha256.Sum256([]byte(tok)); return hex.EncodeToString(s[:]) }

// TestAuthMatrix: every route × every kind of credential against the real
// binary answers the status its rule gives; afterwards only the admitted
// pushes are stored, and no refused request answered any data.
func TestAuthMatrix(t *testing.T) {
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.yaml")
	writeAuthFile(t, authFile, fmt.Sprintf(`users:
  - name: pusher-a
    password_bcrypt: %q
    tenants: [team-a]
    role: push
  - name: reader-a
    password_bcrypt: %q
    tenants: [team-a]
    role: read
tokens:
  - {name: push-a, token_sha256: %s, tenants: [team-a], role: push}
  - {name: read-a, token_sha256: %s, tenants: [team-a], role: read}
  - {name: read-b, token_sha256: %s, tenants: [team-b], role: read}
  - {name: root, token_sha256: %s, tenants: ["*"], role: admin}
`, hashWith(t, "hash-password", "push a pw"), hashWith(t, "hash-password", "read-a-pw"),
		hashWith(t, "hash-token", "push-a-token"), tokenSum("read-a-token"), tokenSum("read-b-token"), tokenSum("root-token")))
	metricsToken := filepath.Join(dir, "metrics-token")
	os.WriteFile(metricsToken, []byte("scrape-token\n"), 0o600)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("matrix secret\n"), 0o600)
	// A node of a cluster of its own (it joins nobody, and serves /ring and
	// the node-to-node routes).
	gossip := freeGossipAddr(t)
	_, port, _ := net.SplitHostPort(gossip)
	l := startLoam(t, filepath.Join(dir, "data"), "-auth.enabled", "-auth.file", authFile, "-auth.metrics-token-file", metricsToken,
		"-memberlist.bind-addr", "127.0.0.1", "-memberlist.port", port, "-memberlist.join", freeGossipAddr(t),
		"-cluster.secret-file", secret, "-node.name", "matrix")

	creds := []authCred{
		{name: "none"},
		{name: "wrong-password", header: basicAuth("pusher-a", "push a pw ")},
		{name: "unknown-user", header: basicAuth("nobody", "push a pw")},
		{name: "unknown-token", header: "Bearer no-such-token"},
		{name: "other-tenant-token", header: "Bearer read-b-token", valid: true, role: "read", tenant: "team-b"},
		{name: "push-only-token", header: "Bearer push-a-token", valid: true, role: "push", tenant: "team-a"},
		{name: "push-only-user", header: basicAuth("pusher-a", "push a pw"), valid: true, role: "push", tenant: "team-a"},
		{name: "read-only-token", header: "Bearer read-a-token", valid: true, role: "read", tenant: "team-a"},
		{name: "read-only-user", header: basicAuth("reader-a", "read-a-pw"), valid: true, role: "read", tenant: "team-a"},
		{name: "admin", header: "Bearer root-token", valid: true, role: "admin", all: true},
	}
	now := time.Now()
	start, end := strconv.FormatInt(now.Add(-time.Hour).UnixNano(), 10), strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10)
	sel := `{app="auth"}`
	rng := url.Values{"query": {sel}, "start": {start}, "end": {end}}
	var seq int64
	routes := []authRoute{
		{method: "POST", path: "/loki/api/v1/push", access: "push", ok: 204, body: func(cred string) []byte {
			seq++
			return jsonBody([]entry{{Labels: map[string]string{"app": "auth"}, T: now.Add(-time.Minute).UnixNano() + seq, Line: "pushed by " + cred}})
		}},
		{method: "GET", path: "/loki/api/v1/query_range", query: url.Values{"query": {sel}, "start": {start}, "end": {end}, "limit": {"1000"}}, access: "read", ok: 200},
		{method: "POST", path: "/loki/api/v1/query", query: url.Values{"query": {`count_over_time({app="auth"}[2h])`}}, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/labels", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/label", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/label/app/values", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/series", query: url.Values{"match[]": {sel}, "start": {start}, "end": {end}}, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/patterns", query: rng, access: "read", ok: 200},
		// A plain GET: admitted, then refused by the websocket upgrade.
		{method: "GET", path: "/loki/api/v1/tail", query: url.Values{"query": {sel}}, access: "read", ok: 400},
		{method: "GET", path: "/loki/api/v1/index/stats", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/index/volume", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/index/volume_range", query: url.Values{"query": {sel}, "start": {start}, "end": {end}, "step": {"60"}}, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/detected_labels", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/detected_fields", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/detected_field/app/values", query: rng, access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/drilldown-limits", access: "read", ok: 200},
		{method: "GET", path: "/loki/api/v1/format_query", query: url.Values{"query": {sel}}, access: "read-global", ok: 200},
		{method: "GET", path: "/loki/api/v1/status/buildinfo", access: "any", ok: 200},
		{method: "GET", path: "/loki/api/v1/no-such-endpoint", access: "any", ok: 404},
		{method: "PUT", path: "/loki/api/v1/delete", query: url.Values{"query": {`{app="never-pushed"}`}, "start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}}, access: "admin", ok: 204},
		{method: "GET", path: "/loki/api/v1/delete", access: "admin", ok: 200},
		{method: "DELETE", path: "/loki/api/v1/delete", query: url.Values{"request_id": {"nope"}}, access: "admin", ok: 404},
		{method: "POST", path: "/flush", access: "admin-all", ok: 204},
		{method: "GET", path: "/config", access: "admin-all", ok: 200},
		{method: "GET", path: "/runtime_config", access: "admin-all", ok: 200},
		{method: "GET", path: "/debug/pprof/", access: "admin-all", ok: 200},
		{method: "GET", path: "/debug/pprof/heap", query: url.Values{"debug": {"1"}}, access: "admin-all", ok: 200},
		{method: "GET", path: "/debug/pprof/symbol", access: "admin-all", ok: 200},
		{method: "GET", path: "/ring", access: "admin-all", ok: 200},
		{method: "POST", path: "/ring/forget", query: url.Values{"node": {"nobody"}}, access: "admin-all", ok: 400},
		{method: "GET", path: "/ready", access: "open", ok: 200},
		{method: "GET", path: "/metrics", access: "metrics", ok: 200},
		{method: "POST", path: "/internal/repair/tenants", access: "cluster", ok: 401},
	}
	// expect is the status of route for cred, from the route's access
	// alone.
	expect := func(rt authRoute, c authCred) int {
		switch rt.access {
		case "open", "cluster":
			return rt.ok
		case "metrics":
			return http.StatusUnauthorized // no user credential is the metrics token
		}
		if !c.valid {
			return http.StatusUnauthorized
		}
		switch rt.access {
		case "any":
			return rt.ok
		case "push":
			if c.role != "push" && c.role != "admin" {
				return http.StatusForbidden
			}
		case "read", "read-global":
			if c.role != "read" && c.role != "admin" {
				return http.StatusForbidden
			}
		case "admin", "admin-all":
			if c.role != "admin" {
				return http.StatusForbidden
			}
		}
		if rt.access != "read-global" && !c.all && c.tenant != "team-a" {
			return http.StatusForbidden
		}
		return rt.ok
	}
	matrixStart := time.Now()
	for _, rt := range routes {
		for _, c := range creds {
			path := rt.path
			if len(rt.query) > 0 {
				path += "?" + rt.query.Encode()
			}
			h := tenantHeader("team-a")
			if c.header != "" {
				h.Set("Authorization", c.header)
			}
			var body []byte
			if rt.body != nil {
				body = rt.body(c.name)
				h.Set("Content-Type", ctJSON)
			}
			code, hdr, resp := l.do(t, rt.method, path, h, strings.NewReader(string(body)))
			want := expect(rt, c)
			if code != want {
				t.Errorf("%s %s as %s: %d %q, want %d", rt.method, rt.path, c.name, code, clip(string(resp)), want)
				continue
			}
			switch {
			case rt.access == "cluster":
				if !strings.Contains(string(resp), "cluster authentication failed") {
					t.Errorf("%s %s as %s: %q, want the cluster's own refusal", rt.method, rt.path, c.name, clip(string(resp)))
				}
			case code == 401 || code == 403:
				// A plain message a person can act on, and no data.
				if strings.Contains(string(resp), "pushed by") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || len(resp) > 400 {
					t.Errorf("%s %s as %s: refusal %q (%s)", rt.method, rt.path, c.name, resp, hdr.Get("Content-Type"))
				}
				if code == 401 && rt.access != "metrics" && hdr.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s as %s: 401 without WWW-Authenticate", rt.method, rt.path, c.name)
				}
			}
		}
	}

	// The metrics token opens /metrics; the cluster secret opens /internal/.
	code, _, body := l.do(t, "GET", "/metrics", http.Header{"Authorization": {"Bearer scrape-token"}}, nil)
	if code != 200 {
		t.Fatalf("/metrics with its token: %d", code)
	}
	m, err := parseMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{"missing", "bad_password", "unknown_user", "unknown_token", "tenant_denied", "role_denied", "metrics_token"} {
		if v, _ := m.value("loam_auth_failures_total", "reason", reason); v < 1 {
			t.Errorf("loam_auth_failures_total{reason=%q} = %v after the matrix", reason, v)
		}
	}
	if v, ok := m.value("loam_auth_config_last_reload_successful"); !ok || v != 1 {
		t.Errorf("loam_auth_config_last_reload_successful = %v, %v", v, ok)
	}
	sum := sha256.Sum256([]byte("loam-cluster-v1\x00matrix secret"))
	if code, _, body := l.do(t, "POST", "/internal/repair/tenants", http.Header{"X-Loam-Cluster-Auth": {hex.EncodeToString(sum[:])}}, nil); code != 200 {
		t.Errorf("/internal/repair/tenants with the cluster secret and no user credential: %d %s", code, body)
	}

	// A credential of one tenant needs no X-Scope-OrgID; one of every
	// tenant must name it.
	noTenant := func(authz string) (int, string) {
		code, _, b := l.do(t, "POST", "/loki/api/v1/push", http.Header{"Authorization": {authz}, "Content-Type": {ctJSON}},
			strings.NewReader(string(jsonBody([]entry{{Labels: map[string]string{"app": "auth"}, T: now.UnixNano(), Line: "pushed without a tenant header"}}))))
		return code, string(b)
	}
	if code, msg := noTenant("Bearer push-a-token"); code != 204 {
		t.Errorf("push-a without X-Scope-OrgID: %d %s, want 204 into team-a", code, msg)
	}
	if code, msg := noTenant("Bearer root-token"); code != 400 || !strings.Contains(msg, "set the X-Scope-OrgID header") {
		t.Errorf("admin of every tenant without X-Scope-OrgID: %d %q, want 400 saying to set it", code, msg)
	}

	// What is stored: exactly the admitted pushes, in team-a; nothing in
	// team-b or the default tenant.
	lines := func(tenant string) []string {
		q := url.Values{"query": {sel}, "start": {start}, "end": {strconv.FormatInt(time.Now().Add(time.Minute).UnixNano(), 10)}, "limit": {"1000"}}
		code, _, b := l.do(t, "GET", "/loki/api/v1/query_range?"+q.Encode(), http.Header{"Authorization": {"Bearer root-token"}, "X-Scope-OrgID": {tenant}}, nil)
		if code != 200 {
			t.Fatalf("query of %s as admin: %d %s", tenant, code, b)
		}
		var out []string
		for _, f := range strings.Split(string(b), `"pushed `)[1:] {
			out = append(out, "pushed "+f[:strings.IndexByte(f, '"')])
		}
		slices.Sort(out)
		return out
	}
	want := []string{"pushed by admin", "pushed by push-only-token", "pushed by push-only-user", "pushed without a tenant header"}
	if got := lines("team-a"); !slices.Equal(got, want) {
		t.Errorf("team-a holds %q, want %q", got, want)
	}
	for _, tenant := range []string{"team-b", "fake"} {
		if got := lines(tenant); len(got) != 0 {
			t.Errorf("%s holds %q, want nothing", tenant, got)
		}
	}
	// One delete request: the admin's.
	code, _, body = l.do(t, "GET", "/loki/api/v1/delete", http.Header{"Authorization": {"Bearer root-token"}, "X-Scope-OrgID": {"team-a"}}, nil)
	if code != 200 || strings.Count(string(body), "request_id") != 1 {
		t.Errorf("delete requests of team-a: %d %s, want the admin's one", code, body)
	}
	// Refusals were logged, at most 5 a second (and 5 at once).
	secs := time.Since(matrixStart).Seconds()
	if n := strings.Count(l.out.String(), "request refused"); n == 0 || float64(n) > 5*secs+5 {
		t.Errorf("%d refusals logged in %.1fs", n, secs)
	}
	if !strings.Contains(l.out.String(), "suppressed_since_last=") {
		t.Error("no log line counts the refusals it suppressed")
	}
}

// TestAuthReload: an edit of the auth file (a token added, a user removed)
// is in force within the reload period, without a restart; a bad version
// keeps the last good one and says so on /metrics and in the log; a bad
// file or a missing one at start stops loam.
func TestAuthReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "auth.yaml")
	alice := fmt.Sprintf(`  - {name: alice, password_bcrypt: %q, tenants: [team-a], role: push}
`, hashWith(t, "hash-password", "alice-pw"))
	t1 := fmt.Sprintf("  - {name: t1, token_sha256: %s, tenants: [team-a], role: read}\n", tokenSum("token-1"))
	t2 := fmt.Sprintf("  - {name: t2, token_sha256: %s, tenants: [team-a], role: read}\n", tokenSum("token-2"))
	writeAuthFile(t, file, "users:\n"+alice+"tokens:\n"+t1)
	const period = 100 * time.Millisecond
	l := startLoam(t, filepath.Join(dir, "data"), "-auth.enabled", "-auth.file", file, "-auth.reload-period", period.String())

	status := func(authz string) int {
		h := http.Header{"Authorization": {authz}, "Content-Type": {ctJSON}}
		if strings.HasPrefix(authz, "Basic") {
			code, _, _ := l.do(t, "POST", "/loki/api/v1/push", h, strings.NewReader(string(jsonBody([]entry{
				{Labels: map[string]string{"app": "reload"}, T: time.Now().UnixNano(), Line: "x"}}))))
			return code
		}
		code, _, _ := l.do(t, "GET", "/loki/api/v1/labels", h, nil)
		return code
	}
	aliceAuth := basicAuth("alice", "alice-pw")
	reloadOK := func() float64 {
		v, ok := l.metrics(t).value("loam_auth_config_last_reload_successful")
		if !ok {
			t.Fatal("no loam_auth_config_last_reload_successful on /metrics")
		}
		return v
	}
	if status(aliceAuth) != 204 || status("Bearer token-1") != 200 || status("Bearer token-2") != 401 || reloadOK() != 1 {
		t.Fatalf("at start: alice %d, token-1 %d, token-2 %d", status(aliceAuth), status("Bearer token-1"), status("Bearer token-2"))
	}

	// alice removed, t2 added.
	edited := "users: []\ntokens:\n" + t1 + t2
	writeAuthFile(t, file, edited)
	t0 := time.Now()
	for status(aliceAuth) != 401 || status("Bearer token-2") != 200 {
		if time.Since(t0) > 20*period+2*time.Second {
			t.Fatalf("the edit is not in force %s after it (reload period %s): alice %d, token-2 %d", time.Since(t0), period, status(aliceAuth), status("Bearer token-2"))
		}
		time.Sleep(period / 4)
	}
	t.Logf("edit in force after %s (reload period %s)", time.Since(t0).Round(time.Millisecond), period)
	if status("Bearer token-1") != 200 {
		t.Error("token-1 lost by the edit")
	}

	// A bad version: the last good one stays.
	writeAuthFile(t, file, edited+"  - {name: t3, token_sha256: nothex, tenants: [team-a], role: read}\n")
	deadline := time.Now().Add(5 * time.Second)
	for reloadOK() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("loam_auth_config_last_reload_successful still 1 5s after a bad file")
		}
		time.Sleep(period / 4)
	}
	if status("Bearer token-2") != 200 || status(aliceAuth) != 401 {
		t.Error("a bad file changed who may use the server")
	}
	if !strings.Contains(l.out.String(), "tokens[2] (t3): token_sha256 must be the 64 hex digits") {
		t.Errorf("the log does not say what is wrong with the file:\n%s", l.out.String())
	}
	writeAuthFile(t, file, edited)
	for reloadOK() != 1 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("loam_auth_config_last_reload_successful not back to 1 after the file was fixed")
		}
		time.Sleep(period / 4)
	}

	// At start, no file, a bad file or auth without a file stop loam.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("users:\n  - {name: x, password_bcrypt: plain, tenants: [a], role: push}\n"), 0o600)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"-auth.enabled"}, "-auth.enabled needs -auth.file"},
		{[]string{"-auth.file", file}, "-auth.file is set but -auth.enabled is not"},
		{[]string{"-auth.enabled", "-auth.file", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{[]string{"-auth.enabled", "-auth.file", bad}, "users[0] (x): password_bcrypt is not a bcrypt hash"},
		{[]string{"-auth.metrics-token-file", filepath.Join(dir, "none")}, "none"},
	} {
		out, code := runLoam(t, append([]string{"-http.addr", freeAddr(t), "-data.dir", filepath.Join(dir, "d2")}, tc.args...)...)
		if code == 0 || !strings.Contains(out, tc.says) {
			t.Errorf("loam %s: exit %d, %q; want a failure saying %q", strings.Join(tc.args, " "), code, clip(out), tc.says)
		}
	}
}
