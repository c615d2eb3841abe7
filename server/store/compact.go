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
// target size and compressed at the compaction level. Each line is thus
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
	srcs        []*block.Reader
}

// pickCompaction returns the next job, if any: the lowest level of any
// partition that holds FanIn blocks of it, or, for a partition that got no
// new block for ColdAfter, all its blocks when there are several.
func (s *Store) pickCompaction(now time.Time) *compactionJob {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *compactionJob
	for tenant, ps := range s.parts {
		for day, p := range ps {
			byLevel := map[int][]*block.Reader{}
			for _, b := range p.blocks {
				byLevel[blockLevel(b.Path())] = append(byLevel[blockLevel(b.Path())], b)
			}
			for level, bs := range byLevel {
				if len(bs) >= s.opts.CompactionFanIn && (best == nil || level < best.level) {
					best = &compactionJob{tenant, day, level, bs}
				}
			}
			if best == nil && len(p.blocks) > 1 && now.Sub(p.lastAdd) >= s.opts.CompactionColdAfter {
				top := 0
				for _, b := range p.blocks {
					top = max(top, blockLevel(b.Path()))
				}
				best = &compactionJob{tenant, day, top, slices.Clone(p.blocks)}
			}
		}
	}
	return best
}

// Compact runs compaction jobs until none is due.
func (s *Store) Compact(ctx context.Context) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	for {
		job := s.pickCompaction(time.Now())
		if job == nil {
			return nil
		}
		if err := s.runCompaction(ctx, job); err != nil {
			return err
		}
	}
}

func (s *Store) runCompaction(ctx context.Context, job *compactionJob) error {
	start := time.Now()
	dir := s.partDir(job.tenant, job.day)
	opts := s.opts.Block
	opts.Level = s.opts.CompactionLevel
	path := filepath.Join(dir, blockName(job.level+1))
	w, err := block.Create(path, opts)
	if err != nil {
		return err
	}
	// Streams of all sources, in label order.
	type part struct {
		r  *block.Reader
		sm *block.StreamMeta
	}
	byKey := map[string][]part{}
	var keys []labels.Labels
	for _, r := range job.srcs {
		streams := r.Streams()
		for i := range streams {
			k := streams[i].Labels.String()
			if _, ok := byKey[k]; !ok {
				keys = append(keys, streams[i].Labels)
			}
			byKey[k] = append(byKey[k], part{r, &streams[i]})
		}
	}
	slices.SortFunc(keys, labels.Compare)
	var in, out int
	for _, ls := range keys {
		if err := ctx.Err(); err != nil {
			w.Abort()
			return err
		}
		var es []block.Entry
		for _, p := range byKey[ls.String()] {
			for ci := range p.sm.Chunks {
				// A fresh ChunkData per chunk: entries alias its buffers.
				var d block.ChunkData
				if err := p.r.ReadChunk(&p.sm.Chunks[ci], &d); err != nil {
					w.Abort()
					return fmt.Errorf("compact %s: %w", p.r.Path(), err)
				}
				es = append(es, d.Entries...)
			}
		}
		in += len(es)
		es = sortDedup(es)
		out += len(es)
		if err := w.AddStream(ls, es); err != nil {
			w.Abort()
			return err
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
	// keep reading it through their open file; the files are unlinked and
	// the descriptors closed when the last reader is collected.
	s.mu.Lock()
	p := s.parts[job.tenant][job.day]
	kept := p.blocks[:0]
	for _, b := range p.blocks {
		if !slices.Contains(job.srcs, b) {
			kept = append(kept, b)
		}
	}
	p.blocks = append(kept, nb)
	s.mu.Unlock()
	var freed int64
	for _, b := range job.srcs {
		freed += b.Size()
		if err := os.Remove(b.Path()); err != nil {
			s.log.Error("remove compacted block", "path", b.Path(), "err", err)
		}
	}
	block.SyncDir(dir)
	s.m.compactions.Inc()
	s.updateGauges()
	s.log.Info("compacted blocks", "tenant", job.tenant, "day", job.day, "level", job.level+1,
		"sources", len(job.srcs), "entries", out, "duplicates_dropped", in-out,
		"bytes_before", freed, "bytes_after", nb.Size(), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// sortDedup sorts entries by time (stable) and drops exact duplicates.
func sortDedup(es []block.Entry) []block.Entry {
	slices.SortStableFunc(es, func(a, b block.Entry) int { return cmpInt(a.T, b.T) })
	out := es[:0]
	runStart := 0
	for _, e := range es {
		if len(out) > 0 && out[len(out)-1].T != e.T {
			runStart = len(out)
		}
		dup := false
		for _, o := range out[runStart:] {
			if o.T == e.T && string(o.Line) == string(e.Line) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}
