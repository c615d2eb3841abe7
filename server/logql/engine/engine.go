// Package engine evaluates LogQL queries over the store: log queries into
// streams of entries, metric queries into samples at each step of a range
// (a matrix) or at one instant (a vector or a scalar).
//
// The store is reached through one call, Select: entries of the streams
// matching the selector, in a time range, skipping chunks that cannot hold
// the query's needles. Everything after that — the pipeline, range and
// vector aggregations, binary operators — runs here.
//
// A range aggregation keeps, per series, either its samples or, for counts
// and bytes of a series denser than the steps, difference arrays over the
// steps; its windows are then evaluated by sliding one window over the
// series (range_window.go), so the cost is O(samples + steps), not
// O(samples × range/step). A vector aggregation takes the series of the
// range aggregation under it one at a time, and sum, min and max fold their
// grouping into it, as Loki does for sums: memory follows the result, not
// the number of label sets parsers produce. max_query_series bounds the
// result.
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/pipeline"
	"github.com/loam-logs/loam/server/store"
)

// Querier is the storage the engine reads.
type Querier interface {
	Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error)
}

// TimestampQuerier is a Querier that can hand out timestamps alone, for
// counting without a pipeline (see store.Store.Timestamps).
type TimestampQuerier interface {
	Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error
}

// Limits bound what one query may cost.
type Limits struct {
	MaxSeries int // series of a metric result (Loki: max_query_series, 500)
	MaxPoints int // points per series of a range query (Loki: 11,000)
	// Parallelism is the number of goroutines a range aggregation reads
	// with; 0 means one per CPU, up to 4.
	Parallelism int
}

// DefaultLimits are Loki's defaults.
var DefaultLimits = Limits{MaxSeries: 500, MaxPoints: 11000}

// Engine evaluates queries.
type Engine struct {
	q      Querier
	limits Limits
}

// shards is the number of goroutines a range aggregation reads with.
func (e *Engine) shards() int {
	if e.limits.Parallelism > 0 {
		return e.limits.Parallelism
	}
	return min(runtime.GOMAXPROCS(0), 4)
}

// New returns an engine reading q.
func New(q Querier, l Limits) *Engine {
	if l.MaxSeries <= 0 {
		l.MaxSeries = DefaultLimits.MaxSeries
	}
	if l.MaxPoints <= 0 {
		l.MaxPoints = DefaultLimits.MaxPoints
	}
	return &Engine{q: q, limits: l}
}

// Params is one query. Times are Unix nanoseconds. A range query evaluates
// at Start, Start+Step, … up to End; an instant query (Step 0) at End.
type Params struct {
	Tenant     string
	Expr       logql.Expr
	Start, End int64
	Step       time.Duration
	Instant    bool
	Backward   bool // log queries: newest first
	Limit      int  // log queries: entries at most
	// Interval thins a log query's answer as Loki's interval parameter
	// does: of the Limit entries read, one is kept, then none closer than
	// Interval to the last kept (in the query's direction).
	Interval time.Duration
	// Categorize groups the entries of a log query by the labels of their
	// stream alone, for the categorize-labels encoding: entries that differ
	// only in structured metadata or parsed labels share one Stream.
	Categorize bool
	Stats      *store.Stats
	// MultiTenant: the Querier is a tenants.Reader, whose streams carry
	// their tenant in __tenant_id__; the pipeline runs without it and the
	// answer's labels get it back, as in Loki (tenants.go).
	MultiTenant bool
}

// Result is the answer of a query: exactly one of Streams (log query),
// Matrix (range metric query), Vector or Scalar (instant metric query) is
// meaningful, as Type says.
type Result struct {
	Type    string // "streams", "matrix", "vector" or "scalar"
	Streams []*Stream
	Matrix  []*Series
	Vector  []Sample
	Scalar  Point
	// Entries is the number of entries returned (log queries).
	Entries int
}

// Stream is the entries of one label set of a log query result. Under
// Params.Categorize the label set is Labels.Stream; the rest of Labels is
// that of the Stream's first entry, and each Entry carries its own.
type Stream struct {
	Labels  *pipeline.Result
	Entries []Entry
}

// Entry is one log entry of a result.
type Entry struct {
	T    int64
	Line string
	// Metadata and Parsed are the entry's structured metadata and parsed
	// labels, for the categorize-labels encoding.
	Metadata, Parsed labels.Labels
}

// Point is a value at a time (Unix ms).
type Point struct {
	T int64
	V float64
}

// Series is the points of one label set.
type Series struct {
	Labels labels.Labels
	Points []Point
}

// Sample is one series' value at an instant.
type Sample struct {
	Labels labels.Labels
	Point
}

// Error is a query error that is the client's to fix: a 4xx.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// IsClientError reports whether err is the query's fault.
func IsClientError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Query evaluates a query.
func (e *Engine) Query(ctx context.Context, p Params) (*Result, error) {
	if p.Stats == nil {
		p.Stats = &store.Stats{}
	}
	switch x := p.Expr.(type) {
	case *logql.LogSelectorExpr:
		if p.Instant {
			return nil, errorf("log queries are not supported as an instant query type, please change your query to a range query type")
		}
		return e.logQuery(ctx, p, x)
	case logql.SampleExpr:
		return e.metricQuery(ctx, p, x)
	}
	return nil, errorf("unsupported expression %s", p.Expr)
}

// checkSeries fails a query whose answer, or a part of it Loki would run
// as a query of its own, has more than max_query_series series.
func (e *Engine) checkSeries(n int) error {
	if n > e.limits.MaxSeries {
		return seriesLimitError(e.limits.MaxSeries)
	}
	return nil
}

func seriesLimitError(limit int) error {
	return errorf("maximum number of series (%d) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()", limit)
}

// thousands prints n with comma separators, as Loki's messages do: 11,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
