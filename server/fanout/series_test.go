package fanout

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// TestSeriesAndLabelsEqualUnion: series, label names and values are the
// union's, each once.
func TestSeriesAndLabelsEqualUnion(t *testing.T) {
	u := universe(5, 50)
	// A stream only one replica holds.
	extra := labels.FromMap(map[string]string{"app": "lonely", "zone": "z1"})
	for pi, pl := range placements {
		c := newCluster(t, u, 3, pl.p, uint64(pi)+20)
		e := u[0].e
		for _, s := range []*store.Store{c.replicas[pi%3], c.union} {
			if _, err := s.Append(tenant, []store.Stream{{Labels: extra, Entries: []block.Entry{{T: e.T, Line: e.Line}}}}); err != nil {
				t.Fatal(err)
			}
		}
		f := c.fanout(0, nil)
		ref := store.Local{Store: c.union}
		ctx := context.Background()
		end := base + int64(24*time.Hour)
		for _, sets := range [][][]*labels.Matcher{nil, {{labels.MustMatcher(labels.MatchEqual, "env", "prod")}},
			{{labels.MustMatcher(labels.MatchEqual, "app", "app1")}, {labels.MustMatcher(labels.MatchRegexp, "app", "lone.*")}}} {
			series := func(r Reader) []string {
				var out []string
				if err := r.Series(ctx, tenant, sets, base, end, func(ls labels.Labels) { out = append(out, ls.String()) }); err != nil {
					t.Fatal(err)
				}
				slices.Sort(out)
				return out
			}
			got, want := series(f), series(ref)
			if !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("%s: series %v, want %v", pl.name, got, want)
			}
		}
		ms := []*labels.Matcher{labels.MustMatcher(labels.MatchRegexp, "app", "app[0-3]|lonely")}
		for _, ms := range [][]*labels.Matcher{nil, ms} {
			got, err := f.LabelNames(ctx, tenant, ms, base, end)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ref.LabelNames(ctx, tenant, ms, base, end)
			if !slices.Equal(got, want) {
				t.Errorf("%s: names %v, want %v", pl.name, got, want)
			}
			for _, name := range []string{"app", "env", "zone", "none"} {
				got, err := f.LabelValues(ctx, tenant, name, ms, base, end)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := ref.LabelValues(ctx, tenant, name, ms, base, end)
				if !slices.Equal(got, want) || got == nil {
					t.Errorf("%s: values of %s %v, want %v", pl.name, name, got, want)
				}
			}
		}
	}
}

// TestStats: per stream and bucket, each figure is the most any replica
// has; with every replica holding all, the entries are the union's.
func TestStats(t *testing.T) {
	u := universe(6, 300)
	last := u[len(u)-1].e.T
	for _, t0 := range u {
		last = max(last, t0.e.T)
	}
	bounds := []int64{base, base + (last-base)/3, base + 2*(last-base)/3, last + 1}
	for pi, pl := range placements {
		c := newCluster(t, u, 3, pl.p, uint64(pi)+30)
		f := c.fanout(0, nil)
		p := store.StatsParams{Tenant: tenant, Bounds: bounds}
		got := stats(t, f, p, true)
		want := map[string][]store.Figures{}
		for _, s := range c.replicas {
			for k, figs := range stats(t, store.Local{Store: s}, p, false) {
				if want[k] == nil {
					want[k] = make([]store.Figures, len(figs))
				}
				for b := range figs {
					want[k][b].Entries = max(want[k][b].Entries, figs[b].Entries)
					want[k][b].Bytes = max(want[k][b].Bytes, figs[b].Bytes)
					want[k][b].Chunks = max(want[k][b].Chunks, figs[b].Chunks)
				}
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d streams, want %d", pl.name, len(got), len(want))
		}
		for k, figs := range want {
			if !slices.Equal(got[k], figs) {
				t.Errorf("%s: %s: %v, want %v", pl.name, k, got[k], figs)
			}
		}
		if pl.name == "all" {
			union := stats(t, store.Local{Store: c.union}, p, false)
			for k, figs := range union {
				for b := range figs {
					if got[k][b].Entries != figs[b].Entries {
						t.Errorf("all: %s bucket %d: %d entries, want the union's %d", k, b, got[k][b].Entries, figs[b].Entries)
					}
				}
			}
		}
	}
	f := newCluster(t, u[:10], 2, placements[0].p, 1).fanout(0, nil)
	if err := f.Stats(context.Background(), store.StatsParams{Tenant: tenant, Bounds: []int64{5, 1}}, func(labels.Labels, []store.Figures) {}); err == nil {
		t.Error("bounds out of order: no error")
	}
}

// stats reads r's Stats, adding up the calls of each stream; once says
// that a stream must come in one call.
func stats(t *testing.T, r Reader, p store.StatsParams, once bool) map[string][]store.Figures {
	t.Helper()
	out := map[string][]store.Figures{}
	err := r.Stats(context.Background(), p, func(ls labels.Labels, figs []store.Figures) {
		k := ls.String()
		if out[k] == nil {
			out[k] = make([]store.Figures, len(figs))
		} else if once {
			t.Fatalf("stream %s passed twice", k)
		}
		for b, f := range figs {
			out[k][b].Entries += f.Entries
			out[k][b].Bytes += f.Bytes
			out[k][b].Chunks += f.Chunks
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
