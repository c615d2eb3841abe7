package store

import "syscall"

// The heads (the active one and those being flushed) may hold, in line
// bytes, up to a soft limit of softHeadLimit × MaxHeadBytes for everyone
// and a hard limit of hardHeadLimit × MaxHeadBytes. See Options.MaxHeadBytes.
const (
	softHeadLimit = 4
	hardHeadLimit = 8
)

// Why an append is held back, the reason label of loam_appends_held_back_total.
const (
	heldShare = "share" // the heads are over the soft limit and the tenant holds its fair share
	heldLimit = "limit" // the heads are at the hard limit
)

// holdReason says why an append of tenant must wait for a flush now, or "".
// Over the soft limit, a tenant holding at least its fair share of it (the
// soft limit divided by the tenants the heads hold lines of) waits; the
// others go on up to the hard limit. At least one tenant is always over its
// share when the heads are over the soft limit, so they do not grow past it
// unless the other tenants' pushes take them there, and never past the hard
// limit.
//
// Under the soft limit, the common case, it costs one atomic load.
func (s *Store) holdReason(tenant string) string {
	total := s.headBytes.Load()
	soft := softHeadLimit * s.opts.MaxHeadBytes
	switch {
	case total < soft:
		return ""
	case total >= hardHeadLimit*s.opts.MaxHeadBytes:
		return heldLimit
	}
	mine, tenants := s.headUsage(tenant)
	if mine*int64(max(tenants, 1)) >= soft {
		return heldShare
	}
	return ""
}

// headUsage returns the line bytes the heads hold of tenant, and the number
// of tenants they hold lines of.
func (s *Store) headUsage(tenant string) (mine int64, tenants int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Each head's lock is held while its tenants are counted against the
	// other heads'; appenders take one head's lock at a time, so holding
	// several for reading cannot deadlock.
	heads := len(s.frozen) + 1
	at := func(i int) *head {
		if i == 0 {
			return s.head
		}
		return s.frozen[i-1].h
	}
	for i := range heads {
		at(i).mu.RLock()
	}
	for i := range heads {
		h := at(i)
		if t := h.tenants[tenant]; t != nil {
			mine += t.bytes.Load()
		}
		if i == 0 {
			tenants += len(h.tenants)
			continue
		}
	names:
		for name := range h.tenants { // a tenant of several heads counts once
			for j := range i {
				if _, ok := at(j).tenants[name]; ok {
					continue names
				}
			}
			tenants++
		}
	}
	for i := range heads {
		at(i).mu.RUnlock()
	}
	return mine, tenants
}

// waitForRoom holds an appender of tenant back while the flusher lags far
// behind (holdReason): memory stays bounded and the client sees latency,
// not an error. While flushes fail for lack of space, waiting would be
// endless: it returns an ErrDiskFull error at once instead.
//
// Only a flush that removes a head (and its bytes from s.headBytes), a
// flush that finds the disk full, or Close (whose flush removes the heads)
// can end a wait; each broadcasts s.flushed under s.flushedMu after its
// change, and a waiter checks under s.flushedMu before it waits, so none
// is missed.
func (s *Store) waitForRoom(tenant string) error {
	reason := s.holdReason(tenant)
	if reason == "" {
		return nil
	}
	errFull := noSpace("the head holds the most it may and cannot be flushed into blocks", syscall.ENOSPC)
	if s.disk.flushFull.Load() {
		return errFull
	}
	s.m.appendsHeldBack.WithLabelValues(tenant, reason).Inc()
	s.flushedMu.Lock()
	defer s.flushedMu.Unlock()
	for s.holdReason(tenant) != "" {
		select {
		case <-s.stop:
			return nil
		default:
		}
		// noteFlush sets flushFull before it broadcasts under flushedMu.
		if s.disk.flushFull.Load() {
			return errFull
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
		s.flushed.Wait()
	}
	return nil
}
