package deletes

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func exportOf(t *testing.T, m *Manager) []byte {
	t.Helper()
	b, err := m.Export()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func merge(t *testing.T, into, from *Manager) (int, int) {
	t.Helper()
	a, r, err := into.Merge(exportOf(t, from))
	if err != nil {
		t.Fatal(err)
	}
	return a, r
}

func ids(t *testing.T, m *Manager, tenant string) []string {
	t.Helper()
	var out []string
	for _, r := range list(t, m, tenant) {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return out
}

// TestMerge: a request added on one node is added on the other, with its
// id and query; a cancel on either removes it everywhere, and an exchange
// with a node that has not heard of the cancel does not bring it back, not
// even after a restart.
func TestMerge(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	dirB := t.TempDir()
	a := open(t, t.TempDir(), Options{}, c)
	b := open(t, dirB, Options{}, c)
	r1 := mustAdd(t, a, "t1", Params{Query: `{app="x"} |= "secret"`, Start: "1777600000", End: "1777630000"})
	r2 := mustAdd(t, b, "t1", Params{Query: `{app="y"}`, Start: "1777600000", End: "1777630000"})
	if added, _ := merge(t, b, a); added != 1 {
		t.Fatalf("b added %d requests of a's, want 1", added)
	}
	if added, _ := merge(t, a, b); added != 1 {
		t.Fatalf("a added %d requests of b's, want 1", added)
	}
	want := []string{r1.ID, r2.ID}
	slices.Sort(want)
	if got := ids(t, a, "t1"); !slices.Equal(got, want) {
		t.Fatalf("a holds %v, want %v", got, want)
	}
	got := list(t, b, "t1")
	i := slices.IndexFunc(got, func(r Request) bool { return r.ID == r1.ID })
	if i < 0 || got[i].Query != r1.Query || got[i].Start != r1.Start || got[i].End != r1.End || got[i].CreatedAt != r1.CreatedAt {
		t.Fatalf("b holds %+v, want %+v", got, r1)
	}
	if len(b.Tombstones("t1")) != 2 {
		t.Fatalf("b hides %d requests' lines, want 2", len(b.Tombstones("t1")))
	}
	// Idempotent.
	if added, removed := merge(t, b, a); added+removed != 0 {
		t.Fatalf("merging again added %d and removed %d", added, removed)
	}
	// A cancel on a reaches b; b's stale export does not bring it back.
	stale := exportOf(t, b)
	if err := a.Cancel("t1", r1.ID, false); err != nil {
		t.Fatal(err)
	}
	if added, _, err := a.Merge(stale); err != nil || added != 0 {
		t.Fatalf("a merged b's stale export: added %d, %v; the cancelled request came back", added, err)
	}
	if _, removed := merge(t, b, a); removed != 1 {
		t.Fatalf("b removed %d requests, want the cancelled one", removed)
	}
	if got := ids(t, b, "t1"); !slices.Equal(got, []string{r2.ID}) {
		t.Fatalf("b holds %v, want only %s", got, r2.ID)
	}
	// The cancel outlives a restart of b.
	b.Stop()
	b = open(t, dirB, Options{}, c)
	if added, _, err := b.Merge(stale); err != nil || added != 0 {
		t.Fatalf("b, restarted, merged its stale export: added %d, %v", added, err)
	}
	// A malformed export changes nothing.
	for _, bad := range []string{``, `{`, `{"requests":[{"id":"x","tenant":"t1","query":"{","start_ms":1,"end_ms":2}]}`,
		`{"requests":[],"cancelled":[{"tenant":"","id":"x","at_ms":1}]}`, `{"requests":[],"other":1}`} {
		if _, _, err := b.Merge([]byte(bad)); err == nil {
			t.Errorf("Merge(%q) took it", bad)
		}
	}
	if got := ids(t, b, "t1"); !slices.Equal(got, []string{r2.ID}) {
		t.Fatalf("after malformed exports b holds %v", got)
	}
}

// TestMergeConverges: nodes adding and cancelling requests, exchanging in
// random order, end up holding the same requests once each has merged
// everyone's latest export.
func TestMergeConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	ms := []*Manager{open(t, t.TempDir(), Options{}, c), open(t, t.TempDir(), Options{}, c), open(t, t.TempDir(), Options{}, c)}
	for step := range 60 {
		m := ms[rng.IntN(len(ms))]
		switch rng.IntN(3) {
		case 0:
			mustAdd(t, m, "t1", Params{Query: `{app="a"}`, Start: "1777600000", End: "1777630000"})
		case 1:
			if rs := list(t, m, "t1"); len(rs) > 0 {
				if err := m.Cancel("t1", rs[rng.IntN(len(rs))].ID, false); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
		default:
			merge(t, m, ms[rng.IntN(len(ms))])
		}
	}
	for range 2 {
		for _, into := range ms {
			for _, from := range ms {
				merge(t, into, from)
			}
		}
	}
	want := ids(t, ms[0], "t1")
	for i, m := range ms[1:] {
		if got := ids(t, m, "t1"); !slices.Equal(got, want) {
			t.Fatalf("node %d holds %v, node 0 %v", i+1, got, want)
		}
	}
}

// FuzzMerge: any input is merged or refused, never a panic, and a
// refused one changes nothing.
func FuzzMerge(f *testing.F) {
	f.Add([]byte(`{"requests":[{"id":"ab","tenant":"t","query":"{a=\"b\"}","start_ms":1,"end_ms":2000,"created_ms":5}],"cancelled":[{"tenant":"t","id":"cd","at_ms":3}]}`))
	f.Add([]byte(`{"requests":null,"cancelled":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
		m := open(t, t.TempDir(), Options{}, c)
		before := exportOf(t, m)
		if _, _, err := m.Merge(b); err != nil {
			if after := exportOf(t, m); string(after) != string(before) {
				t.Fatalf("a refused merge changed the requests: %s", after)
			}
		}
	})
}
