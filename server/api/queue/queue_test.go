package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// wait starts a request of tenant that waits for a slot of q, and returns
// once it is queued; its id goes to granted when it gets the slot, its
// error to failed otherwise.
func wait(t *testing.T, ctx context.Context, q *Fair, tenant, id string, granted chan<- string, failed chan<- error) {
	t.Helper()
	before := q.Waiting(tenant)
	go func() {
		if err := q.Acquire(ctx, tenant); err != nil {
			failed <- err
			return
		}
		granted <- id
	}()
	for deadline := time.Now().Add(5 * time.Second); q.Waiting(tenant) == before; time.Sleep(50 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never queued", id)
		}
	}
}

func next(t *testing.T, granted <-chan string) string {
	t.Helper()
	select {
	case id := <-granted:
		return id
	case <-time.After(5 * time.Second):
		t.Fatal("no request was granted a slot")
		return ""
	}
}

// TestOrder: which waiting request each freed slot goes to. Holders take
// every slot first; arrivals then queue in order (tenant = the letter of
// the id); then slots are freed one at a time, the longest held first.
func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		holders  string // a tenant per slot
		arrivals string
		want     string
	}{
		{"fifo within a tenant", "a", "a1 a2 a3", "a1 a2 a3"},
		{"a newcomer before a backlog", "a", "a1 a2 a3 a4 b1", "b1 a1 a2 a3 a4"},
		{"a holder's own backlog waits", "x", "a1 a2 a3 b1", "a1 b1 a2 a3"},
		{"round robin", "x", "a1 a2 a3 b1 b2 b3 c1", "a1 b1 c1 a2 b2 a3 b3"},
		{"newcomers in the order they came", "x", "c1 b1 a1 c2", "c1 b1 a1 c2"},
		{"fewest slots held first", "a a", "a1 a2 b1", "b1 a1 a2"},
		{"fewest held, then least recently served", "a b c", "a1 b1 c1 c2 a2", "a1 b1 c1 a2 c2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			holders := strings.Fields(tc.holders)
			q := New(len(holders), 0, nil)
			for _, h := range holders {
				if err := q.Acquire(context.Background(), h); err != nil {
					t.Fatal(err)
				}
			}
			granted, failed := make(chan string, 100), make(chan error, 100)
			for _, id := range strings.Fields(tc.arrivals) {
				wait(t, context.Background(), q, id[:1], id, granted, failed)
			}
			var got []string
			for range strings.Fields(tc.want) {
				q.Release(holders[0])
				id := next(t, granted)
				got = append(got, id)
				holders = append(holders[1:], id[:1])
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("granted %s, want %s", g, tc.want)
			}
			for _, h := range holders {
				q.Release(h)
			}
			if n := q.Held(); n != 0 {
				t.Errorf("%d slots held at the end", n)
			}
		})
	}
}

// TestCancel: a request whose context ends while it waits leaves the
// queue, holds no slot, and the slot goes to the next one.
func TestCancel(t *testing.T) {
	q := New(1, 0, nil)
	if err := q.Acquire(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	granted, failed := make(chan string, 10), make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	wait(t, ctx, q, "a", "a1", granted, failed)
	wait(t, context.Background(), q, "a", "a2", granted, failed)
	ctxB, cancelB := context.WithCancel(context.Background())
	wait(t, ctxB, q, "b", "b1", granted, failed)
	cancel()
	cancelB()
	for range 2 {
		if err := <-failed; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter: %v", err)
		}
	}
	if n, m := q.Waiting("a"), q.Waiting("b"); n != 1 || m != 0 {
		t.Fatalf("waiting a %d, b %d after the cancels, want 1, 0", n, m)
	}
	q.Release("x")
	if id := next(t, granted); id != "a2" {
		t.Fatalf("granted %s, want a2", id)
	}
	q.Release("a")
	// Every slot free again: the one is taken at once, a second waits.
	if err := q.Acquire(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := q.Acquire(ctx, "d"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second slot of one: %v", err)
	}
	q.Release("c")
	if n := q.Held(); n != 0 || len(q.byName) != 0 || len(q.waiting) != 0 {
		t.Fatalf("held %d, remembered %d, waiting %d at the end", n, len(q.byName), len(q.waiting))
	}
}

// TestMaxQueued: past maxQueued waiting requests of a tenant, its next one
// is refused at once; other tenants still queue.
func TestMaxQueued(t *testing.T) {
	q := New(1, 2, nil)
	if err := q.Acquire(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	granted, failed := make(chan string, 10), make(chan error, 10)
	wait(t, context.Background(), q, "a", "a1", granted, failed)
	wait(t, context.Background(), q, "a", "a2", granted, failed)
	if err := q.Acquire(context.Background(), "a"); err != ErrTooManyRequests || err.Error() != "too many outstanding requests" {
		t.Fatalf("third waiter of a: %v", err)
	}
	wait(t, context.Background(), q, "b", "b1", granted, failed)
	holder := "a"
	for range 3 {
		q.Release(holder)
		holder = next(t, granted)[:1]
	}
	q.Release(holder)
}

// TestLengths: the gauge of a tenant counts its waiting requests, and is
// gone once none waits.
func TestLengths(t *testing.T) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loam_query_queue_length"}, []string{"tenant"})
	q := New(1, 0, g)
	if err := q.Acquire(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(g); n != 0 {
		t.Fatalf("%d series with nobody waiting", n)
	}
	granted, failed := make(chan string, 10), make(chan error, 10)
	wait(t, context.Background(), q, "a", "a1", granted, failed)
	wait(t, context.Background(), q, "a", "a2", granted, failed)
	wait(t, context.Background(), q, "b", "b1", granted, failed)
	if a, b := testutil.ToFloat64(g.WithLabelValues("a")), testutil.ToFloat64(g.WithLabelValues("b")); a != 2 || b != 1 {
		t.Fatalf("lengths a %v, b %v, want 2, 1", a, b)
	}
	q.Release("a") // to b1
	if n := testutil.CollectAndCount(g); n != 1 {
		t.Fatalf("%d series once b waits no more, want 1", n)
	}
	q.Release("b") // to a1
	q.Release("a") // to a2
	q.Release("a")
	for range 3 {
		next(t, granted)
	}
	if n := testutil.CollectAndCount(g); n != 0 {
		t.Fatalf("%d series at the end", n)
	}
}

// TestReleaseUnheld: releasing a slot the tenant does not hold is a bug
// of the caller, not a silent extra slot.
func TestReleaseUnheld(t *testing.T) {
	q := New(2, 0, nil)
	if err := q.Acquire(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	q.Release("b")
}

// TestConcurrent: many goroutines of a few tenants acquiring, some giving
// up at random (also just as they are granted): never more than the
// slots are held, and at the end every slot is free and nothing is
// remembered.
func TestConcurrent(t *testing.T) {
	const slots, workers, rounds = 3, 40, 200
	q := New(slots, 0, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "l"}, []string{"tenant"}))
	var inUse, most atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tenant := fmt.Sprint("t", w%5)
			for range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(200))*time.Microsecond)
				if err := q.Acquire(ctx, tenant); err == nil {
					n := inUse.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond)
					inUse.Add(-1)
					q.Release(tenant)
				} else if !errors.Is(err, context.DeadlineExceeded) {
					t.Error(err)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	if m := most.Load(); m > slots {
		t.Errorf("%d slots held at once, of %d", m, slots)
	}
	if n := q.Held(); n != 0 || q.free != slots || len(q.byName) != 0 || len(q.waiting) != 0 {
		t.Fatalf("held %d, free %d, remembered %d, waiting %d at the end", n, q.free, len(q.byName), len(q.waiting))
	}
}

// BenchmarkUncontended: a slot taken and given back with slots free, the
// cost every query pays.
func BenchmarkUncontended(b *testing.B) {
	q := New(4, 2048, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "l"}, []string{"tenant"}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Acquire(ctx, "fake"); err != nil {
			b.Fatal(err)
		}
		q.Release("fake")
	}
}

// BenchmarkChannel: the buffered channel the queue replaces, for
// comparison.
func BenchmarkChannel(b *testing.B) {
	slots := make(chan struct{}, 4)
	b.ReportAllocs()
	for b.Loop() {
		slots <- struct{}{}
		<-slots
	}
}
