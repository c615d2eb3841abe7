package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// A merge reads the streams of some blocks of one partition and writes
// them anew: compaction merges many blocks into fewer, retention and
// deletes rewrite blocks without some entries. A cold partition is written
// as one block per hour of data ("H" blocks), so that retention can free a
// day an hour at a time by removing whole files, without rewriting, and
// without needing free space on a full disk.

// coldName is the name of a block of the cold form: H, the start of its
// hour (Unix seconds), then the usual uniquifier.
func coldName(hour int64) string {
	n := blockName(0)
	return fmt.Sprintf("H%d-%s", hour/int64(time.Second), strings.TrimPrefix(n, "L0-"))
}

// isCold reports whether a block is of the cold, hourly form.
func isCold(h *blockHandle) bool { return strings.HasPrefix(filepath.Base(h.path), "H") }

const nsPerHour = int64(time.Hour)

// hourOf is the start of t's hour.
func hourOf(t int64) int64 {
	h := t - t%nsPerHour
	if t < 0 && t%nsPerHour != 0 {
		h -= nsPerHour
	}
	return h
}

// outputs are the blocks a merge writes: one of a given level, or, for the
// cold form, one per hour of data.
type outputs struct {
	dir    string
	opts   block.Options
	level  int
	hourly bool
	ws     []*block.Writer
	byHour map[int64]*block.Writer
}

func newOutputs(dir string, opts block.Options, level int, hourly bool) *outputs {
	return &outputs{dir: dir, opts: opts, level: level, hourly: hourly, byHour: map[int64]*block.Writer{}}
}

// writer returns the block an entry at t goes to.
func (o *outputs) writer(t int64) (*block.Writer, error) {
	key := int64(0)
	if o.hourly {
		key = hourOf(t)
	}
	if w := o.byHour[key]; w != nil {
		return w, nil
	}
	name := blockName(o.level)
	if o.hourly {
		name = coldName(key)
	}
	w, err := block.Create(filepath.Join(o.dir, name), o.opts)
	if err != nil {
		return nil, err
	}
	o.byHour[key] = w
	o.ws = append(o.ws, w)
	return w, nil
}

// err returns the first write error of any block being written.
func (o *outputs) err() error {
	for _, w := range o.ws {
		if err := w.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (o *outputs) abort() {
	for _, w := range o.ws {
		w.Abort()
	}
}

// finish makes the blocks durable and opens them.
func (o *outputs) finish() ([]*blockHandle, error) {
	var out []*blockHandle
	for i, w := range o.ws {
		if err := w.Finish(); err != nil {
			for _, w := range o.ws[i+1:] {
				w.Abort()
			}
			for _, h := range out {
				h.close()
				os.Remove(h.path)
			}
			return nil, err
		}
		r, err := block.Open(w.Path())
		if err != nil {
			// Never leave a block that cannot be opened beside its sources.
			os.Remove(w.Path())
			for _, w := range o.ws[i+1:] {
				w.Abort()
			}
			for _, h := range out {
				h.close()
				os.Remove(h.path)
			}
			return nil, err
		}
		out = append(out, handleOf(r))
	}
	return out, nil
}

// mergeResult counts what a merge read, wrote and left out.
type mergeResult struct {
	in, out          int   // entries read (duplicates included) and written
	dropped          int   // entries left out by the drop function
	droppedBytes     int64 // their line bytes
	droppedMin       int64 // time range of what was left out
	droppedMax       int64
	inBytes, outSize int64
}

// merge writes the streams of srcs into out, in label order, each stream
// a k-way merge of its chunks that drops exact duplicates, leaving out the
// entries drop reports (drop may be nil). Memory is one open chunk per
// source of the stream being merged.
func (s *Store) merge(ctx context.Context, srcs []*blockHandle, out *outputs, drop func(ls labels.Labels, e *block.Entry) bool) (mergeResult, error) {
	res := mergeResult{droppedMin: 1<<63 - 1, droppedMax: -1 << 63}
	type part struct {
		r  *block.Reader
		sm *block.StreamMeta
	}
	byKey := map[string][]part{}
	var keys []labels.Labels
	for _, h := range srcs {
		r, err := h.reader()
		if err != nil {
			return res, fmt.Errorf("merge: %w", err)
		}
		res.inBytes += h.meta.Size
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
	for _, ls := range keys {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		it := &streamIter{ls: ls, dir: Forward, start: -1 << 63, end: 1<<63 - 1, stats: &Stats{}, m: s.m}
		for _, p := range byKey[ls.String()] {
			for ci := range p.sm.Chunks {
				c := &p.sm.Chunks[ci]
				res.in += int(c.Count)
				it.pending = append(it.pending, source{minT: c.MinT, maxT: c.MaxT, r: p.r, c: c})
			}
		}
		it.sortPending()
		var w *block.Writer
		var sw *block.StreamWriter
		for it.next() {
			e := it.cur
			if drop != nil && drop(ls, &e) {
				res.dropped++
				res.droppedBytes += int64(len(e.Line))
				res.droppedMin, res.droppedMax = min(res.droppedMin, e.T), max(res.droppedMax, e.T)
				continue
			}
			nw, err := out.writer(e.T)
			if err != nil {
				return res, err
			}
			if nw != w {
				if sw != nil {
					sw.End()
				}
				w, sw = nw, nw.StartStream(ls)
			}
			sw.Add(e)
			res.out++
		}
		if it.err != nil {
			return res, fmt.Errorf("merge: %w", it.err)
		}
		if sw != nil {
			sw.End()
		}
		// A full disk: stop early; the caller aborts and keeps the sources.
		if err := out.err(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// replaceBlocks swaps the blocks old of a partition for repl at once: new
// reads see repl, the files of old are removed. Reads that hold a block of
// old keep reading it through their open file.
func (s *Store) replaceBlocks(tenant, day string, old, repl []*blockHandle) {
	s.mu.Lock()
	p := s.parts[tenant][day]
	if p != nil {
		kept := p.blocks[:0]
		for _, b := range p.blocks {
			if !slices.Contains(old, b) {
				kept = append(kept, b)
			}
		}
		p.blocks = append(kept, repl...)
		if len(p.blocks) == 0 {
			delete(s.parts[tenant], day)
		}
	}
	s.mu.Unlock()
	for _, b := range old {
		if err := os.Remove(b.path); err != nil && !os.IsNotExist(err) {
			s.log.Error("remove replaced block", "path", b.path, "err", err)
		}
	}
	block.SyncDir(s.partDir(tenant, day))
	if p != nil && len(p.blocks) == 0 {
		os.Remove(s.partDir(tenant, day)) // empty now; fails harmlessly otherwise
	}
	s.updateGauges()
}
