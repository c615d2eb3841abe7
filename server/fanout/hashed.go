package fanout

import (
	"context"

	"github.com/cespare/xxhash/v2"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// HashedTimestamper is a Reader that can answer Timestamps with a hash of
// each entry's line (LineHash), so that a count over replicas can be made
// exact without moving lines: a remote replica implements it. The entries,
// their order and fn's calls are those of Timestamps (one stream's calls
// consecutive, streams in label order, timestamps ascending within a
// stream); hashes[i] is the hash of the line at ts[i]. fn is called from
// one goroutine at a time, and the labels and slices it gets are valid
// only during the call. A Fanout prefers it when a line filter (keep) is
// given; a replica without it is read through HashTimestamps.
type HashedTimestamper interface {
	HashedTimestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool,
		fn func(ls, meta labels.Labels, ts []int64, hashes []uint64)) error
}

// LineHash is the hash that identifies a line within its stream and
// timestamp: 64-bit xxhash.
func LineHash(line []byte) uint64 { return xxhash.Sum64(line) }

// hashBatch is how many timestamps HashTimestamps hands over at most per
// call.
const hashBatch = 4096

// HashTimestamps answers HashedTimestamps from r's Select: an unordered,
// forward read of the lines, keeping those keep accepts (all when keep is
// nil). A node serving another's Timestamps with a line filter calls it on
// its store.
func HashTimestamps(ctx context.Context, r Reader, p store.SelectParams, keep func(line []byte) bool,
	fn func(ls, meta labels.Labels, ts []int64, hashes []uint64)) error {
	p.Unordered, p.NoLines, p.Direction = true, false, store.Forward
	it, err := r.Select(ctx, p)
	if err != nil {
		return err
	}
	defer it.Close()
	kept := store.CountKept(it, p.Stats)
	defer kept.Flush()
	var (
		ls  labels.Labels
		ts  = make([]int64, 0, hashBatch)
		hs  = make([]uint64, 0, hashBatch)
		one [1]int64
		h1  [1]uint64
	)
	flush := func() {
		if len(ts) > 0 {
			fn(ls, nil, ts, hs)
			ts, hs = ts[:0], hs[:0]
		}
	}
	n := 0
	for it.Next() {
		if n++; n&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		l, e := it.At()
		if keep != nil && !keep(e.Line) {
			continue
		}
		kept.Add()
		if !sameSlice(l, ls) && !l.Equal(ls) {
			flush()
		}
		ls = l
		h := LineHash(e.Line)
		if len(e.Meta) > 0 {
			flush()
			one[0], h1[0] = e.T, h
			fn(ls, e.Meta, one[:], h1[:])
			continue
		}
		ts, hs = append(ts, e.T), append(hs, h)
		if len(ts) == hashBatch {
			flush()
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	flush()
	return nil
}
