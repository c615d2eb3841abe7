package store

import (
	"context"
	"slices"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// Timestamps is Select for queries that only count entries: it calls fn
// with the timestamps (ascending, within [Start, End)) of the selected
// entries whose line keep accepts (every entry when keep is nil), many at a
// time, reading no line where it can. meta is the structured metadata of
// those entries, nil when they have none; a stream whose entries carry
// metadata, or whose sources overlap (and so may hold duplicates), is read
// entry by entry, with duplicates dropped as Select does. The calls of one
// stream are consecutive, and the streams come in labels.Compare order.
// p.Direction, p.Unordered and p.NoLines are ignored.
func (s *Store) Timestamps(ctx context.Context, p SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	p.Unordered, p.NoLines, p.Direction = true, keep == nil, Forward
	it, err := s.Select(ctx, p)
	if err != nil {
		return err
	}
	defer it.Close()
	c := it.(*concatIter)
	var tb timestampBufs
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
			if err := si.plainTimestamps(p, keep, needles, &tb, fn); err != nil {
				return err
			}
			continue
		}
		var headKept, blockKept int64
		for si.next() {
			if keep != nil && !keep(si.cur.Line) {
				continue
			}
			if si.curHead {
				headKept++
			} else {
				blockKept++
			}
			one[0] = si.cur.T
			fn(si.ls, si.cur.Meta, one)
		}
		si.stats.HeadPostFilter.Add(headKept)
		si.stats.PostFilter.Add(blockKept)
		if si.err != nil {
			return si.err
		}
		si.release()
	}
	return nil
}

// timestampBufs are the buffers Timestamps reuses across chunks.
type timestampBufs struct {
	ts      []int64
	scratch []byte
	d       block.ChunkData
}

// plainTimestamps hands over the timestamps of a plain stream (see plain),
// source by source.
func (si *streamIter) plainTimestamps(p SelectParams, keep func([]byte) bool, needles block.Needles, b *timestampBufs, fn func(ls, meta labels.Labels, ts []int64)) error {
	st := si.stats
	var err error
	for _, src := range si.pending {
		if src.mem != nil {
			b.ts = b.ts[:0]
			for _, e := range src.mem {
				if keep == nil || keep(e.Line) {
					b.ts = append(b.ts, e.T)
				}
			}
			// Head sources hold entries in range only.
			bytes, _ := sizes(src.mem)
			st.HeadBatches.Add(1)
			st.HeadLines.Add(int64(len(src.mem)))
			st.HeadBytes.Add(bytes)
			st.HeadSent.Add(int64(len(src.mem)))
			st.HeadPostFilter.Add(int64(len(b.ts)))
			if len(b.ts) > 0 {
				fn(si.ls, nil, b.ts)
			}
			continue
		}
		t0 := time.Now()
		// lines and bytes are those of the lines searched; -1 when lines
		// are not read: every timestamp decoded counts, without bytes.
		lines, bytes := int64(-1), int64(0)
		switch {
		case keep == nil:
			if b.ts, b.scratch, err = src.r.ReadTimestampsBuf(src.c, b.ts[:0], b.scratch); err != nil {
				return err
			}
			si.countRead(src, int64(src.c.TsLen))
			si.m.chunksRead.Inc()
		case p.NeedlesExact && len(needles) > 0:
			if b.ts, err = src.r.MatchTimestamps(src.c, &b.d, needles, b.ts[:0]); err != nil {
				return err
			}
			si.countRead(src, int64(src.c.TsLen+src.c.LinesLen))
			si.m.chunksRead.Inc()
			// Every line of the chunk was searched.
			lines, bytes = int64(src.c.Count), int64(src.c.RawBytes)
		default:
			ok, err := src.r.ReadChunkPart(src.c, &b.d, block.PartAll, needles)
			if err != nil {
				return err
			}
			si.countRead(src, int64(src.c.TsLen+src.c.LinesLen))
			if !ok {
				st.ReadTime.Add(since(t0))
				st.ChunksNoMatch.Add(1)
				st.Lines.Add(int64(src.c.Count))
				st.Bytes.Add(int64(src.c.RawBytes))
				si.m.chunksSkipped.WithLabelValues("text").Inc()
				continue
			}
			si.m.chunksRead.Inc()
			// Only the lines that hold the needles were rebuilt, but
			// every line of the chunk was searched.
			b.ts = b.ts[:0]
			for _, e := range b.d.Entries {
				if keep(e.Line) {
					b.ts = append(b.ts, e.T)
				}
			}
			lines, bytes = int64(src.c.Count), int64(src.c.RawBytes)
		}
		if lines < 0 {
			lines = int64(len(b.ts))
		}
		lo, _ := slices.BinarySearch(b.ts, si.start)
		hi, _ := slices.BinarySearch(b.ts, p.End)
		st.Lines.Add(lines)
		st.Bytes.Add(bytes)
		st.PostFilter.Add(int64(hi - lo))
		st.ReadTime.Add(since(t0))
		if hi > lo {
			fn(si.ls, nil, b.ts[lo:hi])
		}
	}
	return nil
}

// plain reports whether the stream's sources are disjoint in time and carry
// no structured metadata, and no deletion covers the stream, so that their
// timestamps can be taken as they are.
func (it *streamIter) plain() bool {
	if len(it.tombs) > 0 {
		return false
	}
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
