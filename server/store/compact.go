package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// Compaction merges the blocks of a partition into fewer, bigger ones: a
// flush writes a small level-0 block (a few seconds of data, small chunks,
// fast compression); when a partition holds FanIn blocks of one level, they
// are merged into one block of the next level, with chunks cut anew at the
// target size (fast compression while the day is live; the whole day is merged
// once more, at the compaction level, when it goes cold). Each line is thus
// rewritten about log_FanIn(day's blocks) times, and a partition holds
// O(FanIn × levels) blocks.

// blockLevel reads the level from a block's file name, "L<level>-…".
func blockLevel(path string) int {
	name := filepath.Base(path)
	if rest, ok := strings.CutPrefix(name, "L"); ok {
		if i := strings.IndexByte(rest, '-'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return n
			}
		}
	}
	return 0
}

func blockName(level int) string {
	return fmt.Sprintf("L%d-%d-%08x.blk", level, time.Now().UnixNano(), rand.Uint32())
}

// compactionJob is a set of blocks of one partition to merge.
type compactionJob struct {
	tenant, day string
	level       int // of the sources; the result is level+1
	srcs        []*blockHandle
	cold        bool // the whole of a partition that stopped receiving blocks
}

// pickCompaction returns the next job of one kind, if any, marks its
// partition busy and acquires its sources (the caller releases them). Live
// jobs: the lowest level of any partition that holds FanIn blocks of it.
// Cold jobs: all blocks of a partition that got no new block for
// ColdAfter, when there are several or the only one is a level-0 block
// (without filters, fast compression).
func (s *Store) pickCompaction(now time.Time, cold bool) *compactionJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *compactionJob
	var bestPart *partition
	for tenant, ps := range s.parts {
		for day, p := range ps {
			if p.busy {
				continue
			}
			if !cold {
				byLevel := map[int][]*blockHandle{}
				for _, b := range p.blocks {
					byLevel[b.level] = append(byLevel[b.level], b)
				}
				for level, bs := range byLevel {
					if len(bs) >= s.opts.CompactionFanIn && (best == nil || level < best.level) {
						best, bestPart = &compactionJob{tenant, day, level, bs, false}, p
					}
				}
				continue
			}
			if best == nil && now.Sub(p.lastAdd) >= s.opts.CompactionColdAfter &&
				(len(p.blocks) > 1 || len(p.blocks) == 1 && p.blocks[0].level == 0) {
				top := 0
				for _, b := range p.blocks {
					top = max(top, b.level)
				}
				best, bestPart = &compactionJob{tenant, day, top, slices.Clone(p.blocks), true}, p
			}
		}
	}
	if bestPart != nil {
		bestPart.busy = true
		for _, b := range best.srcs {
			b.acquire()
		}
	}
	return best
}

// Compact runs the due compaction jobs, live ones first, until none is due.
func (s *Store) Compact(ctx context.Context) error {
	if _, err := s.compactKind(ctx, false); err != nil {
		return err
	}
	_, err := s.compactKind(ctx, true)
	return err
}

// compactKind runs jobs of one kind and returns how many it ran. Live and
// cold jobs run in workers of their own: the long merge of a cold day, at
// the strongest compression, must not hold back the merges that keep
// today's block count low.
func (s *Store) compactKind(ctx context.Context, cold bool) (jobs int, err error) {
	mu := &s.liveCompactMu
	if cold {
		mu = &s.coldCompactMu
	}
	mu.Lock()
	defer mu.Unlock()
	for ; ; jobs++ {
		job := s.pickCompaction(time.Now(), cold)
		if job == nil {
			return jobs, nil
		}
		err := s.runCompaction(ctx, job)
		for _, b := range job.srcs {
			b.release()
		}
		s.mu.Lock()
		if p := s.parts[job.tenant][job.day]; p != nil {
			p.busy = false
		}
		s.mu.Unlock()
		if err != nil {
			return jobs, err
		}
	}
}

func (s *Store) runCompaction(ctx context.Context, job *compactionJob) error {
	start := time.Now()
	dir := s.partDir(job.tenant, job.day)
	// Merges of a live day keep the flush's fast compression: they happen
	// while data streams in, and a day is merged whole, with the stronger
	// compaction level, once it goes cold.
	opts := s.opts.Block
	if job.cold {
		opts.Level = s.opts.CompactionLevel
		opts.Templated = true
	}
	path := filepath.Join(dir, blockName(job.level+1))
	w, err := block.Create(path, opts)
	if err != nil {
		return err
	}
	// The sources' stream tables are merged in label order, a page of each
	// at a time: memory for one stream's chunks per source, whatever the
	// number of streams.
	var cur []*block.StreamIter // sources with a current stream
	var rs []*block.Reader
	for _, h := range job.srcs {
		r, err := h.reader()
		if err != nil {
			w.Abort()
			return fmt.Errorf("compact: %w", err)
		}
		it := r.Iter()
		if it.Next() {
			cur = append(cur, it)
			rs = append(rs, r)
		} else if err := it.Err(); err != nil {
			w.Abort()
			return fmt.Errorf("compact: %w", err)
		}
	}
	var in, out int
	for len(cur) > 0 {
		if err := ctx.Err(); err != nil {
			w.Abort()
			return err
		}
		ls := cur[0].At().Labels
		for _, it := range cur[1:] {
			if labels.Compare(it.At().Labels, ls) < 0 {
				ls = it.At().Labels
			}
		}
		// A k-way merge of the stream's chunks from every source, dropping
		// exact duplicates: memory for one open chunk per source.
		it := &streamIter{ls: ls, dir: Forward, start: -1 << 63, end: 1<<63 - 1, stats: &Stats{}, m: s.m}
		for k := 0; k < len(cur); {
			src := cur[k]
			if !src.At().Labels.Equal(ls) {
				k++
				continue
			}
			for ci := range src.At().Chunks {
				c := &src.At().Chunks[ci]
				in += int(c.Count)
				it.pending = append(it.pending, source{minT: c.MinT, maxT: c.MaxT, r: rs[k], c: c})
			}
			if src.Next() {
				continue // the next stream of the source may carry the same labels
			}
			if err := src.Err(); err != nil {
				w.Abort()
				return fmt.Errorf("compact: %w", err)
			}
			cur = slices.Delete(cur, k, k+1)
			rs = slices.Delete(rs, k, k+1)
		}
		it.sortPending()
		sw := w.StartStream(ls)
		for it.next() {
			sw.Add(it.cur)
			out++
		}
		if it.err != nil {
			w.Abort()
			return fmt.Errorf("compact: %w", it.err)
		}
		if err := sw.End(); err != nil {
			w.Abort()
			return fmt.Errorf("compact: %w", err)
		}
	}
	if err := w.Finish(); err != nil {
		return err
	}
	nb, err := block.Open(path)
	if err != nil {
		return err
	}
	// Swap: the new block in, the sources out. Queries that hold a source
	// keep reading it; its file goes when the last of them is done.
	var freed int64
	for _, b := range job.srcs {
		freed += b.meta.Size
	}
	nh := handleOf(s.readers, nb)
	if err := s.removeBlocks(job.tenant, job.day, job.srcs, []*blockHandle{nh}); err != nil {
		// Retention or a delete took sources meanwhile: their data must
		// not come back.
		nh.discard()
		os.Remove(path)
		s.log.Info("compaction dropped: its sources were removed meanwhile", "tenant", job.tenant, "day", job.day)
		return nil
	}
	s.m.compactions.Inc()
	s.log.Info("compacted blocks", "tenant", job.tenant, "day", job.day, "level", job.level+1,
		"sources", len(job.srcs), "entries", out, "duplicates_dropped", in-out,
		"bytes_before", freed, "bytes_after", nb.Size(), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
