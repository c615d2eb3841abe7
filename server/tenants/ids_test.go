package tenants

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql/pipeline"
)

// validID stands for the API's rules of one tenant ID.
func validID(s string) error {
	if strings.ContainsAny(s, "/ |") {
		return errors.New("bad character")
	}
	return nil
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{"a", []string{"a"}, ""},
		{"a|b", []string{"a", "b"}, ""},
		{"b|a|b", []string{"a", "b"}, ""},
		{"a|a", []string{"a"}, ""},
		{"a||b", nil, "holds an empty tenant"},
		{"|a", nil, "holds an empty tenant"},
		{"a|", nil, "holds an empty tenant"},
		{"", nil, "holds an empty tenant"},
		{"a|b/c", nil, "bad character"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, validID)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if multi := IsMulti(tt.in); multi != (len(tt.want) > 1) {
				t.Errorf("IsMulti(%q) = %v with tenants %v", tt.in, multi, tt.want)
			}
		})
	}
}

// FuzzParse: Parse never panics; what it answers is sorted, unique,
// non-empty and valid, names the tenants of the header, and Join then
// Parse gives it back; IsMulti agrees with it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a", "a|b", "b|a|a", "a||b", "|", "", "x/y|z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ids, err := Parse(h, validID)
		if err != nil {
			return
		}
		if len(ids) == 0 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Fatalf("Parse(%q) = %q", h, ids)
		}
		for _, id := range ids {
			if id == "" || validID(id) != nil || !slices.Contains(strings.Split(h, Separator), id) {
				t.Fatalf("Parse(%q) holds %q", h, id)
			}
		}
		again, err := Parse(Join(ids), validID)
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("Parse(Join(%q)) = %q, %v", ids, again, err)
		}
		if IsMulti(h) != (len(ids) > 1) {
			t.Fatalf("IsMulti(%q) = %v, tenants %q", h, IsMulti(h), ids)
		}
	})
}

func TestNarrow(t *testing.T) {
	m := labels.MustMatcher
	app := m(labels.MatchEqual, "app", "web")
	tests := []struct {
		name string
		ms   []*labels.Matcher
		kept []string
		rest []*labels.Matcher
	}{
		{"none", nil, []string{"a", "b", "c"}, nil},
		{"other labels only", []*labels.Matcher{app}, []string{"a", "b", "c"}, []*labels.Matcher{app}},
		{"equal", []*labels.Matcher{app, m(labels.MatchEqual, Label, "b")}, []string{"b"}, []*labels.Matcher{app}},
		{"not equal", []*labels.Matcher{m(labels.MatchNotEqual, Label, "b"), app}, []string{"a", "c"}, []*labels.Matcher{app}},
		{"regexp", []*labels.Matcher{m(labels.MatchRegexp, Label, "a|c|d")}, []string{"a", "c"}, nil},
		{"not regexp", []*labels.Matcher{m(labels.MatchNotRegexp, Label, "a|c")}, []string{"b"}, nil},
		{"all of them", []*labels.Matcher{m(labels.MatchRegexp, Label, "a|b"), m(labels.MatchNotEqual, Label, "a")}, []string{"b"}, nil},
		{"none kept", []*labels.Matcher{m(labels.MatchEqual, Label, "z")}, []string{}, nil},
		{"original label", []*labels.Matcher{m(labels.MatchEqual, OriginalLabel, "x")}, []string{"a", "b", "c"},
			[]*labels.Matcher{m(labels.MatchEqual, Label, "x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := labels.MatchersString(tt.ms)
			kept, rest := Narrow([]string{"a", "b", "c"}, tt.ms)
			if !slices.Equal(kept, tt.kept) || labels.MatchersString(rest) != labels.MatchersString(tt.rest) {
				t.Fatalf("Narrow = %v, %s; want %v, %s", kept, labels.MatchersString(rest), tt.kept, labels.MatchersString(tt.rest))
			}
			if labels.MatchersString(tt.ms) != before {
				t.Fatalf("Narrow modified its matchers: %s, was %s", labels.MatchersString(tt.ms), before)
			}
		})
	}
}

func TestTag(t *testing.T) {
	ls := func(kv ...string) labels.Labels {
		var out []labels.Label
		for i := 0; i < len(kv); i += 2 {
			out = append(out, labels.Label{Name: kv[i], Value: kv[i+1]})
		}
		return labels.New(out...)
	}
	tests := []struct {
		name      string
		in        labels.Labels
		tag, adds labels.Labels
	}{
		{"plain", ls("app", "web"), ls(Label, "a", "app", "web"), ls(Label, "a", "app", "web")},
		{"empty", ls(), ls(Label, "a"), ls(Label, "a")},
		{"upper case sorts first", ls("App", "x"), ls("App", "x", Label, "a"), ls("App", "x", Label, "a")},
		{"own label", ls(Label, "mine", "app", "web"), ls(Label, "a", "app", "web", OriginalLabel, "mine"), ls(Label, "mine", "app", "web")},
		{"own label and an original one", ls(Label, "mine", OriginalLabel, "old"), ls(Label, "a", OriginalLabel, "mine"), ls(Label, "mine", OriginalLabel, "old")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := Tag(tt.in, "a"); !got.Equal(tt.tag) {
				t.Errorf("Tag = %s, want %s", got, tt.tag)
			}
			if got := AddIfAbsent(tt.in, "a"); !got.Equal(tt.adds) {
				t.Errorf("AddIfAbsent = %s, want %s", got, tt.adds)
			}
			if !tt.in.Equal(in) {
				t.Errorf("input modified: %s, was %s", tt.in, in)
			}
			rest, id, ok := Untag(Tag(tt.in, "a"))
			if !ok || id != "a" || rest.Has(Label) {
				t.Errorf("Untag(Tag) = %s, %q, %v", rest, id, ok)
			}
		})
	}
}

func TestTagResult(t *testing.T) {
	r := &pipeline.Result{
		All:    labels.New(labels.Label{Name: Label, Value: "forged"}, labels.Label{Name: "app", Value: "web"}),
		Stream: labels.New(labels.Label{Name: "app", Value: "web"}),
		Parsed: labels.New(labels.Label{Name: Label, Value: "forged"}),
	}
	got := TagResult(r, "a")
	want := labels.New(labels.Label{Name: Label, Value: "a"}, labels.Label{Name: "app", Value: "web"}, labels.Label{Name: OriginalLabel, Value: "forged"})
	if !got.All.Equal(want) || got.Hash != want.Hash() {
		t.Errorf("All = %s (hash %d), want %s", got.All, got.Hash, want)
	}
	if !got.Stream.Equal(labels.New(labels.Label{Name: Label, Value: "a"}, labels.Label{Name: "app", Value: "web"})) {
		t.Errorf("Stream = %s", got.Stream)
	}
	if !got.Parsed.Equal(labels.New(labels.Label{Name: OriginalLabel, Value: "forged"})) {
		t.Errorf("Parsed = %s", got.Parsed)
	}
	if r.All.Get(Label) != "forged" {
		t.Errorf("input modified: %s", r.All)
	}
}
