package cluster

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/engine"
	"github.com/loam-logs/loam/server/store"
)

// filterLocal records the line filters Timestamps was asked for.
type filterLocal struct {
	store.Local
	mu      sync.Mutex
	filters map[string]bool
}

func (l *filterLocal) Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	l.mu.Lock()
	l.filters[p.LineFilter] = true
	l.mu.Unlock()
	return l.Local.Timestamps(ctx, p, keep, fn)
}

// TestEngineThroughRemote: queries evaluated over a Remote answer as over
// the store, the line filters of counting queries compiled on the peer
// from SelectParams.LineFilter.
func TestEngineThroughRemote(t *testing.T) {
	s := openStore(t)
	fill(t, s, 3000)
	local := &filterLocal{Local: store.Local{Store: s}, filters: map[string]bool{}}
	r, _ := serve(t, local, nil)
	direct, remote := engine.New(s, engine.Limits{}), engine.New(r, engine.Limits{})
	end := t0 + int64(4*time.Second)
	for _, c := range []struct {
		q      string
		filter string // the LineFilter the peer must have been sent
	}{
		{`sum by (app) (count_over_time({env=~".+"} |= "error" != "10.0.0.7" [1s]))`, `|= "error" != "10.0.0.7"`},
		{`count_over_time({app="api"} |~ "n=1.*" or "n=2" [500ms])`, `|~ "n=1.*" or "n=2"`},
		{`sum(rate({env="prod"} |= ip("10.0.0.0/29") | line_format "x" [1s]))`, `|= ip("10.0.0.0/29")`},
		{`sum by (app) (rate({env="prod"}[1s]))`, ``},
		{`sum by (user) (count_over_time({env="dev"} | logfmt | level="error" [1s]))`, ``},
		{`{env=~".+"} |= "error"`, ``},
	} {
		t.Run(c.q, func(t *testing.T) {
			e, err := logql.ParseExpr(c.q)
			if err != nil {
				t.Fatal(err)
			}
			p := engine.Params{Tenant: "t1", Expr: e, Start: t0, End: end, Step: 250 * time.Millisecond, Limit: 100, Backward: true}
			want, err := direct.Query(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.Query(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("through the remote:\n%+v\ndirect:\n%+v", got, want)
			}
			if len(want.Matrix)+len(want.Streams) == 0 {
				t.Fatal("empty answer: the case tests nothing")
			}
			if c.filter != "" && !local.filters[c.filter] {
				t.Errorf("the peer was sent the line filters %v, not %q", local.filters, c.filter)
			}
		})
	}
}
