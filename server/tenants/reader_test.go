package tenants

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/wal"
)

const t0 = int64(1_700_000_000_000_000_000)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// appendAt appends to tenant's stream ls one line per time, "<tenant>@<t>".
func appendAt(t *testing.T, st *store.Store, tenant string, ls labels.Labels, ts ...int64) {
	t.Helper()
	var es []block.Entry
	for _, x := range ts {
		es = append(es, block.Entry{T: t0 + x, Line: fmt.Appendf(nil, "%s@%d", tenant, x)})
	}
	if _, err := st.Append(tenant, []store.Stream{{Labels: ls, Entries: es}}); err != nil {
		t.Fatal(err)
	}
}

var web = labels.FromMap(map[string]string{"app": "web"})

// read returns what an iterator gives as "<labels> <line>" lines.
func read(t *testing.T, it store.EntryIterator) []string {
	t.Helper()
	defer it.Close()
	var out []string
	for it.Next() {
		ls, e := it.At()
		out = append(out, ls.String()+" "+string(e.Line))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSelect: the entries of the tenants kept come merged in time order
// of the direction, ties in the order of their labels, tagged; under
// Unordered a tenant's after another's; other tenants never.
func TestSelect(t *testing.T) {
	st := openStore(t)
	appendAt(t, st, "a", web, 1, 3, 5)
	appendAt(t, st, "b", web, 2, 3, 6)
	appendAt(t, st, "c", web, 4)
	r := NewReader(store.Local{Store: st}, []string{"a", "b"})
	m := labels.MustMatcher
	a := `{__tenant_id__="a", app="web"} `
	b := `{__tenant_id__="b", app="web"} `
	tests := []struct {
		name string
		p    store.SelectParams
		want []string
	}{
		{"forward", store.SelectParams{Matchers: []*labels.Matcher{m(labels.MatchEqual, "app", "web")}, Start: t0, End: t0 + 10},
			[]string{a + "a@1", b + "b@2", a + "a@3", b + "b@3", a + "a@5", b + "b@6"}},
		{"backward", store.SelectParams{Matchers: []*labels.Matcher{m(labels.MatchEqual, "app", "web")}, Start: t0, End: t0 + 10, Direction: store.Backward},
			[]string{b + "b@6", a + "a@5", a + "a@3", b + "b@3", b + "b@2", a + "a@1"}},
		{"unordered", store.SelectParams{Matchers: []*labels.Matcher{m(labels.MatchEqual, "app", "web")}, Start: t0, End: t0 + 10, Unordered: true},
			[]string{a + "a@1", a + "a@3", a + "a@5", b + "b@2", b + "b@3", b + "b@6"}},
		{"narrowed", store.SelectParams{Matchers: []*labels.Matcher{m(labels.MatchNotEqual, Label, "a"), m(labels.MatchEqual, "app", "web")}, Start: t0, End: t0 + 10},
			[]string{b + "b@2", b + "b@3", b + "b@6"}},
		{"tenant alone", store.SelectParams{Matchers: []*labels.Matcher{m(labels.MatchRegexp, Label, "a|c")}, Start: t0, End: t0 + 10},
			[]string{a + "a@1", a + "a@3", a + "a@5"}},
		{"none kept", store.SelectParams{Matchers: []*labels.Matcher{m(labels.MatchEqual, Label, "c")}, Start: t0, End: t0 + 10}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := r.Select(context.Background(), tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got := read(t, it); !slices.Equal(got, tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// failingSource fails the Selects of one tenant and counts what is closed.
type failingSource struct {
	store.Local
	fail   string
	closed *int
}

type countingIter struct {
	store.EntryIterator
	closed *int
}

func (c countingIter) Close() error { *c.closed++; return c.EntryIterator.Close() }

func (f failingSource) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	if p.Tenant == f.fail {
		return nil, errors.New("replica down")
	}
	it, err := f.Local.Select(ctx, p)
	if err != nil {
		return nil, err
	}
	return countingIter{it, f.closed}, nil
}

// TestSelectFails: a tenant whose Select fails fails the read, and the
// iterators already opened for the others are closed.
func TestSelectFails(t *testing.T) {
	st := openStore(t)
	appendAt(t, st, "a", web, 1)
	closed := 0
	r := NewReader(failingSource{store.Local{Store: st}, "b", &closed}, []string{"a", "b"})
	if _, err := r.Select(context.Background(), store.SelectParams{Start: t0, End: t0 + 10}); err == nil || !strings.Contains(err.Error(), "replica down") {
		t.Fatalf("err %v, want the tenant's failure", err)
	}
	if closed != 1 {
		t.Fatalf("%d iterators closed, want 1", closed)
	}
}

// TestSeriesAndLabels: series carry their tenant; each match[] set
// narrows the tenants for itself; label names add __tenant_id__, whose
// values are the tenants kept.
func TestSeriesAndLabels(t *testing.T) {
	st := openStore(t)
	appendAt(t, st, "a", labels.FromMap(map[string]string{"app": "web", "env": "prod"}), 1)
	appendAt(t, st, "b", labels.FromMap(map[string]string{"app": "db"}), 1)
	appendAt(t, st, "c", labels.FromMap(map[string]string{"app": "web", "zone": "x"}), 1)
	r := NewReader(store.Local{Store: st}, []string{"a", "b"})
	m := labels.MustMatcher
	series := func(sets ...[]*labels.Matcher) []string {
		var out []string
		if err := r.Series(context.Background(), "", sets, t0, t0+10, func(ls labels.Labels) { out = append(out, ls.String()) }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	all := []string{`{__tenant_id__="a", app="web", env="prod"}`, `{__tenant_id__="b", app="db"}`}
	for _, tt := range []struct {
		name string
		sets [][]*labels.Matcher
		want []string
	}{
		{"all", nil, all},
		{"by app", [][]*labels.Matcher{{m(labels.MatchRegexp, "app", ".+")}}, all},
		{"tenant set", [][]*labels.Matcher{{m(labels.MatchEqual, Label, "b")}}, all[1:]},
		{"sets narrow each", [][]*labels.Matcher{{m(labels.MatchEqual, Label, "a"), m(labels.MatchEqual, "app", "db")}, {m(labels.MatchEqual, Label, "b"), m(labels.MatchEqual, "app", "db")}}, all[1:]},
		{"no tenant kept", [][]*labels.Matcher{{m(labels.MatchEqual, Label, "c")}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := series(tt.sets...); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	names, err := r.LabelNames(context.Background(), "", nil, t0, t0+10)
	if err != nil || !slices.Equal(names, []string{Label, "app", "env"}) {
		t.Errorf("LabelNames = %q, %v", names, err)
	}
	vals, err := r.LabelValues(context.Background(), "", Label, []*labels.Matcher{m(labels.MatchNotRegexp, Label, "b")}, t0, t0+10)
	if err != nil || !slices.Equal(vals, []string{"a"}) {
		t.Errorf("LabelValues(__tenant_id__) = %q, %v", vals, err)
	}
	vals, err = r.LabelValues(context.Background(), "", "app", nil, t0, t0+10)
	if err != nil || !slices.Equal(vals, []string{"db", "web"}) {
		t.Errorf("LabelValues(app) = %q, %v", vals, err)
	}
}

// TestSubscribe: the live entries of each tenant kept come tagged, none
// of another tenant's; the merged tail stops with the store.
func TestSubscribe(t *testing.T) {
	st := openStore(t)
	r := NewReader(store.Local{Store: st}, []string{"a", "b"})
	tail, err := r.Subscribe("", []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", "web")}, store.TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	appendAt(t, st, "a", web, 1)
	appendAt(t, st, "c", web, 2)
	appendAt(t, st, "b", web, 3)
	var got []string
	deadline := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case <-tail.Ready():
			bs, _ := tail.Take()
			for _, b := range bs {
				for _, e := range b.Entries {
					got = append(got, b.Labels.String()+" "+string(e.Line))
				}
			}
		case <-deadline:
			t.Fatalf("tail gave %q", got)
		}
	}
	slices.Sort(got)
	want := []string{`{__tenant_id__="a", app="web"} a@1`, `{__tenant_id__="b", app="web"} b@3`}
	if !slices.Equal(got, want) {
		t.Fatalf("tail gave %q, want %q", got, want)
	}
	st.Close()
	select {
	case <-tail.Stopping():
	case <-time.After(10 * time.Second):
		t.Fatal("the tail did not stop with the store")
	}
}
