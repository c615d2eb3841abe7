package ring

import (
	"fmt"
	"testing"
)

// TestPlacementMatchesRing: a placement built from the members a ring
// holds places every key as that ring does.
func TestPlacementMatchesRing(t *testing.T) {
	var ms []Member
	for i, st := range []State{Active, Active, Joining, Leaving, Active} {
		name := fmt.Sprintf("node-%d", i)
		ms = append(ms, Member{Name: name, State: st, Tokens: Tokens(name, 64)})
	}
	d := Desc{}
	for _, m := range ms {
		d[m.Name] = m
	}
	snap := newSnapshot(d, nil, nil)
	p := NewPlacement(ms)
	for key := uint32(0); key < 1<<32-1<<24; key += 1 << 24 {
		for rf := 1; rf <= 5; rf++ {
			want := snap.owners(key, rf, nil)
			got := p.Owners(key, rf, nil)
			if len(got) != len(want) {
				t.Fatalf("key %d rf %d: %d owners, want %d", key, rf, len(got), len(want))
			}
			for i := range got {
				if got[i].Name != want[i].Name {
					t.Fatalf("key %d rf %d: owner %d is %s, want %s", key, rf, i, got[i].Name, want[i].Name)
				}
				if got[i].State == Leaving {
					t.Fatalf("key %d: a LEAVING member owns it", key)
				}
			}
		}
	}
}
