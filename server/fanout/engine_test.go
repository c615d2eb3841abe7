package fanout

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/engine"
	"github.com/loam-logs/loam/server/store"
)

// engineQueries exercise the engine's ways of reading: timestamps alone,
// timestamps of filtered lines, entries through a pipeline, and logs.
var engineQueries = []string{
	`count_over_time({env="prod"}[1m])`,
	`sum by (app) (count_over_time({env=~".+"}[5m]))`,
	`sum by (app) (rate({env=~".+"} |= "level=error" [5m]))`,
	`sum(count_over_time({app="app3"}[2m]))`,
	`count_over_time({app="app3"} | trace_id="t1" [5m])`,
	`sum by (level) (count_over_time({env=~".+"} | logfmt [5m]))`,
	`topk(2, sum by (app) (bytes_over_time({env=~".+"}[10m])))`,
	`sum by (app) (avg_over_time({env=~".+"} | logfmt | unwrap duration(took) [5m]))`,
	`{env="prod"} |= "warn"`,
	`{app="app3"} | logfmt | level="error"`,
}

// TestEngineOverFanout: LogQL over replicas answers what it answers over
// one store holding the union: counts are not multiplied by the replicas.
func TestEngineOverFanout(t *testing.T) {
	setups := []struct {
		placement string
		u         []ent
	}{
		{"all", universe(11, 500)},
		{"streams on two of three", universe(12, 500)},
		// Entries spread one by one are counted exactly while no two
		// lines of a stream share a time (see the package comment).
		{"two of three", universeOf(13, 500, false)},
	}
	for si, setup := range setups {
		var pl placement
		for _, p := range placements {
			if p.name == setup.placement {
				pl = p.p
			}
		}
		c := newCluster(t, setup.u, 3, pl, uint64(si)+70)
		f := c.fanout(0, nil)
		ref := store.Local{Store: c.union}
		start, end := time.Unix(0, base), time.Unix(0, base+int64(20*time.Minute))
		for _, q := range engineQueries {
			expr, err := logql.ParseExpr(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, backward := range []bool{false, true} {
				p := engine.Params{Tenant: tenant, Expr: expr, Start: start.UnixNano(), End: end.UnixNano(),
					Step: time.Minute, Backward: backward, Limit: 100000}
				want, err := engine.New(ref, engine.Limits{}).Query(context.Background(), p)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				got, err := engine.New(f, engine.Limits{}).Query(context.Background(), p)
				if err != nil {
					t.Fatalf("%s over fanout: %v", q, err)
				}
				canonical(want)
				canonical(got)
				if len(want.Matrix)+len(want.Streams) == 0 {
					t.Fatalf("%s: empty answer", q)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s/%s backward=%v: over fanout\n%.600s\nwant\n%.600s", setup.placement, q, backward, show(got), show(want))
				}
			}
		}
	}
}

// canonical sorts the entries of each (stream, time) by line: their order
// among themselves depends on where each replica keeps them.
func canonical(r *engine.Result) {
	for _, s := range r.Streams {
		es := s.Entries
		for i := 0; i < len(es); {
			j := i + 1
			for j < len(es) && es[j].T == es[i].T {
				j++
			}
			slices.SortFunc(es[i:j], func(a, b engine.Entry) int { return strings.Compare(a.Line, b.Line) })
			i = j
		}
	}
}

func show(r *engine.Result) string {
	var b strings.Builder
	for _, s := range r.Matrix {
		fmt.Fprintf(&b, "%s %v\n", s.Labels, s.Points)
	}
	for _, s := range r.Streams {
		fmt.Fprintf(&b, "%s %d entries\n", s.Labels.All, len(s.Entries))
	}
	return b.String()
}

// TestConcurrentQueries: one Fanout serves many queries at once (and the
// engine reads shards of one query in parallel), while the replicas take
// appends; the race detector watches.
func TestConcurrentQueries(t *testing.T) {
	u := universe(14, 300)
	c := newCluster(t, u, 3, placements[0].p, 80)
	f := c.fanout(1, nil)
	expr, err := logql.ParseExpr(`sum by (app) (count_over_time({env=~".+"} |= "error" [5m]))`)
	if err != nil {
		t.Fatal(err)
	}
	p := engine.Params{Tenant: tenant, Expr: expr, Start: base, End: base + int64(20*time.Minute), Step: time.Minute}
	want, err := engine.New(store.Local{Store: c.union}, engine.Limits{}).Query(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		// Appends of a later time than the queries read.
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			for _, s := range c.replicas {
				fill := []store.Stream{{Labels: u[0].ls, Entries: []block.Entry{{T: base + int64(time.Hour) + int64(i), Line: []byte("later error")}}}}
				if _, err := s.Append(tenant, fill); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := engine.New(f, engine.Limits{Parallelism: 3}).Query(context.Background(), p)
			if err == nil && !reflect.DeepEqual(got, want) {
				err = fmt.Errorf("answer differs: %.300s", show(got))
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	<-done
}
