package ring

import (
	"slices"
	"strconv"
	"testing"
)

func TestTokens(t *testing.T) {
	for _, n := range []int{1, 4, DefaultTokens, MaxTokens} {
		a, b := Tokens("loam-0", n), Tokens("loam-0", n)
		if len(a) != n || !slices.Equal(a, b) {
			t.Fatalf("%d tokens: not %d or not the same twice", len(a), n)
		}
		if !slices.IsSorted(a) || len(slices.Compact(slices.Clone(a))) != n {
			t.Fatalf("%d tokens: not ascending and distinct", n)
		}
	}
	if slices.Equal(Tokens("loam-0", 8), Tokens("loam-1", 8)) {
		t.Error("two names got the same tokens")
	}
	// A member's first tokens do not depend on how many it has (the
	// sequence is only extended), which keeps placement stable when
	// -ring.tokens grows.
	small := Tokens("n", 16)
	for _, tok := range small {
		if _, ok := slices.BinarySearch(Tokens("n", 64), tok); !ok {
			t.Fatalf("token %d of 16 is not among 64", tok)
		}
	}
	// Pinned: a node upgraded to a new version must keep its tokens.
	if got := Tokens("loam-0", 4); !slices.Equal(got, []uint32{0x50d08ea5, 0xa3723ac9, 0xc37917ef, 0xc48b4055}) {
		t.Errorf("Tokens(loam-0, 4) = %#x", got)
	}
	if Tokens("x", 0) != nil {
		t.Error("0 tokens")
	}
}

func TestStreamKey(t *testing.T) {
	k := StreamKey("t1", `{app="a"}`)
	if k != StreamKey("t1", `{app="a"}`) {
		t.Fatal("not deterministic")
	}
	for _, other := range [][2]string{{"t2", `{app="a"}`}, {"t1", `{app="b"}`}, {"t1{app=\"a\"", "}"}, {"", `t1{app="a"}`}} {
		if StreamKey(other[0], other[1]) == k {
			t.Errorf("%q %q has the key of t1 {app=\"a\"}", other[0], other[1])
		}
	}
	if n := testing.AllocsPerRun(100, func() { StreamKey("tenant", `{app="a", env="prod"}`) }); n != 0 {
		t.Errorf("StreamKey allocates %v times", n)
	}
	// Keys spread over the ring: 4 equal quarters get 25% ± 3% of 20,000
	// streams.
	var q [4]int
	for i := range 20000 {
		q[StreamKey("t", `{i="`+strconv.Itoa(i)+`"}`)>>30]++
	}
	for i, n := range q {
		if n < 4400 || n > 5600 {
			t.Errorf("quarter %d got %d of 20000 keys", i, n)
		}
	}
}
