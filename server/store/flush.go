package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

// compactLoop is a compaction worker, of live or of cold jobs. A merge that
// found no room for its output is not tried again for noSpaceBackoff: each
// try fills the disk with a temp file until it fails, and meanwhile the WAL
// and flushes would find no room either.
func (s *Store) compactLoop(cold bool, every time.Duration) {
	defer func() { s.compactDone <- struct{}{} }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var pauseUntil time.Time
	for {
		if cold {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		} else {
			select {
			case <-s.stop:
				return
			case <-s.compactKick:
			}
		}
		if time.Now().Before(pauseUntil) {
			continue
		}
		jobs, err := s.compactKind(s.stopCtx, cold)
		if err != nil && s.stopCtx.Err() == nil {
			if wal.IsNoSpace(err) {
				pauseUntil = time.Now().Add(noSpaceBackoff)
				s.log.Warn("compaction found no room for its output; sources kept, will retry", "cold", cold, "retry_in", noSpaceBackoff, "err", err)
			} else {
				s.log.Error("compaction failed; will retry", "cold", cold, "err", err)
			}
			s.m.compactionFailures.Inc()
		}
		if jobs > 0 && s.headsEmpty() {
			// Pushes stopped: nothing will reuse the merge's memory soon.
			returnMemory()
		}
	}
}

// returnMemory collects garbage and hands the free memory back to the OS,
// after a burst of work that is over: a merge allocates tens to hundreds
// of megabytes for seconds, the head of a stream burst as much, and a
// process gone quiet allocates too little to start the collection that
// would free them; the runtime's scavenger then returns them over minutes.
// It costs one collection, a few milliseconds, after work that took
// seconds. While pushes go on it is not called: the memory would be taken
// back at once.
func returnMemory() { debug.FreeOSMemory() }

func (s *Store) flushLoop() {
	defer close(s.loopDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	quiet := 0 // wake-ups in a row that found nothing in memory to flush
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.kick:
		}
		s.refreshDiskEvery(time.Now())
		if reason := s.flushReason(time.Now()); reason != "" {
			if err := s.Flush(context.Background()); errors.Is(err, ErrDiskFull) {
				// Logged once when the disk fills up, not at each retry.
				s.log.Debug("flush found no room; the head stays in memory and in the WAL, will retry", "reason", reason, "err", err)
			} else if err != nil {
				s.log.Error("flush failed; the head stays in memory and in the WAL, will retry", "reason", reason, "err", err)
			}
		}
		// Once pushes stopped and the heads are on disk (for a second at
		// least: a busy store's head is empty only between a flush and the
		// next push), their memory is garbage.
		if s.headsEmpty() {
			if quiet++; quiet == 2 {
				returnMemory()
			}
		} else {
			quiet = 0
		}
		if s.sweepNewest(time.Now()) {
			returnMemory()
		}
		// Compaction runs beside the flusher, never in its way: a flush
		// must not wait for a merge, or the head would grow.
		select {
		case s.compactKick <- struct{}{}:
		default:
		}
	}
}

// headsEmpty reports whether no head holds entries.
func (s *Store) headsEmpty() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head.entries.Load() == 0 && len(s.frozen) == 0
}

// flushReason says why the head should be flushed now, or "".
func (s *Store) flushReason(now time.Time) string {
	s.mu.RLock()
	h, retry := s.head, len(s.frozen) > 0
	s.mu.RUnlock()
	if retry || s.disk.flushFull.Load() { // the last flush found no room
		return "retry"
	}
	if h.entries.Load() == 0 {
		return ""
	}
	switch {
	case h.bytes.Load() >= s.opts.MaxHeadBytes:
		return "size"
	case now.Sub(h.created) >= s.opts.MaxHeadAge:
		return "age"
	case now.UnixNano()-h.last.Load() >= int64(s.opts.IdleFlush):
		return "idle"
	}
	return ""
}

// Flush writes the head into blocks and removes the WAL behind it. Data stays
// queryable throughout: the frozen head is read until its blocks are loaded.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()

	s.cutMu.Lock()
	s.mu.RLock()
	empty := s.head.entries.Load() == 0
	s.mu.RUnlock()
	if !empty {
		seg, err := s.wal.Cut()
		if err != nil {
			s.cutMu.Unlock()
			s.noteFlush(err)
			if wal.IsNoSpace(err) {
				return noSpace("cut WAL", err)
			}
			return fmt.Errorf("cut WAL: %w", err)
		}
		s.mu.Lock()
		s.frozen = append(s.frozen, &frozenHead{h: s.head, walUntil: seg})
		s.head = newHead()
		s.mu.Unlock()
	}
	s.cutMu.Unlock()

	for {
		s.mu.RLock()
		if len(s.frozen) == 0 {
			s.mu.RUnlock()
			break
		}
		fh := s.frozen[0]
		s.mu.RUnlock()
		start := time.Now()
		if fh.written == nil {
			fh.written = map[string]bool{}
		}
		if s.opts.holdFlush != nil {
			s.opts.holdFlush()
		}
		if err := s.writeHead(ctx, fh.h, fh.written); err != nil {
			s.m.flushFailures.Inc()
			s.noteFlush(err)
			if wal.IsNoSpace(err) {
				s.refreshDisk()
				return noSpace("flush", err)
			}
			return err
		}
		s.mu.Lock()
		s.frozen[0] = nil // the backing array must not keep the head alive
		s.frozen = s.frozen[1:]
		s.mu.Unlock()
		s.headBytes.Add(-fh.h.bytes.Load())
		s.flushedMu.Lock() // no waiter misses this between its check and Wait
		s.flushed.Broadcast()
		s.flushedMu.Unlock()
		if err := s.wal.Truncate(fh.walUntil); err != nil {
			s.log.Error("truncate WAL", "err", err)
		}
		s.m.headStreams.Sub(float64(fh.h.streams.Load()))
		s.m.headEntries.Sub(float64(fh.h.entries.Load()))
		s.m.headBytes.Sub(float64(fh.h.bytes.Load()))
		s.m.flushes.Inc()
		s.m.flushDuration.Observe(time.Since(start).Seconds())
		s.log.Info("flushed head", "entries", fh.h.entries.Load(), "bytes", fh.h.bytes.Load(),
			"streams", fh.h.streams.Load(), "duration", time.Since(start).Round(time.Millisecond))
	}
	s.updateGauges()
	s.noteFlush(nil)
	return nil
}

// writeHead writes one block per tenant and day of h and loads them.
// Streams are written one at a time, so the flush needs memory for one
// stream's entries beyond the head itself. The blocks named in written
// ("tenant/day") are skipped; each block written is added to it, so that
// a failed flush can be retried without writing lines twice.
func (s *Store) writeHead(ctx context.Context, h *head, written map[string]bool) error {
	for _, tenant := range h.tenantNames() {
		var streams []*memStream
		h.forEachStream(tenant, func(ms *memStream) { streams = append(streams, ms) })
		slices.SortFunc(streams, func(a, b *memStream) int { return labels.Compare(a.ls, b.ls) })
		writers := map[string]*block.Writer{}
		abort := func() {
			for _, w := range writers {
				w.Abort()
			}
		}
		var buf []block.Entry
		now := s.now()
		for _, ms := range streams {
			if err := ctx.Err(); err != nil {
				abort()
				return err
			}
			snap := ms.snapshot()
			// What is already past the stream's retention (replayed from
			// the WAL, or kept in the head while it expired) is not
			// written: a flush never brings back a day retention removed.
			from := int64(-1 << 63)
			if s.opts.Retention != nil {
				if period := s.opts.Retention.StreamRetention(tenant, ms.ls); period > 0 {
					from = now.Add(-period).UnixNano()
				}
			}
			buf = snap.appendEntries(buf[:0], from, 1<<63-1)
			for es := buf; len(es) > 0; {
				// Days are cut by number; the name is formatted once a run.
				day := dayNumber(es[0].T)
				n := 1
				for n < len(es) && dayNumber(es[n].T) == day {
					n++
				}
				d := dayOf(es[0].T)
				if written[tenant+"/"+d] {
					es = es[n:]
					continue
				}
				w := writers[d]
				if w == nil {
					var err error
					if w, err = s.createBlock(tenant, d); err != nil {
						abort()
						return err
					}
					writers[d] = w
				}
				if err := w.AddStream(ms.ls, es[:n]); err != nil {
					abort()
					return err
				}
				es = es[n:]
			}
		}
		for day, w := range writers {
			delete(writers, day)
			if err := w.Finish(); err != nil {
				abort()
				return err
			}
			r, err := block.Open(w.Path())
			if err != nil {
				abort()
				return err
			}
			s.addBlock(tenant, day, handleOf(s.readers, r))
			written[tenant+"/"+day] = true
		}
	}
	return nil
}

func (s *Store) createBlock(tenant, day string) (*block.Writer, error) {
	dir := s.partDir(tenant, day)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create partition dir: %w", err)
	}
	// Level-0 blocks live until compaction merges them, seconds to minutes
	// later: they are written uncompressed and without n-gram filters, whose
	// cost the merge would pay again.
	opts := s.opts.Block
	opts.NoFilters = true
	opts.Codec = block.CodecNone
	w, err := block.Create(filepath.Join(dir, blockName(0)), opts)
	if errors.Is(err, fs.ErrNotExist) {
		// Retention removed the directory with its last block just now.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create partition dir: %w", err)
		}
		w, err = block.Create(filepath.Join(dir, blockName(0)), opts)
	}
	return w, err
}

func (s *Store) partDir(tenant, day string) string {
	return filepath.Join(s.blocksDir(), tenantDir(tenant), day)
}

func (s *Store) addBlock(tenant, day string, r *blockHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.partitionLocked(tenant, day)
	p.blocks = append(p.blocks, r)
	p.lastAdd = time.Now()
}

// partitionLocked returns the partition tenant/day, creating it. The caller
// holds s.mu.
func (s *Store) partitionLocked(tenant, day string) *partition {
	ps := s.parts[tenant]
	if ps == nil {
		ps = map[string]*partition{}
		s.parts[tenant] = ps
	}
	p := ps[day]
	if p == nil {
		p = &partition{day: day}
		ps[day] = p
	}
	return p
}

// loadBlocks finds every block under the data directory. Leftover temp files
// of an interrupted flush, and files of blocks removed while a query read
// them, are deleted; a block whose footer is unreadable is renamed aside
// (its lines are still in the WAL if the flush did not finish).
func (s *Store) loadBlocks() error {
	tenants, err := os.ReadDir(s.blocksDir())
	if err != nil {
		return fmt.Errorf("read blocks dir: %w", err)
	}
	for _, td := range tenants {
		if !td.IsDir() {
			continue
		}
		tenant, ok := tenantFromDir(td.Name())
		if !ok {
			continue
		}
		days, err := os.ReadDir(filepath.Join(s.blocksDir(), td.Name()))
		if err != nil {
			return err
		}
		for _, dd := range days {
			dir := filepath.Join(s.blocksDir(), td.Name(), dd.Name())
			files, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			for _, f := range files {
				path := filepath.Join(dir, f.Name())
				switch {
				case strings.HasSuffix(f.Name(), ".tmp"), strings.HasSuffix(f.Name(), removedSuffix):
					os.Remove(path)
				case strings.HasSuffix(f.Name(), ".blk"):
					meta, err := block.ReadMeta(path)
					if err != nil {
						s.log.Error("block is unreadable; moved aside", "path", path, "err", err)
						os.Rename(path, path+".corrupt")
						continue
					}
					s.addBlock(tenant, dd.Name(), s.newHandle(path, meta))
				}
			}
		}
	}
	return nil
}

// tenantDir maps a tenant ID to a directory name. Tenant IDs are validated by
// the API to a safe character set; the prefix keeps names like "." apart.
func tenantDir(tenant string) string { return "t-" + tenant }

func tenantFromDir(name string) (string, bool) {
	return strings.CutPrefix(name, "t-")
}
