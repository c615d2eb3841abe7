package ring

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestStateText(t *testing.T) {
	for s := Joining; s <= Left; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v: round trip gave %v, %v", s, back, err)
		}
	}
	if _, err := State(0).MarshalText(); err == nil {
		t.Error("State(0) marshalled")
	}
	var s State
	if err := s.UnmarshalText([]byte("GONE")); err == nil {
		t.Error("GONE parsed")
	}
	if err := s.UnmarshalText([]byte("active")); err != nil || s != Active {
		t.Errorf("active: %v %v", s, err)
	}
}

func TestMergeTable(t *testing.T) {
	a1 := Member{Name: "a", Addr: "h1:1", State: Active, Heartbeat: 10, Tokens: []uint32{1, 2}}
	a2 := Member{Name: "a", Addr: "h1:1", State: Active, Heartbeat: 20, Tokens: []uint32{1, 2}}
	aLeft := Member{Name: "a", Addr: "h1:1", State: Left, Heartbeat: 10, Tokens: []uint32{1, 2}}
	aMoved := Member{Name: "a", Addr: "h2:1", State: Active, Heartbeat: 10, Tokens: []uint32{1, 2}}
	b := Member{Name: "b", State: Joining, Heartbeat: 5}
	for _, tc := range []struct {
		name        string
		into, from  Desc
		want        Desc
		wantChanged []string
	}{
		{"empty into empty", Desc{}, Desc{}, Desc{}, nil},
		{"new member is added", Desc{"a": a1}, Desc{"b": b}, Desc{"a": a1, "b": b}, []string{"b"}},
		{"newer heartbeat wins", Desc{"a": a1}, Desc{"a": a2}, Desc{"a": a2}, []string{"a"}},
		{"older heartbeat loses", Desc{"a": a2}, Desc{"a": a1}, Desc{"a": a2}, nil},
		{"older heartbeat loses even if LEFT", Desc{"a": a2}, Desc{"a": aLeft}, Desc{"a": a2}, nil},
		{"equal heartbeat: later state wins", Desc{"a": a1}, Desc{"a": aLeft}, Desc{"a": aLeft}, []string{"a"}},
		{"equal heartbeat: earlier state loses", Desc{"a": aLeft}, Desc{"a": a1}, Desc{"a": aLeft}, nil},
		{"same entry: no change", Desc{"a": a1}, Desc{"a": a1}, Desc{"a": a1}, nil},
		{"equal version, other address: the total order decides", Desc{"a": a1}, Desc{"a": aMoved}, Desc{"a": aMoved}, []string{"a"}},
		{"equal version, other address, reversed", Desc{"a": aMoved}, Desc{"a": a1}, Desc{"a": aMoved}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.into.Clone()
			changed := got.Merge(tc.from)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("merge = %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(changed, tc.wantChanged) {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if !reflect.DeepEqual(Merge(tc.from, tc.into), tc.want) {
				t.Errorf("reversed merge differs")
			}
		})
	}
}

// randomDesc draws ring states over few names and few heartbeats, so that
// the same member often appears with equal versions in different states
// or addresses: the ties the merge must break alike everywhere.
func randomDesc(rng *rand.Rand) Desc {
	d := Desc{}
	for _, name := range []string{"a", "b", "c", "d"} {
		if rng.IntN(3) == 0 {
			continue
		}
		m := Member{Name: name, State: State(1 + rng.IntN(4)), Heartbeat: int64(rng.IntN(3)),
			Addr: fmt.Sprintf("10.0.0.%d:3100", rng.IntN(2)), GossipAddr: fmt.Sprintf("10.0.0.%d:7946", rng.IntN(2))}
		for range rng.IntN(3) {
			m.Tokens = append(m.Tokens, uint32(len(m.Tokens)*10+rng.IntN(2)))
		}
		d[name] = m
	}
	return d
}

func TestMergeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		a, b, c := randomDesc(rng), randomDesc(rng), randomDesc(rng)
		if got := Merge(a, a); !reflect.DeepEqual(got, a) {
			t.Fatalf("#%d not idempotent: %v merged with itself is %v", i, a, got)
		}
		ab, ba := Merge(a, b), Merge(b, a)
		if !reflect.DeepEqual(ab, ba) {
			t.Fatalf("#%d not commutative:\na=%v\nb=%v\nab=%v\nba=%v", i, a, b, ab, ba)
		}
		if l, r := Merge(ab, c), Merge(a, Merge(b, c)); !reflect.DeepEqual(l, r) {
			t.Fatalf("#%d not associative:\n(ab)c=%v\na(bc)=%v", i, l, r)
		}
		if again := ab.Clone(); again.Merge(b) != nil || again.Merge(a) != nil {
			t.Fatalf("#%d merging an input again reported a change", i)
		}
		// Every member of the merge is one of the inputs' entries, and
		// supersedes or equals both.
		for name, m := range ab {
			for _, in := range []Desc{a, b} {
				if o, ok := in[name]; ok && o.Supersedes(m) {
					t.Fatalf("#%d merge kept %v over the newer %v", i, m, o)
				}
			}
		}
	}
}

func TestSupersedesIsAStrictOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		x, y := randomDesc(rng)["a"], randomDesc(rng)["a"]
		if x.Supersedes(y) && y.Supersedes(x) {
			t.Fatalf("both supersede: %v %v", x, y)
		}
		if !x.Supersedes(y) && !y.Supersedes(x) && !reflect.DeepEqual(x, y) {
			t.Fatalf("different entries neither supersedes: %v %v", x, y)
		}
	}
}
