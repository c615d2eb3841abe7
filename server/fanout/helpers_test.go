package fanout

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/wal"
)

// base is the time of the tests' first entries.
var base = time.Now().Add(-48 * time.Hour).Truncate(time.Minute).UnixNano()

const tenant = "t1"

func openStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(store.Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ent is an entry of the test universe, with its stream.
type ent struct {
	ls labels.Labels
	e  block.Entry
}

// universe returns the entries of a few streams, in time order per stream:
// every fifth or so shares its timestamp with the one before (another
// line), one stream carries structured metadata.
func universe(seed uint64, perStream int) []ent { return universeOf(seed, perStream, true) }

// universeOf is universe, with timestamps shared or not.
func universeOf(seed uint64, perStream int, shared bool) []ent {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []ent
	for s := range 5 {
		ls := labels.FromMap(map[string]string{"app": fmt.Sprintf("app%d", s), "env": []string{"prod", "dev"}[s%2]})
		t := base
		for i := range perStream {
			if i == 0 || rng.IntN(5) != 0 || !shared {
				t += 1 + rng.Int64N(int64(2*time.Second))
			}
			e := block.Entry{T: t, Line: fmt.Appendf(nil, "level=%s app=%d msg=\"request %d\" took=%dms",
				[]string{"info", "warn", "error"}[rng.IntN(3)], s, i, rng.IntN(500))}
			if s == 3 {
				e.Meta = labels.FromMap(map[string]string{"trace_id": fmt.Sprintf("t%d", rng.IntN(4))})
			}
			out = append(out, ent{ls, e})
		}
	}
	return out
}

// placement says which of n replicas hold an entry of the universe.
type placement func(rng *rand.Rand, e ent, n int) []int

var placements = []struct {
	name string
	p    placement
}{
	{"all", func(_ *rand.Rand, _ ent, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}},
	{"two of three", func(rng *rand.Rand, _ ent, n int) []int {
		skip := rng.IntN(n)
		var out []int
		for r := range n {
			if r != skip {
				out = append(out, r)
			}
		}
		return out
	}},
	{"one each", func(rng *rand.Rand, _ ent, n int) []int { return []int{rng.IntN(n)} }},
	{"streams on two of three", func(_ *rand.Rand, e ent, n int) []int {
		// As a ring places them: a stream's entries on the same replicas.
		skip := int(e.ls.Hash() % uint64(n))
		var out []int
		for r := range n {
			if r != skip {
				out = append(out, r)
			}
		}
		return out
	}},
	{"some", func(rng *rand.Rand, _ ent, n int) []int {
		var out []int
		for len(out) == 0 {
			for r := range n {
				if rng.IntN(2) == 0 {
					out = append(out, r)
				}
			}
		}
		return out
	}},
}

// cluster is n stores holding parts of a universe, and one store holding
// all of it.
type cluster struct {
	u        []ent
	replicas []*store.Store
	held     [][]ent // what each replica holds
	union    *store.Store
}

// newCluster spreads u over n stores by p. Each store has part of its
// entries flushed to blocks, at a point of its own, the rest in its head.
func newCluster(t testing.TB, u []ent, n int, p placement, seed uint64) *cluster {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	c := &cluster{u: u, held: make([][]ent, n), union: openStore(t)}
	for _, e := range u {
		for _, r := range p(rng, e, n) {
			c.held[r] = append(c.held[r], e)
		}
	}
	for r := range n {
		s := openStore(t)
		fill(t, s, c.held[r], 0.2+0.6*rng.Float64())
		c.replicas = append(c.replicas, s)
	}
	fill(t, c.union, u, 0.5)
	return c
}

// fill appends es to s in time order, flushing after the first share of
// them.
func fill(t testing.TB, s *store.Store, es []ent, share float64) {
	t.Helper()
	es = slices.Clone(es)
	slices.SortStableFunc(es, func(a, b ent) int { return cmp.Compare(a.e.T, b.e.T) })
	cut := int(float64(len(es)) * share)
	add := func(es []ent) {
		for len(es) > 500 {
			add1(t, s, es[:500])
			es = es[500:]
		}
		add1(t, s, es)
	}
	add(es[:cut])
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	add(es[cut:])
}

// add1 appends es to s in one call.
func add1(t testing.TB, s *store.Store, es []ent) {
	t.Helper()
	var streams []store.Stream
	for _, e := range es {
		i := slices.IndexFunc(streams, func(s store.Stream) bool { return s.Labels.Equal(e.ls) })
		if i < 0 {
			i = len(streams)
			streams = append(streams, store.Stream{Labels: e.ls})
		}
		streams[i].Entries = append(streams[i].Entries, e.e)
	}
	rejected, err := s.Append(tenant, streams)
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) > 0 {
		t.Fatalf("%d entries rejected: %v", len(rejected), rejected[0])
	}
}

// fanout returns a Fanout over the cluster's replicas.
func (c *cluster) fanout(maxMissing int, wrap func(i int, r Reader) Reader) *Fanout {
	var rs []Replica
	for i, s := range c.replicas {
		var r Reader = store.Local{Store: s}
		if wrap != nil {
			r = wrap(i, r)
		}
		rs = append(rs, Replica{Name: fmt.Sprintf("node-%d", i), Reader: r})
	}
	return New(Config{MaxMissing: maxMissing}, rs)
}

// got is an entry as read, comparable.
type got struct {
	stream string
	t      int64
	line   string
	meta   string
}

func (g got) String() string { return fmt.Sprintf("%s@%d %q %s", g.stream, g.t, g.line, g.meta) }

// readAll reads at most limit entries of an iterator (all when limit is 0)
// and closes it.
func readAll(t testing.TB, it store.EntryIterator, limit int) []got {
	t.Helper()
	defer it.Close()
	var out []got
	for it.Next() {
		ls, e := it.At()
		out = append(out, got{ls.String(), e.T, string(e.Line), e.Meta.String()})
		if limit > 0 && len(out) == limit {
			return out
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func selectAll(t testing.TB, r Reader, p store.SelectParams, limit int) []got {
	t.Helper()
	it, err := r.Select(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, it, limit)
}

// normalize sorts the entries of each (stream, timestamp) by line: their
// order among themselves depends on where each replica keeps them.
func normalize(gs []got) []got {
	out := slices.Clone(gs)
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && out[j].stream == out[i].stream && out[j].t == out[i].t {
			j++
		}
		slices.SortFunc(out[i:j], func(a, b got) int { return strings.Compare(a.line, b.line) })
		i = j
	}
	return out
}

// byStream sorts entries by stream, then time, then line.
func byStream(gs []got) []got {
	out := slices.Clone(gs)
	slices.SortFunc(out, func(a, b got) int {
		return cmp.Or(strings.Compare(a.stream, b.stream), cmp.Compare(a.t, b.t), strings.Compare(a.line, b.line))
	})
	return out
}

func diff(t testing.TB, what string, got, want []got) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: entry %d is %s, want %s", what, i, got[i], want[i])
			return
		}
	}
}

func allParams(dir store.Direction) store.SelectParams {
	return store.SelectParams{Tenant: tenant, Start: base, End: base + int64(47*time.Hour), Direction: dir}
}
