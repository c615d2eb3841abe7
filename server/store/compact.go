package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
					if !isCold(b) {
						byLevel[b.level] = append(byLevel[b.level], b)
					}
				}
				for level, bs := range byLevel {
					if len(bs) >= s.opts.CompactionFanIn && (best == nil || level < best.level) {
						best, bestPart = &compactionJob{tenant, day, level, bs, false}, p
					}
				}
				continue
			}
			if best == nil && now.Sub(p.lastAdd) >= s.opts.CompactionColdAfter {
				if srcs, top := coldSources(p.blocks); len(srcs) > 0 {
					best, bestPart = &compactionJob{tenant, day, top, srcs, true}, p
				}
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

// coldSources returns what a cold merge of a partition takes: its blocks
// not yet of the hourly form, with the hourly blocks of the hours they
// touch, which the merge writes anew, and the hours held by more than one
// hourly block (a crash between writing a merge's blocks and removing its
// sources leaves both); none when every hour is one hourly block.
func coldSources(blocks []*blockHandle) ([]*blockHandle, int) {
	var srcs []*blockHandle
	top := 0
	hours := map[int64]bool{}
	perHour := map[int64]int{}
	for _, b := range blocks {
		if isCold(b) {
			perHour[hourOf(b.meta.MinT)]++
			continue
		}
		srcs = append(srcs, b)
		top = max(top, b.level)
		for h := hourOf(b.meta.MinT); h <= b.meta.MaxT; h += nsPerHour {
			hours[h] = true
		}
	}
	for h, n := range perHour {
		if n > 1 {
			hours[h] = true
		}
	}
	if len(hours) == 0 {
		return nil, 0
	}
	for _, b := range blocks {
		if isCold(b) && hours[hourOf(b.meta.MinT)] {
			srcs = append(srcs, b)
			top = max(top, b.level)
		}
	}
	return srcs, top
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
	// while data streams in; a day is merged once more, with the stronger
	// compaction level and into one block per hour, once it goes cold.
	opts := s.opts.Block
	if job.cold {
		opts.Level = s.opts.CompactionLevel
		opts.Templated = true
	}
	out := s.newOutputs(dir, opts, job.level+1, job.cold)
	res, err := s.merge(ctx, job.srcs, out, nil)
	if err != nil {
		out.abort()
		return fmt.Errorf("compact: %w", err)
	}
	repl, err := out.finish()
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	var after int64
	for _, h := range repl {
		after += h.meta.Size
	}
	// Swap: the new blocks in, the sources out. Queries that hold a source
	// keep reading it; its file goes when the last of them is done.
	if err := s.replaceBlocks(job.tenant, job.day, job.srcs, repl); err != nil {
		s.log.Info("compaction dropped: its sources were removed meanwhile", "tenant", job.tenant, "day", job.day)
		return nil
	}
	s.m.compactions.Inc()
	s.log.Info("compacted blocks", "tenant", job.tenant, "day", job.day, "level", job.level+1, "cold", job.cold,
		"sources", len(job.srcs), "blocks", len(repl), "entries", res.out, "duplicates_dropped", res.in-res.out,
		"bytes_before", res.inBytes, "bytes_after", after, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
