package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/gorilla/mux"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/wal"
)

// t0 is the time of the fixture's first entry: recent, so that nothing is
// out of the store's windows.
var t0 = time.Now().Add(-30 * time.Minute).Truncate(time.Second).UnixNano()

func openStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(store.Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.DiscardHandler), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fixtureStreams are the fixture's streams, one with awkward values.
var fixtureStreams = []labels.Labels{
	labels.FromMap(map[string]string{"app": "api", "env": "prod"}),
	labels.FromMap(map[string]string{"app": "web", "env": "prod"}),
	labels.FromMap(map[string]string{"app": "db", "env": "dev"}),
	labels.FromMap(map[string]string{"app": "odd", "env": "dev", "q": "a \"quoted\"\nvalue ✓"}),
}

// fixtureEntries are n entries of stream i: every seventh an error, every
// fifth with structured metadata.
func fixtureEntries(i, from, n int) []block.Entry {
	es := make([]block.Entry, 0, n)
	for j := from; j < from+n; j++ {
		e := block.Entry{T: t0 + int64(j)*int64(time.Millisecond) + int64(i), Line: fmt.Appendf(nil, "level=info stream=%d n=%d msg=\"all good\"", i, j)}
		if j%7 == 0 {
			e.Line = fmt.Appendf(nil, "level=error stream=%d n=%d msg=\"timeout talking to 10.0.0.%d\"", i, j, j%250)
		}
		if j%5 == 0 {
			e.Meta = labels.FromMap(map[string]string{"trace_id": fmt.Sprintf("t%x", j), "user": "u" + fmt.Sprint(j%3)})
		}
		es = append(es, e)
	}
	return es
}

// fill writes the fixture: n entries per stream of tenant t1, the first
// half flushed into a block, the rest in the head, a tenth of the first
// half appended again (duplicates the store drops); tenant t2 has one
// stream.
func fill(t testing.TB, s *store.Store, n int) {
	t.Helper()
	push := func(tenant string, ss []store.Stream) {
		if rej, err := s.Append(tenant, ss); err != nil || len(rej) > 0 {
			t.Fatalf("append: %v %v", err, rej)
		}
	}
	var first, second, again []store.Stream
	for i, ls := range fixtureStreams {
		first = append(first, store.Stream{Labels: ls, Entries: fixtureEntries(i, 0, n/2)})
		second = append(second, store.Stream{Labels: ls, Entries: fixtureEntries(i, n/2, n-n/2)})
		again = append(again, store.Stream{Labels: ls, Entries: fixtureEntries(i, n/4, n/10)})
	}
	push("t1", first)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	push("t1", second)
	push("t1", again)
	push("t2", []store.Stream{{Labels: fixtureStreams[0], Entries: fixtureEntries(9, 0, 50)}})
}

// serve starts a ReadServer over local and returns a Remote of it.
func serve(t testing.TB, local Local, secret []byte) (*Remote, *httptest.Server) {
	t.Helper()
	router := mux.NewRouter()
	NewReadServer(local, ServerOptions{Secret: secret, Beat: 50 * time.Millisecond}).Register(router)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := NewHTTPClient()
	t.Cleanup(client.CloseIdleConnections)
	return NewRemote("peer", srv.URL, client, secret), srv
}

// fixture is a filled store and a Remote reading it.
func fixture(t testing.TB, n int) (*store.Store, *Remote) {
	t.Helper()
	s := openStore(t)
	fill(t, s, n)
	r, _ := serve(t, store.Local{Store: s}, nil)
	return s, r
}

func mustMatchers(t testing.TB, sel string) []*labels.Matcher {
	t.Helper()
	ms, err := logql.ParseMatchers(sel)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// entryText is an entry as tests compare it.
func entryText(ls labels.Labels, e block.Entry) string {
	return fmt.Sprintf("%s %d %q %s", ls, e.T, e.Line, e.Meta)
}

type selecter interface {
	Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error)
}

func collect(t *testing.T, r selecter, p store.SelectParams) ([]string, *store.Stats) {
	t.Helper()
	p.Stats = &store.Stats{}
	it, err := r.Select(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		ls, e := it.At()
		if e.Line == nil {
			e.Line = []byte{} // nil and empty lines travel alike
		}
		out = append(out, entryText(ls, e))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out, p.Stats
}

// sameStats compares the figures of two reads, times left out.
func sameStats(t *testing.T, what string, want, got *store.Stats) {
	t.Helper()
	times := map[*atomic.Int64]bool{&want.IndexTime: true, &want.FilterTime: true, &want.ReadTime: true}
	wf, gf := statFields(want), statFields(got)
	for i := range wf {
		if times[wf[i]] {
			continue
		}
		if wf[i].Load() != gf[i].Load() {
			t.Errorf("%s: statistic %d is %d through the remote, %d direct", what, i, gf[i].Load(), wf[i].Load())
		}
	}
}

func TestRemoteSelect(t *testing.T) {
	s, r := fixture(t, 4000)
	all := t0 + int64(time.Hour)
	ms := mustMatchers(t, `{env=~"prod|dev"}`)
	for _, c := range []struct {
		name string
		p    store.SelectParams
	}{
		{"forward", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all}},
		{"backward", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Direction: store.Backward}},
		{"range", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0 + 1000*int64(time.Millisecond), End: t0 + 2500*int64(time.Millisecond)}},
		{"one stream", store.SelectParams{Tenant: "t1", Matchers: mustMatchers(t, `{app="odd"}`), Start: t0, End: all}},
		{"unordered", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Unordered: true}},
		{"no lines", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Unordered: true, NoLines: true}},
		{"needles", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Needles: [][]string{{"error"}, {"10.0.0.", "x"}}, NeedlesExact: true}},
		{"empty needle set", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Needles: [][]string{{}}}},
		{"shard", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Shard: 1, Shards: 3}},
		{"share", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Streams: NewShare("n1", 2, []ShareMember{{"n1", 16}, {"n2", 16}, {"n3", 16}})}},
		{"no match", store.SelectParams{Tenant: "t1", Matchers: mustMatchers(t, `{app="none"}`), Start: t0, End: all}},
		{"other tenant", store.SelectParams{Tenant: "t2", Matchers: ms, Start: t0, End: all}},
		{"empty range", store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: t0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, wst := collect(t, s, c.p)
			got, gst := collect(t, r, c.p)
			if !slices.Equal(got, want) {
				t.Fatalf("%d entries through the remote, %d direct; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			sameStats(t, c.name, wst, gst)
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

type tsCall struct {
	ls, meta string
	ts       []int64
	hs       []uint64
}

func TestRemoteTimestamps(t *testing.T) {
	s, r := fixture(t, 4000)
	all := t0 + int64(time.Hour)
	ms := mustMatchers(t, `{env=~"prod|dev"}`)
	for _, c := range []struct {
		name, filter string
		needles      [][]string
	}{
		{"no filter", "", nil},
		{"contains", `|= "error"`, [][]string{{"error"}}},
		{"several", `|= "error" != "10.0.0.7" |~ "n=[0-9]*5 "`, [][]string{{"error"}}},
		{"ip", `|= ip("10.0.0.0/28")`, nil},
		{"none", `|= "nothing like it"`, [][]string{{"nothing like it"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			keep, err := compileKeep(c.filter)
			if err != nil {
				t.Fatal(err)
			}
			p := store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Needles: c.needles, LineFilter: c.filter,
				NeedlesExact: c.filter != "" && !strings.Contains(c.filter, "!=") && !strings.Contains(c.filter, "ip")}
			var want, got []tsCall
			p.Stats = &store.Stats{}
			wst := p.Stats
			if err := s.Timestamps(context.Background(), p, keep, func(ls, meta labels.Labels, ts []int64) {
				want = append(want, tsCall{ls.String(), meta.String(), slices.Clone(ts), nil})
			}); err != nil {
				t.Fatal(err)
			}
			p.Stats = &store.Stats{}
			if err := r.Timestamps(context.Background(), p, keep, func(ls, meta labels.Labels, ts []int64) {
				got = append(got, tsCall{ls.String(), meta.String(), slices.Clone(ts), nil})
			}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%d calls through the remote, %d direct", len(got), len(want))
			}
			if c.name != "none" && len(want) == 0 {
				t.Fatal("no timestamps: the case tests nothing")
			}
			sameStats(t, c.name, wst, p.Stats)

			// With hashes: the entries of an unordered Select that keep
			// accepts, each with the hash of its line.
			var wantH []tsCall
			it, err := s.Select(context.Background(), store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all, Unordered: true})
			if err != nil {
				t.Fatal(err)
			}
			for it.Next() {
				ls, e := it.At()
				if keep == nil || keep(e.Line) {
					wantH = append(wantH, tsCall{ls.String(), e.Meta.String(), []int64{e.T}, []uint64{xxhash.Sum64(e.Line)}})
				}
			}
			it.Close()
			var gotH []tsCall
			if err := r.HashedTimestamps(context.Background(), p, keep, func(ls, meta labels.Labels, ts []int64, hs []uint64) {
				if len(ts) != len(hs) {
					t.Fatalf("%d timestamps, %d hashes", len(ts), len(hs))
				}
				for i := range ts {
					gotH = append(gotH, tsCall{ls.String(), meta.String(), []int64{ts[i]}, []uint64{hs[i]}})
				}
			}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotH, wantH) {
				t.Fatalf("%d hashed timestamps through the remote, %d direct", len(gotH), len(wantH))
			}
		})
	}
	// keep without its text cannot be sent.
	err := r.Timestamps(context.Background(), store.SelectParams{Tenant: "t1", Matchers: ms, Start: t0, End: all},
		func([]byte) bool { return true }, func(ls, meta labels.Labels, ts []int64) {})
	if err == nil || !strings.Contains(err.Error(), "LineFilter") {
		t.Errorf("keep without LineFilter: %v", err)
	}
}

func TestRemoteSeriesLabelsStats(t *testing.T) {
	s, r := fixture(t, 2000)
	ctx := context.Background()
	all := t0 + int64(time.Hour)
	for _, c := range []struct {
		name       string
		sets       []string
		start, end int64
	}{
		{"one", []string{`{env="prod"}`}, t0, all},
		{"two sets", []string{`{app="db"}`, `{q=~".+"}`}, t0, all},
		{"regexp", []string{`{app=~"a.*|o.*"}`}, t0, all},
		{"none", []string{`{app="none"}`}, t0, all},
		{"early", []string{`{env=~".+"}`}, t0 - int64(time.Hour), t0 - 1},
		{"every series", nil, t0, all},
	} {
		var sets [][]*labels.Matcher
		for _, s := range c.sets {
			sets = append(sets, mustMatchers(t, s))
		}
		var want, got []string
		if err := s.Series(ctx, "t1", sets, c.start, c.end, func(ls labels.Labels) { want = append(want, ls.String()) }); err != nil {
			t.Fatal(err)
		}
		if err := r.Series(ctx, "t1", sets, c.start, c.end, func(ls labels.Labels) { got = append(got, ls.String()) }); err != nil {
			t.Fatal(err)
		}
		// The store gives series in no particular order.
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || c.name == "every series" && len(got) == 0 {
			t.Errorf("series %s: %q through the remote, %q direct", c.name, got, want)
		}
	}
	for _, c := range []struct {
		name, sel, label string
	}{
		{"names", "", ""},
		{"names of prod", `{env="prod"}`, ""},
		{"values", "", "app"},
		{"values of dev", `{env="dev"}`, "app"},
		{"values odd", "", "q"},
		{"values unknown", "", "nope"},
	} {
		var ms []*labels.Matcher
		if c.sel != "" {
			ms = mustMatchers(t, c.sel)
		}
		var want, got []string
		var werr, gerr error
		if c.label == "" {
			want, werr = s.LabelNames(ctx, "t1", ms, t0, all)
			got, gerr = r.LabelNames(ctx, "t1", ms, t0, all)
		} else {
			want, werr = s.LabelValues(ctx, "t1", c.label, ms, t0, all)
			got, gerr = r.LabelValues(ctx, "t1", c.label, ms, t0, all)
		}
		if werr != nil || gerr != nil {
			t.Fatal(werr, gerr)
		}
		if !slices.Equal(got, want) {
			t.Errorf("labels %s: %q through the remote, %q direct", c.name, got, want)
		}
	}
	type figs struct {
		ls   string
		figs []store.Figures
	}
	for _, c := range []struct {
		name   string
		sel    string
		bounds []int64
	}{
		{"whole", `{env=~".+"}`, []int64{t0, all}},
		{"buckets", `{env="prod"}`, []int64{t0, t0 + int64(500*time.Millisecond), t0 + int64(1700*time.Millisecond), all}},
	} {
		p := store.StatsParams{Tenant: "t1", Matchers: mustMatchers(t, c.sel), Bounds: c.bounds}
		var want, got []figs
		if err := s.Stats(ctx, p, func(ls labels.Labels, f []store.Figures) { want = append(want, figs{ls.String(), slices.Clone(f)}) }); err != nil {
			t.Fatal(err)
		}
		if err := r.Stats(ctx, p, func(ls labels.Labels, f []store.Figures) { got = append(got, figs{ls.String(), slices.Clone(f)}) }); err != nil {
			t.Fatal(err)
		}
		// Sources and streams come in no particular order.
		for _, fs := range [][]figs{got, want} {
			slices.SortFunc(fs, func(a, b figs) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("stats %s: %v through the remote, %v direct", c.name, got, want)
		}
	}
}

// slowLocal wraps a Local: its Select iterators count the entries they
// hand out, may block before each, and report when they are closed.
type slowLocal struct {
	store.Local
	next  atomic.Int64
	block chan struct{} // when set, each Next waits for a value or the context
	// stallAfter, when set, makes Next wait for the context after that
	// many entries.
	stallAfter int64
	closed     chan struct{}
	onNext     func(n int64) // called before each entry
}

type slowIter struct {
	store.EntryIterator
	l   *slowLocal
	ctx context.Context
}

func (l *slowLocal) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	it, err := l.Local.Select(ctx, p)
	if err != nil {
		return nil, err
	}
	return &slowIter{it, l, ctx}, nil
}

// Timestamps blocks like the iterators' Next when block is set.
func (l *slowLocal) Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	if l.block != nil {
		select {
		case <-l.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return l.Local.Timestamps(ctx, p, keep, fn)
}

func (it *slowIter) Next() bool {
	n := it.l.next.Add(1)
	if it.l.onNext != nil {
		it.l.onNext(n)
	}
	if it.l.stallAfter > 0 && n > it.l.stallAfter {
		<-it.ctx.Done()
		return false
	}
	if it.l.block != nil {
		select {
		case <-it.l.block:
		case <-it.ctx.Done():
			return false
		}
	}
	return it.EntryIterator.Next()
}

func (it *slowIter) Err() error {
	if err := it.ctx.Err(); err != nil {
		return err
	}
	return it.EntryIterator.Err()
}

func (it *slowIter) Close() error {
	if it.l.closed != nil {
		close(it.l.closed)
	}
	return it.EntryIterator.Close()
}

func TestRemoteSelectCloseEarly(t *testing.T) {
	s := openStore(t)
	const n = 5000
	fill(t, s, n)
	// The peer stalls, as on a slow disk, after 1000 entries: closing the
	// iterator must cancel the read there, not merely stop writes to a
	// connection gone.
	local := &slowLocal{Local: store.Local{Store: s}, closed: make(chan struct{}), stallAfter: 1000}
	r, _ := serve(t, local, nil)
	it, err := r.Select(context.Background(), store.SelectParams{Tenant: "t1", Matchers: mustMatchers(t, `{env=~".+"}`),
		Start: t0, End: t0 + int64(time.Hour), Direction: store.Backward})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if !it.Next() {
			t.Fatal(it.Err())
		}
	}
	it.Close()
	select {
	case <-local.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the peer's iterator is still open 10 s after Close")
	}
	total := int64(len(fixtureStreams)) * n
	if got := local.next.Load(); got > 1001 || got >= total {
		t.Errorf("the peer read %d of %d entries for 100", got, total)
	}
	if it.Next() || it.Err() != nil {
		t.Errorf("after Close: Next true or error %v", it.Err())
	}
}

func TestRemoteDeadline(t *testing.T) {
	s, _ := fixture(t, 100)
	local := &slowLocal{Local: store.Local{Store: s}, block: make(chan struct{})}
	r, _ := serve(t, local, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t1 := time.Now()
	it, err := r.Select(ctx, store.SelectParams{Tenant: "t1", Matchers: mustMatchers(t, `{env=~".+"}`), Start: t0, End: t0 + int64(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
	}
	if d := time.Since(t1); d > 5*time.Second {
		t.Errorf("the deadline of 200 ms ended the read after %v", d)
	}
	if err := it.Err(); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnreachable) {
		t.Errorf("error %v: want the deadline, not ErrUnreachable", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t1 = time.Now()
	err = r.Timestamps(ctx, store.SelectParams{Tenant: "t1", Matchers: mustMatchers(t, `{env=~".+"}`), Start: t0, End: t0 + int64(time.Hour)},
		nil, func(ls, meta labels.Labels, ts []int64) {})
	if d := time.Since(t1); d > 5*time.Second || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnreachable) {
		t.Errorf("timestamps: error %v after %v: want the deadline", err, d)
	}
}

// TestRemoteKeepAlive: calls read to their end leave their connection to
// the next call.
func TestRemoteKeepAlive(t *testing.T) {
	s := openStore(t)
	fill(t, s, 1000)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(NewReadServer(store.Local{Store: s}, ServerOptions{}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	r := NewRemote("peer", srv.URL, nil, nil)
	ctx := context.Background()
	p := store.SelectParams{Tenant: "t1", Matchers: mustMatchers(t, `{env=~".+"}`), Start: t0, End: t0 + int64(time.Hour)}
	for range 3 {
		it, err := r.Select(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		it.Close()
		if err := r.Timestamps(ctx, p, nil, func(ls, meta labels.Labels, ts []int64) {}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.LabelNames(ctx, "t1", nil, t0, t0+int64(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("9 calls in turn opened %d connections", n)
	}
}

func TestRemotePeerDies(t *testing.T) {
	s := openStore(t)
	fill(t, s, 20_000)
	local := &slowLocal{Local: store.Local{Store: s}}
	r, srv := serve(t, local, nil)
	killed := make(chan struct{})
	local.onNext = func(n int64) {
		if n == 30_000 {
			close(killed)
			srv.CloseClientConnections()
		}
	}
	it, err := r.Select(context.Background(), store.SelectParams{Tenant: "t1", Matchers: mustMatchers(t, `{env=~".+"}`), Start: t0, End: t0 + int64(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		n++
	}
	it.Close()
	<-killed
	if err := it.Err(); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("after %d entries: error %v, want ErrUnreachable", n, err)
	}
	srv.Close()
	// A peer that is gone.
	_, err = r.Select(context.Background(), store.SelectParams{Tenant: "t1", Start: t0, End: t0 + 1})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("peer gone: %v, want ErrUnreachable", err)
	}
	if _, err := r.LabelNames(context.Background(), "t1", nil, t0, t0+1); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("peer gone: %v, want ErrUnreachable", err)
	}
	if n := r.Subscribers("t1"); n != 0 {
		t.Fatalf("subscribers of a peer gone: %d", n)
	}
}

// TestRemoteTruncated: answers that end without their end frame, cleanly
// as far as HTTP goes, are errors.
func TestRemoteTruncated(t *testing.T) {
	var ee entryEncoder
	entries := ee.append(nil, fixtureStreams[0], &block.Entry{T: 1, Line: []byte("x")})
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"magic only", []byte(wireMagic)},
		{"bad magic", []byte("LRW9")},
		{"frames, no end", append(append([]byte(wireMagic), frameEntries, byte(len(entries))), entries...)},
		{"cut frame", append(append([]byte(wireMagic), frameEntries, byte(len(entries))), entries[:3]...)},
		{"corrupt frame", append([]byte(wireMagic), frameEntries, 2, 5, 0)},
		{"unknown frame", append([]byte(wireMagic), 'Q', 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(c.body) }))
			defer srv.Close()
			r := NewRemote("peer", srv.URL, nil, nil)
			it, err := r.Select(context.Background(), store.SelectParams{Tenant: "t1"})
			if err == nil {
				for it.Next() {
				}
				err = it.Err()
				it.Close()
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Errorf("select: %v, want ErrUnreachable", err)
			}
			if _, err := r.LabelNames(context.Background(), "t1", nil, 0, 1); !errors.Is(err, ErrUnreachable) {
				t.Errorf("label names: %v, want ErrUnreachable", err)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	s := openStore(t)
	fill(t, s, 100)
	secret := []byte("s3cret\n")
	good, srv := serve(t, store.Local{Store: s}, secret)
	if _, err := good.LabelNames(context.Background(), "t1", nil, t0, t0+int64(time.Hour)); err != nil {
		t.Fatalf("with the secret: %v", err)
	}
	// Surrounding whitespace is no part of the secret.
	trimmed := NewRemote("peer", srv.URL, nil, []byte(" s3cret"))
	if _, err := trimmed.LabelNames(context.Background(), "t1", nil, t0, t0+int64(time.Hour)); err != nil {
		t.Fatalf("with the secret, spaced: %v", err)
	}
	for _, other := range [][]byte{nil, []byte("other")} {
		r := NewRemote("peer", srv.URL, nil, other)
		_, err := r.LabelNames(context.Background(), "t1", nil, t0, t0+int64(time.Hour))
		var pe *PeerError
		if !errors.As(err, &pe) || pe.Status != http.StatusUnauthorized || !errors.Is(err, ErrUnreachable) ||
			!strings.Contains(err.Error(), "-cluster.secret-file") {
			t.Errorf("without the secret: %v, want a 401 wrapping ErrUnreachable", err)
		}
		if _, err := r.Subscribe("t1", nil, store.TailOptions{}); !errors.As(err, &pe) || pe.Status != http.StatusUnauthorized {
			t.Errorf("tail without the secret: %v", err)
		}
	}
	// The token: SHA-256 of "loam-cluster-v1\x00" + secret, in hex, as
	// every node computes it (here by sha256sum).
	if got, want := authToken([]byte("s3cret")), "deb22c836913ff3e682b259e194552a26be4d6a8ae2fdd70d6fc89ddc21e94ea"; got != want {
		t.Errorf("token %q, want %q", got, want)
	}
	if authToken(nil) != "" || authToken([]byte(" \n")) != "" || authToken([]byte("a")) == authToken([]byte("b")) {
		t.Error("tokens: empty or distinct wrongly")
	}
}

func TestBadRequests(t *testing.T) {
	s := openStore(t)
	_, srv := serve(t, store.Local{Store: s}, nil)
	for _, c := range []struct {
		path, form string
		status     int
		msg        string
	}{
		{PathSelect, "match=%7Ba%3D%22b%22%7D", 400, "tenant is required"},
		{PathSelect, "tenant=t&match=nope", 400, "parameter match: parse error at line 1, col 1"},
		{PathSelect, "tenant=t&start=x", 400, `start: "x" is not an integer`},
		{PathSelect, "tenant=t&start=5&end=4", 400, "end (4) is before start (5)"},
		{PathSelect, "tenant=t&direction=up", 400, "neither forward nor backward"},
		{PathSelect, "tenant=t&needle=1:x", 400, "parameter needle"},
		{PathSelect, "tenant=t&needle=x", 400, "parameter needle"},
		{PathSelect, "tenant=t&shard=3&shards=2", 400, "shard: 3 is not in [0, 2)"},
		{PathSelect, "tenant=t&unordered=yes", 400, "not 0 or 1"},
		{PathSelect, "tenant=t&tenant=u", 400, "tenant given 2 times"},
		{PathTimestamps, "tenant=t&line_filter=%7C+json", 400, "parameter line_filter"},
		{PathTimestamps, "tenant=t&line_filter=%7C~+%22%5B%22", 400, "invalid regexp"},
		{PathTimestamps, "tenant=t&hashes=2", 400, "hashes"},
		{PathSeries, "tenant=t&match=", 400, "a set of matchers is empty"},
		{PathStats, "tenant=t&bounds=5", 400, "number two at least"},
		{PathStats, "tenant=t&bounds=5,1", 400, "must ascend"},
		{PathStats, "tenant=t&bounds=a,1", 400, "not an integer"},
		{PathTail, "tenant=t&max_entries=-1", 400, "negative"},
		{PathSubscribers, "", 400, "tenant is required"},
		{"/internal/nope", "tenant=t", 404, ""},
		{PathSelect, "tenant=t&%zz", 400, "bad form"},
	} {
		resp, err := http.Post(srv.URL+c.path, "application/x-www-form-urlencoded", strings.NewReader(c.form))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.msg) {
			t.Errorf("%s %s: %d %q, want %d with %q", c.path, c.form, resp.StatusCode, body, c.status, c.msg)
		}
	}
	resp, err := http.Get(srv.URL + PathSelect + "?tenant=t")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	// A 400 is the request's fault, not the peer's.
	r := NewRemote("peer", srv.URL, nil, nil)
	_, err = r.Select(context.Background(), store.SelectParams{Tenant: "t", Start: 2, End: 1})
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Status != 400 || errors.Is(err, ErrUnreachable) {
		t.Errorf("bad select: %v", err)
	}
}

// TestParamsRoundTrip: what a Remote sends is what the server reads.
func TestParamsRoundTrip(t *testing.T) {
	ms := mustMatchers(t, `{a="x\"y", b=~"c|d.*", e!="", f!~"\\d+"}`)
	for _, p := range []store.SelectParams{
		{Tenant: "t", Start: -5, End: 10},
		{Tenant: "t:x", Matchers: ms, Start: 1, End: 2, Direction: store.Backward, Needles: [][]string{{"a:b", ""}, {}, {"ü\xff"}},
			NeedlesExact: true, Unordered: true, NoLines: true, Shard: 2, Shards: 5, LineFilter: `|= "x"`},
		{Tenant: "t", Start: 1, End: 2, Streams: NewShare("b", 3, []ShareMember{{"a", 128}, {"b:c", 7}, {"c", 4096}})},
	} {
		v, err := selectValues(p)
		if err != nil {
			t.Fatal(err)
		}
		form, err := url.ParseQuery(v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseSelect(form)
		if err != nil {
			t.Fatal(err)
		}
		if labels.MatchersString(got.Matchers) != labels.MatchersString(p.Matchers) {
			t.Errorf("matchers: %s, sent %s", labels.MatchersString(got.Matchers), labels.MatchersString(p.Matchers))
		}
		got.Matchers, p.Matchers = nil, nil
		if p.Streams != nil {
			gs, ps := got.Streams.(*Share), p.Streams.(*Share)
			if gs == nil || gs.Self != ps.Self || gs.RF != ps.RF || !slices.Equal(gs.Members, ps.Members) {
				t.Errorf("share: %v, sent %v", got.Streams, ps)
			}
			got.Streams, p.Streams = nil, nil
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("round trip:\n%+v\n%+v", got, p)
		}
	}
}
