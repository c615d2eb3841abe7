package store

import (
	"strings"
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// checkOrderKey requires the keys of a and b to sort as the label sets.
func checkOrderKey(t *testing.T, a, b labels.Labels) {
	t.Helper()
	ka, kb := string(appendOrderKey(nil, a)), string(appendOrderKey(nil, b))
	if got, want := sign(strings.Compare(ka, kb)), sign(labels.Compare(a, b)); got != want {
		t.Fatalf("%q vs %q: keys compare %d, labels %d", a, b, got, want)
	}
}

func TestOrderKey(t *testing.T) {
	l := func(kv ...string) labels.Labels {
		var ls labels.Labels
		for i := 0; i < len(kv); i += 2 {
			ls = append(ls, labels.Label{Name: kv[i], Value: kv[i+1]})
		}
		return ls
	}
	cases := [][2]labels.Labels{
		{l("a", "x"), l("a", "x!")}, // '!' sorts before the '"' a string form would put after x
		{l("a", "x"), l("a", "x")},
		{l("a", "x"), l("a", "x", "b", "y")},
		{l("a", "x"), l("a_b", "x")},
		{l("a", ""), l("a", "\x00")},
		{l("a", "\x00"), l("a", "\x00\x00")},
		{l("a", "\x00"), l("a", "\x01")},
		{l("a", "x\x00y"), l("a", "x")},
		{l("a", "x\x00y"), l("a", "x", "b", "")},
		{l("job", "bench", "pod", "2"), l("job", "bench", "pod", "10")},
		{l(), l("a", "")},
	}
	for _, c := range cases {
		checkOrderKey(t, c[0], c[1])
		checkOrderKey(t, c[1], c[0])
	}
}

// FuzzOrderKey compares the order of keys with labels.Compare on label sets
// of two labels each.
func FuzzOrderKey(f *testing.F) {
	f.Add("a", "x", "b", "y", "a", "x!", "b", "")
	f.Add("a", "x\x00", "b", "y", "a", "x", "b", "\x00")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3, n4, v4 string) {
		checkOrderKey(t, labels.Labels{{Name: n1, Value: v1}, {Name: n2, Value: v2}}, labels.Labels{{Name: n3, Value: v3}, {Name: n4, Value: v4}})
		checkOrderKey(t, labels.Labels{{Name: n1, Value: v1}}, labels.Labels{{Name: n3, Value: v3}, {Name: n4, Value: v4}})
	})
}
