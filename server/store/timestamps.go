package store

import (
	"context"
	"slices"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// Timestamps is Select for queries that only count entries: it calls fn
// with the timestamps (ascending, within [Start, End)) of the selected
// entries whose line keep accepts (every entry when keep is nil), many at a
// time, reading no line where it can. meta is the structured metadata of
// those entries, nil when they have none; a stream whose entries carry
// metadata, or whose sources overlap (and so may hold duplicates), is read
// entry by entry, with duplicates dropped as Select does. p.Direction,
// p.Unordered and p.NoLines are ignored.
func (s *Store) Timestamps(ctx context.Context, p SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	p.Unordered, p.NoLines, p.Direction = true, keep == nil, Forward
	it, err := s.Select(ctx, p)
	if err != nil {
		return err
	}
	defer it.Close()
	c := it.(*concatIter)
	var buf []int64
	var scratch []byte
	var d block.ChunkData
	one := make([]int64, 1)
	needles := toNeedles(p.Needles)
	if keep != nil {
		for _, si := range c.its[:min(prefetchAhead, len(c.its))] {
			prefetch(si)
		}
	}
	for i, si := range c.its {
		c.its[i] = nil
		if err := ctx.Err(); err != nil {
			return err
		}
		if keep != nil && i+prefetchAhead < len(c.its) {
			prefetch(c.its[i+prefetchAhead])
		}
		if si.plain() {
			for _, src := range si.pending {
				switch {
				case src.mem != nil:
					buf = buf[:0]
					for _, e := range src.mem {
						if keep == nil || keep(e.Line) {
							buf = append(buf, e.T)
						}
					}
					si.stats.HeadLines.Add(int64(len(src.mem)))
					si.stats.LinesProcessed.Add(int64(len(src.mem)))
				case keep == nil:
					if buf, scratch, err = src.r.ReadTimestampsBuf(src.c, buf[:0], scratch); err != nil {
						return err
					}
					si.stats.ChunksRead.Add(1)
					si.stats.BytesRead.Add(int64(src.c.TsLen))
					si.m.chunksRead.Inc()
				case p.NeedlesExact && len(needles) > 0:
					if buf, err = src.r.MatchTimestamps(src.c, &d, needles, buf[:0]); err != nil {
						return err
					}
					si.stats.ChunksRead.Add(1)
					si.stats.BytesRead.Add(int64(src.c.LinesLen + src.c.TsLen))
					si.stats.LinesProcessed.Add(int64(src.c.Count))
					si.stats.BytesProcessed.Add(int64(src.c.RawBytes))
					si.m.chunksRead.Inc()
				default:
					ok, err := src.r.ReadChunkPart(src.c, &d, block.PartAll, needles)
					if err != nil {
						return err
					}
					if !ok {
						si.stats.ChunksSkipped.Add(1)
						si.m.chunksSkipped.WithLabelValues("text").Inc()
						continue
					}
					si.stats.ChunksRead.Add(1)
					si.stats.BytesRead.Add(int64(src.c.LinesLen + src.c.TsLen))
					si.m.chunksRead.Inc()
					// Only the lines that hold the needles were rebuilt, but
					// every line of the chunk was searched.
					buf = buf[:0]
					for _, e := range d.Entries {
						if keep(e.Line) {
							buf = append(buf, e.T)
						}
					}
					si.stats.LinesProcessed.Add(int64(src.c.Count))
					si.stats.BytesProcessed.Add(int64(src.c.RawBytes))
				}
				lo, _ := slices.BinarySearch(buf, p.Start)
				hi, _ := slices.BinarySearch(buf, p.End)
				if keep == nil {
					si.stats.LinesProcessed.Add(int64(hi - lo))
				}
				if hi > lo {
					fn(si.ls, nil, buf[lo:hi])
				}
			}
			continue
		}
		for si.next() {
			if keep != nil && !keep(si.cur.Line) {
				continue
			}
			one[0] = si.cur.T
			fn(si.ls, si.cur.Meta, one)
		}
		if si.err != nil {
			return si.err
		}
		si.release()
	}
	return nil
}

// plain reports whether the stream's sources are disjoint in time and carry
// no structured metadata, so that their timestamps can be taken as they are.
func (it *streamIter) plain() bool {
	var prevMax int64
	for i, src := range it.pending {
		if i > 0 && src.minT <= prevMax {
			return false
		}
		prevMax = src.maxT
		if src.mem != nil {
			for _, e := range src.mem {
				if len(e.Meta) > 0 {
					return false
				}
			}
		} else if src.c.HasMeta() {
			return false
		}
	}
	return true
}

// prefetchAhead is how many streams ahead of the one being read a count
// asks the kernel to read: enough to cover the disk's latency while a
// chunk is decoded (about a millisecond each).
const prefetchAhead = 4

// prefetch starts reading the chunks of si that are in blocks.
func prefetch(si *streamIter) {
	for _, src := range si.pending {
		if src.r != nil {
			src.r.Prefetch(src.c, prefetchLines)
		}
	}
}

// prefetchLines is how much of a chunk's lines region a count prefetches:
// the head and word frames of a templated group are about a fifth of a
// megabyte chunk.
const prefetchLines = 96 << 10
