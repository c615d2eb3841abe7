package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/loam-logs/loam/server/labels"
)

// The framing of read answers (FORMAT.md): a magic, then frames, each a
// type byte, a uvarint payload length and the payload.

// wireMagic starts every read answer; its last byte is the version.
const wireMagic = "LRW1"

// Frame types.
const (
	frameEntries    byte = 'E' // entries of Select and Tail
	frameTimestamps byte = 'T' // timestamps (and line hashes) of Timestamps
	frameSeries     byte = 'S' // label sets of Series
	frameStrings    byte = 'N' // label names or values
	frameFigures    byte = 'F' // figures of Stats
	frameDrops      byte = 'D' // entries a tail dropped
	frameReady      byte = 'R' // a tail is subscribed
	frameBeat       byte = 'K' // a tail is alive
	frameCount      byte = 'C' // a number: the subscribers of a tenant
	frameEnd        byte = 'Z' // the answer is complete: the query statistics
	frameError      byte = 'X' // the answer failed: a status and a message
)

// maxFrame bounds a frame's payload, so that a corrupt length cannot make
// a reader allocate without end. Frames are cut at frameTarget; only one
// huge line makes a bigger one.
const maxFrame = 64 << 20

// Frame sizes: the first frames of an answer are small so that a reader
// that needs a few entries (a log query's limit) gets them early; later
// ones grow to frameMax to amortise their headers and writes.
const (
	frameFirst = 4 << 10
	frameMax   = 64 << 10
)

// errCorrupt is a payload that does not decode.
var errCorrupt = errors.New("corrupt frame")

// frameWriter writes frames. The payload of the frame being built is buf;
// it is written out by flush. Not safe for concurrent use.
type frameWriter struct {
	w      io.Writer
	typ    byte
	buf    []byte
	target int // flush once buf reaches it
	hdr    [1 + binary.MaxVarintLen64]byte
}

func newFrameWriter(w io.Writer) *frameWriter {
	return &frameWriter{w: w, target: frameFirst}
}

// begin starts a frame of type typ, flushing one of another type.
func (fw *frameWriter) begin(typ byte) error {
	if fw.typ != typ && len(fw.buf) > 0 {
		if err := fw.flush(); err != nil {
			return err
		}
	}
	fw.typ = typ
	return nil
}

// full reports whether the frame being built should be flushed.
func (fw *frameWriter) full() bool { return len(fw.buf) >= fw.target }

// flush writes the frame being built, even an empty one.
func (fw *frameWriter) flush() error {
	fw.hdr[0] = fw.typ
	n := 1 + binary.PutUvarint(fw.hdr[1:], uint64(len(fw.buf)))
	if _, err := fw.w.Write(fw.hdr[:n]); err != nil {
		return err
	}
	if _, err := fw.w.Write(fw.buf); err != nil {
		return err
	}
	fw.buf = fw.buf[:0]
	fw.target = min(2*fw.target, frameMax)
	return nil
}

// frame writes a whole frame of type typ with payload p, after the frame
// being built.
func (fw *frameWriter) frame(typ byte, p []byte) error {
	if len(fw.buf) > 0 {
		if err := fw.flush(); err != nil {
			return err
		}
	}
	fw.typ, fw.buf = typ, append(fw.buf, p...)
	return fw.flush()
}

// frameReader reads frames. The payload it returns is valid until the next
// call. Not safe for concurrent use.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
}

// newFrameReader checks the magic at the start of r.
func newFrameReader(r io.Reader) (*frameReader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	var m [len(wireMagic)]byte
	if _, err := io.ReadFull(br, m[:]); err != nil {
		return nil, truncated(err)
	}
	if string(m[:]) != wireMagic {
		return nil, fmt.Errorf("%w: answer starts with %q, not %q", errCorrupt, m[:], wireMagic)
	}
	return &frameReader{r: br}, nil
}

// truncated turns the end of input in the middle of an answer into
// io.ErrUnexpectedEOF: an answer ends with its end frame, never with EOF.
func truncated(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// next reads a frame.
func (fr *frameReader) next() (byte, []byte, error) {
	typ, err := fr.r.ReadByte()
	if err != nil {
		return 0, nil, truncated(err)
	}
	n, err := binary.ReadUvarint(fr.r)
	if err != nil {
		return 0, nil, truncated(err)
	}
	if n > maxFrame {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes, more than %d", errCorrupt, n, maxFrame)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	fr.buf = fr.buf[:n]
	if _, err := io.ReadFull(fr.r, fr.buf); err != nil {
		return 0, nil, truncated(err)
	}
	return typ, fr.buf, nil
}

// Payload encoding.

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendLabels writes a count, then each name and value.
func appendLabels(b []byte, ls labels.Labels) []byte {
	b = binary.AppendUvarint(b, uint64(len(ls)))
	for _, l := range ls {
		b = appendString(b, l.Name)
		b = appendString(b, l.Value)
	}
	return b
}

// decoder reads a payload. Its first error sticks: later reads return
// zero values, and err tells what went wrong.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) more() bool { return d.err == nil && len(d.b) > 0 }

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("short payload")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items that take at least min bytes each, so
// that it cannot exceed what the payload holds.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail("count beyond the payload")
		return 0
	}
	return int(n)
}

// bytes returns the next length-prefixed bytes, aliasing the payload.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length beyond the payload")
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) fixed64() uint64 {
	if len(d.b) < 8 {
		d.fail("short payload")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// labels reads a label set; nil when it has none. The strings of one set
// share one allocation.
func (d *decoder) labels() labels.Labels {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	// Measure first, then copy the text once.
	save, size := d.b, 0
	for range 2 * n {
		size += len(d.bytes())
	}
	if d.err != nil {
		return nil
	}
	d.b = save
	text := make([]byte, 0, size)
	for range 2 * n {
		text = append(text, d.bytes()...)
	}
	all := string(text)
	ls := make(labels.Labels, n)
	d.b = save
	off := 0
	for i := range ls {
		nl := len(d.bytes())
		vl := len(d.bytes())
		ls[i] = labels.Label{Name: all[off : off+nl], Value: all[off+nl : off+nl+vl]}
		off += nl + vl
	}
	return ls
}

// end checks that the payload was read whole.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
