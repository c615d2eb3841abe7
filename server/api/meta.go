package api

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/loam-logs/loam/server/logql"
)

// LokiVersion is the Loki release whose HTTP API Loam answers like, and
// the version it reports where a client reads Loki's version
// (/status/buildinfo, /drilldown-limits). Neither Grafana's Loki data
// source nor Logs Drilldown gates a feature on that string today (they
// probe endpoints and fields instead), but tools that do should find the
// Loki 3 API they will get: detected fields with jsonPath (Loki 3.5),
// patterns, volume, detected labels. Loam's own version is reported beside
// it (buildinfo's "loam" field).
const LokiVersion = "3.5.0"

// buildInfo is Loki's /status/buildinfo answer (prometheus/common's
// version fields), plus what Loam really is.
type buildInfo struct {
	Version   string `json:"version"` // LokiVersion
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	// Loam is this server and its own version: "loam <module version>".
	// Loki has no such field; JSON clients ignore it.
	Loam string `json:"loam"`
}

// readBuildInfo fills buildInfo from what the Go toolchain stamps into the
// binary: the module version, and the VCS revision and commit time when
// built from a checkout.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: LokiVersion, GoVersion: runtime.Version(), Loam: "loam (unknown version)"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.Loam = "loam " + info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.time":
			bi.BuildDate = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				bi.Revision += "-modified"
			}
		}
	}
	return bi
}

// handleBuildInfo answers /loki/api/v1/status/buildinfo. Like Loki's, it
// answers while the store is still replaying its WAL.
func (a *API) handleBuildInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, readBuildInfo())
}

// formatQueryAnswer is Loki's /format_query answer.
type formatQueryAnswer struct {
	Status string `json:"status"`
	Data   string `json:"data,omitempty"`
	Error  string `json:"error,omitempty"`
}

// handleFormatQuery answers /loki/api/v1/format_query with the query in
// canonical form. Loki answers a query that does not parse with a 400
// carrying a JSON body, {"status":"invalid-query","error":"…"}, not with
// the plain-text errors of its other endpoints; so does this.
//
// Loki pretty-prints long queries over several indented lines; Loam prints
// every query on one line, as logql's String does (the parse of either
// gives the same query).
func (a *API) handleFormatQuery(w http.ResponseWriter, r *http.Request) {
	expr, err := logql.ParseExpr(r.FormValue("query"))
	if err != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		jsonAPI.NewEncoder(w).Encode(formatQueryAnswer{Status: "invalid-query", Error: err.Error()})
		return
	}
	writeJSON(w, formatQueryAnswer{Status: "success", Data: expr.String()})
}

// drilldownLimits are the tenant limits Loki publishes to Logs Drilldown
// (its default tenant_limits_allow_publish), with Loam's values: the
// settings of the asking tenant for the limits it enforces, and the "off"
// value of Loki (0, "0s", false) for the features Loam does not have.
// Drilldown reads max_entries_limit_per_query (line limit) and
// retention_period (time picker) from it.
type drilldownLimits struct {
	DiscoverLogLevels         bool     `json:"discover_log_levels"`   // Loam does not add a level at ingestion
	DiscoverServiceName       []string `json:"discover_service_name"` // nor service_name
	LogLevelFields            []string `json:"log_level_fields"`
	MaxEntriesLimitPerQuery   int      `json:"max_entries_limit_per_query"`
	MaxLineSizeTruncate       bool     `json:"max_line_size_truncate"` // long lines are refused, not truncated
	MaxQueryBytesRead         string   `json:"max_query_bytes_read"`
	MaxQueryLength            string   `json:"max_query_length"`
	MaxQueryLookback          string   `json:"max_query_lookback"`
	MaxQueryRange             string   `json:"max_query_range"`
	MaxQuerySeries            int      `json:"max_query_series"`
	MetricAggregationEnabled  bool     `json:"metric_aggregation_enabled"`
	OTLPConfig                any      `json:"otlp_config"` // null: no OTLP ingestion
	PatternPersistenceEnabled bool     `json:"pattern_persistence_enabled"`
	QueryTimeout              string   `json:"query_timeout"`
	RetentionPeriod           string   `json:"retention_period"` // "0s": kept forever
	VolumeEnabled             bool     `json:"volume_enabled"`
	VolumeMaxSeries           int      `json:"volume_max_series"`
}

type drilldownConfig struct {
	Limits drilldownLimits `json:"limits"`
	// PatternIngesterEnabled: Loam has no pattern ingester, but answers
	// /patterns by mining the stored lines, which is what Drilldown asks.
	PatternIngesterEnabled bool   `json:"pattern_ingester_enabled"`
	Version                string `json:"version"`
}

// levelFields are Loki's default log_level_fields.
var levelFields = []string{"level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity",
	"SeverityText", "lvl", "LVL", "Lvl", "severity_text", "Severity_Text", "SEVERITY_TEXT"}

// handleDrilldownLimits answers /loki/api/v1/drilldown-limits, which Logs
// Drilldown reads once a day per data source, with the settings of the
// asking tenant.
func (a *API) handleDrilldownLimits(w http.ResponseWriter, r *http.Request) {
	tenant, err := a.tenant(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	lim := a.limitsFor(tenant)
	writeJSON(w, drilldownConfig{
		Limits: drilldownLimits{
			DiscoverServiceName:     []string{},
			LogLevelFields:          levelFields,
			MaxEntriesLimitPerQuery: lim.MaxEntriesLimitPerQuery,
			MaxQueryBytesRead:       "0B",
			MaxQueryLength:          promDuration(time.Duration(lim.MaxQueryLength)),
			MaxQueryLookback:        "0s",
			MaxQueryRange:           "0s",
			MaxQuerySeries:          lim.MaxQuerySeries,
			QueryTimeout:            promDuration(time.Duration(lim.QueryTimeout)),
			RetentionPeriod:         promDuration(time.Duration(lim.RetentionPeriod)),
			VolumeEnabled:           true,
			VolumeMaxSeries:         volumeMaxSeries,
		},
		PatternIngesterEnabled: true,
		Version:                LokiVersion,
	})
}

// promDuration prints d as Prometheus durations are printed (and Loki's
// limits with them): "0s", "1m", "30d1h"; years and weeks only when they
// divide it exactly; milliseconds at most.
func promDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms == 0 {
		return "0s"
	}
	out := ""
	if ms < 0 {
		out, ms = "-", -ms
	}
	units := []struct {
		name  string
		ms    int64
		exact bool
	}{
		{"y", 365 * 24 * 3600 * 1000, true}, {"w", 7 * 24 * 3600 * 1000, true}, {"d", 24 * 3600 * 1000, false},
		{"h", 3600 * 1000, false}, {"m", 60 * 1000, false}, {"s", 1000, false}, {"ms", 1, false},
	}
	for _, u := range units {
		if u.exact && ms%u.ms != 0 {
			continue
		}
		if v := ms / u.ms; v > 0 {
			out += fmt.Sprintf("%d%s", v, u.name)
			ms -= v * u.ms
		}
	}
	return out
}
