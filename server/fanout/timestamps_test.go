package fanout

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

type seriesTime struct {
	series string // stream and metadata
	t      int64
}

// timestamps reads r's Timestamps into counts by (stream with metadata,
// time) and by (stream, time), checking the order of the calls.
func timestamps(t *testing.T, r Reader, p store.SelectParams, keep func([]byte) bool) (map[seriesTime]int, map[streamTime]int) {
	t.Helper()
	full, byStream := map[seriesTime]int{}, map[streamTime]int{}
	var last labels.Labels
	var lastT int64
	done := map[string]bool{}
	err := r.Timestamps(context.Background(), p, keep, func(ls, meta labels.Labels, ts []int64) {
		if !ls.Equal(last) {
			if done[ls.String()] {
				t.Fatalf("stream %s comes back", ls)
			}
			if last != nil {
				done[last.String()] = true
				if labels.Compare(last, ls) > 0 {
					t.Fatalf("stream %s after %s", ls, last)
				}
			}
			last, lastT = ls, 0
		}
		for _, x := range ts {
			if x < lastT {
				t.Fatalf("%s: %d after %d", ls, x, lastT)
			}
			lastT = x
			full[seriesTime{ls.String() + meta.String(), x}]++
			byStream[streamTime{ls.String(), x}]++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return full, byStream
}

// TestTimestampsEqualsUnion: with a line filter the counts are the
// union's, exactly; without one, per (stream, time) they are the most any
// replica holds, which is the union's when every replica holds all.
func TestTimestampsEqualsUnion(t *testing.T) {
	u := universe(3, 400)
	keeps := []struct {
		name string
		keep func([]byte) bool
	}{
		{"error lines", func(l []byte) bool { return bytes.Contains(l, []byte("level=error")) }},
		{"every line", func([]byte) bool { return true }},
	}
	for pi, pl := range placements {
		c := newCluster(t, u, 3, pl.p, uint64(pi)+10)
		for _, hashed := range []bool{false, true} {
			f := c.fanout(0, nil)
			if hashed {
				// As a remote replica: hashes handed over by the replica.
				f = c.fanout(0, func(_ int, r Reader) Reader { return hashing{r} })
			}
			for _, k := range keeps {
				name := fmt.Sprintf("%s/%s/hashed by replica %v", pl.name, k.name, hashed)
				p := allParams(store.Forward)
				got, _ := timestamps(t, f, p, k.keep)
				want, _ := timestamps(t, store.Local{Store: c.union}, p, k.keep)
				if !maps2Equal(got, want) {
					t.Errorf("%s: counts differ from the union's (%d, want %d keys)", name, len(got), len(want))
				}
			}
			_, got := timestamps(t, f, allParams(store.Forward), nil)
			if want := maxCounts(c); !maps2Equal(got, want) {
				t.Errorf("%s/no filter: counts differ from the most any replica holds", pl.name)
			}
			if pl.name == "all" {
				got, _ := timestamps(t, f, allParams(store.Forward), nil)
				want, _ := timestamps(t, store.Local{Store: c.union}, allParams(store.Forward), nil)
				if !maps2Equal(got, want) {
					t.Errorf("all/no filter: counts differ from the union's")
				}
			}
		}
	}
}

// hashing is a replica that hands over line hashes itself, as a remote
// one does.
type hashing struct{ Reader }

func (h hashing) HashedTimestamps(ctx context.Context, p store.SelectParams, keep func([]byte) bool,
	fn func(ls, meta labels.Labels, ts []int64, hashes []uint64)) error {
	return HashTimestamps(ctx, h.Reader, p, keep, func(ls, meta labels.Labels, ts []int64, hs []uint64) {
		// The slices are lent for the call only.
		fn(slices.Clone(ls), meta, slices.Clone(ts), slices.Clone(hs))
		clear(ts)
	})
}

// TestHashTimestamps: the hashes are those of the lines at each time.
func TestHashTimestamps(t *testing.T) {
	u := universe(4, 100)
	s := openStore(t)
	fill(t, s, u, 0.5)
	want := map[[2]uint64]int{}
	for _, e := range u {
		want[[2]uint64{uint64(e.e.T), LineHash(e.e.Line)}]++
	}
	got := map[[2]uint64]int{}
	err := HashTimestamps(context.Background(), store.Local{Store: s}, allParams(store.Forward), nil,
		func(_, _ labels.Labels, ts []int64, hs []uint64) {
			if len(ts) != len(hs) {
				t.Fatalf("%d timestamps, %d hashes", len(ts), len(hs))
			}
			for i := range ts {
				got[[2]uint64{uint64(ts[i]), hs[i]}]++
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if !maps2Equal(got, want) {
		t.Errorf("hashes differ: %d, want %d", len(got), len(want))
	}
}

// TestTimestampsDisjoint: replicas holding disjoint streams, as a split read
// from one owner per stream reads them, count with a line filter exactly
// without handing over line hashes.
func TestTimestampsDisjoint(t *testing.T) {
	u := universe(5, 300)
	// Each stream on one replica, as a ring places it.
	byStream := func(_ *rand.Rand, e ent, n int) []int { return []int{int(e.ls.Hash() % uint64(n))} }
	c := newCluster(t, u, 3, byStream, 21)
	keep := func(l []byte) bool { return bytes.Contains(l, []byte("level=error")) }
	var rs []Replica
	for i, s := range c.replicas {
		rs = append(rs, Replica{Name: fmt.Sprintf("node-%d", i), Reader: noHashes{t, store.Local{Store: s}}})
	}
	f := New(Config{Disjoint: true}, rs)
	got, _ := timestamps(t, f, allParams(store.Forward), keep)
	want, _ := timestamps(t, store.Local{Store: c.union}, allParams(store.Forward), keep)
	if len(want) == 0 || !maps2Equal(got, want) {
		t.Fatalf("counts differ from the union's (%d, want %d keys)", len(got), len(want))
	}
}

// noHashes is a replica that fails the test when asked for line hashes.
type noHashes struct {
	t *testing.T
	Reader
}

func (n noHashes) HashedTimestamps(context.Context, store.SelectParams, func([]byte) bool,
	func(ls, meta labels.Labels, ts []int64, hashes []uint64)) error {
	n.t.Error("line hashes asked of a disjoint replica")
	return nil
}
