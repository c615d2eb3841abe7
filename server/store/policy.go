package store

import (
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// Retention says how long the store keeps each tenant's streams. The store
// hides entries past their stream's retention from every read at once, and
// removes them from disk within minutes (retention.go). Implementations are
// safe for concurrent use and cheap: the store asks once per stream a read
// or a push touches.
type Retention interface {
	// StreamRetention returns how long the entries of stream ls of tenant
	// are kept; 0 keeps them forever.
	StreamRetention(tenant string, ls labels.Labels) time.Duration
	// MaxRetention returns the longest any stream of tenant is kept; 0
	// when some stream is kept forever.
	MaxRetention(tenant string) time.Duration
	// MinRetention returns the shortest any stream of tenant is kept; 0
	// when every stream is kept forever.
	MinRetention(tenant string) time.Duration
}

// Tombstone hides the entries of the streams that match Matchers with
// Start <= T <= End and whose line Line keeps (every line when Line is
// nil): a delete request, as queries must no longer see it. Line is safe
// for concurrent use.
type Tombstone struct {
	Matchers   []*labels.Matcher
	Start, End int64
	Line       func(line []byte) bool
}

// covers reports whether the tombstone hides entries of stream ls in
// [start, end].
func (t *Tombstone) covers(ls labels.Labels, start, end int64) bool {
	return t.Start <= end && t.End >= start && ls.Matches(t.Matchers)
}

// hides reports whether the tombstone hides an entry (of a stream it
// covers).
func (t *Tombstone) hides(ts int64, line []byte) bool {
	return ts >= t.Start && ts <= t.End && (t.Line == nil || t.Line(line))
}

// Tombstones are the deletions the store's reads apply. Safe for
// concurrent use; the returned slice is not modified by the caller.
type Tombstones interface {
	Tombstones(tenant string) []Tombstone
}

// visibility is what one read may see of a tenant's streams: each stream's
// entries since its retention cutoff, less those a tombstone hides. Not
// safe for concurrent use; it lives for one read.
type visibility struct {
	tenant     string
	start, end int64
	now        int64
	retention  Retention
	tombs      []Tombstone
	starts     map[string]int64 // stream key → first visible time
}

// visibility starts the visibility of a read of tenant over [start, end).
func (s *Store) visibility(tenant string, start, end int64) *visibility {
	v := &visibility{tenant: tenant, start: start, end: end, now: s.now().UnixNano(), retention: s.opts.Retention}
	if s.opts.Tombstones != nil {
		v.tombs = s.opts.Tombstones.Tombstones(tenant)
	}
	return v
}

// from returns the first time of stream ls (key: unique to it) the read may
// see: the read's start, or later when older entries are past the stream's
// retention.
func (v *visibility) from(key string, ls labels.Labels) int64 {
	if v.retention == nil {
		return v.start
	}
	if t, ok := v.starts[key]; ok {
		return t
	}
	t := v.start
	if period := v.retention.StreamRetention(v.tenant, ls); period > 0 {
		t = max(t, v.now-int64(period))
	}
	if v.starts == nil {
		v.starts = map[string]int64{}
	}
	v.starts[key] = t
	return t
}

// tombstones returns the deletions that hide entries of ls in the read.
func (v *visibility) tombstones(ls labels.Labels) []Tombstone {
	var out []Tombstone
	for i := range v.tombs {
		if v.tombs[i].covers(ls, v.start, v.end-1) {
			out = append(out, v.tombs[i])
		}
	}
	return out
}

// readsLines reports whether a deletion needs each entry's line to say
// whether it hides it: a read of timestamps only must then read lines.
func readsLines(tombs []Tombstone) bool {
	for i := range tombs {
		if tombs[i].Line != nil {
			return true
		}
	}
	return false
}

// hidden reports whether a deletion hides the entry.
func (it *streamIter) hidden(e block.Entry) bool {
	for i := range it.tombs {
		if it.tombs[i].hides(e.T, e.Line) {
			return true
		}
	}
	return false
}
