package store

import (
	"time"

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
