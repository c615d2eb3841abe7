package store

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// StatsParams asks for the figures of one tenant's streams matching every
// matcher, cut into buckets at Bounds: bucket i holds the entries with
// Bounds[i] <= ts < Bounds[i+1]. Bounds ascend and number two at least.
type StatsParams struct {
	Tenant   string
	Matchers []*labels.Matcher
	Bounds   []int64
}

// Figures are what one stream holds in one bucket.
type Figures struct {
	// Entries is exact: the count of a chunk inside the bucket, or of the
	// chunk's timestamps that fall in it when a bound cuts the chunk.
	Entries int64
	// Bytes is the length of the lines, before compression and without
	// structured metadata. It is exact for the head and for a chunk that
	// lies inside the bucket. A chunk that a bound cuts is not decompressed:
	// its raw bytes are shared out in proportion to its entries on each
	// side, that is at the chunk's average line length.
	Bytes int64
	// Chunks counts the block chunks with entries in the bucket; each head
	// (the active one, and one being flushed) counts as one chunk of every
	// stream it holds entries of there, as an ingester's open chunk would.
	Chunks int64
}

// Stats calls fn with the figures, one per bucket, of every stream that
// matches and has entries in [Bounds[0], Bounds[len-1]), source by source:
// a stream held by several sources (the head, a head being flushed, blocks
// of other days or levels) is passed once for each, and the caller adds
// the figures up. figs is reused once fn returns; ls must not be modified.
// Memory stays that of one stream's buckets, whatever the number of
// streams.
//
// Stats reads the index and chunk table of the blocks, the timestamp
// column of the chunks a bound cuts, and the head's entry lengths; it never
// decompresses lines. Figures are not de-duplicated the way Select's
// entries are: an entry stored twice (during the instant a flushed head and
// its new block are both visible, or replayed from the WAL after a crash
// that came between a flush and the WAL's truncation) is counted twice.
func (s *Store) Stats(ctx context.Context, p StatsParams, fn func(ls labels.Labels, figs []Figures)) error {
	if len(p.Bounds) < 2 || !slices.IsSorted(p.Bounds) {
		return errors.New("stats: bounds must ascend and number two at least")
	}
	lo, hi := p.Bounds[0], p.Bounds[len(p.Bounds)-1]
	n := len(p.Bounds) - 1
	if hi <= lo {
		return nil
	}
	// bucket returns the bucket of t, or -1 outside [lo, hi).
	bucket := func(t int64) int {
		if t < lo || t >= hi {
			return -1
		}
		return sort.Search(n, func(i int) bool { return p.Bounds[i+1] > t })
	}
	figs := make([]Figures, n)
	// Entries past their stream's retention are not counted.
	vis := s.visibility(p.Tenant, lo, hi)
	visible := func(ls labels.Labels) func(int64) int {
		from := vis.from(ls.String(), ls)
		return func(t int64) int {
			if t < from {
				return -1
			}
			return bucket(t)
		}
	}

	heads, parts, blocks := s.sources(p.Tenant, lo, hi)
	defer blocks.release()
	for _, h := range heads {
		h.forEachStream(p.Tenant, func(ms *memStream) {
			if !ms.ls.Matches(p.Matchers) {
				return
			}
			snap := ms.snapshot()
			if len(snap.ts) == 0 || snap.minT >= hi || snap.maxT < lo {
				return
			}
			bucket := visible(ms.ls)
			clear(figs)
			found := false
			for i, t := range snap.ts {
				b := bucket(t)
				if b < 0 {
					continue
				}
				if figs[b].Entries == 0 {
					figs[b].Chunks = 1
				}
				figs[b].Entries++
				figs[b].Bytes += int64(snap.refs[i].len)
				found = true
			}
			if found {
				fn(ms.ls, figs)
			}
		})
	}

	var ts []int64
	for _, r := range parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := r.Select(p.Matchers, func(sm *block.StreamMeta) error {
			bucket := visible(sm.Labels)
			clear(figs)
			found := false
			for ci := range sm.Chunks {
				c := &sm.Chunks[ci]
				if c.Count == 0 || !c.Overlaps(lo, hi-1) {
					continue
				}
				found = true
				if b := bucket(c.MinT); b >= 0 && b == bucket(c.MaxT) {
					figs[b].Entries += int64(c.Count)
					figs[b].Bytes += int64(c.RawBytes)
					figs[b].Chunks++
					continue
				}
				var err error
				if ts, err = r.ReadTimestamps(c, ts[:0]); err != nil {
					return err
				}
				splitChunk(c, ts, bucket, figs)
			}
			if found && hasEntries(figs) {
				fn(sm.Labels, figs)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func hasEntries(figs []Figures) bool {
	for _, f := range figs {
		if f.Entries > 0 {
			return true
		}
	}
	return false
}

// splitChunk adds the entries of a chunk that bounds cut to the buckets
// their timestamps fall in, and its raw bytes in proportion. The shares are
// taken from running totals, so that they add up to the chunk's bytes in
// range without rounding drift.
func splitChunk(c *block.ChunkMeta, ts []int64, bucket func(int64) int, figs []Figures) {
	// Timestamps are sorted within a chunk: entries of a bucket are a run.
	var before int64 // entries counted so far, in range or not
	share := func(k int64) int64 { return int64(c.RawBytes) * k / int64(c.Count) }
	for i := 0; i < len(ts); {
		b := bucket(ts[i])
		j := i + 1
		for j < len(ts) && bucket(ts[j]) == b {
			j++
		}
		run := int64(j - i)
		if b >= 0 {
			figs[b].Entries += run
			figs[b].Bytes += share(before+run) - share(before)
			figs[b].Chunks++
		}
		before += run
		i = j
	}
}
