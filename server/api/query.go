package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/store"
)

// logParams are the parameters of a log query.
type logParams struct {
	query      string
	start, end time.Time
	limit      int
	backward   bool
}

func (a *API) parseLogParams(r *http.Request) (logParams, error) {
	if err := r.ParseForm(); err != nil {
		return logParams{}, errBad("cannot parse the form: %v", err)
	}
	p := logParams{query: r.Form.Get("query"), limit: 100, backward: true}
	if p.query == "" {
		return p, errBad("missing query parameter: pass query=<LogQL>")
	}
	var err error
	if p.start, p.end, err = timeRange(r, a.now()); err != nil {
		return p, err
	}
	if v := r.Form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return p, errBad("invalid limit %q: must be a positive integer", v)
		}
		p.limit = n
	}
	if p.limit > a.opts.MaxEntriesPerQuery {
		return p, errBad("max entries limit per query exceeded, limit > max_entries_limit_per_query (%d > %d)", p.limit, a.opts.MaxEntriesPerQuery)
	}
	switch strings.ToLower(r.Form.Get("direction")) {
	case "", "backward":
	case "forward":
		p.backward = false
	default:
		return p, errBad("invalid direction %q: use forward or backward", r.Form.Get("direction"))
	}
	return p, nil
}

func (a *API) handleQueryRange(w http.ResponseWriter, r *http.Request, be *backend) {
	p, err := a.parseLogParams(r)
	if err != nil {
		a.answerError(w, err)
		return
	}
	tenant, err := a.tenant(r)
	if err != nil {
		a.answerError(w, err)
		return
	}
	a.logQuery(w, r, be, tenant, p)
}

func (a *API) handleQuery(w http.ResponseWriter, r *http.Request, be *backend) {
	if err := r.ParseForm(); err != nil {
		a.answerError(w, errBad("cannot parse the form: %v", err))
		return
	}
	if _, err := logql.ParseExpr(r.Form.Get("query")); err != nil {
		a.answerError(w, queryError(err))
		return
	}
	a.answerError(w, errBad("instant queries are not supported yet: use /loki/api/v1/query_range"))
}

// queryError wraps a LogQL parse error: always the client's to fix.
func queryError(err error) error { return errBad("%v", err) }

func (a *API) logQuery(w http.ResponseWriter, r *http.Request, be *backend, tenant string, p logParams) {
	start := time.Now()
	expr, err := logql.ParseLogSelector(p.query)
	if err != nil {
		a.answerError(w, queryError(err))
		return
	}
	var matchers []logql.LineMatcher
	for _, f := range expr.Filters() {
		m, err := f.Compile()
		if err != nil {
			a.answerError(w, queryError(err))
			return
		}
		matchers = append(matchers, m)
	}
	ctx, cancel := a.queryContext(r)
	defer cancel()
	stats := &store.Stats{}
	dir := store.Forward
	if p.backward {
		dir = store.Backward
	}
	it, err := be.store.Select(ctx, store.SelectParams{
		Tenant: tenant, Matchers: expr.Matchers,
		Start: p.start.UnixNano(), End: p.end.UnixNano(),
		Direction: dir, Needles: expr.Needles(), Stats: stats,
	})
	if err != nil {
		a.answerError(w, err)
		return
	}
	defer it.Close()
	res := newStreamsResult()
	n := 0
	checked := 0
	for n < p.limit && it.Next() {
		ls, e := it.At()
		if checked++; checked%4096 == 0 && ctx.Err() != nil {
			a.answerError(w, ctx.Err())
			return
		}
		keep := true
		for _, m := range matchers {
			if !m.Match(e.Line) {
				keep = false
				break
			}
		}
		if !keep {
			continue
		}
		res.add(ls, e)
		n++
	}
	if err := it.Err(); err != nil {
		a.answerError(w, err)
		return
	}
	if err := ctx.Err(); err != nil {
		a.answerError(w, err)
		return
	}
	writeJSON(w, response{Status: "success", Data: res.data(summary(stats, n, time.Since(start)))})
}

func (a *API) seriesParams(r *http.Request) (tenant string, start, end time.Time, err error) {
	if err = r.ParseForm(); err != nil {
		return "", start, end, errBad("cannot parse the form: %v", err)
	}
	if tenant, err = a.tenant(r); err != nil {
		return
	}
	start, end, err = timeRange(r, a.now())
	return
}

func (a *API) handleLabels(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, err)
		return
	}
	ms, err := optionalMatchers(r.Form.Get("query"))
	if err != nil {
		a.answerError(w, err)
		return
	}
	ctx, cancel := a.queryContext(r)
	defer cancel()
	names, err := be.store.LabelNames(ctx, tenant, ms, start.UnixNano(), end.UnixNano())
	if err != nil {
		a.answerError(w, err)
		return
	}
	writeJSON(w, response{Status: "success", Data: names})
}

func (a *API) handleLabelValues(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, err)
		return
	}
	ms, err := optionalMatchers(r.Form.Get("query"))
	if err != nil {
		a.answerError(w, err)
		return
	}
	ctx, cancel := a.queryContext(r)
	defer cancel()
	values, err := be.store.LabelValues(ctx, tenant, mux.Vars(r)["name"], ms, start.UnixNano(), end.UnixNano())
	if err != nil {
		a.answerError(w, err)
		return
	}
	writeJSON(w, response{Status: "success", Data: values})
}

func (a *API) handleSeries(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, err)
		return
	}
	raw := append(r.Form["match[]"], r.Form["match"]...)
	var sets [][]*labels.Matcher
	for _, m := range raw {
		ms, err := logql.ParseMatchers(m)
		if err != nil {
			a.answerError(w, errBad("invalid match[] %q: %v", m, err))
			return
		}
		sets = append(sets, ms)
	}
	ctx, cancel := a.queryContext(r)
	defer cancel()
	out := []map[string]string{}
	err = be.store.Series(ctx, tenant, sets, start.UnixNano(), end.UnixNano(), func(ls labels.Labels) {
		out = append(out, ls.Map())
	})
	if err != nil {
		a.answerError(w, err)
		return
	}
	writeJSON(w, response{Status: "success", Data: out})
}

// optionalMatchers parses the optional query parameter of the label
// endpoints: a stream selector, possibly with a pipeline Loki ignores there.
func optionalMatchers(q string) ([]*labels.Matcher, error) {
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	expr, err := logql.ParseLogSelector(q)
	if err != nil {
		return nil, errBad("invalid query %q: %v", q, err)
	}
	return expr.Matchers, nil
}
