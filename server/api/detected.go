package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/loam-logs/loam/server/detected"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/engine"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/tenants"
)

// The endpoints Grafana's Logs Drilldown lists a selection with:
// /detected_labels, /detected_fields and /detected_field/{name}/values.
// Their answers are Loki's protobuf messages written as JSON, whose empty
// lists are left out: no fields is {}, not {"fields":[]}.

// Loki's defaults for /detected_fields (pkg/loghttp): the newest 100 lines
// are read, and at most 1,000 fields (or values) are answered.
const (
	detectedDefaultLineLimit = 100
	detectedDefaultLimit     = 1000
)

type detectedLabel struct {
	Label       string `json:"label,omitempty"`
	Cardinality int    `json:"cardinality,omitempty"`
}

type detectedLabelsAnswer struct {
	DetectedLabels []detectedLabel `json:"detectedLabels,omitempty"`
}

// handleDetectedLabels answers /loki/api/v1/detected_labels: the stream
// labels of the streams matching the optional selector with entries in
// [start, end], each with its number of distinct values, leaving out those
// Loki leaves out (see detected.KeepLabel). Cardinalities are exact (Loki
// estimates them). Labels are sorted by name; Loki's order is random.
func (a *API) handleDetectedLabels(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	var ms []*labels.Matcher
	if q := r.Form.Get("query"); q != "" {
		if ms, err = selectorParam(q); err != nil {
			a.answerError(w, r, err)
			return
		}
	}
	ctx, done, err := a.startRead(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	defer done()
	values := map[string]map[string]struct{}{}
	var sets [][]*labels.Matcher
	if ms != nil {
		sets = [][]*labels.Matcher{ms}
	}
	multi := tenants.IsMulti(tenant)
	err = a.reader(be, tenant).Series(ctx, tenant, sets, start.UnixNano(), end.UnixNano(), func(ls labels.Labels) {
		for _, l := range ls {
			if multi && l.Name == tenants.Label {
				// As Loki, which merges the labels each tenant detects.
				continue
			}
			set := values[l.Name]
			if set == nil {
				set = map[string]struct{}{}
				values[l.Name] = set
			}
			set[l.Value] = struct{}{}
		}
	})
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	var out detectedLabelsAnswer
	for _, name := range sortedSetKeys(values) {
		if detected.KeepLabel(name, sortedKeysOf(values[name])) {
			out.DetectedLabels = append(out.DetectedLabels, detectedLabel{Label: name, Cardinality: len(values[name])})
		}
	}
	writeJSON(w, out)
}

// detectedParams are the parameters of /detected_fields and of
// /detected_field/{name}/values.
type detectedParams struct {
	expr       *logql.LogSelectorExpr
	start, end time.Time
	lineLimit  int
	limit      int
}

func (a *API) parseDetectedParams(r *http.Request) (detectedParams, error) {
	p := detectedParams{lineLimit: detectedDefaultLineLimit, limit: detectedDefaultLimit}
	if err := r.ParseForm(); err != nil {
		return p, errBad("cannot parse the form: %v", err)
	}
	q := r.Form.Get("query")
	if q == "" {
		return p, errBad(`missing query parameter: pass query=<log query>, for example {app="api"} or {app="api"} |= "error"`)
	}
	var err error
	if p.expr, err = logql.ParseLogSelector(q); err != nil {
		return p, queryError(err)
	}
	if err := logql.ValidateMatchers(p.expr.Matchers); err != nil {
		return p, errBad("invalid query %q: %v", q, err)
	}
	if p.start, p.end, err = timeRange(r, a.now()); err != nil {
		return p, err
	}
	if p.lineLimit, err = positiveParam(r, "line_limit", p.lineLimit); err != nil {
		return p, err
	}
	lim := a.limits(r)
	if most := lim.MaxEntriesLimitPerQuery; most > 0 && p.lineLimit > most {
		return p, errBad("max entries limit per query exceeded, limit > max_entries_limit_per_query (%d > %d)", p.lineLimit, most)
	}
	// Loki runs the log query of these through its frontend's limits.
	if err := rangeTooLong(lim, p.start, p.end); err != nil {
		return p, err
	}
	name := "limit"
	if r.Form.Get(name) == "" && r.Form.Get("field_limit") != "" {
		name = "field_limit" // Loki's older name
	}
	if p.limit, err = positiveParam(r, name, p.limit); err != nil {
		return p, err
	}
	// Loki validates a step here, although it has no use for it.
	if v := r.Form.Get("step"); v != "" {
		step, err := parseStep(v)
		if err != nil {
			return p, err
		}
		if step <= 0 {
			return p, errBad("zero or negative query resolution step widths are not accepted. Try a positive integer")
		}
		if p.end.Sub(p.start)/step > maxResolution {
			return p, errStepTooSmall()
		}
	}
	return p, nil
}

// positiveParam reads an optional positive integer.
func positiveParam(r *http.Request, name string, def int) (int, error) {
	v := r.Form.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errBad("invalid %s %q: must be a positive integer", name, v)
	}
	return n, nil
}

// detectedLines runs the query as Loki does for the detected endpoints: a
// log query over [start, end), newest first, limited to line_limit lines,
// and calls fn with each line of the answer.
func (a *API) detectedLines(r *http.Request, be *backend, p detectedParams, fn func(detected.Entry) bool) error {
	tenant, err := a.tenant(r)
	if err != nil {
		return err
	}
	ctx, done, err := a.startRead(r)
	if err != nil {
		return err
	}
	defer done()
	eng := engine.New(a.reader(be, tenant), engine.Limits{MaxSeries: a.limitsFor(tenant).MaxQuerySeries})
	res, err := eng.Query(ctx, engine.Params{Tenant: tenant, Expr: p.expr, MultiTenant: tenants.IsMulti(tenant),
		Start: p.start.UnixNano(), End: p.end.UnixNano(), Backward: true, Limit: p.lineLimit, Stats: &store.Stats{}})
	if err != nil {
		if engine.IsClientError(err) {
			err = errBad("%v", err)
		}
		return err
	}
	for _, s := range res.Streams {
		for _, e := range s.Entries {
			if !fn(detected.Entry{Stream: s.Labels.Stream, Metadata: e.Metadata, Parsed: e.Parsed, Line: e.Line}) {
				return nil
			}
		}
	}
	return nil
}

type detectedField struct {
	Label       string   `json:"label,omitempty"`
	Type        string   `json:"type,omitempty"`
	Cardinality int      `json:"cardinality,omitempty"`
	Parsers     []string `json:"parsers"` // null: structured metadata
	JSONPath    []string `json:"jsonPath,omitempty"`
}

type detectedFieldsAnswer struct {
	Fields []detectedField `json:"fields,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Values []string        `json:"values,omitempty"`
}

// handleDetectedFields answers /loki/api/v1/detected_fields: the fields of
// the newest line_limit lines the log query selects (its pipeline runs
// first), as package detected finds them. Fields are sorted by name.
func (a *API) handleDetectedFields(w http.ResponseWriter, r *http.Request, be *backend) {
	p, err := a.parseDetectedParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	fields := detected.NewFields(p.limit)
	err = a.detectedLines(r, be, p, func(e detected.Entry) bool {
		fields.Add(e)
		return true
	})
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	var out detectedFieldsAnswer
	for _, f := range fields.List() {
		out.Fields = append(out.Fields, detectedField{Label: f.Label, Type: f.Type, Cardinality: f.Cardinality,
			Parsers: f.Parsers, JSONPath: f.JSONPath})
	}
	if len(out.Fields) > 0 {
		// Loki says the limit only along with fields.
		out.Limit = p.limit
	}
	writeJSON(w, out)
}

// handleDetectedFieldValues answers /loki/api/v1/detected_field/{name}/values:
// the distinct values of one field in the same lines, sorted; sizes are
// normalised as Loki does (detected.NormalizeBytes).
func (a *API) handleDetectedFieldValues(w http.ResponseWriter, r *http.Request, be *backend) {
	p, err := a.parseDetectedParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	values := detected.NewValues(mux.Vars(r)["name"], p.limit)
	err = a.detectedLines(r, be, p, func(e detected.Entry) bool {
		values.Add(e)
		return !values.Full()
	})
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	out := detectedFieldsAnswer{Values: values.List()}
	if len(out.Values) > 0 {
		out.Limit = p.limit
	}
	writeJSON(w, out)
}

func sortedSetKeys(m map[string]map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedKeysOf(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
