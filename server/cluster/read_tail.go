package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// A remote tail is one long POST to /internal/tail: the peer subscribes,
// answers with a ready frame, then sends an entries frame per Take of its
// subscription, a drops frame when its count of drops moved, a heartbeat
// frame every Beat, and an end frame when its store stops. Backpressure is
// TCP's: a reader that does not Take stops the peer from taking from its
// subscription, whose bounded queue then drops and counts entries there.

// serveTail serves a live subscription until the caller goes away or the
// store stops.
func (s *ReadServer) serveTail(w http.ResponseWriter, r *http.Request) {
	a := s.answer(w, r)
	tenant, ms, opts, err := parseTail(r.Form)
	if err != nil {
		a.fail(err)
		return
	}
	sub, err := s.local.Subscribe(tenant, ms, opts)
	if err != nil {
		a.fail(err)
		return
	}
	defer sub.Close()
	fw := a.fw
	if fw.frame(frameReady, nil) != nil || a.flushNet() != nil {
		return
	}
	beat := time.NewTicker(s.opts.Beat)
	defer beat.Stop()
	var (
		enc         entryEncoder
		drops       dropsEncoder
		sentDropped int64
	)
	send := func() error {
		batches, ds := sub.Take()
		fw.begin(frameEntries)
		for _, b := range batches {
			for i := range b.Entries {
				if len(fw.buf) == 0 {
					enc.start()
				}
				fw.buf = enc.append(fw.buf, b.Labels, &b.Entries[i])
				if fw.full() && fw.flush() != nil {
					return a.err
				}
			}
		}
		if len(fw.buf) > 0 && fw.flush() != nil {
			return a.err
		}
		if total := sub.Dropped(); len(ds) > 0 || total != sentDropped {
			sentDropped = total
			if fw.frame(frameDrops, drops.append(nil, total, ds)) != nil {
				return a.err
			}
		}
		return a.flushNet()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.Stopping():
			if send() == nil {
				a.end(nil)
			}
			return
		case <-beat.C:
			if fw.frame(frameBeat, nil) != nil || a.flushNet() != nil {
				return
			}
		case <-sub.Ready():
			if send() != nil {
				return
			}
		}
	}
}

// defaultTailIdle is how long a remote tail waits for a frame, heartbeats
// included, before it takes the peer for dead: six of its default beats.
const defaultTailIdle = 30 * time.Second

// defaultTailReady bounds Subscribe's wait for the peer's ready frame.
const defaultTailReady = 10 * time.Second

// Subscribe starts a live tail on the peer; it returns once the peer has
// subscribed, so that entries appended there afterwards are delivered.
func (r *Remote) Subscribe(tenant string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = store.DefaultTailOptions.MaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = store.DefaultTailOptions.MaxBytes
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	watchdog := time.AfterFunc(r.tailReady, func() {
		cancel(fmt.Errorf("no ready frame within %v", r.tailReady))
	})
	fr, body, callCancel, err := r.call(ctx, PathTail, tailValues(tenant, ms, opts))
	if err == nil {
		var typ byte
		var payload []byte
		typ, payload, err = fr.next()
		switch {
		case err != nil:
			err = r.unreachable(context.Background(), err)
		case typ == frameError:
			err = r.peerError(context.Background(), payload)
		case typ != frameReady:
			err = r.unreachable(context.Background(), unexpected(typ))
		}
		if err != nil {
			body.Close()
			callCancel()
		}
	}
	if !watchdog.Stop() || err != nil {
		if ctx.Err() != nil {
			// The wait timed out: the peer failed, whatever the error
			// the cancellation caused.
			err = r.unreachable(context.Background(), context.Cause(ctx))
		}
		cancel(nil)
		return nil, err
	}
	t := &remoteTail{r: r, opts: opts, cancel: func() { cancel(nil); callCancel() }, body: body, fr: fr,
		ready: make(chan struct{}, 1), space: make(chan struct{}, 1), stopping: make(chan struct{}), done: make(chan struct{})}
	go t.run(ctx)
	return t, nil
}

// remoteTail is the store.Tail of a remote subscription. A goroutine
// reads the peer's frames into a queue that Take empties; it stops
// reading while the queue is over the tail's limits.
type remoteTail struct {
	r        *Remote
	opts     store.TailOptions
	cancel   func()
	body     io.ReadCloser
	fr       *frameReader
	ready    chan struct{} // holds a token while something is queued
	space    chan struct{} // a token after each Take
	stopping chan struct{} // closed when run ends
	done     chan struct{} // closed by Close

	mu      sync.Mutex
	batches []store.TailBatch
	drops   []store.TailDrop
	entries int
	bytes   int64
	dropped int64 // the peer's count
	err     error
	once    sync.Once
}

var _ store.Tail = (*remoteTail)(nil)

func (t *remoteTail) Ready() <-chan struct{}    { return t.ready }
func (t *remoteTail) Stopping() <-chan struct{} { return t.stopping }

func (t *remoteTail) Take() ([]store.TailBatch, []store.TailDrop) {
	t.mu.Lock()
	b, d := t.batches, t.drops
	t.batches, t.drops = nil, nil
	t.entries, t.bytes = 0, 0
	t.mu.Unlock()
	select {
	case t.space <- struct{}{}:
	default:
	}
	return b, d
}

func (t *remoteTail) Dropped() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

// Err tells why the tail stopped: nil when the peer's store stopped or
// the tail was closed.
func (t *remoteTail) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close ends the call. Safe to call more than once, from any goroutine.
func (t *remoteTail) Close() {
	t.once.Do(func() {
		close(t.done)
		t.cancel()
	})
}

func (t *remoteTail) signal() {
	select {
	case t.ready <- struct{}{}:
	default:
	}
}

// run reads the peer's frames until the end, an error or Close.
func (t *remoteTail) run(ctx context.Context) {
	defer close(t.stopping)
	defer t.body.Close()
	idle := time.AfterFunc(t.r.tailIdle, t.cancel)
	defer idle.Stop()
	err := t.read(ctx, idle)
	select {
	case <-t.done:
		err = nil // closed: not a failure
	default:
	}
	if err != nil {
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
	}
	t.cancel()
}

func (t *remoteTail) read(ctx context.Context, idle *time.Timer) error {
	var dec entryDecoder
	var drops dropsDecoder
	for {
		typ, payload, err := t.fr.next()
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				select {
				case <-t.done:
				default:
					err = fmt.Errorf("no frame for %v", t.r.tailIdle)
				}
			}
			return t.r.unreachable(context.Background(), err)
		}
		idle.Reset(t.r.tailIdle)
		switch typ {
		case frameEntries:
			// The queue keeps the lines: they alias a copy of the frame.
			dec.reset(bytes.Clone(payload))
			var batches []store.TailBatch
			var n int
			var size int64
			for dec.more() {
				var e block.Entry
				ls := dec.next(&e)
				if dec.d.err != nil {
					break
				}
				if k := len(batches) - 1; k < 0 || !batches[k].Labels.Equal(ls) {
					batches = append(batches, store.TailBatch{Labels: ls})
				}
				k := len(batches) - 1
				batches[k].Entries = append(batches[k].Entries, e)
				n++
				size += int64(len(e.Line))
			}
			if dec.d.err != nil {
				return t.r.unreachable(context.Background(), dec.d.err)
			}
			t.mu.Lock()
			t.batches = append(t.batches, batches...)
			t.entries += n
			t.bytes += size
			full := t.entries >= t.opts.MaxEntries || t.bytes >= t.opts.MaxBytes
			t.mu.Unlock()
			t.signal()
			if full && !t.waitSpace(ctx, idle) {
				return nil
			}
		case frameDrops:
			var ds []store.TailDrop
			total, ds, err := drops.frame(payload, ds)
			if err != nil {
				return t.r.unreachable(context.Background(), err)
			}
			t.mu.Lock()
			t.drops = append(t.drops, ds...)
			t.dropped = total
			t.mu.Unlock()
			t.signal()
		case frameBeat:
		case frameEnd:
			return nil
		case frameError:
			return t.r.peerError(context.Background(), payload)
		default:
			return t.r.unreachable(context.Background(), unexpected(typ))
		}
	}
}

// waitSpace waits, with the idle timer stopped, until a Take made room;
// false when the tail was closed meanwhile.
func (t *remoteTail) waitSpace(ctx context.Context, idle *time.Timer) bool {
	idle.Stop()
	defer idle.Reset(t.r.tailIdle)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.space:
		}
		t.mu.Lock()
		full := t.entries >= t.opts.MaxEntries || t.bytes >= t.opts.MaxBytes
		t.mu.Unlock()
		if !full {
			return true
		}
	}
}
