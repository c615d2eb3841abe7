package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/store"
)

// Requests to the read endpoints are form-encoded POST bodies (FORMAT.md
// lists the parameters). Matchers travel as LogQL selector text, line
// filters as LogQL line filter text.

// badRequest is an error in a request's parameters: a 400.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// putMatchers adds a selector; none is no parameter.
func putMatchers(v url.Values, key string, ms []*labels.Matcher) {
	if len(ms) > 0 {
		v.Add(key, labels.MatchersString(ms))
	}
}

func putInt(v url.Values, key string, n int64) { v.Set(key, strconv.FormatInt(n, 10)) }

func putFlag(v url.Values, key string, b bool) {
	if b {
		v.Set(key, "1")
	}
}

// selectValues writes the parameters of a Select or Timestamps. Of stream
// filters, only a *Share can travel.
func selectValues(p store.SelectParams) (url.Values, error) {
	v := url.Values{}
	v.Set("tenant", p.Tenant)
	putMatchers(v, "match", p.Matchers)
	putInt(v, "start", p.Start)
	putInt(v, "end", p.End)
	if p.Direction == store.Backward {
		v.Set("direction", "backward")
	}
	for i, set := range p.Needles {
		if len(set) == 0 {
			// An empty set (no line holds one of its strings) has no colon.
			v.Add("needle", strconv.Itoa(i))
			continue
		}
		for _, n := range set {
			v.Add("needle", strconv.Itoa(i)+":"+n)
		}
	}
	putFlag(v, "needles_exact", p.NeedlesExact)
	putFlag(v, "unordered", p.Unordered)
	putFlag(v, "no_lines", p.NoLines)
	if p.Shards > 1 {
		putInt(v, "shard", int64(p.Shard))
		putInt(v, "shards", int64(p.Shards))
	}
	if p.LineFilter != "" {
		v.Set("line_filter", p.LineFilter)
	}
	switch f := p.Streams.(type) {
	case nil:
	case *Share:
		putShare(v, f)
	default:
		return nil, fmt.Errorf("cannot send a stream filter of type %T to another node", f)
	}
	return v, nil
}

// form reads the parameters of a request's form.
type form struct {
	v   url.Values
	err error
}

func (f *form) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// one returns a parameter given at most once.
func (f *form) one(key string) string {
	vs := f.v[key]
	if len(vs) > 1 {
		f.fail(badf("parameter %s given %d times", key, len(vs)))
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (f *form) tenant() string {
	t := f.one("tenant")
	if t == "" {
		f.fail(badf("parameter tenant is required"))
	}
	return t
}

func (f *form) int(key string, def int64) int64 {
	s := f.one(key)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f.fail(badf("parameter %s: %q is not an integer", key, s))
	}
	return n
}

func (f *form) flag(key string) bool {
	switch s := f.one(key); s {
	case "", "0":
		return false
	case "1":
		return true
	default:
		f.fail(badf("parameter %s: %q is not 0 or 1", key, s))
		return false
	}
}

// matchers parses a selector; an absent one is no matcher.
func (f *form) matchers(s string) []*labels.Matcher {
	if s == "" {
		return nil
	}
	ms, err := logql.ParseMatchers(s)
	if err != nil {
		f.fail(badf("parameter match: %v", err))
	}
	return ms
}

// span reads start and end; end may not come before start.
func (f *form) span() (int64, int64) {
	start, end := f.int("start", 0), f.int("end", 0)
	if end < start {
		f.fail(badf("parameter end (%d) is before start (%d)", end, start))
	}
	return start, end
}

// parseSelect reads the parameters of a Select or Timestamps.
func parseSelect(v url.Values) (store.SelectParams, error) {
	f := &form{v: v}
	p := store.SelectParams{Tenant: f.tenant()}
	p.Matchers = f.matchers(f.one("match"))
	p.Start, p.End = f.span()
	switch d := f.one("direction"); d {
	case "", "forward":
	case "backward":
		p.Direction = store.Backward
	default:
		f.fail(badf("parameter direction: %q is neither forward nor backward", d))
	}
	for _, n := range v["needle"] {
		i, s, hasText := strings.Cut(n, ":")
		set, err := strconv.Atoi(i)
		if err != nil || set < 0 || set > len(p.Needles) || !hasText && set != len(p.Needles) {
			f.fail(badf("parameter needle: %q is not set:text, sets numbered in order", n))
			break
		}
		if set == len(p.Needles) {
			p.Needles = append(p.Needles, []string{})
		}
		if hasText {
			p.Needles[set] = append(p.Needles[set], s)
		}
	}
	p.NeedlesExact = f.flag("needles_exact")
	p.Unordered = f.flag("unordered")
	p.NoLines = f.flag("no_lines")
	p.Shard, p.Shards = int(f.int("shard", 0)), int(f.int("shards", 0))
	if p.Shards <= 1 {
		p.Shard, p.Shards = 0, 0 // one shard is all streams
	} else if p.Shard < 0 || p.Shard >= p.Shards {
		f.fail(badf("parameter shard: %d is not in [0, %d)", p.Shard, p.Shards))
	}
	p.LineFilter = f.one("line_filter")
	if sh := f.share(); sh != nil {
		p.Streams = sh
	}
	return p, f.err
}

// compileKeep compiles a line filter's text into the keep of Timestamps;
// nil for none.
func compileKeep(text string) (func([]byte) bool, error) {
	if text == "" {
		return nil, nil
	}
	fs, err := logql.ParseLineFilters(text)
	if err != nil {
		return nil, badf("parameter line_filter: %v", err)
	}
	m, err := logql.CompileFilters(fs)
	if err != nil {
		return nil, badf("parameter line_filter: %v", err)
	}
	return m.Match, nil
}

// seriesValues writes the parameters of a Series: one match per set.
func seriesValues(tenant string, sets [][]*labels.Matcher, start, end int64) (url.Values, error) {
	v := url.Values{}
	v.Set("tenant", tenant)
	for _, ms := range sets {
		if len(ms) == 0 {
			return nil, errors.New("series: a set of matchers is empty")
		}
		putMatchers(v, "match", ms)
	}
	putInt(v, "start", start)
	putInt(v, "end", end)
	return v, nil
}

func parseSeries(v url.Values) (tenant string, sets [][]*labels.Matcher, start, end int64, err error) {
	f := &form{v: v}
	tenant = f.tenant()
	// No match at all is every series; an empty one is refused.
	for _, s := range v["match"] {
		ms := f.matchers(s)
		if len(ms) == 0 {
			f.fail(badf("parameter match: a set of matchers is empty"))
		}
		sets = append(sets, ms)
	}
	start, end = f.span()
	return tenant, sets, start, end, f.err
}

// labelsValues writes the parameters of LabelNames, or of LabelValues
// when name is set.
func labelsValues(tenant, name string, ms []*labels.Matcher, start, end int64) url.Values {
	v := url.Values{}
	v.Set("tenant", tenant)
	if name != "" {
		v.Set("name", name)
	}
	putMatchers(v, "match", ms)
	putInt(v, "start", start)
	putInt(v, "end", end)
	return v
}

func parseLabels(v url.Values) (tenant, name string, ms []*labels.Matcher, start, end int64, err error) {
	f := &form{v: v}
	tenant = f.tenant()
	name = f.one("name")
	ms = f.matchers(f.one("match"))
	start, end = f.span()
	return tenant, name, ms, start, end, f.err
}

// statsValues writes the parameters of Stats: the bounds comma-separated.
func statsValues(p store.StatsParams) url.Values {
	v := url.Values{}
	v.Set("tenant", p.Tenant)
	putMatchers(v, "match", p.Matchers)
	bs := make([]string, len(p.Bounds))
	for i, b := range p.Bounds {
		bs[i] = strconv.FormatInt(b, 10)
	}
	v.Set("bounds", strings.Join(bs, ","))
	return v
}

func parseStats(v url.Values) (store.StatsParams, error) {
	f := &form{v: v}
	p := store.StatsParams{Tenant: f.tenant()}
	p.Matchers = f.matchers(f.one("match"))
	for s := range strings.SplitSeq(f.one("bounds"), ",") {
		b, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.fail(badf("parameter bounds: %q is not an integer", s))
			break
		}
		p.Bounds = append(p.Bounds, b)
	}
	if f.err == nil && (len(p.Bounds) < 2 || !slices.IsSorted(p.Bounds)) {
		f.fail(badf("parameter bounds: %d bounds, they must ascend and number two at least", len(p.Bounds)))
	}
	return p, f.err
}

// tailValues writes the parameters of Subscribe.
func tailValues(tenant string, ms []*labels.Matcher, o store.TailOptions) url.Values {
	v := url.Values{}
	v.Set("tenant", tenant)
	putMatchers(v, "match", ms)
	if o.MaxEntries > 0 {
		putInt(v, "max_entries", int64(o.MaxEntries))
	}
	if o.MaxBytes > 0 {
		putInt(v, "max_bytes", o.MaxBytes)
	}
	if o.MaxDrops > 0 {
		putInt(v, "max_drops", int64(o.MaxDrops))
	}
	return v
}

func parseTail(v url.Values) (tenant string, ms []*labels.Matcher, o store.TailOptions, err error) {
	f := &form{v: v}
	tenant = f.tenant()
	ms = f.matchers(f.one("match"))
	o.MaxEntries = int(f.int("max_entries", 0))
	o.MaxBytes = f.int("max_bytes", 0)
	o.MaxDrops = int(f.int("max_drops", 0))
	if o.MaxEntries < 0 || o.MaxBytes < 0 || o.MaxDrops < 0 {
		f.fail(badf("tail limits may not be negative"))
	}
	return tenant, ms, o, f.err
}
