package ngram

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Builder collects the n-grams of one chunk's lines. The zero Builder is
// ready to use; Reset makes it reusable for the next chunk without
// allocating.
type Builder struct {
	bits  *[buildWords]uint64 // bit B set: some gram hash has top bits B
	grams int                 // gram positions added: an upper bound on the distinct count
	raw   int                 // line bytes added
}

// Reset empties the builder, keeping its memory.
func (b *Builder) Reset() {
	if b.bits != nil && b.grams > 0 {
		clear(b.bits[:])
	}
	b.grams, b.raw = 0, 0
}

// Add adds the n-grams of one log line. Grams never span two lines.
func (b *Builder) Add(line []byte) {
	b.raw += len(line)
	if len(line) < gramLen {
		return
	}
	if b.bits == nil {
		b.bits = new([buildWords]uint64)
	}
	b.grams += len(line) - gramLen + 1
	bm := b.bits
	// The gram at i is the top gramLen bytes of the 8-byte little-endian
	// load at i shifted left by 8*(8-gramLen): one load and one shift.
	const top = 8 * (8 - gramLen)
	i := 0
	// Eight grams per iteration, unrolled by hand (the compiler does not
	// unroll): one bounds check for all eight loads. This loop is the
	// whole build cost.
	for ; i+15 <= len(line); i += 8 {
		s := line[i : i+15]
		set(bm, binary.LittleEndian.Uint64(s[0:])<<top)
		set(bm, binary.LittleEndian.Uint64(s[1:])<<top)
		set(bm, binary.LittleEndian.Uint64(s[2:])<<top)
		set(bm, binary.LittleEndian.Uint64(s[3:])<<top)
		set(bm, binary.LittleEndian.Uint64(s[4:])<<top)
		set(bm, binary.LittleEndian.Uint64(s[5:])<<top)
		set(bm, binary.LittleEndian.Uint64(s[6:])<<top)
		set(bm, binary.LittleEndian.Uint64(s[7:])<<top)
	}
	for ; i+8 <= len(line); i++ {
		set(bm, binary.LittleEndian.Uint64(line[i:])<<top)
	}
	// The last grams (at most 8-gramLen) do not have 8 bytes after their
	// start: take them from the line's last 8 bytes.
	end := len(line)
	if i > end-gramLen {
		return
	}
	var t uint64 // bytes end-8..end-1, little-endian; zero before the line
	if end >= 8 {
		t = binary.LittleEndian.Uint64(line[end-8:])
	} else {
		for k, c := range line {
			t |= uint64(c) << (8 * (8 - end + k))
		}
	}
	const low = ^uint64(1<<top - 1) // clears the bytes before the gram
	for ; i <= end-gramLen; i++ {
		// The gram at i ends gramLen bytes later: shift that to the top.
		set(bm, t<<(8*uint(end-i-gramLen))&low)
	}
}

// set sets the build bit of one gram, given as hashGram takes it: bit B for
// B the top buildLog bits of its hash.
func set(bm *[buildWords]uint64, top uint64) {
	b := top * hashMul >> (64 - buildLog)
	bm[b>>6] |= 1 << (b & 63)
}

// distinct estimates how many distinct grams were added, by linear counting:
// D grams hashed uniformly into M bits leave M*exp(-D/M) bits zero. It
// counts a sample, the first sampleWords words: bits are indexed by hash
// prefix, so any run of words is a uniform sample of the hash space, and
// 2^18 sampled bits estimate D within ~4% for the smallest chunks worth a
// filter while costing an eighth of a full count.
func (b *Builder) distinct() float64 {
	if b.grams == 0 {
		return 0
	}
	ones := 0
	for _, w := range b.bits[:sampleWords] {
		ones += bits.OnesCount64(w)
	}
	const s = sampleWords * 64
	if ones == s {
		return float64(b.grams)
	}
	d := -(1 << buildLog) * math.Log1p(-float64(ones)/s)
	return min(d, float64(b.grams))
}

const sampleWords = buildWords / 8

// AppendFilter appends the chunk's serialised filter to dst. It does not
// change the builder: more lines may be added and the filter appended again.
func (b *Builder) AppendFilter(dst []byte) []byte {
	d := b.distinct()
	m := int(math.Ceil(d * bitsPerGram))
	m = min(m, int(maxFilterFrac*8*float64(b.raw)), 1<<buildLog)
	m = max((m+7)&^7, 8)
	if d > 0 && -math.Expm1(-d/float64(m)) > maxFill {
		return appendHeader(dst, 0, 0) // not worth its bytes: always true
	}
	dst = appendHeader(dst, buildLog, m/8)
	n := len(dst)
	dst = append(dst, make([]byte, m/8)...)
	if b.grams == 0 {
		return dst // no grams, so no needle of length >= n is present
	}
	// Fold: build bit B (hash top bits B) becomes filter bit B*m >> buildLog,
	// the range reduction MayContain applies to the same top bits. B*m >>
	// buildLog grows with B, so the output word is gathered in a register
	// and stored once, not read-modified-written per bit.
	out, um := dst[n:], uint64(m)
	var acc, cur uint64 // acc holds output word cur
	for w, v := range b.bits {
		base := uint64(w * 64)
		for ; v != 0; v &= v - 1 {
			o := ((base + uint64(bits.TrailingZeros64(v))) * um) >> buildLog
			if o>>6 != cur {
				flush(out, cur, acc)
				acc, cur = 0, o>>6
			}
			acc |= 1 << (o & 63)
		}
	}
	flush(out, cur, acc)
	return dst
}

// flush ORs output word w into out, whose last word may be short.
func flush(out []byte, w, acc uint64) {
	if i := w * 8; i+8 <= uint64(len(out)) {
		binary.LittleEndian.PutUint64(out[i:], binary.LittleEndian.Uint64(out[i:])|acc)
	} else {
		for ; i < uint64(len(out)); i++ {
			out[i] |= byte(acc)
			acc >>= 8
		}
	}
}
