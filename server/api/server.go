package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/api/queue"
	"github.com/loam-logs/loam/server/auth"
	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// Options configure the API.
type Options struct {
	MaxPushBodyBytes         int64 // compressed body size limit
	MaxPushDecompressedBytes int64 // decompressed body size limit
	MaxConcurrentQueries     int   // queries evaluated at once
	// MaxQueuedQueriesPerTenant bounds the reads of one tenant waiting for
	// a query slot; past it, 429 (Loki's
	// max_outstanding_requests_per_tenant). Negative: no bound.
	MaxQueuedQueriesPerTenant int
	DefaultTenant             string // tenant when X-Scope-OrgID is absent

	// Limits are the settings of each tenant: its query limits
	// (max_entries_limit_per_query, max_query_series, max_query_length,
	// query_timeout) and what /drilldown-limits and /runtime_config
	// report. Nil: every tenant has overrides.DefaultLimits.
	Limits TenantLimits

	// Config and DefaultConfig are what /config shows: the configuration
	// in effect and the one of no flag and no file, both printable as YAML.
	// Nil Config: /config answers 404.
	Config, DefaultConfig any

	// Guard admits or refuses the requests of each route by its rule (see
	// routes.go); nil admits every request.
	Guard Guard

	// MultiTenantQueries lets a read name several tenants, X-Scope-OrgID:
	// a|b (Loki's -querier.multi-tenant-queries-enabled; see tenants.go).
	// Off: such a read is refused with 400.
	MultiTenantQueries bool
}

// Guard admits or refuses requests (package auth's *Guard). Wrap is
// called once per route while Handler builds them; the handler it returns
// is called from many goroutines at once. A route of a tenant
// (Rule.Tenant) is served with X-Scope-OrgID set to the tenant that was
// checked.
type Guard interface {
	Wrap(rule auth.Rule, h http.Handler) http.Handler
}

// TenantLimits answers the settings of a tenant (see package overrides).
// Its methods are called for every query, from many goroutines at once;
// what they return must not be modified.
type TenantLimits interface {
	For(tenant string) *overrides.Limits
	Defaults() *overrides.Limits // of tenants the runtime configuration does not name
	Tenants() []string           // the tenants it names
}

// defaultLimits gives every tenant overrides.DefaultLimits.
type defaultLimits struct{ l *overrides.Limits }

func (d defaultLimits) For(string) *overrides.Limits { return d.l }
func (d defaultLimits) Defaults() *overrides.Limits  { return d.l }
func (d defaultLimits) Tenants() []string            { return nil }

// DefaultOptions are applied to zero fields.
var DefaultOptions = Options{
	MaxPushBodyBytes:          16 << 20,
	MaxPushDecompressedBytes:  64 << 20,
	MaxConcurrentQueries:      4,
	MaxQueuedQueriesPerTenant: 2048,
	DefaultTenant:             "fake",
}

// API holds the handlers.
type API struct {
	opts Options
	log  *slog.Logger
	be   atomic.Pointer[backend]
	now  func() time.Time

	duration *prometheus.HistogramVec
	gatherer prometheus.Gatherer

	// querySlots bounds the queries evaluated at once, shared fairly
	// among the tenants waiting.
	querySlots *queue.Fair

	deletes Deletes // set by ServeDeletes before Handler; nil: no delete endpoints
	mounts  []mount // set by Mount before Handler
}

// backend is what the handlers serve from, set once the store is open.
type backend struct {
	dist  *distributor.Distributor // writes
	read  Reader                   // every read endpoint
	flush Flusher                  // /flush
}

// New returns the API. Until Serve is called every data route answers 503,
// so that the HTTP port can be up (and /ready say "not ready") while the
// store replays its WAL.
func New(opts Options, log *slog.Logger, reg prometheus.Registerer, g prometheus.Gatherer) *API {
	def := DefaultOptions
	if opts.MaxPushBodyBytes == 0 {
		opts.MaxPushBodyBytes = def.MaxPushBodyBytes
	}
	if opts.MaxPushDecompressedBytes == 0 {
		opts.MaxPushDecompressedBytes = def.MaxPushDecompressedBytes
	}
	if opts.MaxConcurrentQueries == 0 {
		opts.MaxConcurrentQueries = def.MaxConcurrentQueries
	}
	if opts.MaxQueuedQueriesPerTenant == 0 {
		opts.MaxQueuedQueriesPerTenant = def.MaxQueuedQueriesPerTenant
	}
	if opts.DefaultTenant == "" {
		opts.DefaultTenant = def.DefaultTenant
	}
	if opts.Limits == nil {
		l := overrides.DefaultLimits() // valid as it is: no selector to compile
		opts.Limits = defaultLimits{&l}
	}
	// A series per tenant waiting, dropped when none of its reads waits.
	queued := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "loam_query_queue_length", Help: "Reads of a tenant waiting for one of the -query.max-concurrent slots; no series while none waits."},
		[]string{"tenant"})
	a := &API{opts: opts, log: log, now: time.Now, gatherer: g,
		querySlots: queue.New(opts.MaxConcurrentQueries, max(opts.MaxQueuedQueriesPerTenant, 0), queued),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loam_request_duration_seconds", Help: "HTTP request duration by route and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route", "method", "status"}),
	}
	if reg != nil {
		reg.MustRegister(a.duration, queued)
	}
	return a
}

// Serve starts answering from a single node's store st, writes going
// through d, and marks the server ready.
func (a *API) Serve(d *distributor.Distributor, st *store.Store) {
	if st == nil {
		a.ServeFrom(nil, d, nil)
		return
	}
	a.ServeFrom(store.Local{Store: st}, d, st)
}

// ServeFrom starts answering reads from r, writes through d and /flush
// with f, and marks the server ready.
func (a *API) ServeFrom(r Reader, d *distributor.Distributor, f Flusher) {
	a.be.Store(&backend{dist: d, read: r, flush: f})
}

// Stop makes the data routes answer 503 again, for a graceful shutdown.
func (a *API) Stop() { a.be.Store(nil) }

// ready wraps a data route: 503 until Serve.
func (a *API) ready(h func(http.ResponseWriter, *http.Request, *backend)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		be := a.be.Load()
		if be == nil {
			writeError(w, http.StatusServiceUnavailable, "not ready: the write-ahead log is being replayed (or the server is shutting down); retry shortly")
			return
		}
		h(w, r, be)
	}
}

// Handler returns the HTTP routes, each guarded by its rule (routes.go)
// when Options.Guard is set.
func (a *API) Handler() http.Handler {
	r := mux.NewRouter()
	r.Use(a.instrument)
	for _, rt := range a.routes() {
		h := a.guard(rt.rule, rt.h)
		var route *mux.Route
		if rt.prefix {
			route = r.PathPrefix(rt.path).Handler(h)
		} else {
			route = r.Handle(rt.path, h)
		}
		if len(rt.methods) > 0 {
			route.Methods(rt.methods...)
		}
	}
	r.NotFoundHandler = a.instrument(a.guardAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("404 page not found: %s is not an endpoint of this server", r.URL.Path))
	})))
	r.MethodNotAllowedHandler = a.instrument(a.guardAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
	})))
	return r
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (websockets).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (a *API) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("panic serving request", "path", r.URL.Path, "panic", p)
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "internal error")
				}
			}
			route := "other"
			if cr := mux.CurrentRoute(r); cr != nil {
				if t, err := cr.GetPathTemplate(); err == nil {
					route = t
				}
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			a.duration.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

func (a *API) handleReady(w http.ResponseWriter, r *http.Request) {
	if a.be.Load() == nil {
		writeError(w, http.StatusServiceUnavailable, "not ready: replaying the write-ahead log")
		return
	}
	w.Write([]byte("ready\n"))
}

// limits returns the settings of the request's tenant (or tenants, see
// limitsFor); the defaults when its tenant header is invalid (the handler
// refuses the request anyway).
func (a *API) limits(r *http.Request) *overrides.Limits {
	t, err := a.tenant(r)
	if err != nil {
		return a.opts.Limits.Defaults()
	}
	return a.limitsFor(t)
}

// ValidTenant applies Loki's rules for tenant IDs: at most 150 characters
// from [a-zA-Z0-9!-_.*'()], and not "." or "..".
func ValidTenant(t string) error {
	if len(t) > 150 {
		return errBad("tenant ID (X-Scope-OrgID) is %d characters long; the limit is 150", len(t))
	}
	if t == "." || t == ".." {
		return errBad("tenant ID (X-Scope-OrgID) %q is not allowed", t)
	}
	// Range over runes, so that the message names the character as sent
	// rather than the first byte of its UTF-8 form.
	for _, c := range t {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!' || c == '-' || c == '_' || c == '.' || c == '*' || c == '\'' || c == '(' || c == ')':
		default:
			return errBad("tenant ID (X-Scope-OrgID) %q holds %q; allowed are letters, digits and !-_.*'()", t, string(c))
		}
	}
	return nil
}

func (a *API) handlePush(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, err := a.singleTenant(r, "a push")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if r.ContentLength > a.opts.MaxPushBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("push body of %d bytes is larger than the limit of %d bytes: send smaller batches", r.ContentLength, a.opts.MaxPushBodyBytes))
		return
	}
	body, err := push.ReadBody(r.Body, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type"), a.opts.MaxPushBodyBytes, a.opts.MaxPushDecompressedBytes)
	if err != nil {
		if errors.Is(err, push.ErrTooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%v (limits: %d bytes as sent, %d bytes decompressed); send smaller batches", err, a.opts.MaxPushBodyBytes, a.opts.MaxPushDecompressedBytes))
			return
		}
		if errors.Is(err, push.ErrUnsupportedEncoding) {
			writeError(w, http.StatusUnsupportedMediaType, err.Error())
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	req := getRequest()
	defer putRequest(req)
	if push.IsJSON(r.Header.Get("Content-Type")) {
		err = push.DecodeJSON(body, req)
	} else {
		err = push.DecodeProto(body, req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := be.dist.Push(tenant, req); err != nil {
		if distributor.IsLimit(err) {
			// As Loki: 429 for the tenant's rate and stream limits, which
			// clients retry later (or drop, as Promtail may).
			writeError(w, http.StatusTooManyRequests, err.Error())
			return
		}
		if distributor.IsValidation(err) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if errors.Is(err, store.ErrDiskFull) {
			// The store logs when the disk fills up and when it has room
			// again; a line per refused push would flood the log.
			writeDiskFull(w)
			return
		}
		if errors.Is(err, fanout.ErrUnavailable) {
			// Too few owners of a stream could store it: the client keeps
			// the push and retries; the message names the nodes.
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "push not stored on a quorum of replicas, retry: "+err.Error())
			return
		}
		a.log.Error("push failed", "tenant", tenant, "err", err)
		writeError(w, http.StatusInternalServerError, "could not store the push, retry: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// diskFullRetryAfter is the Retry-After of a push refused for a full disk,
// in seconds: long enough not to hammer a server that waits for retention,
// short enough that ingestion resumes soon after space is freed.
const diskFullRetryAfter = "10"

// writeDiskFull answers a push the store refused for lack of disk space.
// 503, not 429: the server, not the client, is out of capacity; Loki
// answers 429 for a tenant's rate limits only, and clients treat it so:
// Promtail with drop_rate_limited_batches drops a 429 batch at once, while
// it, like Fluent Bit and Loam's plugin, retries every 5xx.
func writeDiskFull(w http.ResponseWriter) {
	w.Header().Set("Retry-After", diskFullRetryAfter)
	writeError(w, http.StatusServiceUnavailable,
		"disk full: Loam cannot store more data until space is freed (retention frees the oldest data; see loam_disk_full)")
}

// handleFlush writes the head into blocks now, as Loki's ingester /flush
// does (before a planned shutdown or to measure what is on disk).
func (a *API) handleFlush(w http.ResponseWriter, r *http.Request, be *backend) {
	if err := be.flush.Flush(r.Context()); err != nil {
		if errors.Is(err, store.ErrDiskFull) {
			writeDiskFull(w)
			return
		}
		a.log.Error("flush requested over HTTP failed", "err", err)
		writeError(w, http.StatusInternalServerError, "flush failed: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// queryContext bounds a query by the query_timeout of its tenant; the
// request's context already ends when the client goes away.
func (a *API) queryContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), time.Duration(a.limits(r).QueryTimeout))
}

// acquireQuery waits for one of the -query.max-concurrent slots, in the
// queue of tenant: the slot that frees goes to the waiting tenant holding
// the fewest (see package queue), so that one tenant's backlog does not
// hold back another's reads. The time waited counts against the query's
// timeout; a client that goes away stops waiting (and, later, its query).
// A tenant with MaxQueuedQueriesPerTenant reads waiting is refused
// (queue.ErrTooManyRequests, 429).
func (a *API) acquireQuery(ctx context.Context, tenant string) (release func(), err error) {
	if err := a.querySlots.Acquire(ctx, tenant); err != nil {
		return nil, err
	}
	// A free slot is granted without a look at the deadline: a read whose
	// time is already up does not start (small reads would never notice).
	if err := ctx.Err(); err != nil {
		a.querySlots.Release(tenant)
		return nil, err
	}
	return func() { a.querySlots.Release(tenant) }, nil
}

// startRead begins a read other than a query (labels, series, stats,
// volume, detected_*, patterns, a tail's history): bounded by the
// tenant's query timeout, and holding one of the -query.max-concurrent
// slots, as queries do. done releases both.
func (a *API) startRead(r *http.Request) (ctx context.Context, done func(), err error) {
	tenant, err := a.tenant(r)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := a.queryContext(r)
	release, err := a.acquireQuery(ctx, tenant)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, func() { release(); cancel() }, nil
}

// queryTimeoutMsg is Loki's answer to a read that ran past query_timeout.
const queryTimeoutMsg = "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed"

// answerError maps an error of the request r to its status and writes it.
func (a *API) answerError(w http.ResponseWriter, r *http.Request, err error) {
	var br *badRequest
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, fanout.ErrUnavailable):
		// Too many replicas are down for a complete answer; the message
		// names them.
		a.log.Warn("read failed: replicas unavailable", "err", err)
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, queue.ErrTooManyRequests):
		writeError(w, http.StatusTooManyRequests, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		// Loki's words; the limit is query_timeout (see /drilldown-limits).
		writeError(w, http.StatusGatewayTimeout, queryTimeoutMsg)
	case errors.Is(err, context.Canceled):
		writeError(w, 499, "query cancelled: the client went away")
	default:
		a.log.Error("query failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
