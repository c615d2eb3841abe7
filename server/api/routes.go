package api

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loam-logs/loam/server/auth"
)

// route is one endpoint with what it asks of a request: every route names
// its rule here, so that none can be added without deciding who may use
// it. testdata/access.golden lists them all (the table of docs/auth.md).
type route struct {
	path    string
	methods []string // none: any
	prefix  bool     // path is a prefix (pprof's index and named profiles)
	rule    auth.Rule
	h       http.Handler
}

// The rules of the routes.
var (
	open        = auth.Rule{Access: auth.Open}
	metricsRule = auth.Rule{Access: auth.Metrics}
	anyRole     = auth.Rule{Access: auth.Any}
	pushTenant  = auth.Rule{Access: auth.Push, Tenant: true}
	readTenant  = auth.Rule{Access: auth.Read, Tenant: true}
	readGlobal  = auth.Rule{Access: auth.Read} // serves no tenant's data
	adminGlobal = auth.Rule{Access: auth.Admin}
)

// routes are every endpoint of the API, the delete API's and the mounted
// ones.
func (a *API) routes() []route {
	getPost := []string{"GET", "POST"}
	get := []string{"GET"}
	data := func(path string, methods []string, rule auth.Rule, h func(http.ResponseWriter, *http.Request, *backend)) route {
		return route{path: path, methods: methods, rule: rule, h: a.ready(h)}
	}
	rs := []route{
		{path: "/ready", methods: get, rule: open, h: http.HandlerFunc(a.handleReady)},
		{path: "/metrics", methods: get, rule: metricsRule, h: promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{})},
		// Profiles and the configuration tell about the whole server.
		{path: "/debug/pprof/profile", rule: adminGlobal, h: http.HandlerFunc(pprof.Profile)},
		{path: "/debug/pprof/trace", rule: adminGlobal, h: http.HandlerFunc(pprof.Trace)},
		{path: "/debug/pprof/symbol", rule: adminGlobal, h: http.HandlerFunc(pprof.Symbol)},
		{path: "/debug/pprof/", prefix: true, rule: adminGlobal, h: http.HandlerFunc(pprof.Index)},
		{path: "/config", methods: get, rule: adminGlobal, h: http.HandlerFunc(a.handleConfig)},
		{path: "/runtime_config", methods: get, rule: adminGlobal, h: http.HandlerFunc(a.handleRuntimeConfig)},
		data("/flush", getPost, adminGlobal, a.handleFlush),

		data("/loki/api/v1/push", []string{"POST"}, pushTenant, a.handlePush),

		data("/loki/api/v1/query_range", getPost, readTenant, a.handleQueryRange),
		data("/loki/api/v1/query", getPost, readTenant, a.handleQuery),
		data("/loki/api/v1/labels", getPost, readTenant, a.handleLabels),
		data("/loki/api/v1/label", getPost, readTenant, a.handleLabels),
		data("/loki/api/v1/label/{name}/values", getPost, readTenant, a.handleLabelValues),
		data("/loki/api/v1/series", getPost, readTenant, a.handleSeries),
		data("/loki/api/v1/patterns", getPost, readTenant, a.handlePatterns),
		data("/loki/api/v1/tail", get, readTenant, a.handleTail),
		data("/loki/api/v1/index/stats", getPost, readTenant, a.handleIndexStats),
		data("/loki/api/v1/index/volume", getPost, readTenant, a.handleVolume),
		data("/loki/api/v1/index/volume_range", getPost, readTenant, a.handleVolumeRange),
		data("/loki/api/v1/detected_labels", getPost, readTenant, a.handleDetectedLabels),
		data("/loki/api/v1/detected_fields", getPost, readTenant, a.handleDetectedFields),
		data("/loki/api/v1/detected_field/{name}/values", getPost, readTenant, a.handleDetectedFieldValues),
		{path: "/loki/api/v1/drilldown-limits", methods: get, rule: readTenant, h: http.HandlerFunc(a.handleDrilldownLimits)},
		{path: "/loki/api/v1/format_query", methods: getPost, rule: readGlobal, h: http.HandlerFunc(a.handleFormatQuery)},
		// Grafana asks for it with whatever credential its data source has.
		{path: "/loki/api/v1/status/buildinfo", methods: get, rule: anyRole, h: http.HandlerFunc(a.handleBuildInfo)},
	}
	rs = append(rs, a.deleteRoutes()...)
	return append(rs, a.mountRoutes()...)
}

// guard wraps h by rule when there is a Guard.
func (a *API) guard(rule auth.Rule, h http.Handler) http.Handler {
	if a.opts.Guard == nil {
		return h
	}
	return a.opts.Guard.Wrap(rule, h)
}

// guardAPI guards h (the answers to unknown paths and methods) for paths
// under /loki/api/: with auth on, every request there needs a credential,
// even one that asks for no endpoint.
func (a *API) guardAPI(h http.Handler) http.Handler {
	if a.opts.Guard == nil {
		return h
	}
	g := a.opts.Guard.Wrap(anyRole, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/loki/api/") {
			g.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
