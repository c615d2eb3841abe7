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
func isCold(h *blockHandle) bool { return h.cold }

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
	rs     *blockReaders
	dir    string
	opts   block.Options
	level  int
	hourly bool
	ws     []*block.Writer
	byHour map[int64]*block.Writer
}

func (s *Store) newOutputs(dir string, opts block.Options, level int, hourly bool) *outputs {
	return &outputs{rs: s.readers, dir: dir, opts: opts, level: level, hourly: hourly, byHour: map[int64]*block.Writer{}}
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

// finish makes the blocks durable and opens them. On error none of them
// is left.
func (o *outputs) finish() ([]*blockHandle, error) {
	var out []*blockHandle
	fail := func(i int, err error) ([]*blockHandle, error) {
		for _, w := range o.ws[i+1:] {
			w.Abort()
		}
		for _, h := range out {
			h.discard()
			os.Remove(h.filePath())
		}
		return nil, err
	}
	for i, w := range o.ws {
		if err := w.Finish(); err != nil {
			return fail(i, err)
		}
		r, err := block.Open(w.Path())
		if err != nil {
			// Never leave a block that cannot be opened beside its sources.
			os.Remove(w.Path())
			return fail(i, err)
		}
		out = append(out, handleOf(o.rs, r))
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
// entries drop reports (drop may be nil). The sources' stream tables are
// walked together in label order, a page of each at a time: memory is one
// stream's chunk list and one open chunk per source, whatever the number
// of streams. The caller holds a reference on each source.
func (s *Store) merge(ctx context.Context, srcs []*blockHandle, out *outputs, drop func(ls labels.Labels, e *block.Entry) bool) (mergeResult, error) {
	res := mergeResult{droppedMin: 1<<63 - 1, droppedMax: -1 << 63}
	var cur []*block.StreamIter // sources with a current stream
	var rs []*block.Reader
	for _, h := range srcs {
		r, err := h.reader()
		if err != nil {
			return res, fmt.Errorf("merge: %w", err)
		}
		res.inBytes += h.meta.Size
		it := r.Iter()
		if it.Next() {
			cur = append(cur, it)
			rs = append(rs, r)
		} else if err := it.Err(); err != nil {
			return res, fmt.Errorf("merge: %w", err)
		}
	}
	for len(cur) > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		ls := cur[0].At().Labels
		for _, it := range cur[1:] {
			if labels.Compare(it.At().Labels, ls) < 0 {
				ls = it.At().Labels
			}
		}
		it := &streamIter{ls: ls, dir: Forward, start: -1 << 63, end: 1<<63 - 1, stats: &Stats{}, m: s.m}
		for k := 0; k < len(cur); {
			src := cur[k]
			if !src.At().Labels.Equal(ls) {
				k++
				continue
			}
			for ci := range src.At().Chunks {
				c := &src.At().Chunks[ci]
				res.in += int(c.Count)
				it.pending = append(it.pending, source{minT: c.MinT, maxT: c.MaxT, r: rs[k], c: c})
			}
			if src.Next() {
				continue // the source's next stream may carry the same labels
			}
			if err := src.Err(); err != nil {
				return res, fmt.Errorf("merge: %w", err)
			}
			cur = slices.Delete(cur, k, k+1)
			rs = slices.Delete(rs, k, k+1)
		}
		it.sortPending()
		if err := s.mergeStream(it, out, drop, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// mergeStream writes the entries of one stream's merge to the blocks of
// their hours (or the one block), in time order.
func (s *Store) mergeStream(it *streamIter, out *outputs, drop func(ls labels.Labels, e *block.Entry) bool, res *mergeResult) error {
	var w *block.Writer
	var sw *block.StreamWriter
	for it.next() {
		e := it.cur
		if drop != nil && drop(it.ls, &e) {
			res.dropped++
			res.droppedBytes += int64(len(e.Line))
			res.droppedMin, res.droppedMax = min(res.droppedMin, e.T), max(res.droppedMax, e.T)
			continue
		}
		nw, err := out.writer(e.T)
		if err != nil {
			return err
		}
		if nw != w {
			if sw != nil {
				if err := sw.End(); err != nil {
					return err
				}
			}
			w, sw = nw, nw.StartStream(it.ls)
		}
		sw.Add(e)
		res.out++
	}
	if it.err != nil {
		return fmt.Errorf("merge: %w", it.err)
	}
	if sw != nil {
		if err := sw.End(); err != nil {
			return err
		}
	}
	// A full disk: stop early; the caller aborts and keeps the sources.
	return out.err()
}

// replaceBlocks swaps the blocks old of a partition for repl at once (see
// removeBlocks): new reads see repl, reads that hold a block of old finish
// on it, and its file goes when the last of them is done. If a block of
// old was removed meanwhile (by retention, or a delete), nothing changes,
// repl is deleted so that its data does not come back, and errBlocksGone
// is returned.
func (s *Store) replaceBlocks(tenant, day string, old, repl []*blockHandle) error {
	if err := s.removeBlocks(tenant, day, old, repl); err != nil {
		for _, h := range repl {
			h.discard()
			os.Remove(h.filePath())
		}
		return err
	}
	return nil
}
