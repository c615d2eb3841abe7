package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gorilla/mux"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/ring"
	"github.com/loam-logs/loam/server/store"
)

// TestShareSound is the argument of Share's comment, tried on random
// histories: members join and leave between pushes, each push lands on a
// random quorum (or more) of its stream's owners of the time, and nodes
// that took a push with fewer copies than the full quorum answer whole.
// A read planned on the last placement must meet every entry on some
// node that reads its stream.
func TestShareSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c", "d", "e", "f"}
	for round := range 300 {
		rf := 1 + rng.IntN(5)
		tokens := 1 + rng.IntN(32)
		// A placement: a random non-empty subset of the names.
		pick := func() []string {
			var ms []string
			for len(ms) == 0 {
				for _, n := range names {
					if rng.IntN(3) > 0 {
						ms = append(ms, n)
					}
				}
			}
			return ms
		}
		placement := func(ms []string) *ring.Placement {
			rm := make([]ring.Member, len(ms))
			for i, n := range ms {
				rm[i] = ring.Member{Name: n, State: ring.Active, Tokens: ring.Tokens(n, tokens)}
			}
			return ring.NewPlacement(rm)
		}
		type write struct {
			stream  labels.Labels
			holders []string
		}
		var writes []write
		whole := map[string]bool{}
		for range 1 + rng.IntN(4) { // epochs of the ring
			p := placement(pick())
			for range 20 {
				ls := labels.New(labels.Label{Name: "s", Value: fmt.Sprint(rng.IntN(50))})
				owners := p.Owners(ring.StreamKey("t", ls.String()), rf, nil)
				need := len(owners)/2 + 1
				var holders []string
				for _, i := range rng.Perm(len(owners)) {
					if len(holders) < need || rng.IntN(2) == 0 {
						holders = append(holders, owners[i].Name)
					}
				}
				if need < rf/2+1 {
					for _, h := range holders {
						whole[h] = true
					}
				}
				writes = append(writes, write{ls, holders})
			}
		}
		// The read: every node holding data is a member (owning or not),
		// the placement is of the owning ones.
		final := pick()
		var ms []ShareMember
		for _, n := range final {
			ms = append(ms, ShareMember{Name: n, Tokens: tokens})
		}
		for i, w := range writes {
			found := slices.ContainsFunc(w.holders, func(h string) bool {
				return whole[h] || NewShare(h, rf, ms).Keep("t", w.stream)
			})
			if !found {
				t.Fatalf("round %d (rf %d, final %v): write %d of %s on %v is read by none", round, rf, final, i, w.stream, w.holders)
			}
		}
	}
}

// TestShareSplits: when every member owns every stream (as many members
// as the replication factor), and so holds it, the members' shares read
// each stream from ReadReplicas(RF) of them, and together everything.
// (A member that does not own a stream reads all it holds of it, which
// in a ring that did not change is nothing.)
func TestShareSplits(t *testing.T) {
	s := openStore(t)
	fill(t, s, 40)
	all := store.SelectParams{Tenant: "t1", Start: 0, End: 1 << 62, Matchers: mustMatchers(t, `{env=~".+"}`)}
	want, _ := collect(t, store.Local{Store: s}, all)
	for _, ms := range [][]ShareMember{
		{{"n1", 16}, {"n2", 16}},
		{{"n1", 16}, {"n2", 16}, {"n3", 16}},
		{{"n1", 16}, {"n2", 16}, {"n3", 16}, {"n4", 16}, {"n5", 16}},
	} {
		for _, one := range []bool{false, true} {
			rf := len(ms)
			count := map[string]int{}
			for _, m := range ms {
				p := all
				sh := NewShare(m.Name, rf, ms)
				sh.One = one
				p.Streams = sh
				got, _ := collect(t, store.Local{Store: s}, p)
				for _, e := range got {
					count[e]++
				}
			}
			wantN := ReadReplicas(rf)
			if one {
				wantN = 1
			}
			for _, e := range want {
				if count[e] != wantN {
					t.Fatalf("rf %d, one owner %v: %s read %d times, want %d", rf, one, e, count[e], wantN)
				}
			}
		}
	}
}

// TestShareOneOverTheWire: share_one travels with the share.
func TestShareOneOverTheWire(t *testing.T) {
	s := openStore(t)
	fill(t, s, 40)
	router := mux.NewRouter()
	NewReadServer(store.Local{Store: s}, ServerOptions{}).Register(router)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	r := NewRemote("peer", srv.URL, NewHTTPClient(), nil)
	ms := []ShareMember{{"n1", 16}, {"n2", 16}, {"n3", 16}}
	p := store.SelectParams{Tenant: "t1", Start: 0, End: 1 << 62, Matchers: mustMatchers(t, `{env=~".+"}`)}
	for _, one := range []bool{false, true} {
		sh := NewShare("n1", 3, ms)
		sh.One = one
		p.Streams = sh
		want, _ := collect(t, store.Local{Store: s}, p)
		got, _ := collect(t, r, p)
		if !slices.Equal(got, want) {
			t.Fatalf("one owner %v: %d entries over the wire, %d locally", one, len(got), len(want))
		}
	}
}

// TestShareWhole: a node that answers whole ignores the share it is sent.
func TestShareWhole(t *testing.T) {
	s := openStore(t)
	fill(t, s, 40)
	whole := false
	router := mux.NewRouter()
	NewReadServer(store.Local{Store: s}, ServerOptions{Whole: func() bool { return whole }}).Register(router)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	r := NewRemote("peer", srv.URL, NewHTTPClient(), nil)
	p := store.SelectParams{Tenant: "t1", Start: 0, End: 1 << 62, Matchers: mustMatchers(t, `{env=~".+"}`),
		Streams: NewShare("n1", 3, []ShareMember{{"n1", 16}, {"n2", 16}, {"n3", 16}, {"n4", 16}, {"n5", 16}})}
	all, _ := collect(t, store.Local{Store: s}, store.SelectParams{Tenant: p.Tenant, Start: p.Start, End: p.End, Matchers: p.Matchers})
	part, _ := collect(t, r, p)
	if len(part) == 0 || len(part) >= len(all) {
		t.Fatalf("the share read %d of %d entries", len(part), len(all))
	}
	whole = true
	got, _ := collect(t, r, p)
	if !slices.Equal(got, all) {
		t.Fatalf("answering whole: %d entries, want %d", len(got), len(all))
	}
	n := 0
	if err := r.Timestamps(context.Background(), p, nil, func(ls, meta labels.Labels, ts []int64) { n += len(ts) }); err != nil {
		t.Fatal(err)
	}
	if n != len(all) {
		t.Fatalf("timestamps answering whole: %d, want %d", n, len(all))
	}
}
