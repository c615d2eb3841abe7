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
	tmp   []uint64            // AppendFilter's scratch
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
// counts a sample, the first eighth of the bitmap: bits are indexed by hash
// prefix, so the sample is a uniform one of the hash space, and a full count
// would be the largest per-chunk cost. On the test corpora the estimate is
// within 4% of the exact count (8% for 100 lines of random bytes), which
// only moves the filter's size by as much.
func (b *Builder) distinct() float64 {
	if b.grams == 0 {
		return 0
	}
	ones := 0
	for _, w := range b.bits[:buildWords/8] {
		ones += bits.OnesCount64(w)
	}
	const sample = buildWords / 8 * 64
	if ones == sample {
		return float64(b.grams)
	}
	return min(-(1<<buildLog)*math.Log1p(-float64(ones)/sample), float64(b.grams))
}

// AppendFilter appends the chunk's serialised filter to dst. It does not
// change the builder: more lines may be added and the filter appended again.
func (b *Builder) AppendFilter(dst []byte) []byte {
	m, j := filterSize(b.distinct(), b.raw)
	if m == 0 {
		return appendHeader(dst, 0, 0) // not worth its bytes: always true
	}
	dst = appendHeader(dst, j, m/8)
	n := len(dst)
	dst = append(dst, make([]byte, m/8)...)
	if b.grams > 0 { // else no grams, so no needle of length >= n is present
		b.fold(dst[n:], m, j)
	}
	return dst
}

// filterSize returns the bitmap's size m in bits and j, the top bits of a
// hash its index is computed from; m = 0 means the always-true filter.
//
// Sizes are c * 2^(k-4) for c in 9..16 (steps of at most 1/9, so rounding
// up costs ~3% on average), or powers of two up to 64 bits; j = k+3 (at
// most buildLog) so that each filter bit covers 8 to 14 hash buckets and
// the unequal coverage (8 or 9, say) costs under 1% in false positives.
func filterSize(d float64, raw int) (m, j int) {
	m = int(math.Ceil(d * bitsPerGram))
	limit := min(int(maxFilterFrac*8*float64(raw)), 1<<buildLog)
	m = max(min(m, limit), 8)
	// Round up to a size class, or down where that would pass the cap.
	if up := sizeClass(m, true); up <= limit || up == 8 {
		m = up
	} else {
		m = sizeClass(m, false)
	}
	k := bits.Len(uint(m - 1))
	if d > 0 && -math.Expm1(-d/float64(m)) > maxFill {
		return 0, 0
	}
	if m == 1<<k {
		return m, k // folds exactly, so no extra buckets are needed
	}
	return m, min(k+3, buildLog)
}

// sizeClass rounds m >= 8 up or down to a power of two up to 64, or to a
// multiple of 2^(k-4) for 2^(k-1) < m <= 2^k.
func sizeClass(m int, up bool) int {
	k := bits.Len(uint(m - 1)) // 2^(k-1) < m <= 2^k
	switch {
	case m <= 64 && up:
		return 1 << k
	case m <= 64:
		return 1 << (bits.Len(uint(m)) - 1)
	case up:
		return (m + 1<<(k-4) - 1) &^ (1<<(k-4) - 1)
	default:
		return m &^ (1<<(k-4) - 1)
	}
}

// fold writes the filter bitmap of m bits indexed by the top j bits t of a
// hash: filter bit (t * m) >> j is set if build bit B with B >> (buildLog-j)
// = t is, which is the index MayContain computes. In two branch-free passes:
// OR runs of 2^(buildLog-j) adjacent build bits into a 2^j-bit bitmap, then
// map each group of 2^(j-k+4) of those bits onto its c = m/2^(k-4) filter
// bits, each the OR of a run, by precomputed masks. Visiting the set bits
// instead mispredicts a branch per word and was 1.5-2x slower.
func (b *Builder) fold(out []byte, m, j int) {
	src := b.bits[:]
	if s := buildLog - j; s >= 6 {
		// Each bit covers g whole words: it is set if any of them is.
		src = b.scratch(max(1<<j/64, 1))
		g, bm := 1<<(s-6), b.bits[:]
		if g == 1 {
			for k := range src {
				var acc uint64 // gathered in a register, stored once
				for i, w := range bm[k*64 : k*64+64] {
					acc |= b2u(w != 0) << i
				}
				src[k] = acc
			}
		} else {
			for k := range 1 << j {
				var o uint64
				for _, w := range bm[k*g : k*g+g] {
					o |= w
				}
				src[k>>6] |= b2u(o != 0) << (k & 63)
			}
		}
	} else if s > 0 {
		// Each word yields 64>>s bits; 1<<s words fill one output word.
		src = b.scratch(len(b.bits) >> s)
		bm := b.bits
		switch s { // one loop per s, so that the masks are constants
		case 1:
			for w := 0; w < len(bm); w += 2 {
				src[w>>1] = merge1(bm[w]) | merge1(bm[w+1])<<32
			}
		case 2:
			for w := 0; w < len(bm); w += 4 {
				src[w>>2] = merge2(bm[w]) | merge2(bm[w+1])<<16 | merge2(bm[w+2])<<32 | merge2(bm[w+3])<<48
			}
		case 3:
			for w, x := range bm {
				src[w>>3] |= merge3(x) << (w & 7 * 8)
			}
		case 4:
			for w, x := range bm {
				src[w>>4] |= merge4(x) << (w & 15 * 4)
			}
		case 5:
			for w, x := range bm {
				src[w>>5] |= merge5(x) << (w & 31 * 2)
			}
		}
	}
	k := bits.Len(uint(m - 1))
	if m == 1<<k { // then j = k: the 2^j bits are the filter
		for i := range out {
			out[i] = byte(src[i>>3] >> (8 * (i & 7)))
		}
		return
	}
	c := m >> (k - 4)  // filter bits per group, 9..15
	gl := j - (k - 4)  // log2 of the group size: 2^j bits / 2^(k-4) groups
	rm := &runs[gl][c] // rm[o]: the group bits that make filter bit o
	var acc uint64     // filter bits not yet stored: nb of them, for word ow
	nb, ow := 0, uint64(0)
	for q := range 1 << (k - 4) {
		var w0, w1 uint64
		if gl == 7 {
			w0, w1 = src[2*q], src[2*q+1]
		} else {
			w0 = src[q<<gl>>6] >> (q << gl & 63)
		}
		var v uint64
		for o := range c {
			v |= b2u(w0&rm[o][0]|w1&rm[o][1] != 0) << o
		}
		acc |= v << nb
		if nb += c; nb >= 64 {
			flush(out, ow, acc)
			ow++
			nb -= 64
			acc = v >> (c - nb) // the bits that did not fit; 0 if none
		}
	}
	if nb > 0 {
		flush(out, ow, acc)
	}
}

// scratch returns n zeroed words of the builder's scratch space.
func (b *Builder) scratch(n int) []uint64 {
	if cap(b.tmp) < n {
		b.tmp = make([]uint64, n, max(n, buildWords/2))
	}
	s := b.tmp[:n]
	clear(s)
	return s
}

// mergeS ORs each run of 2^S adjacent bits of x and packs the 64>>S
// results into the low bits: first every run's OR is smeared into its
// lowest bit, then those bits are gathered by halving the gaps between
// them, log2(64>>S) times.
func merge1(x uint64) uint64 {
	x = (x | x>>1) & 0x5555555555555555
	x = (x | x>>1) & 0x3333333333333333
	x = (x | x>>2) & 0x0f0f0f0f0f0f0f0f
	x = (x | x>>4) & 0x00ff00ff00ff00ff
	x = (x | x>>8) & 0x0000ffff0000ffff
	return (x | x>>16) & 0xffffffff
}

func merge2(x uint64) uint64 {
	x |= x >> 1
	x = (x | x>>2) & 0x1111111111111111
	x = (x | x>>3) & 0x0303030303030303
	x = (x | x>>6) & 0x000f000f000f000f
	x = (x | x>>12) & 0x000000ff000000ff
	return (x | x>>24) & 0xffff
}

func merge3(x uint64) uint64 {
	x |= x >> 1
	x |= x >> 2
	x = (x | x>>4) & 0x0101010101010101
	x = (x | x>>7) & 0x0003000300030003
	x = (x | x>>14) & 0x0000000f0000000f
	return (x | x>>28) & 0xff
}

func merge4(x uint64) uint64 {
	x |= x >> 1
	x |= x >> 2
	x |= x >> 4
	x = (x | x>>8) & 0x0001000100010001
	x = (x | x>>15) & 0x0000000300000003
	return (x | x>>30) & 0xf
}

func merge5(x uint64) uint64 {
	x |= x >> 1
	x |= x >> 2
	x |= x >> 4
	x |= x >> 8
	x = (x | x>>16) & 0x0000000100000001
	return (x | x>>31) & 3
}

// runs[gl][c][o] masks, in a group of 2^gl bits (two words for gl = 7),
// the bits k with k*c >> gl = o: the bits that filter bit o of the group
// covers.
var runs = func() (r [8][16][15][2]uint64) {
	for gl := 4; gl <= 7; gl++ {
		for c := 9; c < 16; c++ {
			for k := range 1 << gl {
				o := k * c >> gl
				r[gl][c][o][k>>6] |= 1 << (k & 63)
			}
		}
	}
	return r
}()

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
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
