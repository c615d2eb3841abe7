package deletes

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/internal/golden"
	"github.com/loam-logs/loam/server/labels"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// open opens a Manager on dir with the test clock.
func open(t *testing.T, dir string, opts Options, c *clock) *Manager {
	t.Helper()
	opts.Dir = dir
	m, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	m.now = c.Now
	t.Cleanup(m.Stop)
	return m
}

func mustAdd(t *testing.T, m *Manager, tenant string, p Params) Request {
	t.Helper()
	r, err := m.Add(tenant, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func list(t *testing.T, m *Manager, tenant string) []Request {
	t.Helper()
	rs, err := m.List(tenant, ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestAddListReopen(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: now}
	m := open(t, dir, Options{Delay: time.Hour}, c)
	a := mustAdd(t, m, "t1", Params{Query: `{app="a"} |= "secret"`, Start: "2024-04-28T06:00:00Z"})
	c.Add(time.Second)
	b := mustAdd(t, m, "t1", Params{Query: `{app="b"}`, Start: "1714561200", End: "1714562000"})
	mustAdd(t, m, "t2", Params{Query: `{app="c"}`, Start: "1714561200"})

	if len(a.ID) != 8 || strings.Trim(a.ID, "0123456789abcdef") != "" || a.ID == b.ID {
		t.Fatalf("ids %q, %q: want distinct 8 hex digits", a.ID, b.ID)
	}
	want := []Request{a, b}
	if got := list(t, m, "t1"); !equalRequests(got, want) {
		t.Fatalf("list = %+v, want %+v", got, want)
	}
	if a.Status() != StatusReceived || a.Shards != 4 || a.CreatedAt != now.UnixMilli() {
		t.Fatalf("a = %+v (status %s)", a, a.Status())
	}

	// Another Manager on the same directory (a restart) lists the same.
	m2 := open(t, dir, Options{Delay: time.Hour}, c)
	if got := list(t, m2, "t1"); !equalRequests(got, want) {
		t.Fatalf("after reopen list = %+v, want %+v", got, want)
	}
	if got := list(t, m2, "t2"); len(got) != 1 || got[0].Query != `{app="c"}` {
		t.Fatalf("after reopen t2 = %+v", got)
	}
	if got := len(m2.Tombstones("t1")); got != 2 {
		t.Fatalf("after reopen %d tombstones, want 2", got)
	}
	// Cancelling in the reopened one sticks too.
	if err := m2.Cancel("t1", a.ID, false); err != nil {
		t.Fatal(err)
	}
	m3 := open(t, dir, Options{Delay: time.Hour}, c)
	if got := list(t, m3, "t1"); !equalRequests(got, []Request{b}) {
		t.Fatalf("after cancel and reopen list = %+v", got)
	}
}

func equalRequests(a, b []Request) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestListFilters(t *testing.T) {
	c := &clock{t: now}
	m := open(t, t.TempDir(), Options{}, c)
	if got := list(t, m, "t"); got != nil {
		t.Fatalf("empty list = %#v, want nil (Loki answers null)", got)
	}
	a := mustAdd(t, m, "t", Params{Query: `{app="a"}`, Start: "2024-05-01T08:00:00Z", End: "2024-05-01T09:00:00Z"})
	c.Add(time.Millisecond)
	b := mustAdd(t, m, "t", Params{Query: `{app="b"}`, Start: "2024-05-01T10:00:00Z", End: "2024-05-01T11:00:00Z"})
	m.mu.Lock()
	m.reqs[1].ShardsDone = m.reqs[1].Shards // b processed
	m.mu.Unlock()
	b.ShardsDone = b.Shards

	cases := []struct {
		name string
		p    ListParams
		want []Request
		err  string
	}{
		{name: "all", want: []Request{a, b}},
		{name: "overlapping a", p: ListParams{Start: "2024-05-01T07:00:00Z", End: "2024-05-01T08:00:00Z"}, want: []Request{a}},
		{name: "overlapping both", p: ListParams{Start: "2024-05-01T09:00:00Z", End: "1714561200"}, want: []Request{a, b}},
		{name: "overlapping none", p: ListParams{Start: "2024-05-01T09:30:00Z", End: "2024-05-01T09:40:00Z"}, want: []Request{}},
		{name: "start alone is ignored", p: ListParams{Start: "2024-05-01T09:30:00Z"}, want: []Request{a, b}},
		{name: "unprocessed", p: ListParams{UnprocessedOnly: true}, want: []Request{a}},
		{name: "bad start", p: ListParams{Start: "x", End: "1714561200"}, err: "invalid start time: require unix seconds or RFC3339 format"},
		{name: "bad end", p: ListParams{Start: "1714561200", End: "x"}, err: "invalid end time: require unix seconds or RFC3339 format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := m.List("t", c.p)
			if c.err != "" {
				var br *BadRequestError
				if !errors.As(err, &br) || err.Error() != c.err {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalRequests(got, c.want) || (got == nil) != (c.want == nil) {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

// TestListJSON: the list as GET /loki/api/v1/delete writes it, in each
// status.
func TestListJSON(t *testing.T) {
	rs := []Request{
		{ID: "0a1b2c3d", Tenant: "t", Query: `{app="a"}`, Start: 1714561200000, End: 1714564800000, CreatedAt: 1714564800123, Shards: 1},
		{ID: "deadbeef", Tenant: "t", Query: `{app="b"} |= "<secret> & \"quoted\""`, Start: 1714561200500, End: 1714564800001, CreatedAt: 1714564801000, Shards: 3, ShardsDone: 1},
		{ID: "00000001", Tenant: "t", Query: `{app="c"} |~ "x"`, Start: -1000, End: 1, CreatedAt: 1714564802000, Shards: 3, ShardsDone: 2},
		{ID: "00000002", Tenant: "t", Query: `{app="d"}`, Start: 0, End: 1000, CreatedAt: 1714564803000, Shards: 1, ShardsDone: 1},
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(rs); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/list.golden.json", b.Bytes())

	// The statuses, as Loki words them.
	for i, want := range []string{"received", "33% Complete", "66% Complete", "processed"} {
		if got := rs[i].Status(); got != want {
			t.Errorf("status of %+v = %q, want %q", rs[i], got, want)
		}
	}
}

func TestTombstones(t *testing.T) {
	c := &clock{t: now}
	m := open(t, t.TempDir(), Options{}, c)
	if got := m.Tombstones("t"); len(got) != 0 {
		t.Fatalf("tombstones before any request: %v", got)
	}
	a := mustAdd(t, m, "t", Params{Query: `{app="a", env=~"prod|stage"} |= "secret" != "public"`, Start: "2024-05-01T11:00:00Z", End: "2024-05-01T11:30:00.5Z"})
	mustAdd(t, m, "t", Params{Query: `{app="b"}`, Start: "2024-05-01T10:00:00Z"})
	mustAdd(t, m, "other", Params{Query: `{app="a"}`, Start: "2024-05-01T10:00:00Z"})

	ts := m.Tombstones("t")
	if len(ts) != 2 {
		t.Fatalf("%d tombstones, want 2", len(ts))
	}
	ta := ts[0]
	if ta.Start != time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC).UnixNano() || ta.End != time.Date(2024, 5, 1, 11, 30, 0, 5e8, time.UTC).UnixNano() {
		t.Fatalf("range [%d, %d]", ta.Start, ta.End)
	}
	for _, s := range []struct {
		ls   map[string]string
		want bool
	}{
		{map[string]string{"app": "a", "env": "prod"}, true},
		{map[string]string{"app": "a", "env": "dev"}, false},
		{map[string]string{"app": "b", "env": "prod"}, false},
	} {
		if got := labels.FromMap(s.ls).Matches(ta.Matchers); got != s.want {
			t.Errorf("matchers on %v = %v, want %v", s.ls, got, s.want)
		}
	}
	for line, want := range map[string]bool{"a secret": true, "a public secret": false, "nothing": false} {
		if got := ta.Line([]byte(line)); got != want {
			t.Errorf("Line(%q) = %v, want %v", line, got, want)
		}
	}
	if ts[1].Line != nil {
		t.Fatal("a request without line filters hides every line: Line must be nil")
	}
	if got := m.Tombstones("other"); len(got) != 1 {
		t.Fatalf("other tenant: %d tombstones, want 1", len(got))
	}
	if got := m.Tombstones("nobody"); len(got) != 0 {
		t.Fatalf("unknown tenant: %v", got)
	}

	// Cancelled: hidden no more, at once.
	if err := m.Cancel("t", a.ID, false); err != nil {
		t.Fatal(err)
	}
	if ts := m.Tombstones("t"); len(ts) != 1 || ts[0].Line != nil {
		t.Fatalf("after cancel: %+v", ts)
	}
}

// TestTombstonesConcurrent reads the tombstones while requests change.
func TestTombstonesConcurrent(t *testing.T) {
	c := &clock{t: now}
	m := open(t, t.TempDir(), Options{}, c)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, ts := range m.Tombstones("t") {
				if ts.Line != nil {
					ts.Line([]byte("a secret line"))
				}
			}
		}
	}()
	for i := 0; i < 20; i++ {
		r := mustAdd(t, m, "t", Params{Query: `{app="a"} |= "secret"`, Start: "1714561200"})
		if i%2 == 0 {
			if err := m.Cancel("t", r.ID, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if got := len(m.Tombstones("t")); got != 10 {
		t.Fatalf("%d tombstones, want 10", got)
	}
}

func TestCancel(t *testing.T) {
	c := &clock{t: now}
	m := open(t, t.TempDir(), Options{Delay: time.Hour}, c)
	add := func() Request { return mustAdd(t, m, "t", Params{Query: `{app="a"}`, Start: "1714561200"}) }
	fresh, old, partial, done := add(), add(), add(), add()
	m.mu.Lock()
	m.reqs[1].CreatedAt -= time.Hour.Milliseconds() + 1 // past the delay
	m.reqs[2].Shards, m.reqs[2].ShardsDone = 2, 1
	m.reqs[3].ShardsDone = m.reqs[3].Shards
	m.mu.Unlock()

	const (
		processed = "deletion of request which is in process or already processed is not allowed"
		deadline  = "Cancellation of partially completed delete request or delete request past the deadline of 1h0m0s since its creation is not allowed. To force, use the ?force query parameter"
	)
	cases := []struct {
		name   string
		tenant string
		id     string
		force  bool
		err    string
	}{
		{name: "unknown id", tenant: "t", id: "ffffffff", err: ErrNotFound.Error()},
		{name: "empty id", tenant: "t", id: "", err: ErrNotFound.Error()},
		{name: "other tenant's", tenant: "u", id: fresh.ID, err: ErrNotFound.Error()},
		{name: "past the delay", tenant: "t", id: old.ID, err: deadline},
		{name: "partly purged", tenant: "t", id: partial.ID, err: deadline},
		{name: "processed", tenant: "t", id: done.ID, err: processed},
		{name: "processed, forced", tenant: "t", id: done.ID, force: true, err: processed},
		{name: "fresh", tenant: "t", id: fresh.ID},
		{name: "fresh, again", tenant: "t", id: fresh.ID, err: ErrNotFound.Error()},
		{name: "past the delay, forced", tenant: "t", id: old.ID, force: true},
		{name: "partly purged, forced", tenant: "t", id: partial.ID, force: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := m.Cancel(c.tenant, c.id, c.force)
			switch {
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err != "" && (err == nil || err.Error() != c.err):
				t.Fatalf("err = %v, want %q", err, c.err)
			case c.err == ErrNotFound.Error() && !errors.Is(err, ErrNotFound):
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
	if got := list(t, m, "t"); len(got) != 1 || got[0].ID != done.ID {
		t.Fatalf("left: %+v, want the processed one", got)
	}
}

func TestCorruptFile(t *testing.T) {
	cases := []struct {
		name, content, err string
	}{
		{"not JSON", "{\"version\":1,\"requests\":[", "unexpected EOF"},
		{"garbage after", `{"version":1,"requests":[]} x`, "data after the JSON document"},
		{"unknown version", `{"version":2,"requests":[]}`, "version 2"},
		{"unknown field", `{"version":1,"requests":[],"x":1}`, `unknown field "x"`},
		{"bad query", `{"version":1,"requests":[{"id":"a","tenant":"t","query":"{","start_ms":0,"end_ms":1}]}`, "request 0: query"},
		{"empty range", `{"version":1,"requests":[{"id":"a","tenant":"t","query":"{a=\"b\"}","start_ms":1,"end_ms":1}]}`, "is not before end"},
		{"too many done", `{"version":1,"requests":[{"id":"a","tenant":"t","query":"{a=\"b\"}","start_ms":0,"end_ms":1,"shards_done":2}]}`, "2 parts done of 1"},
		{"duplicate", `{"version":1,"requests":[{"id":"a","tenant":"t","query":"{a=\"b\"}","start_ms":0,"end_ms":1},{"id":"a","tenant":"t","query":"{a=\"c\"}","start_ms":0,"end_ms":1}]}`, "there twice"},
		{"no tenant", `{"version":1,"requests":[{"id":"a","query":"{a=\"b\"}","start_ms":0,"end_ms":1}]}`, "no tenant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Options{Dir: dir})
			if err == nil {
				t.Fatal("Open succeeded on a corrupt file")
			}
			for _, want := range []string{path, "corrupt", c.err, "remove it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestSaveFails: a request that cannot be saved is not added (nor hidden),
// and a cancel that cannot be saved does not happen.
func TestSaveFails(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: now}
	m := open(t, dir, Options{}, c)
	kept := mustAdd(t, m, "t", Params{Query: `{app="a"}`, Start: "1714561200"})
	// A directory where the temporary file goes makes every save fail.
	if err := os.Mkdir(filepath.Join(dir, FileName+".tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := m.Add("t", Params{Query: `{app="b"}`, Start: "1714561200"})
	var br *BadRequestError
	if err == nil || errors.As(err, &br) {
		t.Fatalf("Add with a failing disk: err = %v, want a disk error", err)
	}
	if err := m.Cancel("t", kept.ID, false); err == nil || errors.As(err, &br) {
		t.Fatalf("Cancel with a failing disk: err = %v, want a disk error", err)
	}
	if got := list(t, m, "t"); !equalRequests(got, []Request{kept}) {
		t.Fatalf("list = %+v, want only the saved request", got)
	}
	if got := len(m.Tombstones("t")); got != 1 {
		t.Fatalf("%d tombstones, want 1", got)
	}
	os.Remove(filepath.Join(dir, FileName+".tmp"))
	m2 := open(t, dir, Options{}, c)
	if got := list(t, m2, "t"); !equalRequests(got, []Request{kept}) {
		t.Fatalf("after reopen list = %+v", got)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := &clock{t: now}
	m := open(t, t.TempDir(), Options{Registerer: reg}, c)
	mustAdd(t, m, "t", Params{Query: `{app="a"}`, Start: "1714561200"})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			switch {
			case mt.GetCounter() != nil:
				got[mf.GetName()] += mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				got[mf.GetName()] += mt.GetGauge().GetValue()
			}
		}
	}
	if got["loam_delete_requests_received_total"] != 1 || got["loam_delete_requests_pending"] != 1 {
		t.Fatalf("metrics %v", got)
	}
}
