package deletes

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// fakeStore is an in-memory Purger: entries of streams, of which a purge
// removes what a tombstone hides. fail makes the next purges fail; block,
// when set, holds a purge until it is closed.
type fakeStore struct {
	mu      sync.Mutex
	entries []fakeEntry
	calls   []purgeCall
	fail    int
	block   chan struct{}
	started chan struct{} // a purge began (buffered)
}

type fakeEntry struct {
	ls   labels.Labels
	ts   int64
	line string
}

type purgeCall struct {
	tenant     string
	start, end int64
}

func (f *fakeStore) PurgeDeleted(ctx context.Context, tenant string, t store.Tombstone) (PurgeResult, error) {
	f.mu.Lock()
	f.calls = append(f.calls, purgeCall{tenant, t.Start, t.End})
	block, started := f.block, f.started
	fail := f.fail > 0
	if fail {
		f.fail--
	}
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return PurgeResult{}, ctx.Err()
		}
	}
	if fail {
		return PurgeResult{}, errors.New("disk on fire")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var res PurgeResult
	kept := f.entries[:0]
	for _, e := range f.entries {
		if e.ts >= t.Start && e.ts <= t.End && e.ls.Matches(t.Matchers) && (t.Line == nil || t.Line([]byte(e.line))) {
			res.Lines++
			res.Bytes += int64(len(e.line))
			continue
		}
		kept = append(kept, e)
	}
	f.entries = kept
	return res, nil
}

func (f *fakeStore) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeStore) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.entries {
		out = append(out, e.line)
	}
	return out
}

// running opens a Manager and starts its loop on p; pass waits for the
// loop to finish a pass after a kick.
type running struct {
	*Manager
	passes chan struct{}
}

func startLoop(t *testing.T, dir string, opts Options, c *clock, p Purger) *running {
	t.Helper()
	m := open(t, dir, opts, c)
	r := &running{Manager: m, passes: make(chan struct{}, 100)}
	m.onPass = func() { r.passes <- struct{}{} }
	m.Start(p)
	r.wait(t) // the first pass, at Start
	return r
}

// pass wakes the loop and waits for the pass it runs.
func (r *running) pass(t *testing.T) {
	t.Helper()
	r.drain()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	r.wait(t)
}

func (r *running) drain() {
	for {
		select {
		case <-r.passes:
		default:
			return
		}
	}
}

func (r *running) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.passes:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run a pass")
	}
}

func statusOf(t *testing.T, m *Manager, tenant, id string) string {
	t.Helper()
	for _, r := range list(t, m, tenant) {
		if r.ID == id {
			return r.Status()
		}
	}
	t.Fatalf("request %s not listed", id)
	return ""
}

func TestLoopDelayZero(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: now}
	ts := func(s string) int64 { return ms(s) * 1e6 }
	f := &fakeStore{entries: []fakeEntry{
		{labels.FromMap(map[string]string{"app": "a"}), ts("2024-05-01T11:10:00Z"), "a secret"},
		{labels.FromMap(map[string]string{"app": "a"}), ts("2024-05-01T11:10:00Z"), "public"},
		{labels.FromMap(map[string]string{"app": "a"}), ts("2024-05-01T10:10:00Z"), "an older secret"},
		{labels.FromMap(map[string]string{"app": "b"}), ts("2024-05-01T11:10:00Z"), "b secret"},
	}}
	m := startLoop(t, dir, Options{Delay: 0}, c, f)
	r := mustAdd(t, m.Manager, "t", Params{Query: `{app="a"} |= "secret"`, Start: "2024-05-01T11:00:00Z"})
	m.wait(t) // Add kicks the loop

	if got := statusOf(t, m.Manager, "t", r.ID); got != StatusProcessed {
		t.Fatalf("status %q, want processed", got)
	}
	want := []string{"public", "an older secret", "b secret"}
	if got := f.lines(); !equalStrings(got, want) {
		t.Fatalf("left %q, want %q", got, want)
	}
	if f.calls[0].tenant != "t" || f.calls[0].start != ts("2024-05-01T11:00:00Z") || f.calls[0].end != now.UnixNano() {
		t.Fatalf("purge call %+v", f.calls[0])
	}
	// Processed: hidden no more (Loki's queriers drop processed requests).
	if got := m.Tombstones("t"); len(got) != 0 {
		t.Fatalf("tombstones after processing: %+v", got)
	}
	// Processed survives a restart, and is not purged again.
	m.Stop()
	m2 := startLoop(t, dir, Options{Delay: 0}, c, f)
	m2.pass(t)
	if got := statusOf(t, m2.Manager, "t", r.ID); got != StatusProcessed || f.callCount() != 1 {
		t.Fatalf("after restart: status %q, %d purges", got, f.callCount())
	}
	// Cancelling it is refused, forced or not.
	for _, force := range []bool{false, true} {
		if err := m2.Cancel("t", r.ID, force); err == nil || err.Error() != "deletion of request which is in process or already processed is not allowed" {
			t.Fatalf("cancel (force %v) after processing: %v", force, err)
		}
	}
}

func equalStrings(a, b []string) bool {
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

func TestLoopDelay(t *testing.T) {
	c := &clock{t: now}
	f := &fakeStore{}
	m := startLoop(t, t.TempDir(), Options{Delay: time.Hour}, c, f)
	r := mustAdd(t, m.Manager, "t", Params{Query: `{app="a"}`, Start: "1714561200"})
	m.wait(t)
	c.Add(time.Hour - time.Millisecond)
	m.pass(t)
	if f.callCount() != 0 || statusOf(t, m.Manager, "t", r.ID) != StatusReceived || len(m.Tombstones("t")) != 1 {
		t.Fatalf("before the delay: %d purges, status %s", f.callCount(), statusOf(t, m.Manager, "t", r.ID))
	}
	c.Add(time.Millisecond)
	m.pass(t)
	if f.callCount() != 1 || statusOf(t, m.Manager, "t", r.ID) != StatusProcessed || len(m.Tombstones("t")) != 0 {
		t.Fatalf("at the delay: %d purges, status %s", f.callCount(), statusOf(t, m.Manager, "t", r.ID))
	}
}

// TestLoopWakesAtDelay: without kicks, the loop wakes by itself when a
// request comes due (real time: a short delay).
func TestLoopWakesAtDelay(t *testing.T) {
	f := &fakeStore{}
	m, err := Open(Options{Dir: t.TempDir(), Delay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m.Start(f)
	t.Cleanup(m.Stop)
	r := mustAdd(t, m, "t", Params{Query: `{app="a"}`, Start: "0000000000"})
	deadline := time.Now().Add(10 * time.Second)
	for statusOf(t, m, "t", r.ID) != StatusProcessed {
		if time.Now().After(deadline) {
			t.Fatal("not purged within 10s of a 50ms delay")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoopRetry(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: now}
	f := &fakeStore{fail: 1}
	m := startLoop(t, dir, Options{Delay: 0, RetryInterval: time.Minute}, c, f)
	r := mustAdd(t, m.Manager, "t", Params{Query: `{app="a"}`, Start: "1714561200"})
	m.wait(t)
	if f.callCount() != 1 || statusOf(t, m.Manager, "t", r.ID) != StatusReceived || len(m.Tombstones("t")) != 1 {
		t.Fatalf("after a failed purge: %d purges, status %s", f.callCount(), statusOf(t, m.Manager, "t", r.ID))
	}
	// Not before the retry interval.
	c.Add(time.Minute - time.Millisecond)
	m.pass(t)
	if f.callCount() != 1 {
		t.Fatalf("retried after %d purges before the retry interval", f.callCount())
	}
	c.Add(time.Millisecond)
	m.pass(t)
	if f.callCount() != 2 || statusOf(t, m.Manager, "t", r.ID) != StatusProcessed {
		t.Fatalf("after the retry: %d purges, status %s", f.callCount(), statusOf(t, m.Manager, "t", r.ID))
	}
}

func TestLoopCancelBeforePurge(t *testing.T) {
	c := &clock{t: now}
	f := &fakeStore{}
	m := startLoop(t, t.TempDir(), Options{Delay: time.Hour}, c, f)
	r := mustAdd(t, m.Manager, "t", Params{Query: `{app="a"}`, Start: "1714561200"})
	m.wait(t)
	if err := m.Cancel("t", r.ID, false); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Hour)
	m.pass(t)
	if f.callCount() != 0 || len(list(t, m.Manager, "t")) != 0 {
		t.Fatalf("cancelled request: %d purges, listed %v", f.callCount(), list(t, m.Manager, "t"))
	}
}

// TestLoopCancelDuringPurge: a request being purged cannot be cancelled,
// even forced.
func TestLoopCancelDuringPurge(t *testing.T) {
	c := &clock{t: now}
	f := &fakeStore{block: make(chan struct{}), started: make(chan struct{}, 1)}
	m := startLoop(t, t.TempDir(), Options{Delay: 0}, c, f)
	r := mustAdd(t, m.Manager, "t", Params{Query: `{app="a"}`, Start: "1714561200"})
	<-f.started
	if err := m.Cancel("t", r.ID, true); err == nil || err.Error() != "deletion of request which is in process or already processed is not allowed" {
		t.Fatalf("cancel during the purge: %v", err)
	}
	close(f.block)
	m.wait(t)
	if got := statusOf(t, m.Manager, "t", r.ID); got != StatusProcessed {
		t.Fatalf("status %s", got)
	}
}

// TestLoopStopDuringPurge: Stop cancels a purge under way; the next Start
// purges the request again.
func TestLoopStopDuringPurge(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: now}
	f := &fakeStore{block: make(chan struct{}), started: make(chan struct{}, 2)}
	m := startLoop(t, dir, Options{Delay: 0}, c, f)
	r := mustAdd(t, m.Manager, "t", Params{Query: `{app="a"}`, Start: "1714561200"})
	<-f.started
	m.Stop()
	if got := statusOf(t, m.Manager, "t", r.ID); got != StatusReceived {
		t.Fatalf("status after a stopped purge: %s", got)
	}
	f.mu.Lock()
	f.block = nil
	f.mu.Unlock()
	m2 := startLoop(t, dir, Options{Delay: 0}, c, f)
	if got := statusOf(t, m2.Manager, "t", r.ID); got != StatusProcessed {
		t.Fatalf("status after restart: %s", got)
	}
}

// TestLoopParts: a request split finely is purged in batches of parts, its
// status going through "N% Complete"; each purge covers its batch's range.
func TestLoopParts(t *testing.T) {
	c := &clock{t: now}
	f := &fakeStore{}
	failing := &failAfter{Purger: f, ok: 1} // the first batch goes, then purges fail
	m := startLoop(t, t.TempDir(), Options{Delay: time.Hour, RetryInterval: time.Minute}, c, failing)
	// 100 parts of an hour, the first starting half an hour in.
	start := now.Add(-99*time.Hour - 30*time.Minute)
	r := mustAdd(t, m.Manager, "t", Params{Query: `{app="a"} |= "x"`, Start: start.Format(time.RFC3339), MaxInterval: "1h"})
	if r.Shards != 100 {
		t.Fatalf("%d parts, want 100", r.Shards)
	}
	m.wait(t)
	c.Add(time.Hour)
	m.pass(t)
	if got := statusOf(t, m.Manager, "t", r.ID); got != "70% Complete" {
		t.Fatalf("status %q, want 70%% Complete", got)
	}
	if got := len(m.Tombstones("t")); got != 1 {
		t.Fatalf("a partly purged request hides its range still: %d tombstones", got)
	}
	if err := m.Cancel("t", r.ID, false); err == nil {
		t.Fatal("a partly purged request was cancelled without force")
	}
	failing.setOK(100)
	c.Add(time.Minute)
	m.pass(t)
	if got := statusOf(t, m.Manager, "t", r.ID); got != StatusProcessed {
		t.Fatalf("status %q, want processed", got)
	}
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if len(calls) != 2 {
		t.Fatalf("purges %+v, want 2 batches", calls)
	}
	mid := start.Truncate(time.Hour).Add(70 * time.Hour).UnixNano()
	if calls[0].start != start.UnixNano() || calls[0].end != mid || calls[1].start != mid || calls[1].end != now.UnixNano() {
		t.Fatalf("purges %+v: want [start, start+70h aligned] then the rest", calls)
	}
}

// failAfter lets ok purges through, then fails.
type failAfter struct {
	Purger
	mu sync.Mutex
	ok int
}

func (f *failAfter) setOK(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ok = n
}

func (f *failAfter) PurgeDeleted(ctx context.Context, tenant string, t store.Tombstone) (PurgeResult, error) {
	f.mu.Lock()
	ok := f.ok > 0
	f.ok--
	f.mu.Unlock()
	if !ok {
		return PurgeResult{}, errors.New("no room left")
	}
	return f.Purger.PurgeDeleted(ctx, tenant, t)
}
