package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/store"
)

// foldEntry is one line of the fold test's data, with what its JSON holds.
type foldEntry struct {
	t     int64
	pod   string
	level string
	n     float64
}

// loadFoldData writes entries with a unique id each (so that every entry
// is a series of its own after | json) into a fresh store, some flushed to
// blocks and some left in the head.
func loadFoldData(t *testing.T, entries int) (*store.Store, []foldEntry) {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), OutOfOrderWindow: 1000 * time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := rand.New(rand.NewPCG(7, 8))
	levels := []string{"info", "warn", "error"}
	byPod := map[string]*store.Stream{}
	var data []foldEntry
	for i := 0; i < entries; i++ {
		e := foldEntry{
			t:     scriptEpoch + int64(i)*int64(10*time.Minute)/int64(entries),
			pod:   fmt.Sprintf("p%d", r.IntN(10)),
			level: levels[r.IntN(3)],
			n:     float64(r.IntN(1000)),
		}
		data = append(data, e)
		s := byPod[e.pod]
		if s == nil {
			s = &store.Stream{Labels: labels.New(labels.Label{Name: "app", Value: "x"}, labels.Label{Name: "pod", Value: e.pod})}
			byPod[e.pod] = s
		}
		line := fmt.Sprintf(`{"id":"%08x","level":%q,"n":%g}`, r.Uint32(), e.level, e.n)
		s.Entries = append(s.Entries, block.Entry{T: e.t, Line: []byte(line)})
	}
	var streams []store.Stream
	for _, s := range byPod {
		streams = append(streams, *s)
	}
	half := func(s store.Stream, first bool) store.Stream {
		k := len(s.Entries) / 2
		if first {
			return store.Stream{Labels: s.Labels, Entries: s.Entries[:k]}
		}
		return store.Stream{Labels: s.Labels, Entries: s.Entries[k:]}
	}
	for _, first := range []bool{true, false} {
		var part []store.Stream
		for _, s := range streams {
			part = append(part, half(s, first))
		}
		if rej, err := st.Append("fake", part); err != nil || len(rej) > 0 {
			t.Fatalf("append: %v %v", err, rej)
		}
		if first {
			if err := st.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return st, data
}

// TestFoldedAggregations checks vector aggregations of range aggregations
// whose inner series outnumber max_query_series many times (one per entry)
// against the answer computed from the data: folding sums, mins and maxes
// into their groups, and streaming the inner series of count by and avg by,
// answer them; the bare range aggregation still hits the limit on its own
// result, as in Loki.
func TestFoldedAggregations(t *testing.T) {
	st, data := loadFoldData(t, 3000)
	rng := time.Minute
	type agg func(vals []float64) float64
	sum := func(v []float64) float64 { return plainSum(v) }
	count := func(v []float64) float64 { return float64(len(v)) }
	maxOf := func(v []float64) float64 { return refFold(v, maxNaN) }
	cases := []struct {
		query string
		// value of an entry, how a group's values combine at a step
		val     func(e foldEntry) float64
		combine agg
	}{
		{`sum by (level) (count_over_time({app="x"} | json [1m]))`, func(foldEntry) float64 { return 1 }, count},
		{`sum by (level) (rate({app="x"} | json [1m]))`, func(foldEntry) float64 { return 1 / rng.Seconds() }, sum},
		{`sum by (level) (sum_over_time({app="x"} | json | unwrap n [1m]))`, func(e foldEntry) float64 { return e.n }, sum},
		{`max by (level) (max_over_time({app="x"} | json | unwrap n [1m]))`, func(e foldEntry) float64 { return e.n }, maxOf},
		// One inner series per entry: count by counts entries.
		{`count by (level) (count_over_time({app="x"} | json [1m]))`, func(foldEntry) float64 { return 1 }, count},
		{`avg by (level) (count_over_time({app="x"} | json [1m]))`, func(foldEntry) float64 { return 1 }, func(v []float64) float64 { return 1 }},
	}
	for _, parallel := range []int{1, 3} {
		eng := New(st, Limits{Parallelism: parallel})
		for _, step := range []time.Duration{5 * time.Second, 47 * time.Second} {
			for _, c := range cases {
				expr, err := logql.ParseExpr(c.query)
				if err != nil {
					t.Fatal(err)
				}
				p := Params{Tenant: "fake", Expr: expr, Start: scriptEpoch, End: scriptEpoch + int64(12*time.Minute), Step: step}
				res, err := eng.Query(context.Background(), p)
				if err != nil {
					t.Fatalf("%s at step %s: %v", c.query, step, err)
				}
				want := map[string]map[int64]float64{}
				ss := alignSteps(p.Start, p.End, int64(step))
				for i := 0; i < ss.n; i++ {
					at := ss.at(i)
					by := map[string][]float64{}
					for _, e := range data {
						if e.t > at-int64(rng) && e.t <= at {
							by[e.level] = append(by[e.level], c.val(e))
						}
					}
					for lvl, vs := range by {
						if want[lvl] == nil {
							want[lvl] = map[int64]float64{}
						}
						want[lvl][at/1e6] = c.combine(vs)
					}
				}
				if len(res.Matrix) != len(want) {
					t.Fatalf("%s: %d series, want %d", c.query, len(res.Matrix), len(want))
				}
				for _, s := range res.Matrix {
					w := want[s.Labels.Get("level")]
					if len(s.Labels) != 1 || len(s.Points) != len(w) {
						t.Fatalf("%s: series %s has %d points, want %d", c.query, s.Labels, len(s.Points), len(w))
					}
					for _, pt := range s.Points {
						if !sameValue(pt.V, w[pt.T]) {
							t.Fatalf("%s (step %s, parallel %d): %s at %d = %v, want %v", c.query, step, parallel, s.Labels, pt.T, pt.V, w[pt.T])
						}
					}
				}
			}
		}
		// The limit holds for the result, and, as in Loki, for a part Loki
		// runs as a query of its own: an inner vector aggregation, a range
		// aggregation under topk or stddev.
		for _, q := range []string{
			`count_over_time({app="x"} | json [1m])`,
			`topk(1, sum by (id) (count_over_time({app="x"} | json [1m])))`,
			`topk(1, count_over_time({app="x"} | json [1m]))`,
			`stddev by (level) (count_over_time({app="x"} | json [1m]))`,
			`sum by (id) (count_over_time({app="x"} | json [1m])) > 1000`,
		} {
			expr, err := logql.ParseExpr(q)
			if err != nil {
				t.Fatal(err)
			}
			_, err = eng.Query(context.Background(), Params{Tenant: "fake", Expr: expr, Start: scriptEpoch, End: scriptEpoch + int64(12*time.Minute), Step: time.Minute})
			if err == nil || !strings.Contains(err.Error(), "maximum number of series (500) reached") {
				t.Fatalf("%s over 3000 series: %v, want the series limit", q, err)
			}
		}
	}
}
