package api

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/engine"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/tenants"
)

// queryParams are the parameters of /query_range and /query.
type queryParams struct {
	query      string
	expr       logql.Expr
	start, end time.Time
	step       time.Duration
	limit      int
	backward   bool
	interval   time.Duration // log queries: Loki's interval
}

// parseQueryParams reads the parameters of a range query, or of an
// instant query (time instead of start and end).
func (a *API) parseQueryParams(r *http.Request, instant bool) (queryParams, error) {
	if err := r.ParseForm(); err != nil {
		return queryParams{}, errBad("cannot parse the form: %v", err)
	}
	p := queryParams{query: r.Form.Get("query"), limit: 100, backward: true}
	if p.query == "" {
		return p, errBad("missing query parameter: pass query=<LogQL>")
	}
	var err error
	if instant {
		if p.end, err = parseTime("time", r.Form.Get("time"), a.now()); err != nil {
			return p, err
		}
		p.start = p.end
	} else if p.start, p.end, err = timeRange(r, a.now()); err != nil {
		return p, err
	}
	if v := r.Form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return p, errBad("invalid limit %q: must be a positive integer", v)
		}
		p.limit = n
	}
	switch strings.ToLower(r.Form.Get("direction")) {
	case "", "backward":
	case "forward":
		p.backward = false
	default:
		return p, errBad("invalid direction %q: use forward or backward", r.Form.Get("direction"))
	}
	if p.expr, err = logql.ParseExpr(p.query); err != nil {
		return p, queryError(err)
	}
	// Grafana sends a limit with metric queries too; it bounds log queries.
	if most := a.limits(r).MaxEntriesLimitPerQuery; most > 0 && p.limit > most {
		if _, ok := p.expr.(*logql.LogSelectorExpr); ok {
			return p, errBad("max entries limit per query exceeded, limit > max_entries_limit_per_query (%d > %d)", p.limit, most)
		}
	}
	if !instant {
		if v := r.Form.Get("interval"); v != "" {
			if p.interval, err = parseStep(v); err != nil {
				return p, errBad("invalid interval %q: use a duration (30s, 5m) or a number of seconds", v)
			}
		}
		if v := r.Form.Get("step"); v != "" {
			if p.step, err = parseStep(v); err != nil {
				return p, err
			}
			if p.step <= 0 {
				return p, errBad("zero or negative query resolution step widths are not accepted. Try a positive integer")
			}
		} else {
			p.step = defaultStep(p.start, p.end)
		}
		// Loki checks every range query, log queries too, before its
		// frontend aligns the range to the step.
		if p.end.Sub(p.start)/p.step > maxResolution {
			return p, errStepTooSmall()
		}
		// Loki's frontend carries the step in whole milliseconds.
		if p.step = p.step.Truncate(time.Millisecond); p.step <= 0 {
			return p, errBad("zero or negative query resolution step widths are not accepted. Try a positive integer")
		}
	}
	return p, nil
}

// queryLength is the time range a query reads, as Loki's limit sees it:
// its own, and for a metric range query, which Loki splits at whole hours,
// also each piece with its steps' windows: the longest piece plus the
// longest range (offsets do not count), plus a nanosecond. An instant query
// is split into hours before its windows are read, so only its own range
// counts.
func queryLength(p queryParams, instant bool) time.Duration {
	l := p.end.Sub(p.start)
	x, ok := p.expr.(logql.SampleExpr)
	if !ok || instant {
		return l
	}
	var rng time.Duration
	logql.Walk(x, func(e logql.Expr) {
		if r, ok := e.(*logql.RangeAggExpr); ok {
			rng = max(rng, r.Range.Range)
		}
	})
	if rng == 0 {
		return l
	}
	return max(l, longestHourPiece(p.start, p.end)+rng+1)
}

// longestHourPiece is the longest piece of [start, end] cut at whole hours.
func longestHourPiece(start, end time.Time) time.Duration {
	next := start.Truncate(time.Hour).Add(time.Hour)
	switch {
	case !end.After(next):
		return end.Sub(start)
	case end.Sub(next) >= time.Hour:
		return time.Hour
	}
	return max(next.Sub(start), end.Sub(next))
}

// defaultStep is Loki's: the range over 250 points, whole seconds rounded
// down, at least one second.
func defaultStep(start, end time.Time) time.Duration {
	secs := math.Floor(end.Sub(start).Seconds() / 250)
	return time.Duration(max(secs, 1)) * time.Second
}

func (a *API) handleQueryRange(w http.ResponseWriter, r *http.Request, be *backend) {
	a.query(w, r, be, false)
}

func (a *API) handleQuery(w http.ResponseWriter, r *http.Request, be *backend) {
	a.query(w, r, be, true)
}

// queryError wraps a LogQL parse error: always the client's to fix.
func queryError(err error) error { return errBad("%v", err) }

func (a *API) query(w http.ResponseWriter, r *http.Request, be *backend, instant bool) {
	begin := time.Now()
	p, err := a.parseQueryParams(r, instant)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	tenant, err := a.tenant(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	expr := p.expr
	lim := a.limitsFor(tenant)
	if most, l := time.Duration(lim.MaxQueryLength), queryLength(p, instant); most > 0 && l > most {
		a.answerError(w, r, errBad(queryTooLongMsg, l, logql.FormatDuration(most)))
		return
	}
	ctx, cancel := a.queryContext(r)
	defer cancel()
	queued := time.Now()
	release, err := a.acquireQuery(ctx, tenant)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	defer release()
	started := time.Now()
	flags := requestEncodingFlags(r)
	stats := &store.Stats{}
	eng := engine.New(a.reader(be, tenant), engine.Limits{MaxSeries: lim.MaxQuerySeries})
	res, err := eng.Query(ctx, engine.Params{
		Tenant: tenant, Expr: expr, MultiTenant: tenants.IsMulti(tenant),
		Start: p.start.UnixNano(), End: p.end.UnixNano(), Step: p.step,
		Instant: instant, Backward: p.backward, Limit: p.limit, Interval: p.interval,
		Categorize: flags.categorize(), Stats: stats,
	})
	if err != nil {
		if engine.IsClientError(err) {
			err = errBad("%v", err)
		}
		a.answerError(w, r, err)
		return
	}
	t := queryTimes{exec: time.Since(begin), queue: started.Sub(queued), engine: time.Since(started)}
	writeJSON(w, response{Status: "success", Data: resultData(res, summary(stats, res.Entries, t), flags)})
}

// queryTooLongMsg is Loki's refusal of a range over max_query_length.
const queryTooLongMsg = "the query time range exceeds the limit (query length: %s, limit: %s)"

// rangeTooLong refuses a range over the tenant's max_query_length as
// Loki's query frontend does for every read but queries (which see
// queryLength) and tail: measured in whole milliseconds. It is nil within
// the limit.
func rangeTooLong(lim *overrides.Limits, start, end time.Time) error {
	most := time.Duration(lim.MaxQueryLength)
	if l := time.Duration(end.UnixMilli()-start.UnixMilli()) * time.Millisecond; most > 0 && l > most {
		return errBad(queryTooLongMsg, l, logql.FormatDuration(most))
	}
	return nil
}

// seriesParams reads the tenant and range of the label, series, index
// stats and detected labels endpoints, and holds the range to the tenant's
// max_query_length.
func (a *API) seriesParams(r *http.Request) (tenant string, start, end time.Time, err error) {
	if err = r.ParseForm(); err != nil {
		return "", start, end, errBad("cannot parse the form: %v", err)
	}
	if tenant, err = a.tenant(r); err != nil {
		return
	}
	if start, end, err = timeRange(r, a.now()); err != nil {
		return
	}
	err = rangeTooLong(a.limitsFor(tenant), start, end)
	return
}

func (a *API) handleLabels(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	ms, err := optionalMatchers(r.Form.Get("query"))
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	ctx, done, err := a.startRead(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	defer done()
	names, err := a.reader(be, tenant).LabelNames(ctx, tenant, ms, start.UnixNano(), end.UnixNano())
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	writeJSON(w, response{Status: "success", Data: names})
}

func (a *API) handleLabelValues(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	ms, err := optionalMatchers(r.Form.Get("query"))
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	ctx, done, err := a.startRead(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	defer done()
	values, err := a.reader(be, tenant).LabelValues(ctx, tenant, mux.Vars(r)["name"], ms, start.UnixNano(), end.UnixNano())
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	writeJSON(w, response{Status: "success", Data: values})
}

func (a *API) handleSeries(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	raw := append(r.Form["match[]"], r.Form["match"]...)
	slices.Sort(raw)
	raw = slices.Compact(raw)
	// As Loki: a single {} is no matcher at all (every series); otherwise
	// each selector is held to the rule of queries.
	if len(raw) == 1 && strings.ReplaceAll(raw[0], " ", "") == "{}" {
		raw = nil
	}
	var sets [][]*labels.Matcher
	for _, m := range raw {
		ms, err := selectorOnly(m)
		if err != nil {
			a.answerError(w, r, errBad("invalid match[] %q: %v", m, err))
			return
		}
		sets = append(sets, ms)
	}
	ctx, done, err := a.startRead(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	defer done()
	out := []map[string]string{}
	err = a.reader(be, tenant).Series(ctx, tenant, sets, start.UnixNano(), end.UnixNano(), func(ls labels.Labels) {
		out = append(out, ls.Map())
	})
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	writeJSON(w, response{Status: "success", Data: out})
}

// optionalMatchers parses the optional query parameter of the label
// endpoints: a stream selector alone, held to the rule of queries.
func optionalMatchers(q string) ([]*labels.Matcher, error) {
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	ms, err := selectorOnly(q)
	if err != nil {
		return nil, errBad("invalid query %q: %v", q, err)
	}
	return ms, nil
}

// selectorOnly parses a stream selector as Loki's ParseMatchers(q, true):
// a pipeline is refused, and at least one matcher must not match "".
func selectorOnly(q string) ([]*labels.Matcher, error) {
	expr, err := logql.ParseExpr(q)
	if err != nil {
		return nil, err
	}
	sel, ok := expr.(*logql.LogSelectorExpr)
	if !ok || len(sel.Pipeline) > 0 {
		return nil, errors.New("only label matchers are supported")
	}
	return sel.Matchers, nil
}
