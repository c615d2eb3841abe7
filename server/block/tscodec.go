package block

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// Timestamps are stored as the first value followed by the deltas between
// sorted neighbours, Golomb-Rice coded: log timestamps are close to a Poisson
// process, whose gaps are geometric, and Rice codes are within a few percent
// of the entropy of a geometric source. For a stream with one line per second
// at nanosecond precision that is ~32 bits a line, against 40 for varints.
//
// Layout: uvarint(count) varint(first) byte(k) then the bit stream, MSB first:
// for each delta d, q = d>>k ones, a zero, then the low k bits of d. A
// quotient of riceEscape or more is written as riceEscape ones followed by
// the 64-bit delta, so one outlier gap cannot blow up the column.

const riceEscape = 40

var errTimestamps = errors.New("corrupt timestamp column")

type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, left-aligned count in n
	nacc uint
}

func (w *bitWriter) write(v uint64, n uint) {
	for n > 0 {
		take := min(n, 64-w.nacc)
		chunk := (v >> (n - take)) & (1<<take - 1)
		if take == 64 {
			chunk = v
		}
		w.acc = w.acc<<take | chunk
		w.nacc += take
		n -= take
		for w.nacc >= 8 {
			w.buf = append(w.buf, byte(w.acc>>(w.nacc-8)))
			w.nacc -= 8
		}
		if w.nacc == 0 {
			w.acc = 0
		}
	}
}

func (w *bitWriter) ones(n uint) {
	for n >= 32 {
		w.write(1<<32-1, 32)
		n -= 32
	}
	w.write(1<<n-1, n)
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.nacc)))
		w.nacc, w.acc = 0, 0
	}
	return w.buf
}

type bitReader struct {
	buf []byte
	pos uint // bit position
}

func (r *bitReader) bit() (uint64, bool) {
	if r.pos>>3 >= uint(len(r.buf)) {
		return 0, false
	}
	b := r.buf[r.pos>>3] >> (7 - r.pos&7) & 1
	r.pos++
	return uint64(b), true
}

// window returns the next bits from pos, most significant first, in a
// word (zero past the end), and how many of them are real (at most 57).
func (r *bitReader) window() (uint64, uint) {
	i := r.pos >> 3
	n := uint(len(r.buf))
	if i >= n {
		return 0, 0
	}
	var w uint64
	if i+8 <= n {
		w = binary.BigEndian.Uint64(r.buf[i:])
	} else {
		for j := i; j < i+8; j++ {
			w <<= 8
			if j < n {
				w |= uint64(r.buf[j])
			}
		}
	}
	off := r.pos & 7
	return w << off, min((n-i)*8, 64) - off
}

func (r *bitReader) read(n uint) (uint64, bool) {
	if n == 0 {
		return 0, true
	}
	if n <= 56 {
		w, avail := r.window()
		if n > avail {
			return 0, false
		}
		r.pos += n
		return w >> (64 - n), true
	}
	if r.pos+n > uint(len(r.buf))*8 {
		return 0, false
	}
	var v uint64
	for n > 0 {
		byteIdx := r.pos >> 3
		off := r.pos & 7
		avail := 8 - off
		take := min(avail, n)
		b := uint64(r.buf[byteIdx]>>(avail-take)) & (1<<take - 1)
		v = v<<take | b
		r.pos += take
		n -= take
	}
	return v, true
}

// unary counts ones up to the next zero, stopping at limit.
func (r *bitReader) unary(limit uint) (uint, bool) {
	// Fast path: the run and its zero lie within one window.
	w, avail := r.window()
	if ones := uint(bits.LeadingZeros64(^w)); ones < avail && ones < limit {
		r.pos += ones + 1
		return ones, true
	}
	var q uint
	for q < limit {
		b, ok := r.bit()
		if !ok {
			return 0, false
		}
		if b == 0 {
			return q, true
		}
		q++
	}
	return q, true
}

// appendTimestamps encodes sorted timestamps.
func appendTimestamps(dst []byte, ts []int64) []byte {
	dst = appendUvarint(dst, uint64(len(ts)))
	if len(ts) == 0 {
		return dst
	}
	dst = appendVarint(dst, ts[0])
	var sum uint64
	for i := 1; i < len(ts); i++ {
		sum += uint64(ts[i] - ts[i-1])
	}
	// The optimal Rice parameter is about log2(mean gap * ln 2).
	k := uint(0)
	if m := sum / uint64(max(len(ts)-1, 1)) * 693 / 1000; m > 0 {
		k = uint(bits.Len64(m)) - 1
	}
	dst = append(dst, byte(k))
	w := bitWriter{buf: dst}
	for i := 1; i < len(ts); i++ {
		d := uint64(ts[i] - ts[i-1])
		q := d >> k
		if q >= riceEscape {
			w.ones(riceEscape)
			w.write(d, 64)
			continue
		}
		w.ones(uint(q))
		w.write(0, 1)
		w.write(d, k)
	}
	return w.flush()
}

// decodeTimestamps appends the timestamps of a column to dst.
func decodeTimestamps(src []byte, dst []int64) ([]int64, error) {
	n, src, ok := readUvarint(src)
	if !ok || n > uint64(len(src))*8+1 {
		return dst, errTimestamps
	}
	if n == 0 {
		return dst, nil
	}
	first, src, ok := readVarint(src)
	if !ok || len(src) < 1 {
		return dst, errTimestamps
	}
	k := uint(src[0])
	if k > 63 {
		return dst, errTimestamps
	}
	dst = append(dst, first)
	r := bitReader{buf: src[1:]}
	t := first
	buf := r.buf
	for i := uint64(1); i < n; i++ {
		// Fast path: the whole code lies in one 64-bit load (at least 57
		// valid bits after the shift).
		if p := r.pos >> 3; p+8 <= uint(len(buf)) {
			w := binary.BigEndian.Uint64(buf[p:]) << (r.pos & 7)
			q := uint(bits.LeadingZeros64(^w))
			if q < riceEscape && q+1+k <= 57 {
				low := (w << (q + 1)) >> (64 - k) // Go shifts by 64 give 0: k == 0 works
				r.pos += q + 1 + k
				t += int64(uint64(q)<<k | low)
				dst = append(dst, t)
				continue
			}
		}
		q, ok := r.unary(riceEscape)
		if !ok {
			return dst, errTimestamps
		}
		var d uint64
		if q == riceEscape {
			if d, ok = r.read(64); !ok {
				return dst, errTimestamps
			}
		} else {
			low, ok := r.read(k)
			if !ok {
				return dst, errTimestamps
			}
			d = uint64(q)<<k | low
		}
		t += int64(d)
		dst = append(dst, t)
	}
	return dst, nil
}
