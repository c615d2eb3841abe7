package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// maxKeptBuf bounds the encode buffer kept between appends; a larger one,
// grown for an unusually big record, is dropped after use.
const maxKeptBuf = 1 << 20

// WAL is an open write-ahead log directory. Its methods are safe for
// concurrent use.
type WAL struct {
	dir  string
	opts Options
	log  *slog.Logger
	m    *Metrics

	// fsync statistics (for benchmarks and debugging).
	fsyncs     atomic.Int64
	fsyncNanos atomic.Int64

	mu      sync.Mutex
	seg     *segment // current segment; nil until one could be created
	lastSeq int      // number of the newest segment created
	written uint64   // records written so far: the ticket of the last record
	buf     []byte   // encode buffer
	closed  bool

	// Group commit. Lock order: mu before smu; neither is held during fsync.
	// A record's ticket is durable when ticket <= synced, unless its
	// segment failed after it (segment.failErr, ticket > failedAfter).
	smu     sync.Mutex
	scond   *sync.Cond
	synced  uint64
	syncing bool // an appender is running an fsync for the group

	truncMu sync.Mutex // serializes Truncate

	stop chan struct{} // closes to stop the SyncInterval loop
	done chan struct{} // closed when the loop has exited
}

// Open opens the write-ahead log in dir, creating dir if needed, and starts a
// new segment numbered after the existing ones: it never appends to a segment
// left by an earlier process, which may end in a torn record. Call Replay on
// dir before Open to recover what earlier processes wrote.
func Open(dir string, opts Options) (*WAL, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("wal: create dir %s: %w", dir, err)
	}
	seqs, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list segments: %w", err)
	}
	w := &WAL{dir: dir, opts: opts, log: opts.Logger, m: opts.Metrics}
	w.scond = sync.NewCond(&w.smu)
	if len(seqs) > 0 {
		w.lastSeq = seqs[len(seqs)-1]
	}
	w.m.setSegments(len(seqs))
	w.mu.Lock()
	err = w.openNextLocked()
	w.mu.Unlock()
	if err != nil && !IsNoSpace(err) {
		return nil, err
	}
	if err != nil {
		// The records of earlier processes are safe in their segments;
		// only new appends need room. They fail until there is some, and
		// the first that finds room creates the segment.
		w.log.Error("wal: no space for a new segment; appends fail until space is freed", "dir", dir, "err", err)
	}
	if opts.SyncPolicy == SyncInterval {
		w.stop = make(chan struct{})
		w.done = make(chan struct{})
		go w.syncLoop(opts.SyncInterval)
	}
	w.log.Info("wal opened", "dir", dir, "segment", w.lastSeq, "sync_policy", opts.SyncPolicy.String())
	return w, nil
}

// mkdirDurable creates dir (and parents) and, if it did not exist, fsyncs its
// parent so the new directory entry survives power loss.
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}

func (w *WAL) observeFsync(d time.Duration) {
	w.fsyncs.Add(1)
	w.fsyncNanos.Add(int64(d))
	w.m.observeFsync(d)
}

// Append writes one record. It is safe for concurrent use. When it returns
// nil the record has been written to the segment file (so a process crash
// cannot lose it) and, under SyncAlways, fsynced. payload may be reused by
// the caller once Append returns.
func (w *WAL) Append(payload []byte) error {
	return w.AppendBatch(payload)
}

// AppendBatch writes several records with one write and, under SyncAlways,
// one fsync. The records are contiguous and in order in one segment. An
// error means none of them is acknowledged (a prefix may still be replayed).
//
// A failed write is cut off the segment (ftruncate to where it began), so
// the next record follows the last good one; if it cannot be cut off, or an
// fsync failed, the segment is retired and the next append starts a new
// one. Either way no acknowledged record is ever written after a torn one,
// where Replay, which ends a segment at its first bad record, would drop
// it. Errors from a full file system satisfy IsNoSpace; appends succeed
// again as soon as there is room.
func (w *WAL) AppendBatch(payloads ...[]byte) error {
	if len(payloads) == 0 {
		return nil
	}
	total := int64(0)
	for _, p := range payloads {
		if len(p) > w.opts.MaxRecordSize {
			return fmt.Errorf("wal: append record of %d bytes (max %d): %w", len(p), w.opts.MaxRecordSize, ErrRecordTooLarge)
		}
		total += RecordHeaderSize + int64(len(p))
	}

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.seg != nil && (w.seg.retired.Load() || w.seg.size > HeaderSize && w.seg.size+total > w.opts.SegmentSize) {
		if err := w.rotateLocked(); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	if w.seg == nil {
		if err := w.openNextLocked(); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	buf := w.buf[:0]
	for _, p := range payloads {
		buf = appendRecord(buf, p)
	}
	seg := w.seg
	n, err := seg.f.WriteAt(buf, seg.size)
	if cap(buf) <= maxKeptBuf {
		w.buf = buf[:0]
	} else {
		w.buf = nil
	}
	if err != nil {
		// Cut off whatever part of the write landed (a short write reports
		// how much; the file system may have allocated more), so the next
		// record follows the last good one. Shrinking a file needs no free
		// space. If it fails all the same, the torn bytes stay at the end
		// of a segment that takes no more records.
		if terr := seg.f.Truncate(seg.size); terr != nil {
			seg.retired.Store(true)
			w.log.Error("wal: cannot cut a failed write off its segment; starting a new segment",
				"segment", seg.seq, "offset", seg.size, "err", terr)
		}
		w.mu.Unlock()
		return fmt.Errorf("wal: write segment %d: %w", seg.seq, err)
	}
	seg.size += int64(n)
	w.written += uint64(len(payloads))
	ticket := w.written
	w.mu.Unlock()

	w.m.addWritten(n, len(payloads))
	if w.opts.SyncPolicy == SyncAlways {
		return w.waitDurable(seg, ticket)
	}
	return nil
}

// waitDurable returns once the record with the given ticket, written to seg,
// is fsynced, or with an error once it cannot be: an fsync of seg failed
// after it was written. If no fsync is running, the caller runs one for
// everybody written so far; otherwise it waits for the running one and, if
// that did not cover it, the next. With seg nil (the background fsync) it
// returns the error of the fsync it ran.
func (w *WAL) waitDurable(seg *segment, ticket uint64) error {
	w.smu.Lock()
	defer w.smu.Unlock()
	for {
		if seg != nil && seg.failErr != nil && ticket > seg.failedAfter {
			return fmt.Errorf("wal: sync segment %d: %w", seg.seq, seg.failErr)
		}
		if w.synced >= ticket {
			return nil
		}
		if w.syncing {
			w.scond.Wait()
			continue
		}
		w.syncing = true
		w.smu.Unlock()
		target, sseg, err := w.syncCurrent()
		w.smu.Lock()
		w.syncing = false
		if err != nil {
			w.failSegmentSLocked(sseg, err)
		} else if target > w.synced {
			w.synced = target
		}
		w.scond.Broadcast()
		if err != nil && seg == nil {
			return fmt.Errorf("wal: sync segment %d: %w", sseg.seq, err)
		}
	}
}

// syncCurrent fsyncs the current segment and returns the ticket it covers:
// every record written before it looked. Records in earlier segments were
// fsynced when those segments were closed (or their waiters were told that
// failed). On failure it returns the segment that failed.
func (w *WAL) syncCurrent() (uint64, *segment, error) {
	w.mu.Lock()
	seg, target := w.seg, w.written
	w.mu.Unlock()
	if seg == nil {
		return target, nil, nil
	}
	if err := seg.sync(); err != nil {
		return 0, seg, err
	}
	return target, seg, nil
}

// failSegmentSLocked records that an fsync of seg failed: its records not
// known durable by now (tickets above synced) never will be, and their
// appends fail. The segment takes no more records; the WAL goes on in a
// new one. Only the first failure counts. Called with w.smu held.
//
// Tickets up to synced are safe: synced only moves past the tickets of
// a segment through a successful fsync of it, or through fsyncs of later
// segments, which exist only once rotation recorded this failure.
func (w *WAL) failSegmentSLocked(seg *segment, err error) {
	seg.retired.Store(true)
	if seg.failErr != nil {
		return
	}
	seg.failErr, seg.failedAfter = err, w.synced
	w.log.Error("wal: fsync failed; the records written since the last fsync are refused and the next append starts a new segment",
		"segment", seg.seq, "err", err)
}

// failSegmentLocked is failSegmentSLocked for a caller holding w.mu only.
func (w *WAL) failSegmentLocked(seg *segment, err error) {
	w.smu.Lock()
	w.failSegmentSLocked(seg, err)
	w.scond.Broadcast()
	w.smu.Unlock()
}

// advanceSyncedLocked records that every ticket <= t is durable. Called with
// w.mu held.
func (w *WAL) advanceSyncedLocked(t uint64) {
	w.smu.Lock()
	if t > w.synced {
		w.synced = t
	}
	w.scond.Broadcast()
	w.smu.Unlock()
}

func (w *WAL) syncLoop(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		target := w.written
		w.mu.Unlock()
		w.smu.Lock()
		need := target > w.synced
		w.smu.Unlock()
		if !need {
			continue
		}
		// A failure retires the segment (and is logged there); the next
		// append starts a new one.
		w.waitDurable(nil, target)
	}
}

// rotateLocked closes the current segment (fsyncing it unless SyncNever) and
// starts the next one. If the close fails, the records of the old segment
// that were not yet durable are refused (their waiters get the error); the
// next segment is started all the same. Called with w.mu held.
func (w *WAL) rotateLocked() error {
	if old := w.seg; old != nil {
		w.seg = nil
		doSync := w.opts.SyncPolicy != SyncNever
		if err := old.close(doSync); err != nil {
			w.failSegmentLocked(old, fmt.Errorf("close: %w", err))
		} else if doSync {
			w.advanceSyncedLocked(w.written)
		}
	}
	return w.openNextLocked()
}

// openNextLocked creates segment lastSeq+1 and makes it current. Called with
// w.mu held. On failure there is no current segment and the next append
// tries again.
func (w *WAL) openNextLocked() error {
	seq := w.lastSeq + 1
	seg, err := createSegment(w.dir, seq, w.observeFsync)
	if err != nil {
		if _, serr := os.Lstat(filepath.Join(w.dir, segmentName(seq))); serr == nil {
			// The failed file could not be removed: the next try takes
			// the next number (Replay tolerates the torn header).
			w.lastSeq = seq
		}
		return fmt.Errorf("wal: create segment %d: %w", seq, err)
	}
	w.seg = seg
	w.lastSeq = seq
	w.m.addSegments(1)
	return nil
}

// Cut closes the current segment and starts a new one, returning the new
// segment's number: every record appended before Cut was called is in a
// segment numbered below it. If the current segment holds no record yet it
// is kept, and its own number is returned. Unless the policy is SyncNever,
// the closed segment is fsynced.
func (w *WAL) Cut() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.seg != nil && w.seg.size == HeaderSize && !w.seg.retired.Load() {
		return w.seg.seq, nil
	}
	if err := w.rotateLocked(); err != nil {
		return 0, err
	}
	return w.seg.seq, nil
}

// Segments returns the numbers of the oldest segment on disk and of the
// current (newest) segment.
func (w *WAL) Segments() (first, last int, err error) {
	w.mu.Lock()
	last, closed := w.lastSeq, w.closed
	w.mu.Unlock()
	if closed {
		return 0, 0, ErrClosed
	}
	seqs, err := listSegments(w.dir)
	if err != nil {
		return 0, 0, fmt.Errorf("wal: list segments: %w", err)
	}
	first = last
	if len(seqs) > 0 && seqs[0] < first {
		first = seqs[0]
	}
	return first, last, nil
}

// DiskBytes returns the bytes of the segment files in the directory, as
// their sizes say (a file system may allocate a little more).
func (w *WAL) DiskBytes() (int64, error) {
	seqs, err := listSegments(w.dir)
	if err != nil {
		return 0, fmt.Errorf("wal: list segments: %w", err)
	}
	var n int64
	for _, seq := range seqs {
		fi, err := os.Stat(filepath.Join(w.dir, segmentName(seq)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by a concurrent Truncate
		}
		if err != nil {
			return n, fmt.Errorf("wal: stat segment %d: %w", seq, err)
		}
		n += fi.Size()
	}
	return n, nil
}

// Truncate deletes the segments numbered below before. It is meant to be
// called with a number returned by Cut once everything appended before that
// Cut is safely stored elsewhere. before may not exceed the current segment.
func (w *WAL) Truncate(before int) error {
	w.truncMu.Lock()
	defer w.truncMu.Unlock()
	w.mu.Lock()
	cur, closed := w.lastSeq, w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if before > cur {
		return fmt.Errorf("wal: truncate before %d: beyond current segment %d", before, cur)
	}
	seqs, err := listSegments(w.dir)
	if err != nil {
		return fmt.Errorf("wal: list segments: %w", err)
	}
	removed := 0
	var rerr error
	for _, seq := range seqs {
		if seq >= before {
			break
		}
		if err := os.Remove(filepath.Join(w.dir, segmentName(seq))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			rerr = fmt.Errorf("wal: remove segment %d: %w", seq, err)
			break
		}
		removed++
	}
	if removed > 0 {
		w.m.addSegments(-removed)
		if err := syncDir(w.dir); err != nil && rerr == nil {
			rerr = fmt.Errorf("wal: sync dir: %w", err)
		}
		w.log.Debug("wal truncated", "before", before, "removed", removed)
	}
	return rerr
}

// Close fsyncs and closes the current segment (whatever the policy) and
// stops the background fsync. Appends waiting for an fsync are released.
// Further calls return ErrClosed.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	w.mu.Unlock()

	if w.stop != nil {
		close(w.stop)
		<-w.done
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.seg != nil {
		if cerr := w.seg.close(true); cerr != nil {
			err = fmt.Errorf("wal: close segment %d: %w", w.seg.seq, cerr)
			w.failSegmentLocked(w.seg, cerr)
		}
	}
	if err == nil {
		w.advanceSyncedLocked(w.written)
	}
	w.log.Info("wal closed", "dir", w.dir, "segment", w.lastSeq)
	return err
}
