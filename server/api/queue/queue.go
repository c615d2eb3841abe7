// Package queue shares a fixed number of query slots fairly among
// tenants. A request that finds every slot taken waits under its tenant;
// each slot that frees goes to the waiting tenant holding the fewest
// slots, among equals to the one served least recently (a tenant new to
// the queue counts as never served, tenants new together in the order
// they came), and within a tenant to the request that came first. One
// tenant's backlog of heavy queries thus delays another tenant's query by
// at most one query's duration, not by the whole backlog, as the
// per-tenant queues of Loki's query scheduler intend.
package queue

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrTooManyRequests refuses a request whose tenant already has
// MaxQueuedPerTenant requests waiting (Loki's text; it answers 429).
var ErrTooManyRequests = errors.New("too many outstanding requests")

// maxSpare bounds the forgotten tenants kept for reuse.
const maxSpare = 64

// Fair is a set of slots handed out fairly among tenants. Its methods may
// be called from many goroutines at once. Every Acquire that returns nil
// must be followed by exactly one Release of the same tenant.
type Fair struct {
	maxQueued int                  // per tenant; 0: no cap
	lengths   *prometheus.GaugeVec // by tenant; nil: not exported

	mu      sync.Mutex
	free    int                // slots not held; > 0 only while nobody waits
	byName  map[string]*tenant // tenants holding a slot or waiting for one
	waiting []*tenant          // those waiting, in the order they began to
	clock   uint64             // counts grants, to order them
	spare   []*tenant          // forgotten, for reuse: no garbage per query
}

type tenant struct {
	name    string
	held    int       // slots
	served  uint64    // clock of its last grant; 0: not since it came
	waiters []*waiter // first come first
	length  prometheus.Gauge
}

// waiter is a request waiting for a slot.
type waiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // under Fair.mu: the slot is the waiter's
}

// New returns slots slots (at least 1) of which each tenant may have at
// most maxQueued requests waiting (0: any number). lengths, when not nil,
// is a gauge vector of one label, the tenant, set to the number of its
// requests waiting; the series of a tenant is deleted when none waits, so
// that there are only as many as tenants waiting at once.
func New(slots, maxQueued int, lengths *prometheus.GaugeVec) *Fair {
	return &Fair{free: max(slots, 1), maxQueued: maxQueued, lengths: lengths, byName: map[string]*tenant{}}
}

// Acquire takes a slot for a request of tenant name, waiting its turn
// while every slot is taken. It returns ctx's error if ctx ends first (the
// request then holds no slot and is no longer queued), and
// ErrTooManyRequests at once if the tenant already has maxQueued requests
// waiting.
func (q *Fair) Acquire(ctx context.Context, name string) error {
	q.mu.Lock()
	t := q.byName[name]
	if t == nil {
		t = q.remember(name)
	}
	if q.free > 0 {
		q.free--
		q.grant(t)
		q.mu.Unlock()
		return nil
	}
	if q.maxQueued > 0 && len(t.waiters) >= q.maxQueued {
		q.mu.Unlock()
		return ErrTooManyRequests
	}
	w := &waiter{ready: make(chan struct{})}
	if len(t.waiters) == 0 {
		q.waiting = append(q.waiting, t)
		if q.lengths != nil {
			t.length = q.lengths.WithLabelValues(name)
		}
	}
	t.waiters = append(t.waiters, w)
	t.setLength()
	q.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.granted {
		// Granted as ctx ended: pass the slot on rather than leak it.
		q.release(t)
		return ctx.Err()
	}
	for i, x := range t.waiters {
		if x == w {
			t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
			break
		}
	}
	t.setLength()
	if len(t.waiters) == 0 {
		q.stopWaiting(t)
	}
	return ctx.Err()
}

// Release frees a slot that Acquire gave tenant name, handing it to the
// next waiter.
func (q *Fair) Release(name string) {
	q.mu.Lock()
	if t := q.byName[name]; t != nil && t.held > 0 {
		q.release(t)
	} else {
		q.mu.Unlock()
		panic("queue: Release of a slot not acquired by tenant " + name)
	}
	q.mu.Unlock()
}

// release frees a slot of t.
func (q *Fair) release(t *tenant) {
	t.held--
	if len(q.waiting) == 0 {
		q.free++
	} else {
		next := q.waiting[0]
		for _, c := range q.waiting[1:] {
			if c.held < next.held || c.held == next.held && c.served < next.served {
				next = c
			}
		}
		w := next.waiters[0]
		next.waiters[0] = nil
		next.waiters = next.waiters[1:]
		w.granted = true
		close(w.ready)
		q.grant(next)
		next.setLength()
		if len(next.waiters) == 0 {
			q.stopWaiting(next)
		}
	}
	q.forgetIdle(t)
}

func (q *Fair) grant(t *tenant) {
	q.clock++
	t.served = q.clock
	t.held++
}

// stopWaiting removes t, which has no waiters left, from q.waiting.
func (q *Fair) stopWaiting(t *tenant) {
	for i, x := range q.waiting {
		if x == t {
			copy(q.waiting[i:], q.waiting[i+1:])
			q.waiting[len(q.waiting)-1] = nil
			q.waiting = q.waiting[:len(q.waiting)-1]
			break
		}
	}
	if q.lengths != nil {
		q.lengths.DeleteLabelValues(t.name)
		t.length = nil
	}
	q.forgetIdle(t)
}

// remember starts tracking tenant name, which holds no slot and has no
// waiters.
func (q *Fair) remember(name string) *tenant {
	var t *tenant
	if n := len(q.spare); n > 0 {
		t, q.spare = q.spare[n-1], q.spare[:n-1]
	} else {
		t = &tenant{}
	}
	t.name, t.served = name, 0
	q.byName[name] = t
	return t
}

// forgetIdle drops t if it neither holds a slot nor waits for one, so that
// only active tenants are remembered.
func (q *Fair) forgetIdle(t *tenant) {
	if t.held > 0 || len(t.waiters) > 0 {
		return
	}
	delete(q.byName, t.name)
	if len(q.spare) < maxSpare {
		t.name, t.waiters = "", t.waiters[:0]
		q.spare = append(q.spare, t)
	}
}

func (t *tenant) setLength() {
	if t.length != nil {
		t.length.Set(float64(len(t.waiters)))
	}
}

// Waiting returns the number of requests of tenant name waiting for a slot.
func (q *Fair) Waiting(name string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t := q.byName[name]; t != nil {
		return len(t.waiters)
	}
	return 0
}

// Held returns the number of slots held, by any tenant.
func (q *Fair) Held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, t := range q.byName {
		n += t.held
	}
	return n
}
