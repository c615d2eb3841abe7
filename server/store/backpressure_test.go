package store

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/wal"
)

// bytesOfLines is one stream of n one-byte lines, from time at on: n line bytes.
func bytesOfLines(n int, at int64) []Stream {
	es := make([]block.Entry, n)
	for i := range es {
		es[i] = block.Entry{T: at + int64(i), Line: []byte{'x'}}
	}
	return []Stream{{Labels: ls("bp"), Entries: es}}
}

// TestHoldReason checks the rule of backpressure on heads filled by hand,
// with MaxHeadBytes 1,000: a soft limit of 4,000 bytes, a hard one of 8,000.
func TestHoldReason(t *testing.T) {
	type held map[string]int // tenant → line bytes
	tests := []struct {
		name   string
		frozen []held // heads being flushed, oldest first
		active held
		tenant string
		want   string
	}{
		{"under the soft limit", nil, held{"a": 3900}, "a", ""},
		{"a lone tenant waits at the soft limit", nil, held{"a": 4000}, "a", heldShare},
		{"over the soft limit, over the share", []held{{"a": 3000, "b": 500}}, held{"a": 600}, "a", heldShare},
		{"over the soft limit, under the share", []held{{"a": 3000, "b": 500}}, held{"a": 600}, "b", ""},
		{"a tenant without head data goes on", []held{{"a": 3000, "b": 500}}, held{"a": 600}, "c", ""},
		// b holds 1,900 of 2 tenants' 4,100: under its share of 2,000,
		// which counting b once per head would make 1,333.
		{"a tenant of several heads counts once", []held{{"a": 2200, "b": 400}}, held{"b": 1500}, "b", ""},
		{"a tenant of several heads: its bytes add up", []held{{"a": 1000, "b": 1000}, {"b": 1000}}, held{"b": 1100}, "b", heldShare},
		{"everyone waits at the hard limit", nil, held{"a": 7000, "b": 1000}, "b", heldLimit},
		{"even a tenant without head data", []held{{"a": 6000}}, held{"a": 2000}, "c", heldLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{opts: Options{MaxHeadBytes: 1000}, head: newHead(), m: NewMetrics(nil)}
			at := base
			fill := func(h held) {
				for tenant, n := range h {
					s.appendHead(tenant, bytesOfLines(n, at))
					at += int64(n)
				}
			}
			for _, h := range tt.frozen {
				fill(h)
				s.frozen = append(s.frozen, &frozenHead{h: s.head})
				s.head = newHead()
			}
			fill(tt.active)
			if got := s.holdReason(tt.tenant); got != tt.want {
				t.Errorf("holdReason(%q) = %q, want %q", tt.tenant, got, tt.want)
			}
		})
	}
}

// TestBackpressurePerTenant holds a flush: tenant a, over its share of the
// heads, waits for it while tenant b goes on, until the heads reach the
// hard limit; once the flush completes both proceed.
func TestBackpressurePerTenant(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	released := false
	m := NewMetrics(prometheus.NewRegistry())
	s, err := Open(Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m,
		MaxHeadBytes: 1000, MaxHeadAge: time.Hour, IdleFlush: time.Hour,
		holdFlush: func() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !released {
			close(release)
		}
		s.Close()
	})
	at := base
	appendAsync := func(tenant string, n int) <-chan error {
		done := make(chan error, 1)
		streams := bytesOfLines(n, at)
		at += int64(n)
		go func() {
			_, err := s.Append(tenant, streams)
			done <- err
		}()
		return done
	}
	const timeout = 10 * time.Second
	wait := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(timeout):
			t.Fatalf("%s: still held back after %v", what, timeout)
		}
	}
	heldBack := func(tenant, reason string) float64 {
		return testutil.ToFloat64(m.appendsHeldBack.WithLabelValues(tenant, reason))
	}
	waitHeld := func(tenant, reason string) {
		t.Helper()
		for deadline := time.Now().Add(timeout); heldBack(tenant, reason) == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s was not held back (%s)", tenant, reason)
			}
		}
	}
	pending := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("%s returned (%v) while the flush is held", what, err)
		default:
		}
	}

	wait("b's first append", appendAsync("b", 100))
	// a fills the head past MaxHeadBytes: the flusher freezes it (4,600
	// bytes, over the soft limit) and is held.
	wait("a's first append", appendAsync("a", 4500))
	select {
	case <-entered:
	case <-time.After(timeout):
		t.Fatal("no flush started")
	}
	heldA := appendAsync("a", 10)
	waitHeld("a", heldShare)
	pending("a's append over its share", heldA)
	// b holds 100 of 2 tenants' 4,600 bytes, under its share of 2,000.
	wait("b's append under its share", appendAsync("b", 100))
	wait("b's append to the hard limit", appendAsync("b", 3400))
	heldB := appendAsync("b", 10)
	waitHeld("b", heldLimit)
	pending("a's append over its share", heldA)
	pending("b's append at the hard limit", heldB)
	if n := heldBack("b", heldShare); n != 0 {
		t.Errorf("b was held back %v times for its share, never over it", n)
	}

	released = true
	close(release)
	wait("a's held append", heldA)
	wait("b's held append", heldB)
	for tenant, want := range map[string]int{"a": 4510, "b": 3610} {
		n := 0
		for _, g := range selectAll(t, s, SelectParams{Tenant: tenant}) {
			n += len(g.line)
		}
		if n != want {
			t.Errorf("%s: %d line bytes stored, want %d", tenant, n, want)
		}
	}
}
