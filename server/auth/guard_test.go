package auth

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testGuard is a Guard over testdata/auth.yaml (copied, so that tests may
// change it) and its log.
type testGuard struct {
	*Guard
	file string
	log  *syncBuf
	reg  *prometheus.Registry
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newTestGuard(t testing.TB, cfg Config) *testGuard {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tg := &testGuard{file: file, log: &syncBuf{}, reg: prometheus.NewRegistry()}
	cfg.Enabled, cfg.File = true, file
	cfg.Logger = slog.New(slog.NewTextHandler(tg.log, nil))
	cfg.Registerer = tg.reg
	if tg.Guard, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return tg
}

func basic(user, pw string) string { return "Basic " + b64(user+":"+pw) }

// echo answers 200 with the tenant and identity the handler sees.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	name := "-"
	if id := IdentityFrom(r.Context()); id != nil {
		name = id.Name
	}
	io.WriteString(w, r.Header.Get(TenantHeader)+" "+name)
})

func call(h http.Handler, method, authz string, tenants ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/loki/api/v1/x", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	for _, t := range tenants {
		r.Header.Add(TenantHeader, t)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestGuard(t *testing.T) {
	g := newTestGuard(t, Config{})
	push := Rule{Access: Push, Tenant: true}
	read := Rule{Access: Read, Tenant: true}
	del := Rule{Access: Admin, Tenant: true}
	global := Rule{Access: Admin}
	any := Rule{Access: Any}
	fb, reader, root, bAdmin := basic("fluent-bit", "fb-secret"), basic("reader", "reader-secret"), basic("root", "admin-secret"), basic("team-b-admin", "team-b-secret")
	graf, pusher := "Bearer grafana-token", "Bearer push-token"
	for _, tc := range []struct {
		name    string
		rule    Rule
		authz   string
		tenants []string
		status  int
		body    string // substring of the answer
		reason  Reason
	}{
		{"no credentials", read, "", nil, 401, "authentication required", ReasonMissing},
		{"no credentials, any", any, "", nil, 401, "authentication required", ReasonMissing},
		{"malformed", read, "Basic %%%", nil, 401, "bad Authorization header", ReasonMalformed},
		{"other scheme", read, "Digest x", nil, 401, "neither Basic nor Bearer", ReasonMalformed},
		{"wrong password", push, basic("fluent-bit", "nope"), nil, 401, "wrong user name or password", ReasonBadPassword},
		{"unknown user", push, basic("nobody", "fb-secret"), nil, 401, "wrong user name or password", ReasonUnknownUser},
		{"unknown token", read, "Bearer nope", nil, 401, "unknown bearer token", ReasonUnknownToken},
		{"push: own tenant implied", push, fb, nil, 200, "team-a fluent-bit", ""},
		{"push: own tenant named", push, fb, []string{"team-a"}, 200, "team-a fluent-bit", ""},
		{"push: other tenant", push, fb, []string{"team-b"}, 403, `user "fluent-bit" may not use tenant "team-b" (X-Scope-OrgID); it may use team-a`, ReasonTenantDenied},
		{"push-only reading", read, fb, nil, 403, `user "fluent-bit" has role push, which may not GET /loki/api/v1/x: that needs role read or admin`, ReasonRoleDenied},
		{"push-only token reading", read, pusher, []string{"team-b"}, 403, `token "pusher" has role push`, ReasonRoleDenied},
		{"push token pushing", push, pusher, nil, 200, "team-b pusher", ""},
		{"read-only pushing", push, graf, []string{"team-a"}, 403, `token "grafana" has role read, which may not GET /loki/api/v1/x: that needs role push or admin`, ReasonRoleDenied},
		{"reader of two, no header", read, reader, nil, 400, `set the X-Scope-OrgID header to the tenant to use: user "reader" may use team-a, team-b`, ReasonNoTenant},
		{"reader of two, names one", read, reader, []string{"team-b"}, 200, "team-b reader", ""},
		{"reader of two, third", read, reader, []string{"team-c"}, 403, "may not use tenant \"team-c\"", ReasonTenantDenied},
		{"repeated header: first checked, one kept", read, reader, []string{"team-b", "team-c"}, 200, "team-b reader", ""},
		{"repeated header: first refused", read, reader, []string{"team-c", "team-b"}, 403, "team-c", ReasonTenantDenied},
		// A multi-tenant read needs every tenant it names.
		{"reader of two, both", read, reader, []string{"team-b|team-a"}, 200, "team-b|team-a reader", ""},
		{"reader of two, both and a third", read, reader, []string{"team-a|team-c|team-b"}, 403,
			`user "reader" may not use tenant "team-c", one of those X-Scope-OrgID "team-a|team-c|team-b" names; it may use team-a, team-b`, ReasonTenantDenied},
		{"one tenant, two named", read, bAdmin, []string{"team-a|team-b"}, 403, `may not use tenant "team-a", one of those`, ReasonTenantDenied},
		{"every tenant, several named", read, graf, []string{"x|y"}, 200, "x|y grafana", ""},
		{"empty names left to the handler", read, reader, []string{"team-a||team-b"}, 200, "team-a||team-b reader", ""},
		{"all tenants, no header", read, graf, nil, 400, "may use every tenant, so the request must name one", ReasonNoTenant},
		{"all tenants, any", read, graf, []string{"anything"}, 200, "anything grafana", ""},
		{"reader deleting", del, graf, []string{"a"}, 403, "needs role admin", ReasonRoleDenied},
		{"tenant admin deleting", del, bAdmin, nil, 200, "team-b team-b-admin", ""},
		{"tenant admin, other tenant", del, bAdmin, []string{"team-a"}, 403, "may not use tenant", ReasonTenantDenied},
		{"tenant admin, global route", global, bAdmin, nil, 403, `user "team-b-admin" is an admin of team-b only`, ReasonRoleDenied},
		{"admin, global route", global, root, nil, 200, " root", ""},
		{"admin pushes anywhere", push, root, []string{"x"}, 200, "x root", ""},
		{"admin reads anywhere", read, root, []string{"y"}, 200, "y root", ""},
		{"any role, any route", any, fb, nil, 200, " fluent-bit", ""},
		{"bearer scheme lower case", push, "bearer push-token", nil, 200, "team-b pusher", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before float64
			if tc.reason != "" {
				before = testutil.ToFloat64(g.failures.WithLabelValues(string(tc.reason)))
			}
			w := call(g.Wrap(tc.rule, echo), "GET", tc.authz, tc.tenants...)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Fatalf("%d %q, want %d and %q", w.Code, w.Body.String(), tc.status, tc.body)
			}
			if tc.reason != "" {
				if got := testutil.ToFloat64(g.failures.WithLabelValues(string(tc.reason))) - before; got != 1 {
					t.Errorf("loam_auth_failures_total{reason=%q} rose by %v, want 1", tc.reason, got)
				}
			}
			challenge := w.Header().Get("WWW-Authenticate")
			switch {
			case w.Code == 401 && tc.reason == ReasonUnknownToken:
				if !strings.HasPrefix(challenge, `Bearer realm="loam"`) {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", challenge)
				}
			case w.Code == 401:
				if challenge != `Basic realm="loam"` {
					t.Errorf("WWW-Authenticate %q, want Basic realm=\"loam\"", challenge)
				}
			case challenge != "":
				t.Errorf("WWW-Authenticate %q on a %d", challenge, w.Code)
			}
		})
	}
	if strings.Contains(g.log.String(), "secret") {
		t.Errorf("the log holds a password:\n%s", g.log.String())
	}
}

func TestGuardTwoAuthorizationHeaders(t *testing.T) {
	g := newTestGuard(t, Config{})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Authorization", "Bearer push-token")
	r.Header.Add("Authorization", "Bearer grafana-token")
	w := httptest.NewRecorder()
	g.Wrap(Rule{Access: Any}, echo).ServeHTTP(w, r)
	if w.Code != 401 || !strings.Contains(w.Body.String(), "more than one Authorization header") {
		t.Errorf("%d %q", w.Code, w.Body.String())
	}
}

func TestGuardDisabled(t *testing.T) {
	g, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []Rule{{Access: Push, Tenant: true}, {Access: Admin}, {Access: Metrics}} {
		if w := call(g.Wrap(rule, echo), "GET", ""); w.Code != 200 || w.Body.String() != " -" {
			t.Errorf("%s with auth off: %d %q", rule, w.Code, w.Body.String())
		}
	}
	if _, err := New(Config{Enabled: true}); err == nil || !strings.Contains(err.Error(), "-auth.file") {
		t.Errorf("enabled without a file: %v", err)
	}
	if _, err := New(Config{Enabled: true, File: filepath.Join(t.TempDir(), "none.yaml")}); err == nil {
		t.Error("a missing auth file at start is no error")
	}
}

func TestGuardMetricsToken(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("  scrape-me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{MetricsTokenFile: tokFile, ReloadPeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Wrap(Rule{Access: Metrics}, echo)
	for _, tc := range []struct {
		authz  string
		status int
	}{{"", 401}, {"Bearer scrape-m", 401}, {"Bearer scrape-me", 200}, {basic("scrape-me", "scrape-me"), 401}} {
		if w := call(h, "GET", tc.authz); w.Code != tc.status {
			t.Errorf("%q: %d, want %d", tc.authz, w.Code, tc.status)
		}
	}
	// Other routes stay open: auth is off.
	if w := call(g.Wrap(Rule{Access: Read, Tenant: true}, echo), "GET", ""); w.Code != 200 {
		t.Errorf("a read route with auth off and a metrics token: %d", w.Code)
	}
	// Rotation.
	os.WriteFile(tokFile, []byte("rotated"), 0o600)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if w := call(h, "GET", "Bearer scrape-me"); w.Code != 401 {
		t.Errorf("the old token after rotation: %d", w.Code)
	}
	if w := call(h, "GET", "Bearer rotated"); w.Code != 200 {
		t.Errorf("the new token after rotation: %d", w.Code)
	}
	os.WriteFile(tokFile, []byte(" \n"), 0o600)
	if err := g.Reload(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an emptied token file: %v", err)
	}
	if w := call(h, "GET", "Bearer rotated"); w.Code != 200 {
		t.Errorf("the last good token after a bad reload: %d", w.Code)
	}
}

func TestDenyLogRateLimited(t *testing.T) {
	var buf syncBuf
	d := newDenyLog(slog.New(slog.NewTextHandler(&buf, nil)), 5)
	now := time.Unix(1000, 0)
	d.now = func() time.Time { return now }
	for range 100 {
		d.warn("request refused")
	}
	if n := strings.Count(buf.String(), "request refused"); n != 5 {
		t.Fatalf("%d lines for 100 refusals in one instant, want 5", n)
	}
	now = now.Add(time.Second)
	d.warn("request refused")
	if !strings.Contains(buf.String(), "suppressed_since_last=95") {
		t.Errorf("the next line does not count the suppressed ones:\n%s", buf.String())
	}
}
