package fanout

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// tailWindow is how many recent entries a merged tail remembers to drop
// the other replicas' copies: replicas append an entry within moments of
// each other, while a tail receives at most some thousands of entries a
// second.
const tailWindow = 1 << 16

// Subscribe subscribes to every healthy replica and returns a Tail that
// merges their live entries, each once. A replica that cannot subscribe
// counts as missing; so does, later, one whose tail stops (its node
// shutting down): the merged tail stops when more are missing than
// Config.MaxMissing allows, or when every replica's has stopped.
func (f *Fanout) Subscribe(tenant string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error) {
	ask, acc, err := f.start()
	if err != nil {
		return nil, err
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = store.DefaultTailOptions.MaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = store.DefaultTailOptions.MaxBytes
	}
	if opts.MaxDrops <= 0 {
		opts.MaxDrops = store.DefaultTailOptions.MaxDrops
	}
	t := &mergedTail{opts: opts, ready: make(chan struct{}, 1), stopping: make(chan struct{}), done: make(chan struct{}),
		seen: newWindow(tailWindow), seenDrops: newWindow(tailWindow), hash: xxhash.New()}
	for _, i := range ask {
		sub, err := f.rs[i].Reader.Subscribe(tenant, ms, opts)
		if err != nil {
			if err := acc.fail(context.Background(), i, err); err != nil {
				t.Close()
				return nil, err
			}
			continue
		}
		t.subs = append(t.subs, sub)
	}
	t.canStop = f.cfg.MaxMissing - len(acc.missing)
	for _, sub := range t.subs {
		t.wg.Go(func() { t.follow(sub) })
	}
	if len(t.subs) == 0 {
		t.stop()
	}
	return t, nil
}

// mergedTail merges the live tails of replicas. A goroutine per replica
// takes what its tail queues and offers it to the merged queue, bounded as
// a Subscription's is; its reader takes from that.
type mergedTail struct {
	opts     store.TailOptions
	subs     []store.Tail
	ready    chan struct{} // holds a token while something is queued
	stopping chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed by Close
	doneOnce sync.Once
	wg       sync.WaitGroup

	mu        sync.Mutex
	batches   []store.TailBatch
	entries   int
	bytes     int64
	drops     []store.TailDrop
	dropped   int64
	seen      *window // entries queued lately
	seenDrops *window // drops reported lately
	hash      *xxhash.Digest
	key       []byte
	canStop   int // replica tails that may stop before the merged one does
	stopped   int
}

var _ store.Tail = (*mergedTail)(nil)

// follow moves one replica's entries to the merged queue until the
// replica's tail stops or the merged tail is closed.
func (t *mergedTail) follow(sub store.Tail) {
	for {
		select {
		case <-sub.Ready():
			t.offer(sub.Take())
		case <-sub.Stopping():
			t.offer(sub.Take())
			t.mu.Lock()
			t.stopped++
			stop := t.stopped > t.canStop || t.stopped == len(t.subs)
			t.mu.Unlock()
			if stop {
				t.stop()
			}
			return
		case <-t.done:
			return
		}
	}
}

func (t *mergedTail) stop() { t.stopOnce.Do(func() { close(t.stopping) }) }

// entryHash identifies an entry: its stream, time and line.
func (t *mergedTail) entryHash(key []byte, ts int64, line []byte) uint64 {
	t.hash.Reset()
	t.hash.Write(key)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(ts))
	t.hash.Write(b[:])
	t.hash.Write(line)
	return t.hash.Sum64()
}

// offer queues the entries not seen lately, as many as fit, and the drops
// not reported lately.
func (t *mergedTail) offer(batches []store.TailBatch, drops []store.TailDrop) {
	if len(batches) == 0 && len(drops) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	queued := false
	for _, b := range batches {
		t.key = store.AppendOrderKey(t.key[:0], b.Labels)
		var kept []block.Entry
		for j, e := range b.Entries {
			if !t.seen.add(t.entryHash(t.key, e.T, e.Line)) {
				if kept == nil {
					kept = append(make([]block.Entry, 0, len(b.Entries)), b.Entries[:j]...)
				}
				continue
			}
			n := int64(len(e.Line))
			if t.entries > 0 && (t.entries >= t.opts.MaxEntries || t.bytes+n > t.opts.MaxBytes) {
				t.drop(b.Labels, e.T)
				if kept == nil {
					kept = append(make([]block.Entry, 0, len(b.Entries)), b.Entries[:j]...)
				}
				continue
			}
			t.entries++
			t.bytes += n
			if kept != nil {
				kept = append(kept, e)
			}
		}
		if kept == nil {
			kept = b.Entries
		}
		if len(kept) > 0 {
			t.batches = append(t.batches, store.TailBatch{Labels: b.Labels, Entries: kept})
			queued = true
		}
	}
	for _, d := range drops {
		t.key = store.AppendOrderKey(t.key[:0], d.Labels)
		if t.seenDrops.add(t.entryHash(t.key, d.T, nil)) {
			t.drop(d.Labels, d.T)
			queued = true
		}
	}
	if queued {
		select {
		case t.ready <- struct{}{}:
		default:
		}
	}
}

func (t *mergedTail) drop(ls labels.Labels, ts int64) {
	if len(t.drops) < t.opts.MaxDrops {
		t.drops = append(t.drops, store.TailDrop{Labels: ls, T: ts})
	}
	t.dropped++
}

func (t *mergedTail) Ready() <-chan struct{}    { return t.ready }
func (t *mergedTail) Stopping() <-chan struct{} { return t.stopping }

func (t *mergedTail) Take() ([]store.TailBatch, []store.TailDrop) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, d := t.batches, t.drops
	t.batches, t.drops = nil, nil
	t.entries, t.bytes = 0, 0
	return b, d
}

func (t *mergedTail) Dropped() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

// Close ends the replicas' tails and the goroutines following them.
func (t *mergedTail) Close() {
	t.doneOnce.Do(func() {
		close(t.done)
		for _, sub := range t.subs {
			sub.Close()
		}
		t.wg.Wait()
		t.mu.Lock()
		t.batches, t.drops = nil, nil
		t.mu.Unlock()
	})
}

// window remembers the last max hashes added.
type window struct {
	set  map[uint64]struct{}
	ring []uint64 // grows to max, then wraps at next
	next int
	max  int
}

func newWindow(max int) *window { return &window{set: map[uint64]struct{}{}, max: max} }

// add remembers h and reports whether it was new.
func (w *window) add(h uint64) bool {
	if _, ok := w.set[h]; ok {
		return false
	}
	if len(w.ring) < w.max {
		w.ring = append(w.ring, h)
	} else {
		delete(w.set, w.ring[w.next])
		w.ring[w.next] = h
		w.next = (w.next + 1) % w.max
	}
	w.set[h] = struct{}{}
	return true
}
