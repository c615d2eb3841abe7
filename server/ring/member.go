package ring

import (
	"fmt"
	"slices"
	"strings"
)

// State is a member's place in its life cycle. The numeric order is the
// rank Merge breaks ties with: a later state wins over an earlier one.
type State uint8

const (
	Joining State = iota + 1 // starting: replaying its WAL; owns keys already
	Active                   // serving
	Leaving                  // shutting down: owns no keys, may hand data over
	Left                     // gone; a tombstone that stale gossip cannot undo
)

var stateNames = [...]string{Joining: "JOINING", Active: "ACTIVE", Leaving: "LEAVING", Left: "LEFT"}

// Valid reports whether s is one of the four states.
func (s State) Valid() bool { return s >= Joining && s <= Left }

// Owning reports whether a member in state s owns keys (JOINING, ACTIVE).
func (s State) Owning() bool { return s == Joining || s == Active }

func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText writes the state's name, as /ring's JSON shows it.
func (s State) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invalid ring state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText reads a state's name, in any case.
func (s *State) UnmarshalText(b []byte) error {
	for i := Joining; i <= Left; i++ {
		if strings.EqualFold(string(b), stateNames[i]) {
			*s = i
			return nil
		}
	}
	return fmt.Errorf("unknown ring state %q (want JOINING, ACTIVE, LEAVING or LEFT)", b)
}

// Member is one node of the ring as gossip carries it. A Member is a value:
// its Tokens slice is shared between copies and never modified in place.
type Member struct {
	Name       string   // unique node name (-node.name)
	Addr       string   // host:port of its HTTP API, which other nodes call
	GossipAddr string   // host:port memberlist reaches it on
	State      State    //
	Tokens     []uint32 // ascending, distinct
	// Heartbeat is the version of the entry: unix nanoseconds of the
	// owner's clock, raised at each heartbeat and each change, never lowered.
	Heartbeat int64
}

// compare orders two entries of one member: the newer heartbeat wins, then
// the later state. The remaining fields only make the order total, so that
// Merge stays commutative even for two different entries of equal version
// (which only a bug or a hand-made entry can produce).
func compare(a, b Member) int {
	if a.Heartbeat != b.Heartbeat {
		if a.Heartbeat < b.Heartbeat {
			return -1
		}
		return 1
	}
	if a.State != b.State {
		if a.State < b.State {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.Addr, b.Addr); c != 0 {
		return c
	}
	if c := strings.Compare(a.GossipAddr, b.GossipAddr); c != 0 {
		return c
	}
	return slices.Compare(a.Tokens, b.Tokens)
}

// Supersedes reports whether m wins over o when both describe one member.
func (m Member) Supersedes(o Member) bool { return compare(m, o) > 0 }

// Desc is the ring state gossip carries: every member by name (the key is
// the member's Name). It is not safe for concurrent mutation.
type Desc map[string]Member

// Clone returns a copy of d that can be changed without changing d.
func (d Desc) Clone() Desc {
	c := make(Desc, len(d))
	for k, m := range d {
		c[k] = m
	}
	return c
}

// Merge folds o into d: a member only in o is added, a member in both
// keeps the entry that supersedes the other. It returns the names whose
// entries changed, in no particular order. As a function of the two
// states, merging is idempotent, commutative and associative, so replicas
// that have seen the same entries agree whatever the order of the gossip.
func (d Desc) Merge(o Desc) (changed []string) {
	for name, m := range o {
		if cur, ok := d[name]; !ok || m.Supersedes(cur) {
			d[name] = m
			changed = append(changed, name)
		}
	}
	return changed
}

// Merge returns the merge of a and b without changing either.
func Merge(a, b Desc) Desc {
	c := a.Clone()
	c.Merge(b)
	return c
}
