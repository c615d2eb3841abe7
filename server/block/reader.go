package block

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"

	"github.com/loam-logs/loam/server/ngram"
)

// Reader reads a finished block. Its methods are safe for concurrent use.
// It keeps the block's file open and its index directory in memory; index
// pages are read as queries need them (index.go).
type Reader struct {
	path       string
	version    byte
	f          *os.File
	size       int64
	minT, maxT int64

	id    uint64      // names the reader's pages in the index cache
	dir   directory   // of the index
	pages io.ReaderAt // where the index pages lie: the file, or memory for versions 1–3
	// Offsets of timestamps and filters in the stream table of version 4
	// are relative to their sections; older versions' are absolute (0).
	tsBase, filterBase uint64
	heldBytes          int64 // the directory and, for versions 1–3, the pages

	// The filters of all chunks lie together in the file: read them once
	// (within FilterCacheBytes) and answer Filter from memory.
	filterOnce sync.Once
	filters    []byte // the section, nil when not cached
	filterOff  uint64 // its offset in the file
	filterLen  uint64 // its length, from the footer
}

// FilterCacheBytes bounds the memory the readers of this process spend on
// keeping filter sections; a block whose section does not fit reads each
// filter from disk when asked.
var FilterCacheBytes atomic.Int64

func init() { FilterCacheBytes.Store(64 << 20) }

// filterCacheUsed is what the open readers hold.
var filterCacheUsed atomic.Int64

// loadFilters reads the filter section when the budget allows.
func (r *Reader) loadFilters() {
	n := int64(r.filterLen)
	if n == 0 {
		return
	}
	if filterCacheUsed.Add(n) > FilterCacheBytes.Load() {
		filterCacheUsed.Add(-n)
		return
	}
	buf := make([]byte, n)
	if _, err := r.f.ReadAt(buf, int64(r.filterOff)); err != nil {
		filterCacheUsed.Add(-n)
		return
	}
	r.filters = buf
}

// Open reads the footer and the index directory of the block at path and
// verifies their checksum (each index page has its own, verified when the
// page is read). Index pages, lines, timestamps and filters stay on disk
// until asked for. A block of version 1 to 3, whose index is one frame,
// has it decoded and kept as version 4 pages in memory (legacy.go).
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open block: %w", err)
	}
	r, err := open(f, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open block %s: %w", path, err)
	}
	return r, nil
}

func open(f *os.File, path string) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < headerSize+footerSize {
		return nil, fmt.Errorf("%w: file of %d bytes is too short", ErrCorrupt, size)
	}
	var hdr [headerSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	if string(hdr[:8]) != Magic {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if hdr[8] < minVersion || hdr[8] > Version {
		return nil, fmt.Errorf("unsupported block version %d (this build reads %d to %d)", hdr[8], minVersion, Version)
	}
	var ft [footerSize]byte
	if _, err := f.ReadAt(ft[:], size-footerSize); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if string(ft[72:]) != Magic {
		return nil, fmt.Errorf("%w: bad footer magic (torn write?)", ErrCorrupt)
	}
	iOff, iLen := le.Uint64(ft[32:]), le.Uint64(ft[40:])
	if iOff+iLen > uint64(size-footerSize) || iLen > 1<<31 || iOff < headerSize {
		return nil, fmt.Errorf("%w: index out of bounds", ErrCorrupt)
	}
	r := &Reader{path: path, f: f, size: size, version: hdr[8], id: readerIDs.Add(1),
		minT: int64(le.Uint64(ft[48:])), maxT: int64(le.Uint64(ft[56:])),
		filterOff: le.Uint64(ft[16:]), filterLen: le.Uint64(ft[24:])}
	tsOff, tsLen := le.Uint64(ft[0:]), le.Uint64(ft[8:])
	if tsOff+tsLen > iOff || r.filterOff+r.filterLen > iOff || tsLen > iOff || r.filterLen > iOff {
		return nil, fmt.Errorf("%w: sections out of bounds", ErrCorrupt)
	}
	index := make([]byte, iLen)
	if _, err := f.ReadAt(index, int64(iOff)); err != nil {
		return nil, err
	}
	crc := crc32.Update(crc32.Checksum(index, castagnoli), castagnoli, ft[:64])
	if crc != le.Uint32(ft[64:]) {
		return nil, fmt.Errorf("%w: index checksum mismatch", ErrCorrupt)
	}
	if r.version < 4 {
		if err := r.openLegacy(index); err != nil {
			return nil, err
		}
	} else {
		// The pages lie before the directory.
		if r.dir, err = decodeDirectory(index, iOff); err != nil {
			return nil, err
		}
		r.pages, r.tsBase, r.filterBase = f, tsOff, r.filterOff
	}
	r.heldBytes += r.dir.size()
	return r, nil
}

// Meta is what the footer of a block says, read without its index.
type Meta struct {
	Size       int64
	MinT, MaxT int64
}

// ReadMeta reads only the header and footer of the block at path: enough to
// know whether a query needs the block, before paying for its index.
func ReadMeta(path string) (Meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return Meta{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Meta{}, err
	}
	size := st.Size()
	if size < headerSize+footerSize {
		return Meta{}, fmt.Errorf("%w: %s: file of %d bytes is too short", ErrCorrupt, path, size)
	}
	var ft [footerSize]byte
	if _, err := f.ReadAt(ft[:], size-footerSize); err != nil {
		return Meta{}, err
	}
	if string(ft[72:]) != Magic {
		return Meta{}, fmt.Errorf("%w: %s: bad footer magic (torn write?)", ErrCorrupt, path)
	}
	le := binary.LittleEndian
	return Meta{Size: size, MinT: int64(le.Uint64(ft[48:])), MaxT: int64(le.Uint64(ft[56:]))}, nil
}

// Path returns the file the block was opened from.
func (r *Reader) Path() string { return r.path }

// Size returns the block's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// MinT and MaxT bound every timestamp in the block.
func (r *Reader) MinT() int64 { return r.minT }
func (r *Reader) MaxT() int64 { return r.maxT }

// HeldBytes returns about what the reader keeps in memory while open,
// beyond the index cache and the filter cache: the index directory, and
// the index pages of a block older than version 4.
func (r *Reader) HeldBytes() int64 { return r.heldBytes }

// Close releases the file, the cached index pages and the cached filters.
// Nothing may be read from the reader afterwards.
func (r *Reader) Close() error {
	r.filterOnce.Do(func() {}) // no load after Close
	if r.filters != nil {
		// Queries still running may hold the section; it goes with them.
		filterCacheUsed.Add(-int64(len(r.filters)))
	}
	indexCache.drop(r.id)
	return r.f.Close()
}

// ReadTimestamps appends the timestamps of chunk c to dst.
func (r *Reader) ReadTimestamps(c *ChunkMeta, dst []int64) ([]int64, error) {
	out, _, err := r.ReadTimestampsBuf(c, dst, nil)
	return out, err
}

// ReadTimestampsBuf is ReadTimestamps that reads the encoded timestamps
// into scratch, reused when large enough and returned for the next call.
func (r *Reader) ReadTimestampsBuf(c *ChunkMeta, dst []int64, scratch []byte) ([]int64, []byte, error) {
	buf := slices.Grow(scratch[:0], int(c.TsLen))[:c.TsLen]
	out, err := r.readTimestamps(c, dst, buf)
	return out, buf, err
}

func (r *Reader) readTimestamps(c *ChunkMeta, dst []int64, buf []byte) ([]int64, error) {
	if _, err := r.f.ReadAt(buf, int64(c.TsOff)); err != nil {
		return dst, fmt.Errorf("read timestamps of %s: %w", r.path, err)
	}
	out, err := decodeTimestamps(buf, dst)
	if err == nil && len(out)-len(dst) != int(c.Count) {
		err = errTimestamps
	}
	if err != nil {
		return dst, fmt.Errorf("%w: %s at %d: %v", ErrCorrupt, r.path, c.TsOff, err)
	}
	return out, nil
}

// ChunkData is a decoded chunk. Reuse it across ReadChunk calls to reuse its
// buffers; entries alias them until the next call.
type ChunkData struct {
	Entries []Entry
	times   []int64
	frame   []byte
	text    []byte // decompressed head frame (the only one without a tail)
	lines   []byte // rebuilt lines of a templated head frame
	tText   []byte // the same for the tail frame
	tLines  []byte
}

// framePool keeps parsed templated frames for searches: their memory does
// not outlive a ReadChunkPart call (entries alias ChunkData's buffers, not
// the frame's), so it can serve the next call, of any reader.
var framePool = sync.Pool{New: func() any { return new(tmplFrame) }}

// Part selects entries of a chunk: all of them, or, of a chunk with a tail
// frame (HasTail), the head (all but the newest TailCount) or the tail.
type Part uint8

const (
	PartAll Part = iota
	PartHead
	PartTail
)

// ReadChunk decodes chunk c into d.
func (r *Reader) ReadChunk(c *ChunkMeta, d *ChunkData) error {
	_, err := r.ReadChunkPart(c, d, PartAll, nil)
	return err
}

// ReadChunkPart decodes part of chunk c into d (PartAll for a chunk without
// a tail frame): the entries whose lines hold needles (all of them when
// needles is nil). Frames are searched before lines are split out of them,
// and templated frames without rebuilding the lines that cannot match; ok
// is false when no frame's text can hold the needles.
func (r *Reader) ReadChunkPart(c *ChunkMeta, d *ChunkData, part Part, needles Needles) (ok bool, err error) {
	frames, err := r.readFrames(c, d, part, true)
	if err != nil {
		return false, err
	}
	d.Entries = d.Entries[:0]
	tf := framePool.Get().(*tmplFrame)
	defer framePool.Put(tf)
	for _, fr := range frames {
		text, lines := &d.text, &d.lines
		if fr.tail {
			text, lines = &d.tText, &d.tLines
		}
		if c.Flags&chunkTmpl != 0 {
			if err := r.parseTemplated(c, fr, text, tf); err != nil {
				return ok, err
			}
			ok = true
			if d.Entries, err = tf.appendEntries(fr.times, needles, lines, d.Entries); err != nil {
				return ok, fmt.Errorf("%s at %d: %w", r.path, c.LinesOff, err)
			}
			continue
		}
		if *text, err = r.decompress(c, fr.compressed, *text); err != nil {
			return ok, err
		}
		if needles != nil && !needles.Match(*text) {
			continue
		}
		ok = true
		if d.Entries, err = decodeFrame(*text, fr.times, c.Flags, needles, d.Entries); err != nil {
			return ok, fmt.Errorf("%s at %d: %w", r.path, c.LinesOff, err)
		}
	}
	return ok, nil
}

// parseTemplated parses the templated lines of frame fr of c into tf: a
// group of frames (version 3), or a single frame decompressed into *text.
func (r *Reader) parseTemplated(c *ChunkMeta, fr frameRef, text *[]byte, tf *tmplFrame) error {
	var err error
	if c.Flags&chunkCols != 0 {
		err = tf.parseGroupBytes(fr.compressed, len(fr.times), c.HasMeta())
	} else {
		if *text, err = r.decompress(c, fr.compressed, *text); err != nil {
			return err
		}
		err = tf.parseSingle(*text, len(fr.times), c.HasMeta())
	}
	if err != nil {
		return fmt.Errorf("%s at %d: %w", r.path, c.LinesOff, err)
	}
	return nil
}

// frameRef is one compressed lines frame (or group) of a chunk and its
// entries' timestamps.
type frameRef struct {
	compressed []byte // nil when not read
	times      []int64
	tail       bool   // the tail frame (its text goes to ChunkData's tail buffers)
	off        uint64 // where it lies in the file
	n          uint32
}

// readFrames reads the timestamps of c and the lines frames of part into d,
// head frame first; with read false, it only finds where the frames lie.
func (r *Reader) readFrames(c *ChunkMeta, d *ChunkData, part Part, read bool) ([]frameRef, error) {
	if !c.HasTail() {
		part = PartAll
	}
	var err error
	if d.times, err = r.ReadTimestamps(c, d.times[:0]); err != nil {
		return nil, err
	}
	headLen := c.LinesLen - c.TailLen
	split := len(d.times) - int(c.TailCount) // first tail entry
	if c.HasTail() && split <= 0 {
		return nil, fmt.Errorf("%w: %s at %d: %d timestamps for a tail of %d", ErrCorrupt, r.path, c.LinesOff, len(d.times), c.TailCount)
	}
	head := frameRef{times: d.times[:split], off: c.LinesOff, n: headLen}
	tail := frameRef{times: d.times[split:], tail: true, off: c.LinesOff + uint64(headLen), n: c.TailLen}
	var frames []frameRef
	switch {
	case part == PartHead:
		frames = []frameRef{head}
	case part == PartTail:
		frames = []frameRef{tail}
	case c.HasTail():
		frames = []frameRef{head, tail}
	default:
		frames = []frameRef{{times: d.times, off: c.LinesOff, n: c.LinesLen}}
	}
	if !read {
		return frames, nil
	}
	// The frames are contiguous: one read.
	off, n := frames[0].off, frames[len(frames)-1].off+uint64(frames[len(frames)-1].n)-frames[0].off
	d.frame = slices.Grow(d.frame[:0], int(n))[:n]
	if _, err := r.f.ReadAt(d.frame, int64(off)); err != nil {
		return nil, fmt.Errorf("read lines of %s: %w", r.path, err)
	}
	for i := range frames {
		o := frames[i].off - off
		frames[i].compressed = d.frame[o : o+uint64(frames[i].n)]
	}
	return frames, nil
}

// readGroup reads, of the templated group fr, the directory and the frames
// up to the last part of want, into d.frame: a search for words needs the
// head and the word columns, the first two, and none of the hex and
// numeric columns that take most of the bytes.
func (r *Reader) readGroup(c *ChunkMeta, d *ChunkData, fr frameRef, want int) (group, error) {
	np := groupParts(c.HasMeta())
	var dir [numParts * binary.MaxVarintLen32]byte
	dl := min(len(dir), int(fr.n))
	if _, err := r.f.ReadAt(dir[:dl], int64(fr.off)); err != nil {
		return group{}, fmt.Errorf("read lines of %s: %w", r.path, err)
	}
	g, dl, err := readGroupDir(dir[:dl], np, int(fr.n))
	if err != nil {
		return g, fmt.Errorf("%s at %d: %w", r.path, c.LinesOff, err)
	}
	n := 0
	for i := 0; i <= want && i < np; i++ {
		n += g.lens[i]
	}
	d.frame = slices.Grow(d.frame[:0], n)[:n]
	if _, err := r.f.ReadAt(d.frame, int64(fr.off)+int64(dl)); err != nil {
		return g, fmt.Errorf("read lines of %s: %w", r.path, err)
	}
	g.slice(d.frame, want)
	return g, nil
}

// MatchTimestamps appends to dst the timestamps of chunk c's entries whose
// lines hold needles (not nil). Templated frames are searched without
// rebuilding a line when every needle is of word bytes; otherwise it is
// ReadChunkPart into d.
func (r *Reader) MatchTimestamps(c *ChunkMeta, d *ChunkData, needles Needles, dst []int64) ([]int64, error) {
	if c.Flags&chunkTmpl == 0 || !allWordOnly(needles) {
		if _, err := r.ReadChunkPart(c, d, PartAll, needles); err != nil {
			return dst, err
		}
		for _, e := range d.Entries {
			dst = append(dst, e.T)
		}
		return dst, nil
	}
	groups := c.Flags&chunkCols != 0
	frames, err := r.readFrames(c, d, PartAll, !groups)
	if err != nil {
		return dst, err
	}
	// The last part of a group the needles can be in.
	want := partCols + classWord
	for _, set := range needles {
		for _, nd := range set {
			for cl := range numClasses {
				if inClass(cl, nd) {
					want = max(want, partCols+cl)
				}
			}
		}
	}
	tf := framePool.Get().(*tmplFrame)
	defer framePool.Put(tf)
	for _, fr := range frames {
		if groups {
			g, err := r.readGroup(c, d, fr, want)
			if err == nil {
				err = tf.parseGroup(g, len(fr.times), c.HasMeta())
			}
			if err != nil {
				return dst, fmt.Errorf("%s at %d: %w", r.path, c.LinesOff, err)
			}
		} else if err := r.parseTemplated(c, fr, &d.text, tf); err != nil {
			return dst, err
		}
		cand, _, err := tf.candidates(needles)
		if err != nil {
			return dst, fmt.Errorf("%s at %d: %w", r.path, c.LinesOff, err)
		}
		for j, ok := range cand {
			if ok {
				dst = append(dst, fr.times[j])
			}
		}
	}
	return dst, nil
}

// decodeFrame appends to dst the entries of a decompressed lines frame that
// is not templated (timestamps times) whose lines hold needles. Lines alias
// text.
func decodeFrame(text []byte, times []int64, flags byte, needles Needles, dst []Entry) ([]Entry, error) {
	first := len(dst)
	dst = slices.Grow(dst, len(times))[:first+len(times)]
	es := dst[first:]
	if err := decodeLinesPayload(text, es, flags); err != nil {
		return dst[:first], err
	}
	w := 0
	for i, t := range times {
		if needles != nil && !needles.Match(es[i].Line) {
			continue
		}
		es[w] = es[i]
		es[w].T = t
		w++
	}
	return dst[:first+w], nil
}

// decompress appends the text of one lines frame of c to dst[:0].
func (r *Reader) decompress(c *ChunkMeta, frame, dst []byte) ([]byte, error) {
	var err error
	switch {
	case c.Flags&chunkRaw != 0:
		dst = append(dst[:0], frame...)
	case c.Flags&chunkS2 != 0:
		dst, err = decodeS2(frame, dst)
	default:
		dst, err = zstdDecoder().DecodeAll(frame, dst[:0])
	}
	if err != nil {
		return dst, fmt.Errorf("%w: lines of %s at %d: %v", ErrCorrupt, r.path, c.LinesOff, err)
	}
	return dst, nil
}

// Filter reads the n-gram filter of chunk c into buf (reused when large
// enough).
func (r *Reader) Filter(c *ChunkMeta, buf []byte) (ngram.Filter, error) {
	r.filterOnce.Do(r.loadFilters)
	if r.filters != nil && c.FilterOff >= r.filterOff && c.FilterOff+uint64(c.FilterLen) <= r.filterOff+uint64(len(r.filters)) {
		o := c.FilterOff - r.filterOff
		return ngram.Filter(r.filters[o : o+uint64(c.FilterLen) : o+uint64(c.FilterLen)]), nil
	}
	buf = slices.Grow(buf[:0], int(c.FilterLen))[:c.FilterLen]
	if _, err := r.f.ReadAt(buf, int64(c.FilterOff)); err != nil {
		return nil, fmt.Errorf("read filter of %s: %w", r.path, err)
	}
	return ngram.Filter(buf), nil
}

// decodeS2 decodes an S2 lines frame, bounding its claimed size.
func decodeS2(frame, dst []byte) ([]byte, error) {
	n, err := s2.DecodedLen(frame)
	if err != nil {
		return dst, err
	}
	if n > maxFrameSize {
		return dst, fmt.Errorf("frame claims %d bytes", n)
	}
	return s2.Decode(slices.Grow(dst[:0], n)[:n], frame)
}
