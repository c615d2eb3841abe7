package store

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// Live tailing: a Subscription receives copies of the entries appended to
// the head for one tenant's streams matching its label matchers, from the
// moment it is made. The append path must never wait for a subscriber: each
// subscription has a bounded queue, and what does not fit is dropped and
// reported to the subscriber (timestamp and stream), as Loki's tail does.
//
// Only stream matchers are applied here. Line filters and the rest of a
// query's pipeline run in the subscriber's own goroutine, off the ingest path.

// TailOptions bound what a subscription holds for a reader that has not
// taken it yet. Zero fields take the values of DefaultTailOptions.
type TailOptions struct {
	MaxEntries int   // queued entries; more are dropped
	MaxBytes   int64 // queued line bytes; more are dropped (one entry always fits an empty queue)
	MaxDrops   int   // dropped entries remembered one by one; more are only counted
}

// DefaultTailOptions: a reader that keeps up never comes close; one that is
// stuck for seconds starts losing entries instead of growing memory.
var DefaultTailOptions = TailOptions{MaxEntries: 10_000, MaxBytes: 8 << 20, MaxDrops: 1000}

// TailBatch is one stream's entries of one append, as a subscriber receives
// them. The lines and metadata are copies owned by the receiver.
type TailBatch struct {
	Labels  labels.Labels // shared: do not modify
	Entries []block.Entry // in the order appended
}

// TailDrop is an entry a subscription left out because its queue was full.
type TailDrop struct {
	Labels labels.Labels // the entry's stream; shared: do not modify
	T      int64
}

// Tail is what the reader of a live tail uses: a Subscription, or a tail
// merged over replicas or received from another node. Its reader takes
// from one goroutine; Close may be called from any, more than once.
type Tail interface {
	// Ready receives a value when entries or drops are waiting.
	Ready() <-chan struct{}
	// Stopping is closed when no more entries will come.
	Stopping() <-chan struct{}
	// Take returns what arrived since the last Take.
	Take() ([]TailBatch, []TailDrop)
	// Dropped is the number of entries left out in all.
	Dropped() int64
	Close()
}

var _ Tail = (*Subscription)(nil)

// Subscription is one live tail of a Store. Take and Ready are for a single
// reader; the store's appenders write to it concurrently. Close it when done:
// until then every matching append pays for a copy.
type Subscription struct {
	hub      *tailHub
	tenant   string
	matchers []*labels.Matcher
	opts     TailOptions
	stopping <-chan struct{} // the store's stop channel
	ready    chan struct{}   // holds a token while something is queued

	mu      sync.Mutex
	batches []TailBatch // queued for the reader
	entries int         // entries in batches
	bytes   int64       // line bytes in batches
	drops   []TailDrop  // dropped since the last Take, at most opts.MaxDrops
	dropped int64       // every entry dropped since the subscription began
	closed  bool
}

// tailHub holds a store's subscriptions. Its zero value is ready to use.
type tailHub struct {
	// n counts subscriptions: with none, an append only loads it.
	n  atomic.Int32
	mu sync.Mutex // serialises Subscribe and Close
	// byTenant is replaced, never modified, so that appenders read it
	// without a lock.
	byTenant atomic.Pointer[map[string][]*Subscription]
}

// Subscribe starts a live tail of the tenant's streams matching every
// matcher. Entries appended before it returns are not delivered: query them
// with Select.
func (s *Store) Subscribe(tenant string, matchers []*labels.Matcher, opts TailOptions) (*Subscription, error) {
	select {
	case <-s.stop:
		return nil, ErrClosed
	default:
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultTailOptions.MaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultTailOptions.MaxBytes
	}
	if opts.MaxDrops <= 0 {
		opts.MaxDrops = DefaultTailOptions.MaxDrops
	}
	sub := &Subscription{hub: &s.tails, tenant: tenant, matchers: slices.Clone(matchers), opts: opts,
		stopping: s.stop, ready: make(chan struct{}, 1)}
	h := &s.tails
	h.mu.Lock()
	defer h.mu.Unlock()
	next := map[string][]*Subscription{}
	if cur := h.byTenant.Load(); cur != nil {
		for t, subs := range *cur {
			next[t] = subs
		}
	}
	next[tenant] = append(slices.Clip(next[tenant]), sub)
	h.byTenant.Store(&next)
	h.n.Add(1)
	return sub, nil
}

// Subscribers returns the number of open subscriptions of tenant.
func (s *Store) Subscribers(tenant string) int {
	if cur := s.tails.byTenant.Load(); cur != nil {
		return len((*cur)[tenant])
	}
	return 0
}

// Close ends the subscription: appends stop reaching it. It is safe to call
// more than once and from any goroutine.
func (sub *Subscription) Close() {
	h := sub.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	sub.mu.Lock()
	already := sub.closed
	sub.closed = true
	sub.batches, sub.drops = nil, nil
	sub.mu.Unlock()
	if already {
		return
	}
	cur := *h.byTenant.Load()
	next := make(map[string][]*Subscription, len(cur))
	for t, subs := range cur {
		next[t] = subs
	}
	rest := slices.DeleteFunc(slices.Clone(next[sub.tenant]), func(o *Subscription) bool { return o == sub })
	if len(rest) == 0 {
		delete(next, sub.tenant)
	} else {
		next[sub.tenant] = rest
	}
	h.byTenant.Store(&next)
	h.n.Add(-1)
}

// Ready receives a value when entries or drops are waiting to be taken.
func (sub *Subscription) Ready() <-chan struct{} { return sub.ready }

// Stopping is closed when the store begins to close: no more entries will
// come.
func (sub *Subscription) Stopping() <-chan struct{} { return sub.stopping }

// Take returns what was queued since the last Take: batches in the order
// they were appended, and the entries dropped in between.
func (sub *Subscription) Take() ([]TailBatch, []TailDrop) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	b, d := sub.batches, sub.drops
	sub.batches, sub.drops = nil, nil
	sub.entries, sub.bytes = 0, 0
	return b, d
}

// Dropped returns how many entries the subscription has dropped in all.
func (sub *Subscription) Dropped() int64 {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.dropped
}

// publish hands the streams of a successful append to the tenant's
// subscriptions. Small enough to be inlined: without subscriptions it costs
// one atomic load.
func (h *tailHub) publish(tenant string, streams []Stream) {
	if h.n.Load() == 0 {
		return
	}
	h.publishSlow(tenant, streams)
}

func (h *tailHub) publishSlow(tenant string, streams []Stream) {
	cur := h.byTenant.Load()
	if cur == nil {
		return
	}
	for _, sub := range (*cur)[tenant] {
		for i := range streams {
			if len(streams[i].Entries) > 0 && streams[i].Labels.Matches(sub.matchers) {
				sub.offer(streams[i].Labels, streams[i].Entries)
			}
		}
	}
}

// offer queues copies of as many entries as fit and drops the rest.
func (sub *Subscription) offer(ls labels.Labels, es []block.Entry) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return
	}
	fit, size := 0, int64(0)
	for fit < len(es) {
		n := int64(len(es[fit].Line))
		empty := sub.entries+fit == 0
		if !empty && (sub.entries+fit >= sub.opts.MaxEntries || sub.bytes+size+n > sub.opts.MaxBytes) {
			break
		}
		size += n
		fit++
	}
	if fit > 0 {
		sub.batches = append(sub.batches, TailBatch{Labels: ls, Entries: copyEntries(es[:fit], size)})
		sub.entries += fit
		sub.bytes += size
	}
	for _, e := range es[fit:] {
		if len(sub.drops) < sub.opts.MaxDrops {
			sub.drops = append(sub.drops, TailDrop{Labels: ls, T: e.T})
		}
	}
	sub.dropped += int64(len(es) - fit)
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// copyEntries copies es, whose lines and metadata may alias a request body
// that is reused once Append returns; size is the sum of the line lengths.
func copyEntries(es []block.Entry, size int64) []block.Entry {
	out := make([]block.Entry, len(es))
	buf := make([]byte, 0, size)
	for i, e := range es {
		start := len(buf)
		buf = append(buf, e.Line...)
		out[i] = block.Entry{T: e.T, Line: buf[start:len(buf):len(buf)]}
		if len(e.Meta) > 0 {
			meta := make(labels.Labels, len(e.Meta))
			for j, l := range e.Meta {
				meta[j] = labels.Label{Name: strings.Clone(l.Name), Value: strings.Clone(l.Value)}
			}
			out[i].Meta = meta
		}
	}
	return out
}
