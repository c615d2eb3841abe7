package tenants

import (
	"sync"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Subscribe follows the live entries of each tenant kept by the
// matchers, tagged, in one Tail. It stops when the tail of any tenant
// stops (the server or a replica going away): an answer missing a tenant
// would look complete.
func (r *Reader) Subscribe(_ string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error) {
	ids, rest := Narrow(r.ids, ms)
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = store.DefaultTailOptions.MaxEntries
	}
	if opts.MaxDrops <= 0 {
		opts.MaxDrops = store.DefaultTailOptions.MaxDrops
	}
	t := &mergedTail{opts: opts, ready: make(chan struct{}, 1), stopping: make(chan struct{}), done: make(chan struct{})}
	for _, id := range ids {
		sub, err := r.src.Subscribe(id, rest, opts)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.subs = append(t.subs, sub)
		tag := newTagger(id)
		t.wg.Go(func() { t.follow(sub, tag) })
	}
	// With no tenant left nothing comes, but the tail stays open, like
	// that of a selector that matches no stream.
	return t, nil
}

// mergedTail merges the live tails of tenants: a goroutine per tenant
// takes what its tail queues, tags it and queues it here, up to
// opts.MaxEntries entries; its reader takes from that. Take and Ready
// are for one reader; Close may be called from any goroutine, more than
// once.
type mergedTail struct {
	opts     store.TailOptions
	subs     []store.Tail
	ready    chan struct{} // holds a token while something is queued
	stopping chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed by Close
	doneOnce sync.Once
	wg       sync.WaitGroup

	mu      sync.Mutex
	batches []store.TailBatch
	entries int
	drops   []store.TailDrop
	dropped int64 // left out here, beside those the tenants' tails left out
}

var _ store.Tail = (*mergedTail)(nil)

func (t *mergedTail) follow(sub store.Tail, tag *tagger) {
	take := func() {
		bs, ds := sub.Take()
		for i := range bs {
			bs[i].Labels = tag.of(bs[i].Labels)
		}
		for i := range ds {
			ds[i].Labels = tag.of(ds[i].Labels)
		}
		t.offer(bs, ds)
	}
	for {
		select {
		case <-sub.Ready():
			take()
		case <-sub.Stopping():
			take()
			t.stopOnce.Do(func() { close(t.stopping) })
			return
		case <-t.done:
			return
		}
	}
}

// offer queues what one tenant's tail gave, tagged.
func (t *mergedTail) offer(bs []store.TailBatch, ds []store.TailDrop) {
	if len(bs) == 0 && len(ds) == 0 {
		return
	}
	t.mu.Lock()
	for _, b := range bs {
		// A batch always fits an empty queue, as in a Subscription.
		if t.entries > 0 && t.entries+len(b.Entries) > t.opts.MaxEntries {
			for _, e := range b.Entries {
				t.drop(store.TailDrop{Labels: b.Labels, T: e.T})
			}
			continue
		}
		t.batches = append(t.batches, b)
		t.entries += len(b.Entries)
	}
	for _, d := range ds {
		if len(t.drops) < t.opts.MaxDrops {
			t.drops = append(t.drops, d)
		}
	}
	t.mu.Unlock()
	select {
	case t.ready <- struct{}{}:
	default:
	}
}

func (t *mergedTail) drop(d store.TailDrop) {
	t.dropped++
	if len(t.drops) < t.opts.MaxDrops {
		t.drops = append(t.drops, d)
	}
}

func (t *mergedTail) Ready() <-chan struct{}    { return t.ready }
func (t *mergedTail) Stopping() <-chan struct{} { return t.stopping }

func (t *mergedTail) Take() ([]store.TailBatch, []store.TailDrop) {
	t.mu.Lock()
	defer t.mu.Unlock()
	bs, ds := t.batches, t.drops
	t.batches, t.drops, t.entries = nil, nil, 0
	return bs, ds
}

func (t *mergedTail) Dropped() int64 {
	t.mu.Lock()
	n := t.dropped
	t.mu.Unlock()
	for _, s := range t.subs {
		n += s.Dropped()
	}
	return n
}

func (t *mergedTail) Close() {
	t.doneOnce.Do(func() {
		close(t.done)
		for _, s := range t.subs {
			s.Close()
		}
		t.wg.Wait()
	})
}
