package fanout

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// TestSelectEqualsUnion: over replicas holding overlapping or different
// parts of the same entries, Select answers what one store holding their
// union answers: in order, each entry once, in both directions, with
// selectors, needles and time ranges, and when stopped early.
func TestSelectEqualsUnion(t *testing.T) {
	u := universe(1, 400)
	for pi, pl := range placements {
		c := newCluster(t, u, 3, pl.p, uint64(pi))
		f := c.fanout(0, nil)
		mid := u[len(u)/2].e.T
		params := []struct {
			name string
			p    func(store.SelectParams) store.SelectParams
		}{
			{"all", func(p store.SelectParams) store.SelectParams { return p }},
			{"one stream", func(p store.SelectParams) store.SelectParams {
				p.Matchers = []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "app3")}
				return p
			}},
			{"env", func(p store.SelectParams) store.SelectParams {
				p.Matchers = []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "env", "prod")}
				return p
			}},
			{"range", func(p store.SelectParams) store.SelectParams {
				p.Start, p.End = mid-int64(60e9), mid+int64(60e9)
				return p
			}},
			{"needles", func(p store.SelectParams) store.SelectParams {
				p.Needles = [][]string{{"level=error"}}
				return p
			}},
		}
		for _, dir := range []store.Direction{store.Forward, store.Backward} {
			for _, tp := range params {
				name := fmt.Sprintf("%s/%s/dir %d", pl.name, tp.name, dir)
				p := tp.p(allParams(dir))
				sel := func(r Reader, p store.SelectParams, limit int) []got {
					gs := selectAll(t, r, p, limit)
					if len(p.Needles) > 0 {
						// Needles skip chunks without them: which other
						// lines come along depends on the chunks.
						gs = slices.DeleteFunc(gs, func(g got) bool { return !strings.Contains(g.line, p.Needles[0][0]) })
					}
					return gs
				}
				want := normalize(sel(store.Local{Store: c.union}, p, 0))
				if len(want) == 0 {
					t.Fatalf("%s: the union holds nothing", name)
				}
				diff(t, name, normalize(sel(f, p, 0)), want)
				// Stopped early, as a limit does: the same first entries
				// (but for the last (stream, time), which may be cut
				// elsewhere among its lines).
				for _, limit := range []int{1, 7, 100} {
					if len(p.Needles) > 0 {
						break
					}
					gotL, wantL := normalize(selectAll(t, f, p, limit)), want[:limit]
					if len(gotL) != limit {
						t.Errorf("%s limit %d: %d entries", name, limit, len(gotL))
						continue
					}
					last := wantL[limit-1]
					trim := func(gs []got) []got {
						return slices.DeleteFunc(slices.Clone(gs), func(g got) bool { return g.stream == last.stream && g.t == last.t })
					}
					diff(t, fmt.Sprintf("%s limit %d", name, limit), trim(gotL), trim(wantL))
				}
				// Unordered: each stream in order, streams in label
				// order, the same entries.
				p.Unordered = true
				un := sel(f, p, 0)
				checkUnordered(t, name+" unordered", un, dir)
				diff(t, name+" unordered", byStream(un), byStream(want))
			}
		}
	}
}

// checkUnordered checks the order of an unordered answer: stream after
// stream in label order, each in time order of dir.
func checkUnordered(t *testing.T, what string, gs []got, dir store.Direction) {
	t.Helper()
	for i := 1; i < len(gs); i++ {
		a, b := gs[i-1], gs[i]
		if a.stream == b.stream {
			if a.t != b.t && (a.t < b.t) != (dir == store.Forward) {
				t.Fatalf("%s: %s then %s: not in time order", what, a, b)
			}
			continue
		}
		for j := i + 1; j < len(gs); j++ {
			if gs[j].stream == a.stream {
				t.Fatalf("%s: stream %s comes back after %s", what, a.stream, b.stream)
			}
		}
	}
}

// TestSelectNoLines: without lines, a (stream, time) counts as many
// entries as the replica holding most of them; that is the union's count
// whenever one replica holds all the lines of each (stream, time).
func TestSelectNoLines(t *testing.T) {
	u := universe(2, 300)
	for pi, pl := range placements {
		c := newCluster(t, u, 3, pl.p, uint64(pi))
		f := c.fanout(0, nil)
		for _, unordered := range []bool{false, true} {
			p := allParams(store.Forward)
			p.NoLines, p.Unordered = true, unordered
			got := countByTime(selectAll(t, f, p, 0))
			want := maxCounts(c)
			if !maps2Equal(got, want) {
				t.Errorf("%s unordered=%v: counts by (stream, time) differ from the most any replica holds", pl.name, unordered)
			}
			if pl.name == "all" && !maps2Equal(got, countByTime(selectAll(t, store.Local{Store: c.union}, allParams(store.Forward), 0))) {
				t.Errorf("%s unordered=%v: counts differ from the union's", pl.name, unordered)
			}
		}
	}
}

type streamTime struct {
	stream string
	t      int64
}

func countByTime(gs []got) map[streamTime]int {
	out := map[streamTime]int{}
	for _, g := range gs {
		out[streamTime{g.stream, g.t}]++
	}
	return out
}

// maxCounts is, per (stream, time), the most entries a replica holds.
func maxCounts(c *cluster) map[streamTime]int {
	out := map[streamTime]int{}
	for _, held := range c.held {
		n := map[streamTime]int{}
		for _, e := range held {
			n[streamTime{e.ls.String(), e.e.T}]++
		}
		for k, v := range n {
			out[k] = max(out[k], v)
		}
	}
	return out
}

func maps2Equal[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// listed is a replica answering Select with fixed entries of one stream.
type listed struct {
	Reader
	es []block.Entry
}

func (l listed) Select(context.Context, store.SelectParams) (store.EntryIterator, error) {
	s := &sliceIter{}
	ls := labels.FromMap(map[string]string{"app": "x"})
	for _, e := range l.es {
		s.ls, s.es = append(s.ls, ls), append(s.es, e)
	}
	return s, nil
}

// TestMergeGroups: the lines of one (stream, time) come once each, in
// whatever order each replica holds them.
func TestMergeGroups(t *testing.T) {
	e := func(ts int64, line string) block.Entry { return block.Entry{T: ts, Line: []byte(line)} }
	tests := []struct {
		name     string
		replicas [][]block.Entry
		want     []string
	}{
		{"same order", [][]block.Entry{{e(1, "a"), e(1, "b"), e(2, "c")}, {e(1, "a"), e(1, "b"), e(2, "c")}}, []string{"1a", "1b", "2c"}},
		{"crossed", [][]block.Entry{{e(1, "a"), e(1, "b")}, {e(1, "b"), e(1, "a")}}, []string{"1a", "1b"}},
		{"crossed three", [][]block.Entry{{e(1, "a"), e(1, "b"), e(1, "c")}, {e(1, "c"), e(1, "b")}, {e(1, "b"), e(1, "a"), e(1, "d")}},
			[]string{"1a", "1b", "1c", "1d"}},
		{"disjoint lines", [][]block.Entry{{e(1, "a")}, {e(1, "b")}, {e(1, "c"), e(3, "a")}}, []string{"1a", "1b", "1c", "3a"}},
		{"one empty", [][]block.Entry{{}, {e(1, "a"), e(2, "a")}}, []string{"1a", "2a"}},
		{"interleaved", [][]block.Entry{{e(1, "a"), e(3, "c")}, {e(2, "b"), e(3, "c"), e(4, "d")}}, []string{"1a", "2b", "3c", "4d"}},
	}
	for _, tc := range tests {
		var rs []Replica
		for i, es := range tc.replicas {
			rs = append(rs, Replica{Name: fmt.Sprint(i), Reader: listed{es: es}})
		}
		var got []string
		for _, g := range selectAll(t, New(Config{}, rs), store.SelectParams{}, 0) {
			got = append(got, fmt.Sprint(g.t, g.line))
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
