package ring

import (
	"cmp"
	"slices"
	"sync/atomic"
)

// snapshot is an immutable view of the ring for lookups, rebuilt whenever
// a member is added or removed, changes state, tokens or addresses, or
// memberlist's view of its liveness changes. Heartbeats alone do not
// rebuild it: they advance the shared seen clocks.
type snapshot struct {
	members []Member // every member, by ascending name
	index   map[string]int32
	alive   []bool          // memberlist counted it alive when the snapshot was built
	seen    []*atomic.Int64 // the Ring's clocks of when each heartbeat last advanced
	share   []float64       // fraction of the key space each member owns first

	// The ring: the tokens of the members in an owning state, ascending;
	// owner[i] is the index in members of tokens[i]. Equal tokens of two
	// members are ordered by that index, so every node orders them alike.
	tokens []uint32
	owner  []int32
	owning int // members with tokens on the ring
}

// newSnapshot builds the view of d. alive and seen are read, not kept.
func newSnapshot(d Desc, alive map[string]bool, seen map[string]*atomic.Int64) *snapshot {
	s := &snapshot{members: make([]Member, 0, len(d)), index: make(map[string]int32, len(d))}
	for _, m := range d {
		s.members = append(s.members, m)
	}
	slices.SortFunc(s.members, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	s.alive = make([]bool, len(s.members))
	s.seen = make([]*atomic.Int64, len(s.members))
	s.share = make([]float64, len(s.members))
	type pair struct {
		token uint32
		owner int32
	}
	var pairs []pair
	for i, m := range s.members {
		s.index[m.Name] = int32(i)
		s.alive[i] = alive[m.Name]
		s.seen[i] = seen[m.Name]
		if m.State.Owning() && len(m.Tokens) > 0 {
			s.owning++
			for _, t := range m.Tokens {
				pairs = append(pairs, pair{t, int32(i)})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.token, b.token); c != 0 {
			return c
		}
		return cmp.Compare(a.owner, b.owner)
	})
	s.tokens = make([]uint32, len(pairs))
	s.owner = make([]int32, len(pairs))
	for i, p := range pairs {
		s.tokens[i], s.owner[i] = p.token, p.owner
	}
	// A key belongs first to the member of the first token at or after
	// it, wrapping around: token i covers (tokens[i-1], tokens[i]].
	const space = float64(1 << 32)
	for i := range s.tokens {
		var width uint32
		if i == 0 {
			width = s.tokens[0] - s.tokens[len(s.tokens)-1] // wraps: 2^32 - (last - first)
		} else {
			width = s.tokens[i] - s.tokens[i-1]
		}
		w := float64(width)
		if i == 0 && width == 0 {
			w = space // a single token position owns everything
		}
		s.share[s.owner[i]] += w / space
	}
	return s
}

// owners is Ring.Owners on this snapshot.
func (s *snapshot) owners(key uint32, rf int, dst []Member) []Member {
	dst = dst[:0]
	rf = min(rf, s.owning)
	if rf <= 0 {
		return dst
	}
	n := len(s.tokens)
	i, _ := slices.BinarySearch(s.tokens, key)
	for range n {
		if i == n {
			i = 0
		}
		m := &s.members[s.owner[i]]
		i++
		if !hasName(dst, m.Name) {
			if dst = append(dst, *m); len(dst) == rf {
				break
			}
		}
	}
	return dst
}

// hasName scans: rf is a handful, a set would cost more than it saves.
func hasName(ms []Member, name string) bool {
	for i := range ms {
		if ms[i].Name == name {
			return true
		}
	}
	return false
}
