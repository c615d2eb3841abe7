package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TenantHeader names the tenant of a request, as in Loki.
const TenantHeader = "X-Scope-OrgID"

// DefaultReloadPeriod is how often the auth file and the metrics token file
// are read again.
const DefaultReloadPeriod = 10 * time.Second

// Config says what a Guard checks.
type Config struct {
	// Enabled: every route but the Open and Metrics ones needs a credential
	// of File. Off: they admit every request, as without a Guard.
	Enabled bool
	// File is the auth file; required when Enabled.
	File string
	// MetricsTokenFile holds the bearer token /metrics requires (surrounding
	// whitespace ignored); "": /metrics is open. Independent of Enabled.
	MetricsTokenFile string
	// ReloadPeriod is how often Run reads the files again; 0 is
	// DefaultReloadPeriod.
	ReloadPeriod time.Duration
	// MaxConcurrentBcrypt bounds the bcrypt checks running at once; 0 is
	// half the cores (at least one).
	MaxConcurrentBcrypt int
	Logger              *slog.Logger          // nil: slog.Default()
	Registerer          prometheus.Registerer // nil: no metrics exported
}

// Guard admits or refuses requests. Wrap is called while the routes are
// built; the handlers it returns, Reload and Run are safe for concurrent
// use. A Guard lives as long as the server.
type Guard struct {
	cfg   Config
	log   *slog.Logger
	slots chan struct{}
	deny  *denyLog

	table        atomic.Pointer[Table]
	metricsToken atomic.Pointer[[sha256.Size]byte]

	failures *prometheus.CounterVec
	reloadOK prometheus.Gauge

	// Reload state, guarded by reloadMu: Run and Reload may overlap.
	reloadMu sync.Mutex
	files    [2]watched // the auth file, the metrics token file
}

// watched is the reload state of one file.
type watched struct {
	sum     [sha256.Size]byte // of the content last parsed, good or bad
	seen    bool
	lastErr error
}

// New returns a Guard over cfg, with the files read: a file missing or bad
// at start is an error (the server must not start open by mistake).
func New(cfg Config) (*Guard, error) {
	if cfg.Enabled && cfg.File == "" {
		return nil, errors.New("-auth.enabled needs -auth.file: the users and tokens that may use the server")
	}
	if cfg.ReloadPeriod <= 0 {
		cfg.ReloadPeriod = DefaultReloadPeriod
	}
	if cfg.MaxConcurrentBcrypt <= 0 {
		cfg.MaxConcurrentBcrypt = max(1, runtime.GOMAXPROCS(0)/2)
	}
	g := &Guard{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxConcurrentBcrypt),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_auth_failures_total",
			Help: "Requests refused by authentication or authorization, by reason."}, []string{"reason"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loam_auth_config_last_reload_successful",
			Help: "Whether the last reading of -auth.file and -auth.metrics-token-file succeeded (0: the last good content is still in use)."}),
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	g.deny = newDenyLog(g.log, denyLogPerSecond)
	for _, r := range []Reason{ReasonMissing, ReasonMalformed, ReasonUnknownUser, ReasonBadPassword, ReasonUnknownToken,
		ReasonRoleDenied, ReasonTenantDenied, ReasonNoTenant, ReasonMetricsToken} {
		g.failures.WithLabelValues(string(r))
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(g.failures, g.reloadOK)
	}
	g.table.Store(newTable())
	if err := g.load(true); err != nil {
		return nil, err
	}
	g.reloadOK.Set(1)
	return g, nil
}

type ctxKey struct{}

// IdentityFrom returns the identity a Guard admitted the request of ctx
// as; nil when none was checked (auth disabled, or an open route).
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(ctxKey{}).(*Identity)
	return id
}

// Wrap returns h guarded by rule.
func (g *Guard) Wrap(rule Rule, h http.Handler) http.Handler {
	switch {
	case rule.Access == Open:
		return h
	case rule.Access == Metrics:
		if g.cfg.MetricsTokenFile == "" {
			return h
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.serveMetrics(h, w, r) })
	case !g.cfg.Enabled:
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.serve(rule, h, w, r) })
}

// refusal is a request refused: its status, reason and message.
type refusal struct {
	status int
	reason Reason
	msg    string
	who    string // "user \"x\"", "token \"y\"", or what was presented
	bearer bool   // a 401 challenges Bearer rather than Basic
}

func (g *Guard) serve(rule Rule, h http.Handler, w http.ResponseWriter, r *http.Request) {
	id, ref := g.admit(rule, r)
	if ref != nil {
		g.refuse(w, r, ref)
		return
	}
	h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
}

// admit checks r against rule. It may set X-Scope-OrgID: to the
// credential's only tenant when absent, and to one value when repeated, so
// that the handler serves exactly the tenant that was checked. A value
// naming several tenants (a|b, a multi-tenant read) needs every one of
// them; whether several may be named at all is the route's to decide.
func (g *Guard) admit(rule Rule, r *http.Request) (*Identity, *refusal) {
	hdrs := r.Header.Values("Authorization")
	if len(hdrs) > 1 {
		return nil, &refusal{status: http.StatusUnauthorized, reason: ReasonMalformed,
			msg: "more than one Authorization header: send one credential"}
	}
	var c Credential
	if len(hdrs) == 1 {
		var err error
		if c, err = ParseAuthorization(hdrs[0]); err != nil {
			return nil, &refusal{status: http.StatusUnauthorized, reason: ReasonMalformed, msg: "bad Authorization header: " + err.Error()}
		}
	}
	if c.Kind == None {
		return nil, &refusal{status: http.StatusUnauthorized, reason: ReasonMissing,
			msg: "authentication required: send HTTP basic auth (a user of the server's auth file) or Authorization: Bearer <token>"}
	}
	id, reason := g.table.Load().verify(c, g.slots)
	switch reason {
	case ReasonUnknownUser, ReasonBadPassword:
		// One message for both: the answer must not tell which user names exist.
		return nil, &refusal{status: http.StatusUnauthorized, reason: reason, who: fmt.Sprintf("user %.64q", c.User),
			msg: "wrong user name or password"}
	case ReasonUnknownToken:
		return nil, &refusal{status: http.StatusUnauthorized, reason: reason, bearer: true,
			msg: "unknown bearer token: it is not in the server's auth file (revoked, or mistyped)"}
	}
	who := "user " + fmt.Sprintf("%q", id.Name)
	if c.Kind == Bearer {
		who = "token " + fmt.Sprintf("%q", id.Name)
	}
	if !id.Role.allows(rule.Access) {
		return nil, &refusal{status: http.StatusForbidden, reason: ReasonRoleDenied, who: who,
			msg: fmt.Sprintf("%s has role %s, which may not %s %s: that needs role %s", who, id.Role, r.Method, r.URL.Path, needs(rule.Access))}
	}
	if rule.Access == Admin && !rule.Tenant && !id.All() {
		return nil, &refusal{status: http.StatusForbidden, reason: ReasonRoleDenied, who: who,
			msg: fmt.Sprintf("%s is an admin of %s only; %s %s acts on every tenant and needs an admin with tenants [\"*\"]", who, id.tenantList(), r.Method, r.URL.Path)}
	}
	if rule.Tenant {
		vals := r.Header.Values(TenantHeader)
		t := ""
		if len(vals) > 0 {
			t = vals[0]
		}
		switch {
		case t == "" && !id.All() && len(id.Tenants) == 1:
			t = id.Tenants[0]
		case t == "":
			return nil, &refusal{status: http.StatusBadRequest, reason: ReasonNoTenant, who: who,
				msg: fmt.Sprintf("set the X-Scope-OrgID header to the tenant to use: %s may use %s, so the request must name one", who, id.tenantList())}
		default:
			if denied, ok := id.mayUseAll(t); !ok {
				msg := fmt.Sprintf("%s may not use tenant %.160q (X-Scope-OrgID); it may use %s", who, denied, id.tenantList())
				if denied != t {
					msg = fmt.Sprintf("%s may not use tenant %.160q, one of those X-Scope-OrgID %.200q names; it may use %s", who, denied, t, id.tenantList())
				}
				return nil, &refusal{status: http.StatusForbidden, reason: ReasonTenantDenied, who: who, msg: msg}
			}
		}
		r.Header.Set(TenantHeader, t)
	}
	return id, nil
}

// needs names the roles that may use a route of access a.
func needs(a Access) string {
	switch a {
	case Push:
		return "push or admin"
	case Read:
		return "read or admin"
	}
	return a.String()
}

// serveMetrics admits the requests that carry the metrics token.
func (g *Guard) serveMetrics(h http.Handler, w http.ResponseWriter, r *http.Request) {
	want := g.metricsToken.Load()
	c, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err == nil && c.Kind == Bearer && want != nil {
		sum := sha256.Sum256([]byte(c.Token))
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			h.ServeHTTP(w, r)
			return
		}
	}
	g.refuse(w, r, &refusal{status: http.StatusUnauthorized, reason: ReasonMetricsToken, bearer: true,
		msg: "/metrics needs Authorization: Bearer with the token of the server's -auth.metrics-token-file"})
}

// refuse answers a refused request, counts and logs it.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, ref *refusal) {
	g.failures.WithLabelValues(string(ref.reason)).Inc()
	g.deny.warn("request refused", "status", ref.status, "reason", string(ref.reason), "who", ref.who,
		"method", r.Method, "path", r.URL.Path, "tenant", r.Header.Get(TenantHeader), "remote", r.RemoteAddr)
	if ref.status == http.StatusUnauthorized {
		if ref.bearer {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loam", error="invalid_token"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="loam"`)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(ref.status)
	w.Write([]byte(ref.msg + "\n"))
}
