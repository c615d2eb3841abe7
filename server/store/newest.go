package store

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/loam-logs/loam/server/labels"
)

// newestTimes is each stream's newest timestamp, which the out-of-order
// window measures entries against. Streams come and go (every pod brings
// its own), so the map forgets a stream once its entry can no longer matter
// much: when neither its newest timestamp nor its last append is within
// the window and newestGrace of now. Forgetting can only make the check
// more lenient: a stream that comes back after that long is treated as
// new, and an entry of it that the window would have refused (older than
// its forgotten newest timestamp minus the window, so more than twice the
// window old by then) is accepted. Loki behaves alike: an ingester forgets
// a stream, and its last timestamp, once the stream's chunks are flushed
// and it went idle.
type newestTimes struct {
	mu    sync.Mutex
	m     map[uint64]newestEntry // hash of (tenant, stream labels) → entry
	peak  int                    // len(m) at its largest since it was last rebuilt
	swept time.Time              // the last sweep
}

type newestEntry struct {
	t    int64 // the stream's newest timestamp
	seen int64 // when an append last carried it (unix ns)
}

// newestGrace is how long, past the window, a stream's entry outlives both
// its newest timestamp and its last append: clients' clocks and retries
// stray by minutes, not hours.
const newestGrace = 5 * time.Minute

// newestKey identifies a tenant's stream in the newest-timestamp map.
func newestKey(tenant string, ls labels.Labels) uint64 {
	return xxhash.Sum64String(tenant) ^ ls.Hash()
}

// noteNewest records each stream's newest timestamp, so that the
// out-of-order window holds across a restart for what the WAL replays.
func (s *Store) noteNewest(tenant string, streams []Stream) {
	now := s.now().UnixNano()
	n := &s.newest
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range streams {
		key := newestKey(tenant, streams[i].Labels)
		e, ok := n.m[key]
		for _, en := range streams[i].Entries {
			if !ok || en.T > e.t {
				e.t, ok = en.T, true
			}
		}
		if ok {
			e.seen = now
			n.m[key] = e
		}
	}
	n.peak = max(n.peak, len(n.m))
}

// checkOrder drops the entries older than their stream's newest entry by
// more than the out-of-order window (unless anyOrder), and records each
// stream's newest timestamp.
func (s *Store) checkOrder(tenant string, streams []Stream, anyOrder bool) []Rejected {
	var rejected []Rejected
	window := int64(s.opts.OutOfOrderWindow)
	if anyOrder {
		window = math.MaxInt64
	}
	now := s.now().UnixNano()
	n := &s.newest
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range streams {
		st := &streams[i]
		if rejected = s.checkRetention(tenant, st, rejected); len(st.Entries) == 0 {
			continue
		}
		key := newestKey(tenant, st.Labels)
		e, seen := n.m[key]
		maxT := e.t
		for _, en := range st.Entries {
			if !seen || en.T > maxT {
				maxT, seen = en.T, true
			}
		}
		kept := st.Entries[:0]
		for _, en := range st.Entries {
			if maxT-en.T > window {
				rejected = append(rejected, Rejected{Stream: st.Labels, T: en.T,
					Reason: fmt.Sprintf("entry too far behind: the stream's newest entry is %s and entries older than %s are refused",
						time.Unix(0, maxT).UTC().Format(time.RFC3339Nano), s.opts.OutOfOrderWindow)})
				continue
			}
			kept = append(kept, en)
		}
		st.Entries = kept
		if seen {
			n.m[key] = newestEntry{t: maxT, seen: now}
		}
	}
	n.peak = max(n.peak, len(n.m))
	return rejected
}

// checkRetention drops the entries of st already past their stream's
// retention: they would be hidden at once, and could bring back a day
// retention removed.
func (s *Store) checkRetention(tenant string, st *Stream, rejected []Rejected) []Rejected {
	if s.opts.Retention == nil {
		return rejected
	}
	period := s.opts.Retention.StreamRetention(tenant, st.Labels)
	if period <= 0 {
		return rejected
	}
	cut := s.now().Add(-period).UnixNano()
	kept := st.Entries[:0]
	for _, e := range st.Entries {
		if e.T < cut {
			rejected = append(rejected, Rejected{Stream: st.Labels, T: e.T, Expired: true,
				Reason: fmt.Sprintf("entry too old: the stream's retention is %s, so entries before %s are refused",
					period, time.Unix(0, cut).UTC().Format(time.RFC3339))})
			continue
		}
		kept = append(kept, e)
	}
	st.Entries = kept
	return rejected
}

// sweepNewest forgets the streams whose entries can no longer matter (see
// newestTimes), at most once a minute (or a window, if shorter). A Go map
// never gives memory back: once it holds half of what it held at its
// largest, it is copied into a new one, and sweepNewest reports that the
// old one's memory is free.
func (s *Store) sweepNewest(now time.Time) (rebuilt bool) {
	window := s.opts.OutOfOrderWindow
	n := &s.newest
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Sub(n.swept) < min(time.Minute, window) {
		return false
	}
	n.swept = now
	cutoff := now.Add(-window - newestGrace).UnixNano()
	for k, e := range n.m {
		if max(e.t, e.seen) < cutoff {
			delete(n.m, k)
		}
	}
	if len(n.m) <= n.peak/2 && n.peak >= 1024 { // a small map is not worth it
		m := make(map[uint64]newestEntry, len(n.m))
		for k, e := range n.m {
			m[k] = e
		}
		n.m, n.peak = m, len(m)
		return true
	}
	return false
}
