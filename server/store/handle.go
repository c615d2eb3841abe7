package store

import (
	"container/list"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/loam-logs/loam/server/block"
)

// A block of a partition is shared by the queries that read it and by the
// compaction (or, later, retention or delete) that replaces it. Its handle
// counts references:
//
//   - the partition holds one from the moment the block is added until
//     removeBlocks takes the block out;
//   - every read holds one from acquire, done under s.mu while the block is
//     in its partition, to release (a Select's iterator releases its blocks
//     on Close, Stats and Series before they return, a compaction once the
//     merged block replaced its sources).
//
// Whoever gives back the last reference closes the reader (its file
// descriptor, its cached index pages and filters and their budgets) and
// deletes the file. A query thus never sees a block vanish under it: it
// finishes on the blocks it started with, while new queries see the
// replacement. No GC finalizer is involved.
//
// Readers are opened on first use, so that a restart reads only footers.
// An open reader no read holds is idle; beyond blockReaders.max idle ones,
// the least recently used are closed, to be opened again when needed.

// blockHandle is one block of a partition.
type blockHandle struct {
	level int
	cold  bool // of the hourly form (merge.go)
	meta  block.Meta
	rs    *blockReaders

	// refs is the partition's reference, until removed, and one per read.
	// Atomic: acquire, done under s.mu, must not wait for h.mu, which a
	// reader's open holds while it reads the index.
	refs atomic.Int64

	mu      sync.Mutex
	path    string // where the file is: renamed aside once removed
	removed bool
	r       *block.Reader // nil until opened, and again after an idle close
	err     error         // why the reader could not be opened: it is not tried again

	elem *list.Element // in rs.idle while the reader is open and idle; guarded by rs.mu
}

// newHandle makes the handle of a block about to be added to a partition,
// holding the partition's reference.
func newHandle(rs *blockReaders, path string, meta block.Meta) *blockHandle {
	h := &blockHandle{path: path, level: blockLevel(path), cold: strings.HasPrefix(filepath.Base(path), "H"), meta: meta, rs: rs}
	h.refs.Store(1)
	return h
}

// handleOf is newHandle for a block already open.
func handleOf(rs *blockReaders, r *block.Reader) *blockHandle {
	h := newHandle(rs, r.Path(), block.Meta{Size: r.Size(), MinT: r.MinT(), MaxT: r.MaxT()})
	h.r = r
	rs.opened(1)
	rs.markIdle(h)
	return h
}

// acquire takes a reference for a read. The caller holds s.mu and found h
// in its partition: a removed block is never acquired again.
func (h *blockHandle) acquire() {
	h.refs.Add(1)
	h.rs.markBusy(h)
}

// reader returns the block's reader, opening it if needed. The caller holds
// a reference, which keeps the reader open until released.
func (h *blockHandle) reader() (*block.Reader, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.r == nil && h.err == nil {
		if h.r, h.err = block.Open(h.path); h.err == nil {
			h.rs.opened(1)
		}
	}
	return h.r, h.err
}

// release gives back a reference taken by acquire, or the partition's.
func (h *blockHandle) release() {
	switch h.refs.Add(-1) {
	case 0:
		// Only a removed block loses its partition's reference: nothing
		// can acquire it again.
		h.mu.Lock()
		h.dispose()
		h.mu.Unlock()
	case 1:
		h.mu.Lock()
		idle := !h.removed && h.r != nil
		h.mu.Unlock()
		if idle {
			h.rs.markIdle(h)
		}
	}
}

// dispose closes the reader and deletes the file of a removed block that
// nothing reads any more. The caller holds h.mu.
func (h *blockHandle) dispose() {
	h.rs.markBusy(h)
	h.closeReader()
	if err := os.Remove(h.path); err != nil && !os.IsNotExist(err) {
		h.rs.log("remove block file", h.path, err)
	}
	os.Remove(filepath.Dir(h.path)) // the partition's, if that was its last file; fails harmlessly otherwise
	h.rs.pendingRemoval(-1)
}

// closeReader closes the reader if open. The caller holds h.mu.
func (h *blockHandle) closeReader() {
	if h.r != nil {
		h.r.Close()
		h.r = nil
		h.rs.opened(-1)
	}
}

// discard closes the reader of a handle that never made it into a
// partition.
func (h *blockHandle) discard() {
	h.rs.markBusy(h)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeReader()
}

// closeIfIdle closes the reader unless a read holds it. A read that
// acquires the block meanwhile waits in reader for h.mu, and opens the
// reader again.
func (h *blockHandle) closeIfIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refs.Load() == 1 && !h.removed {
		h.closeReader()
	}
}

// filePath returns where the block's file is now.
func (h *blockHandle) filePath() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.path
}

// markRemoved flags a block taken out of its partition and renames its file
// aside (a restart deletes such files instead of loading them), before the
// partition's reference is given back.
func (h *blockHandle) markRemoved() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removed = true
	aside := h.path + removedSuffix
	if err := os.Rename(h.path, aside); err != nil {
		h.rs.log("rename removed block aside", h.path, err)
	} else {
		h.path = aside
	}
	h.rs.pendingRemoval(1)
}

// removedSuffix marks the file of a block taken out of its partition but
// still read by a query.
const removedSuffix = ".removed"

// readSet is the blocks one read acquired.
type readSet struct{ hs []*blockHandle }

// release gives back every block of the set; a second call does nothing.
func (rs *readSet) release() {
	for _, h := range rs.hs {
		h.release()
	}
	rs.hs = nil
}

// blockReaders keeps count of the store's open readers and closes the
// least recently used idle ones beyond max: each costs a file descriptor
// and its index directory (for a block of an older format, its whole index).
type blockReaders struct {
	max int
	m   *Metrics
	log func(msg, path string, err error)

	mu   sync.Mutex
	idle list.List // of *blockHandle, most recently idle first
}

// markIdle puts h at the front of the idle readers and closes those beyond
// max.
func (rs *blockReaders) markIdle(h *blockHandle) {
	rs.mu.Lock()
	if h.elem == nil {
		h.elem = rs.idle.PushFront(h)
	} else {
		rs.idle.MoveToFront(h.elem)
	}
	var victims []*blockHandle
	for rs.idle.Len() > rs.max {
		e := rs.idle.Back()
		v := e.Value.(*blockHandle)
		rs.idle.Remove(e)
		v.elem = nil
		victims = append(victims, v)
	}
	rs.mu.Unlock()
	// A victim acquired meanwhile is left open: closeIfIdle checks.
	for _, v := range victims {
		v.closeIfIdle()
	}
}

// markBusy takes h out of the idle readers.
func (rs *blockReaders) markBusy(h *blockHandle) {
	rs.mu.Lock()
	if h.elem != nil {
		rs.idle.Remove(h.elem)
		h.elem = nil
	}
	rs.mu.Unlock()
}

func (rs *blockReaders) opened(n int) { rs.m.blockReaders.Add(float64(n)) }

func (rs *blockReaders) pendingRemoval(n int) { rs.m.blocksRemovedPending.Add(float64(n)) }

// errBlocksGone says that blocks to replace were no longer in their
// partition: another removal took them first.
var errBlocksGone = errors.New("blocks to replace are no longer in their partition")

// removeBlocks takes the blocks old out of the partition tenant/day and puts
// replacement in, in one step under s.mu: a read that starts afterwards
// sees the replacement, never both nor neither, and a read that started
// before keeps reading the old blocks it acquired. Each old block's file is
// renamed aside at once (<name>.removed, which a restart deletes instead of
// loading) and the partition's reference on it is given back: the last read
// to release it closes its reader (file descriptor, cached index pages and
// filters, and their budgets) and deletes the file.
//
// Every block of old must be in the partition. If one is not (another
// removal took it), nothing changes and errBlocksGone is returned: a
// replacement made from blocks since removed (by retention, say) must not
// bring their data back; its file is the caller's to delete. replacement
// may be empty (retention, deletes); its handles come from s.newHandle or
// handleOf and belong to the partition from then on. A partition left
// without blocks is forgotten. The caller may hold references of its own
// on old blocks (a compaction acquires its sources) and releases them as
// usual. removeBlocks takes s.mu: the caller must not hold it.
func (s *Store) removeBlocks(tenant, day string, old, replacement []*blockHandle) error {
	s.mu.Lock()
	p := s.parts[tenant][day]
	if p == nil && len(old) > 0 {
		s.mu.Unlock()
		return errBlocksGone
	}
	if p == nil {
		p = s.partitionLocked(tenant, day)
	}
	for _, h := range old {
		if !slices.Contains(p.blocks, h) {
			s.mu.Unlock()
			return errBlocksGone
		}
	}
	kept := make([]*blockHandle, 0, len(p.blocks)-len(old)+len(replacement))
	for _, b := range p.blocks {
		if !slices.Contains(old, b) {
			kept = append(kept, b)
		}
	}
	p.blocks = append(kept, replacement...)
	if len(p.blocks) == 0 {
		delete(s.parts[tenant], day)
		if len(s.parts[tenant]) == 0 {
			delete(s.parts, tenant)
		}
	}
	s.mu.Unlock()
	dirs := map[string]bool{}
	for _, h := range old {
		h.markRemoved()
		dirs[filepath.Dir(h.filePath())] = true
	}
	for dir := range dirs {
		block.SyncDir(dir) // the renames hold across a crash: no block loaded twice
	}
	for _, h := range old {
		h.release()
	}
	s.updateGauges()
	return nil
}

// newHandle makes the handle of a block file not yet in its partition.
func (s *Store) newHandle(path string, meta block.Meta) *blockHandle {
	return newHandle(s.readers, path, meta)
}

// acquireBlocks acquires and returns the blocks of the partition tenant/day
// that keep accepts (all of them when keep is nil); the caller releases
// each. With removeBlocks, what retention and deletes need: acquire the
// blocks to drop or rewrite, read them, remove them (with their rewrites
// as replacement), release them.
func (s *Store) acquireBlocks(tenant, day string, keep func(*blockHandle) bool) []*blockHandle {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*blockHandle
	if p := s.parts[tenant][day]; p != nil {
		for _, b := range p.blocks {
			if keep == nil || keep(b) {
				b.acquire()
				out = append(out, b)
			}
		}
	}
	return out
}
