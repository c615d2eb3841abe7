package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

// testRetention keeps every stream of a tenant for period, and the streams
// whose app is in short for their own period.
type testRetention struct {
	mu     sync.Mutex
	period time.Duration
	short  map[string]time.Duration
}

func (r *testRetention) StreamRetention(_ string, ls labels.Labels) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.short[ls.Get("app")]; ok {
		return p
	}
	return r.period
}

func (r *testRetention) MaxRetention(string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.period
	for _, p := range r.short {
		m = max(m, p)
	}
	return m
}

func (r *testRetention) MinRetention(string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.period
	for _, p := range r.short {
		m = min(m, p)
	}
	return m
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// retentionStore opens a store with a test clock and retention whose
// background passes never run on their own (the tests run them).
func retentionStore(t *testing.T, dir string, ret Retention, clock *testClock, ro RetentionOptions) (*Store, *Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	ro.Interval = time.Hour
	s, err := Open(Options{Dir: dir, WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour,
		OutOfOrderWindow: 1000 * time.Hour, CompactionColdAfter: time.Nanosecond,
		Retention: ret, RetentionOptions: ro, Now: clock.now, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return s, m, reg
}

// hoursOf returns n entries spread over the given hours after start, a
// minute apart within each hour.
func hoursOf(start time.Time, hours, perHour int, prefix string) []block.Entry {
	var es []block.Entry
	for h := 0; h < hours; h++ {
		for i := 0; i < perHour; i++ {
			t := start.Add(time.Duration(h)*time.Hour + time.Duration(i)*time.Minute)
			es = append(es, block.Entry{T: t.UnixNano(), Line: fmt.Appendf(nil, "%s h%d i%d", prefix, h, i)})
		}
	}
	return es
}

func countAll(t *testing.T, s *Store, tenant string, start, end time.Time) map[string]int {
	t.Helper()
	it, err := s.Select(context.Background(), SelectParams{Tenant: tenant, Start: start.UnixNano(), End: end.UnixNano(),
		Matchers: []*labels.Matcher{mustMatcher(labels.MatchEqual, "env", "test")}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[string]int{}
	for it.Next() {
		l, _ := it.At()
		out[l.Get("app")]++
	}
	return out
}

// TestRetentionByAge: reads hide what each stream's retention has passed
// from the moment it expires; the pass removes the expired hours' blocks
// and rewrites blocks without the streams of a shorter rule; a push and a
// flush never bring expired data back.
func TestRetentionByAge(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	// Written at 05:00, when only dev's first two hours have expired (the
	// flush leaves them out), read and purged at 06:00.
	clock := &testClock{t: day.Add(5 * time.Hour)}
	ret := &testRetention{period: 5 * time.Hour, short: map[string]time.Duration{"dev": 3 * time.Hour}}
	s, m, _ := retentionStore(t, dir, ret, clock, RetentionOptions{})
	defer s.Close()
	// Six hours of two streams, 10 entries an hour.
	if _, err := s.Append("t1", []Stream{{ls("prod"), hoursOf(day, 6, 10, "p")}, {ls("dev"), hoursOf(day, 6, 10, "d")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := s.parts["t1"][dayOf(day.UnixNano())]
	if len(p.blocks) != 6 {
		t.Fatalf("the cold day has %d blocks, want one per hour (6)", len(p.blocks))
	}
	for _, b := range p.blocks {
		if !isCold(b) || hourOf(b.meta.MinT) != hourOf(b.meta.MaxT) {
			t.Fatalf("block %s is not one hour of the cold form: %v..%v", b.path, b.meta.MinT, b.meta.MaxT)
		}
	}

	// At 06:00: prod keeps 01:00 on (5h), dev 03:00 on (3h).
	clock.set(day.Add(6 * time.Hour))
	got := countAll(t, s, "t1", day, day.Add(7*time.Hour))
	if got["prod"] != 50 || got["dev"] != 30 {
		t.Fatalf("visible at 06:00: %v, want prod 50, dev 30", got)
	}
	// Counts and stats agree with what a read sees.
	var statEntries int64
	if err := s.Stats(context.Background(), StatsParams{Tenant: "t1", Matchers: []*labels.Matcher{mustMatcher(labels.MatchEqual, "env", "test")},
		Bounds: []int64{day.UnixNano(), day.Add(7 * time.Hour).UnixNano()}}, func(_ labels.Labels, figs []Figures) {
		statEntries += figs[0].Entries
	}); err != nil {
		t.Fatal(err)
	}
	if statEntries != 80 {
		t.Fatalf("stats count %d entries, want 80", statEntries)
	}
	// Series over 00:00–03:00 no longer lists dev, expired there.
	var series []string
	if err := s.Series(context.Background(), "t1", nil, day.UnixNano(), day.Add(3*time.Hour).UnixNano()-1,
		func(ls labels.Labels) { series = append(series, ls.Get("app")) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(series) != "[prod]" {
		t.Fatalf("series over the expired hours: %v, want [prod]", series)
	}

	if err := s.ApplyRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Hour 00 expired for both (removed); hours 01 and 02 hold dev only
	// past its rule (rewritten).
	p = s.parts["t1"][dayOf(day.UnixNano())]
	if len(p.blocks) != 5 {
		t.Fatalf("%d blocks after the pass, want 5", len(p.blocks))
	}
	for _, b := range p.blocks {
		r, err := b.reader()
		if err != nil {
			t.Fatal(err)
		}
		for it := r.Iter(); it.Next(); {
			sm := it.At()
			if sm.Labels.Get("app") == "dev" && b.meta.MaxT < day.Add(3*time.Hour).UnixNano() {
				t.Fatalf("block %s still holds dev entries past the rule", b.path)
			}
		}
	}
	if got := countAll(t, s, "t1", day, day.Add(7*time.Hour)); got["prod"] != 50 || got["dev"] != 30 {
		t.Fatalf("visible after the pass: %v, want the same", got)
	}
	if v := metricValue(m.purgedBytes.WithLabelValues("t1", ReasonAge)); v <= 0 {
		t.Fatalf("purged bytes by age = %v, want some", v)
	}
	if v := metricValue(m.purgedBytes.WithLabelValues("t1", ReasonStream)); v <= 0 {
		t.Fatalf("purged bytes by stream rule = %v, want some", v)
	}
	if v := metricValue(m.oldest.WithLabelValues("t1")); v != float64(day.Add(time.Hour).Unix()) {
		t.Fatalf("oldest timestamp %v, want %v", v, day.Add(time.Hour).Unix())
	}

	// A push of expired entries is refused, naming the stream.
	rej, err := s.Append("t1", []Stream{{ls("dev"), hoursOf(day, 1, 2, "late")}})
	if err != nil || len(rej) != 2 || !rej[0].Expired || !strings.Contains(rej[0].Reason, "entry too old") {
		t.Fatalf("push of expired entries: %v %+v", err, rej)
	}

	// The whole day expires: its partition goes, and a restart does not
	// bring it back.
	clock.set(day.Add(12 * time.Hour))
	if err := s.ApplyRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.parts["t1"][dayOf(day.UnixNano())]; ok {
		t.Fatal("the expired day's partition is still there")
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "blocks", tenantDir("t1"))); len(entries) != 0 {
		t.Fatalf("files left of the expired day: %v", entries)
	}
}

// TestRetentionBySize: past a byte budget the oldest hour goes first, never
// data younger than MinAge, across tenants.
func TestRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clock := &testClock{t: day.Add(30 * time.Hour)}
	s, m, _ := retentionStore(t, dir, nil, clock, RetentionOptions{MinAge: 24 * time.Hour})
	defer s.Close()
	// Tenant a: hours 00–07 of the day; tenant b: hours 04–11. 200 lines an
	// hour each, so that every hour's block has some size.
	for _, tenant := range []string{"a", "b"} {
		start := day
		if tenant == "b" {
			start = day.Add(4 * time.Hour)
		}
		if _, err := s.Append(tenant, []Stream{{ls("x"), hoursOf(start, 8, 60, tenant+strings.Repeat("y", 100))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	total, _ := s.DataBytes()
	// A budget a little under the data: one step, the oldest hour (a's
	// hour 00) and, to reach 5% of the budget, what else it takes.
	s.setOpts(func(o *Options) { o.RetentionOptions.MaxBytes = total - 1 })
	if err := s.ApplyRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ := s.DataBytes()
	if after >= total || after > total-1 {
		t.Fatalf("blocks %d bytes after the purge, budget %d", after, total-1)
	}
	got := countAll(t, s, "a", day, day.Add(24*time.Hour))
	if got["x"] != 7*60 {
		t.Fatalf("tenant a keeps %d entries, want 7 hours (the oldest hour purged first)", got["x"])
	}
	if got := countAll(t, s, "b", day, day.Add(24*time.Hour)); got["x"] != 8*60 {
		t.Fatalf("tenant b keeps %d entries, want all: its data is younger", got["x"])
	}
	if v := metricValue(m.purgedBytes.WithLabelValues("a", ReasonSize)); v <= 0 {
		t.Fatalf("purged bytes by size = %v", v)
	}

	// A budget nothing can meet: everything older than MinAge goes, the
	// rest stays.
	clock.set(day.Add(24*time.Hour + 6*time.Hour))
	s.setOpts(func(o *Options) { o.RetentionOptions.MaxBytes = 1 })
	if err := s.ApplyRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Now 06:00 next day: data younger than 24h is that after 06:00.
	if got := countAll(t, s, "a", day, day.Add(24*time.Hour)); got["x"] != 2*60 {
		t.Fatalf("tenant a keeps %d entries, want hours 06 and 07 (younger than the min age)", got["x"])
	}
	if got := countAll(t, s, "b", day, day.Add(24*time.Hour)); got["x"] != 6*60 {
		t.Fatalf("tenant b keeps %d entries, want hours 06–11", got["x"])
	}
}

// TestPurgeDeleted: a tombstone hides lines from reads at once; the purge
// leaves no deleted line in any block, and every other line in place.
func TestPurgeDeleted(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clock := &testClock{t: day.Add(5 * time.Hour)}
	tombs := &testTombstones{}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s, err := Open(Options{Dir: dir, WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour,
		OutOfOrderWindow: 1000 * time.Hour, CompactionColdAfter: time.Nanosecond, Tombstones: tombs, Now: clock.now, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append("t1", []Stream{{ls("api"), hoursOf(day, 3, 10, "api")}, {ls("db"), hoursOf(day, 3, 10, "db")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Delete api's lines with "i3" in hours 00–01, and some still in the
	// head.
	if _, err := s.Append("t1", []Stream{{ls("api"), []block.Entry{{T: day.Add(time.Hour + 30*time.Second).UnixNano(), Line: []byte("api late i3")}}}}); err != nil {
		t.Fatal(err)
	}
	tomb := Tombstone{Matchers: []*labels.Matcher{mustMatcher(labels.MatchEqual, "app", "api")},
		Start: day.UnixNano(), End: day.Add(2*time.Hour - 1).UnixNano(),
		Line: func(l []byte) bool { return strings.Contains(string(l), "i3") }}
	tombs.set([]Tombstone{tomb})
	got := countAll(t, s, "t1", day, day.Add(3*time.Hour))
	if got["api"] != 28 || got["db"] != 30 {
		t.Fatalf("visible with the tombstone: %v, want api 28 (30+1-3), db 30", got)
	}
	// Reads of timestamps alone (count_over_time) read the lines the
	// tombstone needs.
	counted := map[string]int{}
	err = s.Timestamps(context.Background(), SelectParams{Tenant: "t1", Start: day.UnixNano(), End: day.Add(3 * time.Hour).UnixNano(),
		Matchers: []*labels.Matcher{mustMatcher(labels.MatchEqual, "env", "test")}}, nil,
		func(ls, _ labels.Labels, ts []int64) { counted[ls.Get("app")] += len(ts) })
	if err != nil {
		t.Fatal(err)
	}
	if counted["api"] != 28 || counted["db"] != 30 {
		t.Fatalf("timestamps with the tombstone: %v, want api 28, db 30", counted)
	}
	res, err := s.PurgeDeleted(context.Background(), "t1", tomb)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 3 {
		t.Fatalf("purged %d lines, want 3", res.Lines)
	}
	// Without the tombstone, the blocks alone hold what remains.
	tombs.set(nil)
	if got := countAll(t, s, "t1", day, day.Add(3*time.Hour)); got["api"] != 28 || got["db"] != 30 {
		t.Fatalf("visible after the purge: %v, want api 28, db 30", got)
	}
	for _, r := range s.partitions() {
		for _, b := range s.blocksOf(r) {
			rd, err := block.Open(b.path)
			if err != nil {
				t.Fatal(err)
			}
			for it := rd.Iter(); it.Next(); {
				sm := it.At()
				for ci := range sm.Chunks {
					var d block.ChunkData
					if err := rd.ReadChunk(&sm.Chunks[ci], &d); err != nil {
						t.Fatal(err)
					}
					for _, e := range d.Entries {
						if sm.Labels.Get("app") == "api" && tomb.hides(e.T, e.Line) {
							t.Fatalf("block %s still holds deleted line %q", b.path, e.Line)
						}
					}
				}
			}
			rd.Close()
		}
	}
	if v := metricValue(m.purgedBytes.WithLabelValues("t1", ReasonDelete)); v <= 0 {
		t.Fatalf("purged bytes by delete = %v", v)
	}
}

type testTombstones struct {
	mu sync.Mutex
	ts []Tombstone
}

func (t *testTombstones) set(ts []Tombstone) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ts = ts
}

func (t *testTombstones) Tombstones(string) []Tombstone {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ts
}

// TestColdLateData: data arriving late for a cold day is merged into the
// hourly blocks of its hours only.
func TestColdLateData(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clock := &testClock{t: day.Add(10 * time.Hour)}
	s, _, _ := retentionStore(t, dir, nil, clock, RetentionOptions{})
	defer s.Close()
	if _, err := s.Append("t1", []Stream{{ls("a"), hoursOf(day, 3, 10, "a")}}); err != nil {
		t.Fatal(err)
	}
	s.Flush(context.Background())
	s.Compact(context.Background())
	before := map[string]bool{}
	for _, b := range s.parts["t1"][dayOf(day.UnixNano())].blocks {
		before[b.path] = true
	}
	late := []block.Entry{{T: day.Add(time.Hour + 30*time.Second).UnixNano(), Line: []byte("late")}}
	if _, err := s.Append("t1", []Stream{{ls("a"), late}}); err != nil {
		t.Fatal(err)
	}
	s.Flush(context.Background())
	s.Compact(context.Background())
	p := s.parts["t1"][dayOf(day.UnixNano())]
	if len(p.blocks) != 3 {
		t.Fatalf("%d blocks, want 3 hourly ones", len(p.blocks))
	}
	kept := 0
	for _, b := range p.blocks {
		if before[b.path] {
			kept++
		}
	}
	if kept != 2 {
		t.Fatalf("%d of the hourly blocks were left as they were, want 2 (hour 01 rewritten)", kept)
	}
	if got := countAll(t, s, "t1", day, day.Add(3*time.Hour)); got["a"] != 31 {
		t.Fatalf("%d entries, want 31", got["a"])
	}
}

func mustMatcher(t labels.MatchType, name, value string) *labels.Matcher {
	m, err := labels.NewMatcher(t, name, value)
	if err != nil {
		panic(err)
	}
	return m
}

// metricValue reads a counter or a gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// TestColdCrashLeftovers: a crash between writing a merge's hourly blocks
// and removing its sources leaves two blocks for one hour. Reads answer
// each entry once, and the next cold merge makes the hour one block again.
func TestColdCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clock := &testClock{t: day.Add(10 * time.Hour)}
	s, _, _ := retentionStore(t, dir, nil, clock, RetentionOptions{})
	if _, err := s.Append("t1", []Stream{{ls("a"), hoursOf(day, 3, 10, "a")}}); err != nil {
		t.Fatal(err)
	}
	s.Flush(context.Background())
	s.Compact(context.Background())
	pdir := s.partDir("t1", dayOf(day.UnixNano()))
	s.Close()
	hour1 := hourOf(day.Add(time.Hour).UnixNano())
	src, _ := filepath.Glob(filepath.Join(pdir, fmt.Sprintf("H%d-*.blk", hour1/int64(time.Second))))
	if len(src) != 1 {
		t.Fatalf("hour 01 in %d blocks after the cold merge, want 1", len(src))
	}
	data, err := os.ReadFile(src[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, coldName(hour1)), data, 0o644); err != nil {
		t.Fatal(err)
	}

	s, _, _ = retentionStore(t, dir, nil, clock, RetentionOptions{})
	defer s.Close()
	if n := len(s.parts["t1"][dayOf(day.UnixNano())].blocks); n != 4 {
		t.Fatalf("%d blocks loaded, want 4 (hour 01 twice)", n)
	}
	if got := countAll(t, s, "t1", day, day.Add(3*time.Hour)); got["a"] != 30 {
		t.Fatalf("%d entries answered with hour 01 twice on disk, want 30", got["a"])
	}
	s.Compact(context.Background())
	if n := len(s.parts["t1"][dayOf(day.UnixNano())].blocks); n != 3 {
		t.Fatalf("%d blocks after the cold merge, want 3 (one per hour)", n)
	}
	if got := countAll(t, s, "t1", day, day.Add(3*time.Hour)); got["a"] != 30 {
		t.Fatalf("%d entries after the cold merge, want 30", got["a"])
	}
}
