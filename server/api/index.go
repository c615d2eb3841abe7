package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/tenants"
)

// The index endpoints: /index/stats, /index/volume and /index/volume_range.
// Loki answers them from its index (TSDB chunk metadata: entries and size
// per chunk) and ingesters, without reading chunks. Loam answers them from
// store.Stats, which reads block chunk tables and the head, and only the
// timestamp column of a chunk that a bound of the range cuts: see Figures
// for what is exact. Loki itself prorates a cut chunk by time and counts
// its bytes in whole KiB; Loam's figures are closer, not equal.

// Loki's defaults and bounds for the volume endpoints (pkg/loghttp,
// pkg/validation).
const (
	volumeDefaultLimit = 100
	volumeMaxSeries    = 1000 // Loki's volume_max_series: names per time bucket
)

// selectorParam parses the query of the index endpoints: a bare stream
// selector with at least one matcher that does not match the empty string,
// as Loki's syntax.ParseMatchers(query, true) requires.
func selectorParam(q string) ([]*labels.Matcher, error) {
	if strings.TrimSpace(q) == "" {
		return nil, errBad(`missing query parameter: pass query=<stream selector>, for example {app="api"}`)
	}
	ms, err := logql.ParseMatchers(q)
	if err != nil {
		return nil, errBad("invalid query %q: %v", q, err)
	}
	if err := logql.ValidateMatchers(ms); err != nil {
		return nil, errBad("invalid query %q: %v", q, err)
	}
	return ms, nil
}

// indexStats is Loki's IndexStatsResponse: a bare object, no status
// wrapper.
type indexStats struct {
	Streams int64 `json:"streams"`
	Chunks  int64 `json:"chunks"`
	Bytes   int64 `json:"bytes"`
	Entries int64 `json:"entries"`
}

// handleIndexStats answers /loki/api/v1/index/stats: how many streams,
// chunks, entries and bytes of lines the selector covers in [start, end].
// Grafana calls it as a query is typed, to show what it will read. streams
// counts the streams with entries in the range; chunks counts block chunks
// plus one per stream and head (see store.Figures).
func (a *API) handleIndexStats(w http.ResponseWriter, r *http.Request, be *backend) {
	tenant, start, end, err := a.seriesParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	ms, err := selectorParam(r.Form.Get("query"))
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
	var out indexStats
	streams := map[string]struct{}{}
	err = a.reader(be, tenant).Stats(ctx, store.StatsParams{Tenant: tenant, Matchers: ms,
		Bounds: []int64{start.UnixNano(), end.UnixNano() + 1}}, func(ls labels.Labels, figs []store.Figures) {
		streams[ls.String()] = struct{}{}
		out.Chunks += figs[0].Chunks
		out.Bytes += figs[0].Bytes
		out.Entries += figs[0].Entries
	})
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	out.Streams = int64(len(streams))
	writeJSON(w, out)
}

// volumeParams are the parameters of /index/volume and /index/volume_range.
type volumeParams struct {
	matchers   []*labels.Matcher
	start, end time.Time
	step       time.Duration // 0 for /index/volume
	limit      int
	// byLabels sums per label name (aggregateBy=labels) instead of per
	// series (aggregateBy=series, the default).
	byLabels bool
	targets  []string
	// keep holds the names a series keeps (the targets, or the names the
	// selector matches on); all keeps every label (the query {}).
	keep map[string]bool
	all  bool
}

func (a *API) parseVolumeParams(r *http.Request, ranged bool) (volumeParams, error) {
	var p volumeParams
	q := r.Form.Get("query")
	// Loki lets the match-anything selector through here only.
	if strings.TrimSpace(q) == "{}" {
		p.all = true
	} else {
		var err error
		if p.matchers, err = selectorParam(q); err != nil {
			return p, err
		}
	}
	var err error
	if p.start, p.end, err = timeRange(r, a.now()); err != nil {
		return p, err
	}
	p.limit = volumeDefaultLimit
	if v := r.Form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return p, errBad("invalid limit %q: must be a positive integer", v)
		case n < 0:
			return p, errBad("invalid limit %q: limit must be a positive value", v)
		case n > 0: // 0 means the default, as in Loki
			p.limit = n
		}
	}
	switch v := r.Form.Get("aggregateBy"); v {
	case "", "series":
	case "labels":
		p.byLabels = true
	default:
		return p, errBad("invalid aggregation option %q: aggregateBy is series or labels", v)
	}
	for _, t := range strings.Split(r.Form.Get("targetLabels"), ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(p.targets, t) {
			p.targets = append(p.targets, t)
		}
	}
	p.keep = map[string]bool{}
	if len(p.targets) > 0 {
		// Only the targets name a series, and a series must have them all.
		p.all = false
		for _, t := range p.targets {
			p.keep[t] = true
			if !slices.ContainsFunc(p.matchers, func(m *labels.Matcher) bool { return m.Name == t }) {
				p.matchers = append(p.matchers, labels.MustMatcher(labels.MatchRegexp, t, ".+"))
			}
		}
	} else {
		for _, m := range p.matchers {
			p.keep[m.Name] = true
		}
	}
	if ranged {
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
		if p.end.Sub(p.start)/p.step > maxResolution {
			return p, errStepTooSmall()
		}
	}
	return p, rangeTooLong(a.limits(r), p.start, p.end)
}

// volumeBuckets cuts [start, end] as Loki's volume middleware does. An
// instant volume is one bucket stamped at end. A range is cut at multiples
// of the step (counted from the Unix epoch, in whole milliseconds as Loki
// carries it); each bucket is stamped with its last millisecond, the last
// bucket with end. bounds[i] <= ts < bounds[i+1] is bucket i; the range is
// closed at end. A range with start == end has no bucket.
func volumeBuckets(start, end time.Time, step time.Duration) (bounds, stamps []int64) {
	st, en := start.UnixNano(), end.UnixNano()
	stepNs := step.Milliseconds() * int64(time.Millisecond)
	if stepNs <= 0 {
		return []int64{st, en + 1}, []int64{en}
	}
	aligned := st - st%stepNs
	if st%stepNs < 0 {
		aligned -= stepNs
	}
	bounds = []int64{st}
	for s := aligned; s < en; s += stepNs {
		e := s + stepNs
		if e >= en {
			bounds = append(bounds, en+1)
			stamps = append(stamps, en)
			break
		}
		bounds = append(bounds, e)
		stamps = append(stamps, e-int64(time.Millisecond))
	}
	return bounds, stamps
}

// volumeSeries is one name of the answer: a label set (aggregateBy=series)
// or a label name (aggregateBy=labels), with its bytes per bucket.
type volumeSeries struct {
	name   string
	metric map[string]string
	bytes  []int64 // per bucket
	in     []bool  // per bucket: whether the name has entries there
}

func (a *API) handleVolume(w http.ResponseWriter, r *http.Request, be *backend) {
	a.volume(w, r, be, false)
}

func (a *API) handleVolumeRange(w http.ResponseWriter, r *http.Request, be *backend) {
	a.volume(w, r, be, true)
}

// volume answers /index/volume and /index/volume_range in Loki's layout: a
// Prometheus vector or matrix of the bytes of lines per series or per
// label, sorted by bytes, largest first. As in Loki:
//
//   - aggregateBy=series names a series by the labels the selector matches
//     on (all labels for the query {}), or by targetLabels when given, which
//     then must all be present;
//   - aggregateBy=labels names it by each of its label names (or each of
//     targetLabels), the metric being {"<name>": ""};
//   - every time bucket keeps its `limit` largest names; the answer is a
//     vector when each name has one sample (always so for /index/volume),
//     a matrix otherwise, series sorted by their first sample, largest
//     first, then by name;
//   - more than 1,000 names in a bucket is an error (volume_max_series).
//
// Bytes are those of store.Figures: exact except for chunks that a bucket
// bound cuts, which are shared out by entries.
func (a *API) volume(w http.ResponseWriter, r *http.Request, be *backend, ranged bool) {
	begin := time.Now()
	tenant, err := a.tenantForm(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	p, err := a.parseVolumeParams(r, ranged)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	bounds, stamps := volumeBuckets(p.start, p.end, p.step)
	n := len(stamps)
	byName := map[string]*volumeSeries{}
	perBucket := make([]int, n) // names with entries in each bucket
	var nameBuf []byte
	var over bool
	add := func(name string, metric func() map[string]string, b int, bytes int64) {
		vs := byName[name]
		if vs == nil {
			vs = &volumeSeries{name: name, metric: metric(), bytes: make([]int64, n), in: make([]bool, n)}
			byName[name] = vs
		}
		if !vs.in[b] {
			vs.in[b] = true
			if perBucket[b]++; perBucket[b] > volumeMaxSeries {
				over = true
			}
		}
		vs.bytes[b] += bytes
	}
	if n > 0 {
		ctx, done, err := a.startRead(r)
		if err != nil {
			a.answerError(w, r, err)
			return
		}
		defer done()
		multi := tenants.IsMulti(tenant)
		err = a.reader(be, tenant).Stats(ctx, store.StatsParams{Tenant: tenant, Matchers: p.matchers, Bounds: bounds},
			func(ls labels.Labels, figs []store.Figures) {
				if multi && !p.keep[tenants.Label] {
					// As Loki, which sums the volumes of the tenants by
					// their labels; naming __tenant_id__ (in the
					// selector or targetLabels) keeps it.
					ls, _, _ = tenants.Untag(ls)
				}
				if p.byLabels {
					for _, l := range ls {
						if len(p.targets) > 0 && !p.keep[l.Name] {
							continue
						}
						for b, f := range figs {
							if f.Entries > 0 {
								add(l.Name, func() map[string]string { return map[string]string{l.Name: ""} }, b, f.Bytes)
							}
						}
					}
					return
				}
				kept := ls
				if !p.all {
					kept = make(labels.Labels, 0, len(p.keep))
					for _, l := range ls {
						if p.keep[l.Name] {
							kept = append(kept, l)
						}
					}
				}
				nameBuf = kept.AppendString(nameBuf[:0])
				name := string(nameBuf)
				for b, f := range figs {
					if f.Entries > 0 {
						add(name, kept.Map, b, f.Bytes)
					}
				}
			})
		if err != nil {
			a.answerError(w, r, err)
			return
		}
	}
	if over {
		a.answerError(w, r, errBad("the query hit the max number of series limit (limit: %d series): narrow the selector or use targetLabels", volumeMaxSeries))
		return
	}
	// Keep each bucket's largest names, as Loki limits every sub-query.
	keep := make([][]*volumeSeries, n)
	for _, vs := range byName {
		for b := range n {
			if vs.in[b] {
				keep[b] = append(keep[b], vs)
			}
		}
	}
	type sample struct {
		b int
		v int64
	}
	samples := map[*volumeSeries][]sample{}
	var order []*volumeSeries
	for b, list := range keep {
		slices.SortFunc(list, func(x, y *volumeSeries) int {
			if x.bytes[b] != y.bytes[b] {
				return cmpDesc(x.bytes[b], y.bytes[b])
			}
			return strings.Compare(x.name, y.name)
		})
		if len(list) > p.limit {
			list = list[:p.limit]
		}
		for _, vs := range list {
			if samples[vs] == nil {
				order = append(order, vs)
			}
			samples[vs] = append(samples[vs], sample{b, vs.bytes[b]})
		}
	}
	// Buckets were visited in time order: samples are sorted. Series sort
	// by their first sample, largest first, then by name.
	slices.SortFunc(order, func(x, y *volumeSeries) int {
		if sx, sy := samples[x][0].v, samples[y][0].v; sx != sy {
			return cmpDesc(sx, sy)
		}
		return strings.Compare(x.name, y.name)
	})
	matrix := false
	for _, vs := range order {
		if len(samples[vs]) > 1 {
			matrix = true
		}
	}
	stats := summary(&store.Stats{}, 0, queryTimes{exec: time.Since(begin)})
	if !matrix {
		out := make([]vectorValue, 0, len(order))
		for _, vs := range order {
			s := samples[vs][0]
			out = append(out, vectorValue{Metric: vs.metric, Value: samplePair{stamps[s.b] / int64(time.Millisecond), float64(s.v)}})
		}
		writeJSON(w, response{Status: "success", Data: queryData{ResultType: "vector", Result: out, Stats: stats}})
		return
	}
	out := make([]matrixValue, 0, len(order))
	for _, vs := range order {
		mv := matrixValue{Metric: vs.metric}
		for _, s := range samples[vs] {
			mv.Values = append(mv.Values, samplePair{stamps[s.b] / int64(time.Millisecond), float64(s.v)})
		}
		out = append(out, mv)
	}
	writeJSON(w, response{Status: "success", Data: queryData{ResultType: "matrix", Result: out, Stats: stats}})
}

func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// tenantForm parses the form and returns the tenant.
func (a *API) tenantForm(r *http.Request) (string, error) {
	if err := r.ParseForm(); err != nil {
		return "", errBad("cannot parse the form: %v", err)
	}
	return a.tenant(r)
}
