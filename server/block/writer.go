package block

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/s2"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/ngram"
)

const (
	// Magic opens and closes every block file.
	Magic = "LOAMBLK1"
	// Version is the format version written by this code.
	Version = 4
	// minVersion is the oldest format this code reads: version 1 lacks
	// tail frames (chunkTail), version 2 column frames (chunkCols),
	// version 3 an index in pages (index.go).
	minVersion = 1
	headerSize = 16
	footerSize = 8*8 + 4 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Codec is how a chunk's lines are compressed.
type Codec int

const (
	CodecZstd Codec = iota
	CodecS2
	CodecNone
)

// Options tune a Writer.
type Options struct {
	// ChunkTargetSize cuts a stream's lines into chunks of about this many
	// raw bytes. Bigger chunks compress better; smaller ones cost less to
	// read for a query that needs only a few lines.
	ChunkTargetSize int
	// Level is the zstd effort for lines.
	Level Level
	// Codec compresses the lines of each chunk: CodecZstd (at Level), or,
	// for blocks that compaction rewrites within minutes, CodecS2 (several
	// times faster, about half the ratio) or CodecNone.
	Codec Codec
	// Templated splits lines into templates and variable columns (see
	// FORMAT.md): 10–20% smaller, at about a microsecond a line more. For
	// blocks that stay, not for those compaction will soon rewrite.
	Templated bool
	// NoFilters leaves chunks without n-gram filters (for short-lived
	// blocks that compaction will rewrite; a missing filter admits every
	// needle).
	NoFilters bool
}

// DefaultOptions are the options used when a field is zero.
var DefaultOptions = Options{ChunkTargetSize: 1 << 20, Level: LevelBetter}

// blockFile is the part of *os.File a Writer uses. Tests substitute files
// that fail like a full disk.
type blockFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// createTemp creates (or truncates) the temp file of a block; syncDir makes
// a rename durable. Tests replace them to inject failures.
var (
	createTemp = func(path string) (blockFile, error) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	syncDir = SyncDir
)

// Writer writes one block file. It is not goroutine-safe.
//
// The block is written to path+".tmp", fsynced, and renamed to path by
// Finish: a block that fails at any point (a full disk included) never
// becomes visible at path, and Finish or Abort removes the temp file.
type Writer struct {
	opts      Options
	path, tmp string
	f         blockFile
	bw        *bufio.Writer
	off       uint64
	werr      error // first write error; Finish reports it

	index   *indexWriter
	ts      []byte // timestamp columns, written after the lines
	filters []byte // n-gram filters, written after the timestamps
	minT    int64
	maxT    int64

	payload []byte           // scratch: uncompressed lines frame
	parts   [numParts][]byte // scratch: uncompressed parts of a templated group
	frame   []byte           // scratch: compressed lines frame
	times   []int64
	fb      ngram.Builder
}

// StreamMeta is a stream of a block: its labels and its chunks, by time.
type StreamMeta struct {
	Labels labels.Labels
	Chunks []ChunkMeta
}

// Create starts a block at path; nothing is visible there until Finish.
func Create(path string, opts Options) (*Writer, error) {
	if opts.ChunkTargetSize <= 0 {
		opts.ChunkTargetSize = DefaultOptions.ChunkTargetSize
	}
	if opts.Level == 0 {
		opts.Level = DefaultOptions.Level
	}
	tmp := path + ".tmp"
	f, err := createTemp(tmp)
	if err != nil {
		return nil, fmt.Errorf("create block: %w", err)
	}
	w := &Writer{opts: opts, path: path, tmp: tmp, f: f, bw: bufio.NewWriterSize(f, 1<<20),
		index: newIndexWriter(), minT: 1<<63 - 1, maxT: -1 << 63}
	var hdr [headerSize]byte
	copy(hdr[:], Magic)
	hdr[8] = Version
	w.write(hdr[:])
	return w, nil
}

func (w *Writer) write(b []byte) {
	// bufio remembers the first error; Finish reports it.
	n, err := w.bw.Write(b)
	w.off += uint64(n)
	if err != nil && w.werr == nil {
		w.werr = err
	}
}

// Err returns the first error writing the block, such as a full disk. A
// writer that has failed still accepts streams, but Finish will fail: the
// caller may stop early.
func (w *Writer) Err() error {
	if w.werr != nil {
		return fmt.Errorf("write block: %w", w.werr)
	}
	return nil
}

// AddStream writes the entries of one stream, sorted by time. Streams are
// added in label order (labels.Compare), each once: the index is written
// as they come. It returns the first write error of the block, if any
// (see Err).
func (w *Writer) AddStream(ls labels.Labels, es []Entry) error {
	if err := w.Err(); err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	if err := w.checkOrder(ls); err != nil {
		return err
	}
	sm := StreamMeta{Labels: ls}
	for len(es) > 0 {
		n, raw := 0, 0
		for n < len(es) && (n == 0 || raw+len(es[n].Line) <= w.opts.ChunkTargetSize) {
			raw += len(es[n].Line)
			n++
		}
		sm.Chunks = append(sm.Chunks, w.addChunk(es[:n], raw))
		es = es[n:]
	}
	if err := w.index.add(sm.Labels, sm.Chunks); err != nil {
		return err
	}
	return w.Err()
}

// checkOrder refuses a stream that sorts before the one added last, before
// any of its lines is written.
func (w *Writer) checkOrder(ls labels.Labels) error {
	if w.index.dir.streams > 0 && labels.Compare(w.index.last, ls) > 0 {
		return fmt.Errorf("block: stream %s added after %s: streams must be added in label order", ls, w.index.last)
	}
	return nil
}

// StreamWriter adds one stream's entries one at a time, cutting chunks as
// they fill, so that a stream of any length needs memory for one chunk.
type StreamWriter struct {
	w   *Writer
	sm  StreamMeta
	buf []Entry
	raw int
}

// StartStream begins a stream; call Add for its entries in time order, then
// End. Only one stream may be open at a time, and streams are started in
// label order (End refuses one out of order).
func (w *Writer) StartStream(ls labels.Labels) *StreamWriter {
	return &StreamWriter{w: w, sm: StreamMeta{Labels: ls}}
}

// Add appends an entry. Its line and metadata must stay valid until the
// chunk is cut (the next Add that fills it, or End).
func (sw *StreamWriter) Add(e Entry) {
	if len(sw.buf) > 0 && sw.raw+len(e.Line) > sw.w.opts.ChunkTargetSize {
		sw.cut()
	}
	sw.buf = append(sw.buf, e)
	sw.raw += len(e.Line)
}

func (sw *StreamWriter) cut() {
	sw.sm.Chunks = append(sw.sm.Chunks, sw.w.addChunk(sw.buf, sw.raw))
	clear(sw.buf) // drop references to the sources' buffers
	sw.buf, sw.raw = sw.buf[:0], 0
}

// Pending reports whether Add has been called since the last cut.
func (sw *StreamWriter) Pending() int { return len(sw.buf) }

// End finishes the stream.
func (sw *StreamWriter) End() error {
	if len(sw.buf) > 0 {
		sw.cut()
	}
	if len(sw.sm.Chunks) > 0 {
		return sw.w.index.add(sw.sm.Labels, sw.sm.Chunks)
	}
	return nil
}

func (w *Writer) addChunk(es []Entry, raw int) ChunkMeta {
	c := ChunkMeta{MinT: es[0].T, MaxT: es[len(es)-1].T, Count: uint32(len(es)), RawBytes: uint32(raw)}
	hasMeta := false
	w.times = w.times[:0]
	w.fb.Reset()
	for i := range es {
		w.times = append(w.times, es[i].T)
		if !w.opts.NoFilters {
			w.fb.Add(es[i].Line)
		}
		if len(es[i].Meta) > 0 {
			hasMeta = true
		}
	}
	c.Flags = linesLayout(es, hasMeta, w.opts.Templated && w.opts.Codec == CodecZstd)
	tail := w.tailStart(es, raw)
	if tail < len(es) {
		c.Flags |= chunkTail
		c.TailCount = uint32(len(es) - tail)
		c.HeadMaxT, c.TailMinT = es[tail-1].T, es[tail].T
	}
	switch w.opts.Codec {
	case CodecS2:
		c.Flags |= chunkS2
	case CodecNone:
		c.Flags |= chunkRaw
	}
	c.LinesOff = w.off
	head := w.writeFrame(es[:tail], c.Flags)
	if tail < len(es) {
		c.TailLen = uint32(w.writeFrame(es[tail:], c.Flags))
	}
	c.LinesLen = uint32(head) + c.TailLen

	c.TsOff = uint64(len(w.ts))
	w.ts = appendTimestamps(w.ts, w.times)
	c.TsLen = uint32(uint64(len(w.ts)) - c.TsOff)

	c.FilterOff = uint64(len(w.filters))
	if !w.opts.NoFilters {
		w.filters = w.fb.AppendFilter(w.filters)
	}
	c.FilterLen = uint32(uint64(len(w.filters)) - c.FilterOff)

	w.minT = min(w.minT, c.MinT)
	w.maxT = max(w.maxT, c.MaxT)
	return c
}

// Chunks of at least tailMinShare of the target size keep their newest
// lines, about tailBytes of them, in a frame of their own, so that a query
// for the newest lines (Grafana's default, backward) decodes a few
// kilobytes of each chunk instead of a megabyte. Each split costs about a
// kilobyte of compression, so small chunks, cheap to decode whole, stay one
// frame; 32 KiB holds a couple of hundred lines, enough for a backward
// query over tens of streams to stop within the tails.
const (
	tailBytes    = 32 << 10
	tailMinShare = 0.75
)

// tailStart returns the index of the first entry of es's tail frame, or
// len(es) when the chunk stays one frame.
func (w *Writer) tailStart(es []Entry, raw int) int {
	if w.opts.Codec != CodecZstd || float64(raw) < tailMinShare*float64(w.opts.ChunkTargetSize) || raw < 4*tailBytes {
		return len(es)
	}
	i, sz := len(es), 0
	for i > 1 && sz < tailBytes {
		i--
		sz += len(es[i].Line)
	}
	return i
}

// writeFrame writes the lines frame (or group) of es in the layout and codec
// of flags and returns its length.
func (w *Writer) writeFrame(es []Entry, flags byte) int {
	if flags&chunkCols != 0 {
		enc := encoder(w.opts.Level)
		// Hex columns are mostly random digits, in which the strongest
		// match search finds little: at best it took half of a cold
		// merge's time on the bench set; better writes blocks 1.7× faster
		// for 0.6% more bytes on the conformance corpus.
		hexEnc := encoder(min(w.opts.Level, LevelBetter))
		w.frame = appendGroup(w.frame[:0], es, flags, w.parts[:], func(dst, src []byte, part int) []byte {
			if part == partCols+classHex {
				return hexEnc.EncodeAll(src, dst)
			}
			return enc.EncodeAll(src, dst)
		})
		w.write(w.frame)
		return len(w.frame)
	}
	w.payload = appendLinesPayload(w.payload[:0], es, flags)
	switch {
	case flags&chunkS2 != 0:
		w.frame = s2.Encode(w.frame[:cap(w.frame)], w.payload)
	case flags&chunkRaw != 0:
		w.frame = append(w.frame[:0], w.payload...)
	default:
		w.frame = encoder(w.opts.Level).EncodeAll(w.payload, w.frame[:0])
	}
	w.write(w.frame)
	return len(w.frame)
}

// Finish writes the columns, the index and the footer, syncs, and moves the
// block into place. On error nothing is left at Path and the temp file is
// removed. The Writer is unusable afterwards.
func (w *Writer) Finish() (err error) {
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if w.index.dir.streams == 0 {
		return fmt.Errorf("finish block: no streams")
	}
	// Chunk offsets of timestamps and filters stay relative to their
	// sections, which the footer locates.
	tsOff := w.off
	w.write(w.ts)
	fOff := w.off
	w.write(w.filters)
	region, index := w.index.finish(w.off)
	w.write(region)
	iOff := w.off
	w.write(index)

	var ft [footerSize]byte
	le := binary.LittleEndian
	le.PutUint64(ft[0:], tsOff)
	le.PutUint64(ft[8:], uint64(len(w.ts)))
	le.PutUint64(ft[16:], fOff)
	le.PutUint64(ft[24:], uint64(len(w.filters)))
	le.PutUint64(ft[32:], iOff)
	le.PutUint64(ft[40:], uint64(len(index)))
	le.PutUint64(ft[48:], uint64(w.minT))
	le.PutUint64(ft[56:], uint64(w.maxT))
	crc := crc32.Update(crc32.Checksum(index, castagnoli), castagnoli, ft[:64])
	le.PutUint32(ft[64:], crc)
	le.PutUint32(ft[68:], Version)
	copy(ft[72:], Magic)
	w.write(ft[:])

	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write block: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync block: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close block: %w", err)
	}
	w.f = nil
	if err := os.Rename(w.tmp, w.path); err != nil {
		return fmt.Errorf("publish block: %w", err)
	}
	if err := syncDir(filepath.Dir(w.path)); err != nil {
		// The rename may not survive a crash: take it back, so the
		// caller's retry (or the WAL) is the only copy, not a block that
		// may or may not exist after a power loss.
		os.Remove(w.path)
		return err
	}
	return nil
}

// Abort drops a block that will not be finished.
func (w *Writer) Abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.tmp)
}

// Path returns where the block will be once finished.
func (w *Writer) Path() string { return w.path }

// Size returns the bytes written so far (lines only before Finish).
func (w *Writer) Size() uint64 { return w.off }

// SyncDir fsyncs a directory so that a rename or create in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
