package block

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// finder looks for one needle in the templates and columns of many frames.
// bytes.Index scans for the needle's first byte, which in log text is often
// a common letter: "timeout" in JSON templates stops at a 't' every dozen
// bytes. A finder scans for the needle's rarest byte in logs instead, and
// when that byte is common in the text too, tests eight positions at a step
// for the needle's two rarest bytes at once (as the memchr crate does with
// SIMD): on the bench set's templates, "timeout" is found in half the time.
type finder struct {
	needle []byte
	p1, p2 int  // positions of the needle's rarest and second rarest bytes (p1 = p2 when one byte long)
	pair   bool // the rarest byte turned out common: test pairs from now on
}

// logByteOrder lists bytes from most to least frequent in log lines (those
// of the conformance corpus); the others are rarer still.
const logByteOrder = "\"e 0t1:sraiod2u,.4-nlm/3c65p89b=7fgvThyE{}_q][PGNHjxk+SzO\\LIwBDCRF()MKZU;XAW|Q"

// byteCommonness ranks bytes: higher is more frequent in logs.
var byteCommonness = func() (t [256]uint8) {
	for i := 0; i < len(logByteOrder); i++ {
		t[logByteOrder[i]] = uint8(len(logByteOrder) - i)
	}
	return t
}()

func newFinder(needle []byte) finder {
	f := finder{needle: needle}
	for i, c := range needle {
		if byteCommonness[c] < byteCommonness[needle[f.p1]] {
			f.p1 = i
		}
	}
	f.p2 = f.p1
	for i, c := range needle {
		if i != f.p1 && (f.p2 == f.p1 || byteCommonness[c] < byteCommonness[needle[f.p2]]) {
			f.p2 = i
		}
	}
	return f
}

// index returns the index of the first instance of the needle in s, or -1.
// Calls for the rest of one text keep what the finder learnt of it: use a
// fresh copy of the finder for each text.
func (f *finder) index(s []byte) int {
	n := len(f.needle)
	if n <= 1 || len(s) < n {
		return bytes.Index(s, f.needle)
	}
	if f.pair {
		return f.indexPair(s)
	}
	c := f.needle[f.p1]
	last := len(s) - n // the last possible start
	fails := 0
	for o := 0; o <= last; {
		i := bytes.IndexByte(s[o+f.p1:last+f.p1+1], c)
		if i < 0 {
			return -1
		}
		start := o + i
		if bytes.Equal(s[start:start+n], f.needle) {
			return start
		}
		o = start + 1
		// More than one false hit per 32 bytes: the byte is common here.
		if fails++; fails > 8 && fails*32 > o {
			f.pair = true
			if j := f.indexPair(s[o:]); j >= 0 {
				return o + j
			}
			return -1
		}
	}
	return -1
}

// indexPair is index testing eight starts at a step for both rare bytes.
func (f *finder) indexPair(s []byte) int {
	const ones, lo7 = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	n := len(f.needle)
	b1, b2 := uint64(f.needle[f.p1])*ones, uint64(f.needle[f.p2])*ones
	i := 0
	// Eight starts i…i+7 whose whole needle lies within s.
	for ; i+7+n <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i+f.p1:]) ^ b1
		y := binary.LittleEndian.Uint64(s[i+f.p2:]) ^ b2
		// The high bit of each zero byte of x and y, exactly.
		m := ^((x&lo7 + lo7) | x | lo7) & ^((y&lo7 + lo7) | y | lo7)
		for m != 0 {
			j := i + bits.TrailingZeros64(m)/8
			if bytes.Equal(s[j:j+n], f.needle) {
				return j
			}
			m &= m - 1
		}
	}
	if j := bytes.Index(s[i:], f.needle); j >= 0 {
		return i + j
	}
	return -1
}
