package deletes

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
)

// BadRequestError is a request the caller must fix: the API answers 400
// with its message.
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &BadRequestError{fmt.Sprintf(format, args...)}
}

// Params are the parameters of a delete request as sent, each as Loki
// reads it from the URL: query, start, end and max_interval.
type Params struct {
	Query       string
	Start       string // RFC 3339 or 10-digit Unix seconds; required
	End         string // likewise; empty means now
	MaxInterval string // Go duration of at least 1s; empty means the configured maximum
}

// spec is a validated request: what Add stores.
type spec struct {
	query      string
	sel        *selector
	start, end int64 // Unix ms, inclusive
	interval   int64 // shard length in ms; 0: one shard
}

// maxShards bounds the parts a request is split into (Loki has no bound).
// Ranges without data cost one look at the store's partitions each, but a
// request of a billion parts would never finish.
const maxShards = 1_000_000

// parseParams validates p as Loki's delete handler does, in its order:
// the query, the start, the end (not in the future, after the start), then
// max_interval when the query has line filters. maxInterval is Loki's
// delete_max_interval (0: no bound, no default sharding).
func parseParams(p Params, now time.Time, maxInterval time.Duration) (spec, error) {
	if p.Query == "" {
		return spec{}, badRequest("query not set")
	}
	sel, err := parseSelector(p.Query)
	if err != nil {
		return spec{}, err
	}
	if p.Start == "" {
		return spec{}, badRequest("start time not set")
	}
	start, err := parseTime(p.Start, now)
	if err != nil {
		return spec{}, badRequest("invalid start time: require unix seconds or RFC3339 format")
	}
	end, err := parseTime(p.End, now)
	if err != nil {
		return spec{}, badRequest("invalid end time: require unix seconds or RFC3339 format")
	}
	if end > now.UnixMilli() {
		return spec{}, badRequest("deletes in the future are not allowed")
	}
	if start >= end {
		return spec{}, badRequest("start time can't be greater than or equal to end time")
	}
	s := spec{query: p.Query, sel: sel, start: start, end: end}
	// Like Loki, only deletes with line filters are sharded: a delete of
	// whole streams costs the same however long its range.
	if sel.line != nil {
		iv, err := shardInterval(p.MaxInterval, maxInterval, time.Duration(msToNs(end-start)))
		if err != nil {
			return spec{}, err
		}
		s.interval = iv.Milliseconds()
		if n := shardCount(start, end, s.interval); n > maxShards {
			return spec{}, badRequest("max_interval %s splits the range into %d parts; at most %d are allowed: use a larger max_interval", iv, n, maxShards)
		}
	}
	return s, nil
}

// shardInterval reads max_interval as Loki does.
func shardInterval(param string, maxInterval, span time.Duration) (time.Duration, error) {
	if param == "" {
		return maxInterval, nil
	}
	iv, err := time.ParseDuration(param)
	if err != nil || iv < time.Second {
		return 0, badRequest("invalid max_interval: valid time units are 's', 'm', 'h'")
	}
	if maxInterval != 0 && iv > maxInterval {
		return 0, badRequest("max_interval can't be greater than %s", maxInterval)
	}
	if iv > span {
		return 0, badRequest("max_interval can't be greater than the interval to be deleted (%s)", span)
	}
	return iv, nil
}

// maxUnixSeconds bounds the times a float may give (year ~5138): beyond,
// Loki's conversion to an integer is undefined; here it is an error.
const maxUnixSeconds = 1e11

// parseTime reads a time as Loki's delete API does, in Unix ms: empty is
// now; RFC 3339 (fractions of a second allowed); otherwise exactly ten
// characters read as a float of Unix seconds, rounded to the millisecond.
func parseTime(s string, now time.Time) (int64, error) {
	if s == "" {
		return now.UnixMilli(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UnixMilli(), nil
	}
	if len(s) != 10 {
		return 0, errors.New("not unix seconds")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxUnixSeconds {
		return 0, errors.New("not unix seconds")
	}
	sec, frac := math.Modf(f)
	return int64(sec)*1000 + int64(math.Round(frac*1000)), nil
}

// selector is a parsed delete query: the streams it covers and, when it has
// line filters, which of their lines.
type selector struct {
	matchers []*labels.Matcher
	line     func([]byte) bool // nil: every line; safe for concurrent use
}

// parseSelector parses a delete query. Loki takes any log query and runs
// its whole pipeline on each line; Loam deletes by stream selector and line
// filters only, since the store's tombstones test the line alone (not the
// labels a parser or a label filter would need). The rest is refused with a
// message that says so rather than deleting other lines than asked.
func parseSelector(q string) (*selector, error) {
	// The query is kept as sent, in JSON: it must read back the same.
	if !utf8.ValidString(q) {
		return nil, badRequest("invalid query expression: the query is not valid UTF-8")
	}
	e, err := logql.ParseLogSelector(q)
	if err != nil {
		return nil, badRequest("invalid query expression: %v", err)
	}
	var filters []*logql.LineFilter
	for _, st := range e.Pipeline {
		f, ok := st.(*logql.LineFilter)
		if !ok {
			return nil, badRequest("invalid query expression: a delete query takes a stream selector and line filters only (|=, !=, |~, !~, |>, !>); %q is not a line filter", st.String())
		}
		filters = append(filters, f)
	}
	s := &selector{matchers: e.Matchers}
	if len(filters) > 0 {
		m, err := logql.CompileFilters(filters)
		if err != nil {
			return nil, badRequest("invalid query expression: %v", err)
		}
		s.line = m.Match
	}
	return s, nil
}

// shardCount is the number of parts [start, end] splits into at interval
// ms, their inner bounds aligned to multiples of interval as Loki aligns
// them. 1 when interval is 0 or spans the range.
func shardCount(start, end, interval int64) int64 {
	if interval <= 0 || interval >= end-start {
		return 1
	}
	base := floorDiv(start, interval) * interval
	return (end - base + interval - 1) / interval
}

// shardRange returns the bounds (ms, inclusive) of parts [i, j) of
// [start, end] split at interval.
func shardRange(start, end, interval int64, i, j int64) (int64, int64) {
	n := shardCount(start, end, interval)
	if n == 1 {
		return start, end
	}
	base := floorDiv(start, interval) * interval
	s, e := start, end
	if i > 0 {
		s = base + i*interval
	}
	if j < n {
		e = base + j*interval
	}
	return s, e
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// msToNs converts Unix ms to ns, saturating instead of overflowing.
func msToNs(ms int64) int64 {
	const f = int64(time.Millisecond)
	switch {
	case ms > math.MaxInt64/f:
		return math.MaxInt64
	case ms < math.MinInt64/f:
		return math.MinInt64
	}
	return ms * f
}
