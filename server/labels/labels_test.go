package labels

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestString(t *testing.T) {
	tests := []struct {
		name string
		ls   Labels
		want string
	}{
		{"nil set", nil, `{}`},
		{"empty set", Labels{}, `{}`},
		{"one label", Labels{{"a", "1"}}, `{a="1"}`},
		// Loki separates pairs with ", ".
		{"two labels", Labels{{"a", "1"}, {"b", "2"}}, `{a="1", b="2"}`},
		{"empty value", Labels{{"a", ""}}, `{a=""}`},
		// Values use Go quoting: escapes for quotes, backslashes, controls.
		{"quote and backslash", Labels{{"a", `x"y\z`}}, `{a="x\"y\\z"}`},
		{"control characters", Labels{{"a", "x\ny\tz\x00"}}, `{a="x\ny\tz\x00"}`},
		{"printable unicode kept", Labels{{"a", "Zürich 🦀"}}, `{a="Zürich 🦀"}`},
		{"invalid UTF-8 escaped", Labels{{"a", "x\xffy"}}, `{a="x\xffy"}`},
		// Names that are not identifiers are quoted, as Prometheus 3 does,
		// so that the text stays unambiguous and parses back.
		{"dashed name quoted", Labels{{"foo-bar", "x"}}, `{"foo-bar"="x"}`},
		{"name with quote and space", Labels{{`a "b`, "x"}}, `{"a \"b"="x"}`},
		{"injection-looking name", Labels{{`a="1", b`, "2"}}, `{"a=\"1\", b"="2"}`},
		{"underscore names plain", Labels{{"_a", "1"}, {"__name__", "2"}}, `{_a="1", __name__="2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ls.String(); got != tt.want {
				t.Fatalf("String() = %s, want %s", got, tt.want)
			}
			// AppendString appends and does not touch what dst held.
			got := tt.ls.AppendString([]byte("prefix:"))
			if string(got) != "prefix:"+tt.want {
				t.Fatalf("AppendString = %s, want prefix:%s", got, tt.want)
			}
		})
	}
}

// Distinct sets must print distinctly: the text is a stream's identity (the
// store and the query answer group by it).
func TestStringDistinct(t *testing.T) {
	a := Labels{{"a", "1"}, {"b", "2"}}
	b := Labels{{`a="1", b`, "2"}}
	if a.String() == b.String() {
		t.Fatalf("%#v and %#v both print as %s", a, b, a.String())
	}
}

// hashGolden pins Hash: it is stored on disk (WAL and block indexes), so a
// change to it must be deliberate and come with a format migration. Never
// update these values to make the test pass.
var hashGolden = []struct {
	ls   Labels
	want uint64
}{
	{Labels{}, 0xef46db3751d8e999},
	{Labels{{"app", "api"}}, 0x49bbf3e3c0a36d71},
	{Labels{{"app", "api"}, {"env", "prod"}}, 0x5fd68e2544215f6c},
	{Labels{{"a", "Zürich"}, {"b", ""}}, 0xdc61fb007222514f},
}

func TestHashGolden(t *testing.T) {
	for _, tt := range hashGolden {
		t.Run(tt.ls.String(), func(t *testing.T) {
			if got := tt.ls.Hash(); got != tt.want {
				t.Fatalf("Hash() = %#016x, want %#016x: the on-disk hash changed", got, tt.want)
			}
			// The layout: xxhash64 of name 0xff value 0xff, pair after pair.
			var b []byte
			for _, l := range tt.ls {
				b = append(append(append(append(b, l.Name...), 0xff), l.Value...), 0xff)
			}
			if got := xxhash.Sum64(b); got != tt.want {
				t.Fatalf("xxhash64(%q) = %#016x, want %#016x", b, got, tt.want)
			}
		})
	}
}

func TestHash(t *testing.T) {
	base := Labels{{"a", "1"}, {"b", "2"}}
	tests := []struct {
		name string
		ls   Labels
	}{
		// The separator keeps name/value boundaries apart.
		{"value moved into name", Labels{{"a1", ""}, {"b", "2"}}},
		{"value moved to next name", Labels{{"a", ""}, {"1b", "2"}}},
		{"different value", Labels{{"a", "1"}, {"b", "3"}}},
		{"extra label", Labels{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{"missing label", Labels{{"a", "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ls.Hash() == base.Hash() {
				t.Fatalf("%v and %v hash equally", tt.ls, base)
			}
		})
	}
	t.Run("equal sets hash equally", func(t *testing.T) {
		other := New(Label{"b", "2"}, Label{"a", "1"})
		if other.Hash() != base.Hash() {
			t.Fatal("equal sets hash differently")
		}
	})
	// Sets longer than the stack buffer take another path; it must hash the
	// same bytes.
	t.Run("long set", func(t *testing.T) {
		long := Labels{{"a", strings.Repeat("x", 2000)}}
		longer := Labels{{"a", strings.Repeat("x", 2001)}}
		if long.Hash() != long.Hash() || long.Hash() == longer.Hash() {
			t.Fatal("long sets hash inconsistently")
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		ls   Labels
		want string // error substring; "" for valid
	}{
		{"valid", Labels{{"app", "api"}, {"env", "prod"}}, ""},
		{"underscore and digits", Labels{{"_a1", "x"}, {"__name__", "y"}}, ""},
		{"empty value is valid", Labels{{"a", ""}}, ""},
		{"unicode value", Labels{{"a", "Zürich 🦀"}}, ""},
		{"nil set", nil, "empty label set"},
		{"empty set", Labels{}, "empty label set"},
		{"empty name", Labels{{"", "x"}}, `invalid label name ""`},
		{"leading digit", Labels{{"1a", "x"}}, `invalid label name "1a"`},
		{"dash", Labels{{"foo-bar", "x"}}, `invalid label name "foo-bar"`},
		{"dot", Labels{{"k8s.app", "x"}}, `invalid label name "k8s.app"`},
		{"space", Labels{{"a b", "x"}}, `invalid label name "a b"`},
		{"unicode name", Labels{{"größe", "x"}}, `invalid label name "größe"`},
		{"invalid UTF-8 value", Labels{{"a", "x\xffy"}}, `invalid value of label "a": not valid UTF-8`},
		{"truncated rune", Labels{{"a", "\xe2\x82"}}, "not valid UTF-8"},
		{"duplicate name", Labels{{"a", "1"}, {"a", "2"}}, `duplicate label name "a"`},
		{"duplicate pair", Labels{{"a", "1"}, {"a", "1"}, {"b", "2"}}, `duplicate label name "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ls.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "A": true, "_": true, "a1": true, "_1": true, "__name__": true, "camelCase": true,
		"": false, "1": false, "1a": false, "a-b": false, "a.b": false, "a/b": false, "a b": false, "é": false, "a\x00": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestWithoutEmpty(t *testing.T) {
	tests := []struct {
		name    string
		in      Labels
		want    Labels
		aliased bool // no empty value: the input is returned as is
	}{
		{"nil", nil, nil, true},
		{"none empty", Labels{{"a", "1"}, {"b", "2"}}, Labels{{"a", "1"}, {"b", "2"}}, true},
		{"first empty", Labels{{"a", ""}, {"b", "2"}}, Labels{{"b", "2"}}, false},
		{"middle empty", Labels{{"a", "1"}, {"b", ""}, {"c", "3"}}, Labels{{"a", "1"}, {"c", "3"}}, false},
		{"last empty", Labels{{"a", "1"}, {"b", ""}}, Labels{{"a", "1"}}, false},
		{"several empty", Labels{{"a", ""}, {"b", "2"}, {"c", ""}, {"d", ""}, {"e", "5"}}, Labels{{"b", "2"}, {"e", "5"}}, false},
		{"all empty", Labels{{"a", ""}, {"b", ""}}, Labels{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append(Labels(nil), tt.in...)
			got := tt.in.WithoutEmpty()
			if !got.Equal(tt.want) {
				t.Fatalf("WithoutEmpty() = %#v, want %#v", got, tt.want)
			}
			// The input may be a cached set shared with others: never edit it.
			if !tt.in.Equal(orig) {
				t.Fatalf("WithoutEmpty modified its input: %#v, was %#v", tt.in, orig)
			}
			if tt.aliased && len(tt.in) > 0 && &got[0] != &tt.in[0] {
				t.Fatal("WithoutEmpty copied a set without empty values")
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b Labels
		want int // sign only
	}{
		{"both empty", nil, Labels{}, 0},
		{"equal", Labels{{"a", "1"}, {"b", "2"}}, Labels{{"a", "1"}, {"b", "2"}}, 0},
		{"empty before any", nil, Labels{{"a", ""}}, -1},
		{"prefix before longer", Labels{{"a", "1"}}, Labels{{"a", "1"}, {"b", "2"}}, -1},
		{"by name first", Labels{{"a", "9"}}, Labels{{"b", "1"}}, -1},
		{"then by value", Labels{{"a", "1"}, {"b", "9"}}, Labels{{"a", "2"}, {"b", "1"}}, -1},
		{"later pair decides", Labels{{"a", "1"}, {"c", "1"}}, Labels{{"a", "1"}, {"b", "9"}}, 1},
		{"bytewise", Labels{{"a", "Z"}}, Labels{{"a", "a"}}, -1},
	}
	sign := func(n int) int {
		switch {
		case n < 0:
			return -1
		case n > 0:
			return 1
		}
		return 0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sign(Compare(tt.a, tt.b)); got != tt.want {
				t.Fatalf("Compare(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			// Antisymmetry: sorting depends on it.
			if got := sign(Compare(tt.b, tt.a)); got != -tt.want {
				t.Fatalf("Compare(%v, %v) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

func TestNewAndFromMap(t *testing.T) {
	in := []Label{{"c", "3"}, {"a", "1"}, {"b", "2"}}
	want := Labels{{"a", "1"}, {"b", "2"}, {"c", "3"}}
	got := New(in...)
	if !got.Equal(want) {
		t.Fatalf("New = %v, want %v", got, want)
	}
	// New must not sort the caller's slice in place.
	if in[0].Name != "c" {
		t.Fatal("New modified its argument")
	}
	if got := FromMap(map[string]string{"c": "3", "a": "1", "b": "2"}); !got.Equal(want) {
		t.Fatalf("FromMap = %v, want %v", got, want)
	}
	if m := want.Map(); len(m) != 3 || m["a"] != "1" || m["c"] != "3" {
		t.Fatalf("Map = %v", m)
	}
	if want.Get("b") != "2" || want.Get("z") != "" || !want.Has("a") || want.Has("z") {
		t.Fatal("Get/Has disagree with the set")
	}
}

func ExampleLabels_String() {
	ls, _ := Parse(`{job="varlogs", "service.name"="api", app="a\"b"}`)
	fmt.Println(ls)
	// Output: {app="a\"b", job="varlogs", "service.name"="api"}
}
