package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveOwners is the definition: all (token, member) pairs of owning
// members sorted, walked from the first token >= key, wrapping.
func naiveOwners(d Desc, key uint32, rf int) []string {
	type pair struct {
		tok  uint32
		name string
	}
	var ps []pair
	for _, m := range d {
		if m.State == Joining || m.State == Active {
			for _, t := range m.Tokens {
				ps = append(ps, pair{t, m.Name})
			}
		}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if a.tok != b.tok {
			return int(int64(a.tok) - int64(b.tok))
		}
		if a.name < b.name {
			return -1
		}
		return 1
	})
	start := len(ps)
	for i, p := range ps {
		if p.tok >= key {
			start = i
			break
		}
	}
	var out []string
	for i := range ps {
		p := ps[(start+i)%len(ps)]
		if !slices.Contains(out, p.name) && len(out) < rf {
			out = append(out, p.name)
		}
	}
	return out
}

func names(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestOwnersTable(t *testing.T) {
	d := Desc{
		"a": {Name: "a", State: Active, Tokens: []uint32{100, 400}},
		"b": {Name: "b", State: Joining, Tokens: []uint32{200}},
		"c": {Name: "c", State: Active, Tokens: []uint32{300, 400}}, // 400 collides with a's: a first
		"d": {Name: "d", State: Leaving, Tokens: []uint32{150}},
		"e": {Name: "e", State: Left, Tokens: []uint32{250}},
	}
	s := newSnapshot(d, nil, nil)
	for _, tc := range []struct {
		key  uint32
		rf   int
		want []string
	}{
		{0, 1, []string{"a"}},
		{100, 1, []string{"a"}},
		{101, 1, []string{"b"}}, // d's 150 is skipped: LEAVING
		{101, 3, []string{"b", "c", "a"}},
		{201, 2, []string{"c", "a"}}, // e's 250 is skipped: LEFT
		{301, 2, []string{"a", "c"}}, // 400 is a's and c's: a, then c at the same token
		{401, 2, []string{"a", "b"}}, // wraps
		{math.MaxUint32, 3, []string{"a", "b", "c"}},
		{0, 10, []string{"a", "b", "c"}}, // only 3 own keys
		{0, 0, nil},
	} {
		got := names(s.owners(tc.key, tc.rf, nil))
		if !slices.Equal(got, tc.want) {
			t.Errorf("owners(%d, %d) = %v, want %v", tc.key, tc.rf, got, tc.want)
		}
	}
	if got := newSnapshot(Desc{}, nil, nil).owners(5, 3, nil); len(got) != 0 {
		t.Errorf("empty ring has owners %v", got)
	}
	// Shares: a owns (400, 2^32) ∪ [0, 100] and (300, 400]; b (100, 200];
	// c (200, 300]; the rest nothing.
	want := map[string]float64{"a": (1<<32 - 400 + 101 + 100 - 1) / float64(1<<32), "b": 100 / float64(1<<32), "c": 100 / float64(1<<32)}
	for i, m := range s.members {
		if math.Abs(s.share[i]-want[m.Name]) > 1e-12 {
			t.Errorf("share of %s = %v, want %v", m.Name, s.share[i], want[m.Name])
		}
	}
}

func TestOwnersMatchDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for round := range 200 {
		d := Desc{}
		for i := range 1 + rng.IntN(8) {
			name := fmt.Sprintf("n%d", i)
			toks := Tokens(name, 1+rng.IntN(16))
			if rng.IntN(4) == 0 { // collisions with another member
				toks = Tokens("n0", len(toks))
			}
			d[name] = Member{Name: name, State: State(1 + rng.IntN(4)), Tokens: toks}
		}
		s := newSnapshot(d, nil, nil)
		var sum float64
		for _, x := range s.share {
			sum += x
		}
		if s.owning > 0 && math.Abs(sum-1) > 1e-9 {
			t.Fatalf("round %d: shares sum to %v", round, sum)
		}
		dst := make([]Member, 0, 5)
		for range 200 {
			key, rf := rng.Uint32(), 1+rng.IntN(5)
			if rng.IntN(10) == 0 {
				key = d["n0"].Tokens[0] // exactly on a token
			}
			want := naiveOwners(d, key, rf)
			dst = s.owners(key, rf, dst)
			if got := names(dst); !slices.Equal(got, want) {
				t.Fatalf("round %d: owners(%d, %d) = %v, want %v", round, key, rf, got, want)
			}
		}
	}
}

func testRing(members, tokens int) *snapshot {
	d := Desc{}
	for i := range members {
		name := fmt.Sprintf("loam-%d", i)
		d[name] = Member{Name: name, State: Active, Tokens: Tokens(name, tokens)}
	}
	return newSnapshot(d, nil, nil)
}

func TestOwnersDoesNotAllocate(t *testing.T) {
	s := testRing(5, DefaultTokens)
	dst := make([]Member, 0, 3)
	key := uint32(0)
	if n := testing.AllocsPerRun(1000, func() { key += 7919; dst = s.owners(key, 3, dst) }); n != 0 {
		t.Errorf("owners allocates %v times", n)
	}
}

// TestOwnershipBalance: with 128 tokens, three members own about a third
// of the keys each.
func TestOwnershipBalance(t *testing.T) {
	s := testRing(3, DefaultTokens)
	for i, x := range s.share {
		if x < 0.25 || x > 0.42 {
			t.Errorf("%s owns %.3f of the ring", s.members[i].Name, x)
		}
	}
}

func BenchmarkOwners(b *testing.B) {
	s := testRing(10, DefaultTokens)
	dst := make([]Member, 0, 3)
	key := uint32(0)
	for b.Loop() {
		key += 2654435761
		dst = s.owners(key, 3, dst)
	}
}
