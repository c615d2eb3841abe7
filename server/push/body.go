package push

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zlib"
)

// IsJSON reports whether a Content-Type names a JSON push body
// ("application/json", any parameters and case). Everything else, including
// no Content-Type at all, is snappy-compressed protobuf, as in Loki.
func IsJSON(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/json")
}

// ReadBody reads a push body and undoes its encodings, returning the bytes for
// DecodeJSON or DecodeProto (chosen by IsJSON(contentType)).
//
// Content-Encoding may be empty, "identity", "gzip", "deflate" (zlib-wrapped
// per HTTP, or raw deflate as some clients send) or "snappy" (block format).
// A protobuf body is then snappy-decoded as well, unless Content-Encoding was
// already snappy: it is never decoded twice.
//
// maxCompressed bounds the bytes read from body, maxDecompressed the bytes
// after each decoding step; either, if 0 or less, means no limit. They are
// enforced before memory is committed: a snappy block's stated length is
// checked before decoding, and inflating stops one byte past the limit.
//
// Errors: ErrTooLarge (errors.Is; answer 413) when a limit is exceeded,
// ErrUnsupportedEncoding (answer 415) for another Content-Encoding,
// *DecodeError (answer 400) for corrupt data, or the reader's own error.
// The result is freshly allocated and belongs to the caller.
func ReadBody(body io.Reader, contentEncoding string, contentType string, maxCompressed, maxDecompressed int64) ([]byte, error) {
	return ReadBodyInto(nil, body, contentEncoding, contentType, maxCompressed, maxDecompressed)
}

// ReadBodyInto is ReadBody writing the result over buf's memory when it is
// large enough, so that a caller done with one body can reuse it for the
// next. buf's contents are lost either way.
func ReadBodyInto(buf []byte, body io.Reader, contentEncoding string, contentType string, maxCompressed, maxDecompressed int64) ([]byte, error) {
	buf = buf[:0]
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	switch enc {
	case "", "identity", "gzip", "x-gzip", "deflate", "snappy":
	default:
		return nil, fmt.Errorf("%w %q: use gzip, deflate, snappy or none", ErrUnsupportedEncoding, contentEncoding)
	}
	isJSON := IsJSON(contentType)

	rawBuf := getBuffer()
	defer putBuffer(rawBuf)
	raw, err := readLimited((*rawBuf)[:0], body, maxCompressed)
	*rawBuf = raw
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("%w: the body exceeds %d bytes", ErrTooLarge, maxCompressed)
		}
		return nil, err
	}

	switch enc {
	case "snappy":
		out, err := decodeSnappy(buf, raw, maxDecompressed)
		if err != nil && isJSON && looksLikeJSON(raw) && !errors.Is(err, ErrTooLarge) {
			// Loki passes JSON through whatever Content-Encoding says, so
			// some clients label plain JSON as snappy: accept it.
			return copyLimited(buf, raw, maxDecompressed)
		}
		return out, err
	case "gzip", "x-gzip", "deflate":
		inflated := getBuffer()
		defer putBuffer(inflated)
		data, err := inflate(enc, raw, (*inflated)[:0], maxDecompressed)
		*inflated = data
		if err != nil {
			return nil, err
		}
		if isJSON {
			return append(buf, data...), nil
		}
		return decodeSnappy(buf, data, maxDecompressed)
	default:
		if isJSON {
			return copyLimited(buf, raw, maxDecompressed)
		}
		return decodeSnappy(buf, raw, maxDecompressed)
	}
}

// ReadSnappyBody reads a protobuf push compressed as one snappy block (what
// cluster nodes send each other) and keeps both forms: the compressed bytes
// in raw's memory and the decoded ones in buf's, each emptied first and
// grown as need be. maxCompressed and maxDecompressed bound them (<= 0:
// no bound).
//
// On error the buffers come back empty, for the caller to reuse.
func ReadSnappyBody(raw, buf []byte, body io.Reader, maxCompressed, maxDecompressed int64) (compressed, decoded []byte, err error) {
	compressed, err = readLimited(raw[:0], body, maxCompressed)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("%w: the body exceeds %d bytes", ErrTooLarge, maxCompressed)
		}
		return compressed[:0], buf[:0], err
	}
	if decoded, err = decodeSnappy(buf[:0], compressed, maxDecompressed); err != nil {
		return compressed, buf[:0], err
	}
	return compressed, decoded, nil
}

// maxSnappyRatio bounds how much a genuine snappy block can expand: its best
// op, a 3-byte copy, yields 64 bytes. A header claiming more is corrupt, and
// rejecting it keeps a 10-byte body from costing a huge allocation.
const maxSnappyRatio = 22

// decodeSnappy decodes a snappy block into dst's memory (empty), grown to
// its length if need be.
func decodeSnappy(dst, src []byte, limit int64) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, &DecodeError{Format: "snappy", Err: errors.New("not a snappy block: bad length header (protobuf pushes must be snappy block-compressed, not framed)")}
	}
	if limit > 0 && int64(n) > limit {
		return nil, fmt.Errorf("%w: snappy block decodes to %d bytes, over the %d-byte limit", ErrTooLarge, n, limit)
	}
	if int64(n) > maxSnappyRatio*int64(len(src)) {
		return nil, &DecodeError{Format: "snappy", Err: fmt.Errorf("block claims %d bytes from %d compressed, more than snappy can encode", n, len(src))}
	}
	out, err := snappy.Decode(slices.Grow(dst, n)[:n], src)
	if err != nil {
		return nil, &DecodeError{Format: "snappy", Err: errors.New("corrupt snappy block")}
	}
	return out, nil
}

// inflate undoes gzip or deflate, appending to dst, and fails with
// ErrTooLarge as soon as the output passes limit.
func inflate(enc string, raw, dst []byte, limit int64) ([]byte, error) {
	format := "gzip"
	if enc == "deflate" {
		format = "deflate"
	}
	d := getInflater()
	defer putInflater(d)
	zr, err := d.reset(format, raw)
	if err != nil {
		return dst, &DecodeError{Format: format, Err: inflateError(err)}
	}
	dst, err = readLimited(dst, zr, limit)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return dst, fmt.Errorf("%w: the body inflates past %d bytes", ErrTooLarge, limit)
		}
		return dst, &DecodeError{Format: format, Err: inflateError(err)}
	}
	return dst, nil
}

func inflateError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("unexpected end of compressed data: the body is truncated or has trailing bytes")
	}
	return err
}

// inflater keeps decompressors for reuse: a gzip or flate reader is ~40 KiB of
// tables, worth recycling across requests.
type inflater struct {
	src bytes.Reader
	gz  *gzip.Reader
	zl  io.ReadCloser
	fl  io.ReadCloser
}

var inflaterPool = sync.Pool{New: func() any { return new(inflater) }}

func getInflater() *inflater { return inflaterPool.Get().(*inflater) }

func putInflater(d *inflater) {
	d.src.Reset(nil)
	inflaterPool.Put(d)
}

// reset points the right decompressor at raw. HTTP's "deflate" means zlib,
// but some clients send raw deflate (Loki itself expects that): a valid zlib
// header tells them apart.
func (d *inflater) reset(format string, raw []byte) (io.Reader, error) {
	d.src.Reset(raw)
	switch {
	case format == "gzip":
		if d.gz == nil {
			gz, err := gzip.NewReader(&d.src)
			if err != nil {
				return nil, err
			}
			d.gz = gz
		} else if err := d.gz.Reset(&d.src); err != nil {
			return nil, err
		}
		return d.gz, nil
	case isZlibHeader(raw):
		if d.zl == nil {
			zl, err := zlib.NewReader(&d.src)
			if err != nil {
				return nil, err
			}
			d.zl = zl
		} else if err := d.zl.(zlib.Resetter).Reset(&d.src, nil); err != nil {
			return nil, err
		}
		return d.zl, nil
	default:
		if d.fl == nil {
			d.fl = flate.NewReader(&d.src)
		} else if err := d.fl.(flate.Resetter).Reset(&d.src, nil); err != nil {
			return nil, err
		}
		return d.fl, nil
	}
}

// isZlibHeader reports whether b starts with a zlib header: deflate method,
// window at most 32 KiB, and a check value making the pair a multiple of 31.
func isZlibHeader(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// looksLikeJSON reports whether b starts like a JSON object.
func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// copyLimited appends to dst a copy of an identity body, which must also
// fit the decompressed limit since it is what gets decoded.
func copyLimited(dst, b []byte, limit int64) ([]byte, error) {
	if limit > 0 && int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: the body exceeds %d bytes", ErrTooLarge, limit)
	}
	return append(dst, b...), nil
}

// errLimit is what readLimited returns past its limit; callers rewrap it with
// the limit that applies.
var errLimit = fmt.Errorf("%w: limit exceeded", ErrTooLarge)

// readLimited appends all of r to dst and returns errLimit as soon as more
// than limit bytes arrive (limit <= 0: none). It never grows dst beyond
// limit+1 bytes, so a decompression bomb costs at most the limit.
func readLimited(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			grow := max(cap(dst), 16<<10)
			if limit > 0 {
				grow = int(min(int64(grow), limit+1-int64(len(dst))))
			}
			dst = slices.Grow(dst, grow)
		}
		room := dst[len(dst):cap(dst)]
		if limit > 0 && int64(len(room)) > limit+1-int64(len(dst)) {
			room = room[:limit+1-int64(len(dst))]
		}
		n, err := r.Read(room)
		dst = dst[:len(dst)+n]
		if limit > 0 && int64(len(dst)) > limit {
			return dst, errLimit
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// Buffers for the compressed body and inflated data, which ReadBody copies
// from or decodes out of and then no longer needs.
var bufferPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer keeps a rare huge body from pinning memory in the pool.
const maxPooledBuffer = 16 << 20

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}
