package api

import (
	"net/http"
	"time"

	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/patterns"
	"github.com/loam-logs/loam/server/store"
)

// Loki's bounds on the step of a patterns query (pkg/loghttp): without a
// step, the range over 250 in whole seconds, at least one; at most 11,000
// steps in the range.
const (
	patternDefaultPoints = 250
	patternMaxPoints     = 11000
)

// patternParams are the parameters of a patterns query.
type patternParams struct {
	query      string
	start, end time.Time
	step       time.Duration
}

func (a *API) parsePatternParams(r *http.Request) (patternParams, error) {
	if err := r.ParseForm(); err != nil {
		return patternParams{}, errBad("cannot parse the form: %v", err)
	}
	p := patternParams{query: r.Form.Get("query")}
	if p.query == "" {
		return p, errBad(`missing query parameter: pass query=<stream selector>, for example {app="api"}`)
	}
	var err error
	if p.start, p.end, err = timeRange(r, a.now()); err != nil {
		return p, err
	}
	if v := r.Form.Get("step"); v != "" {
		if p.step, err = parseStep(v); err != nil {
			return p, err
		}
	} else {
		p.step = max(p.end.Sub(p.start)/patternDefaultPoints/time.Second, 1) * time.Second
	}
	if p.step <= 0 {
		return p, errBad("invalid step %q: zero or negative query resolution step widths are not accepted; use a positive duration (30s) or number of seconds", r.Form.Get("step"))
	}
	if p.end.Sub(p.start)/p.step > patternMaxPoints {
		return p, errBad("step %s is too small for the range of %s: exceeded maximum resolution of 11,000 points per time series; increase step", p.step, p.end.Sub(p.start))
	}
	return p, rangeTooLong(a.limits(r), p.start, p.end)
}

// patternSeries is one pattern of the answer, in Loki's layout: samples are
// [unix seconds, count] pairs, one per step.
type patternSeries struct {
	Pattern string     `json:"pattern"`
	Level   string     `json:"level"`
	Samples [][2]int64 `json:"samples"`
}

// handlePatterns answers /loki/api/v1/patterns. Loam has no pattern
// ingester: it reads the selected lines of [start, end) back from the store,
// newest first, and mines them (see package patterns for the method and its
// bounds). The query is a stream selector, optionally followed by line
// filters, which Loki does not accept but which cost nothing here.
func (a *API) handlePatterns(w http.ResponseWriter, r *http.Request, be *backend) {
	p, err := a.parsePatternParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	tenant, err := a.tenant(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	expr, err := logql.ParseLogSelector(p.query)
	if err != nil {
		a.answerError(w, r, queryError(err))
		return
	}
	var filters []*logql.LineFilter
	for _, s := range expr.Pipeline {
		f, ok := s.(*logql.LineFilter)
		if !ok {
			a.answerError(w, r, errBad("patterns are mined from a stream selector with optional line filters: %s is not allowed here", s))
			return
		}
		filters = append(filters, f)
	}
	match, err := logql.CompileFilters(filters)
	if err != nil {
		a.answerError(w, r, queryError(err))
		return
	}
	ctx, done, err := a.startRead(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	defer done()
	it, err := a.reader(be, tenant).Select(ctx, store.SelectParams{
		Tenant: tenant, Matchers: expr.Matchers,
		Start: p.start.UnixNano(), End: p.end.UnixNano(),
		Direction: store.Backward, Needles: expr.Needles(),
	})
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	defer it.Close()
	// Bucket by whole seconds at least: the answer's timestamps are seconds.
	m := patterns.NewMiner(patterns.Options{Step: int64(max(p.step, time.Second))})
	checked := 0
	for it.Next() {
		ls, e := it.At()
		if checked++; checked%4096 == 0 && ctx.Err() != nil {
			break
		}
		if !match.Match(e.Line) {
			continue
		}
		if !m.Add(ls.Hash(), patterns.DetectLevel(e.Line, ls, e.Meta), e.T, e.Line) {
			a.log.Info("patterns query hit the line limit: older lines of the range were not mined",
				"tenant", tenant, "query", p.query, "lines", m.Stats().Lines)
			break
		}
	}
	if err := it.Err(); err != nil {
		a.answerError(w, r, err)
		return
	}
	if err := ctx.Err(); err != nil {
		a.answerError(w, r, err)
		return
	}
	found := m.Patterns(patterns.MinCount, patterns.MaxPatterns)
	out := make([]patternSeries, len(found))
	for i, pat := range found {
		samples := make([][2]int64, len(pat.Samples))
		for j, s := range pat.Samples {
			samples[j] = [2]int64{floorSeconds(s.T), s.Count}
		}
		out[i] = patternSeries{Pattern: pat.Pattern, Level: pat.Level, Samples: samples}
	}
	writeJSON(w, response{Status: "success", Data: out})
}

// floorSeconds converts unix nanoseconds to whole seconds, rounding down.
func floorSeconds(ns int64) int64 {
	s := ns / int64(time.Second)
	if ns%int64(time.Second) < 0 {
		s--
	}
	return s
}
