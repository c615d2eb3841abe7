package ngram

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Tuning constants. FORMAT.md has the measurements behind each choice.
const (
	// gramLen is n. 3- and 4-grams cannot tell hex ids apart: a chunk of
	// 5000 lines holding one 32-hex request id each already contains 89% of
	// the 65536 hex 4-grams, so an absent id would match by its true grams
	// alone. 5-grams leave 87% of the hex space empty at 5000 lines, and
	// cost only ~35% more distinct grams on text than 4-grams.
	gramLen = 5

	// gramMask keeps the gramLen low bytes of a little-endian load.
	gramMask = 1<<(8*gramLen) - 1

	// hashMul is an odd 64-bit constant (2^64/phi); multiplying by it and
	// folding the high half onto the low half spreads every input bit into
	// the low bits that the bitmap index is masked from.
	hashMul = 0x9e3779b97f4a7c15

	// buildLog is log2 of the build bitmap's size in bits. Every gram is set
	// there at full resolution, and AppendFilter folds it down once the
	// distinct count is known. 2^21 bits (256 KiB) counts ~3M distinct grams
	// by linear counting (a ~45k-line, 10 MB JSON chunk); bigger chunks
	// still get a correct filter, only a fuller one.
	buildLog   = 21
	buildWords = 1 << (buildLog - 6)

	// bitsPerGram is the filter size per distinct gram, m = bitsPerGram * D.
	// With one hash per gram the expected fill is 1-exp(-1/bitsPerGram):
	// 0.60 bits gives 81% fill, which rejects an absent 28-gram needle
	// (a 32-hex id) with probability 1-0.81^28 > 99.7%.
	bitsPerGram = 0.60

	// maxFilterFrac caps the filter at this fraction of the raw line bytes,
	// so a chunk of high-entropy lines cannot blow the disk budget.
	maxFilterFrac = 0.02

	// maxFill: when the cap squeezes the bitmap beyond this expected fill it
	// would reject too little (0.95^28 = 24% of absent ids pass) to be worth
	// its bytes, and an empty, always-true filter is written instead.
	maxFill = 0.95

	version = 1
)

// hashGram hashes one gram, given as its bytes loaded little-endian.
// The bitmap index is taken from the low bits, by masking, so that a bitmap
// folded in half (bit i OR bit i+m/2) is indexed by the same hash.
func hashGram(x uint64) uint64 {
	h := x * hashMul
	return h ^ h>>32
}

// Needle holds the distinct n-gram hashes of a search string, computed once
// per query and reused for every chunk. The zero Needle matches everything.
type Needle struct {
	hashes []uint64 // distinct, in probe order; nil when the string is shorter than n
}

// NewNeedle returns the needle of s for MayContain. Strings shorter than n
// cannot be filtered: their Needle makes MayContain return true.
func NewNeedle(s string) Needle {
	if len(s) < gramLen {
		return Needle{}
	}
	g := len(s) - gramLen + 1
	hs := make([]uint64, 0, g)
	// Probe order: non-overlapping grams first (0, n, 2n, ..., then 1,
	// n+1, ...). Overlapping grams of natural text tend to be present or
	// absent together, so spreading the first probes out finds a missing
	// gram, and the answer false, sooner.
	for start := range min(gramLen, g) {
	next:
		for i := start; i < g; i += gramLen {
			h := hashGram(load(s[i:]))
			for _, o := range hs {
				if o == h {
					continue next
				}
			}
			hs = append(hs, h)
		}
	}
	return Needle{hashes: hs}
}

// load returns the first gramLen bytes of s, little-endian.
func load(s string) uint64 {
	var x uint64
	for i := gramLen - 1; i >= 0; i-- {
		x = x<<8 | uint64(s[i])
	}
	return x
}

// Grams returns the number of distinct n-grams the needle probes; 0 means
// the needle is too short to be filtered.
func (n Needle) Grams() int { return len(n.hashes) }

// Builder collects the n-grams of one chunk's lines. The zero Builder is
// ready to use; Reset makes it reusable for the next chunk without
// allocating.
type Builder struct {
	bits  *[buildWords]uint64 // grams at full resolution, indexed by hash & (2^buildLog-1)
	grams int                 // gram positions added: an upper bound on the distinct count
	raw   int                 // line bytes added
	fold  []uint64            // AppendFilter's scratch
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
	const mask = 1<<buildLog - 1
	set := func(x uint64) {
		h := hashGram(x&gramMask) & mask
		bm[h>>6] |= 1 << (h & 63)
	}
	// One 8-byte load covers the grams at i..i+8-gramLen.
	const per = 8 - gramLen + 1
	i := 0
	for ; i+8 <= len(line); i += per {
		x := binary.LittleEndian.Uint64(line[i:])
		for k := range per {
			set(x >> (8 * k))
		}
	}
	// The last grams, from a load of the line's last (up to) 8 bytes.
	last := len(line) - gramLen
	if i > last {
		return
	}
	var t uint64
	base := len(line) - 8
	if base >= 0 {
		t = binary.LittleEndian.Uint64(line[base:])
	} else {
		for k := len(line) - 1; k >= 0; k-- {
			t = t<<8 | uint64(line[k])
		}
		t <<= 8 * uint(-base) // as if loaded from base, bytes before the line zero
	}
	for ; i <= last; i++ {
		set(t >> (8 * uint(i-base)))
	}
}

// distinct estimates how many distinct grams were added, by linear counting
// over the build bitmap: with D grams hashed uniformly into M bits the
// expected number of zero bits is M*exp(-D/M).
func (b *Builder) distinct() float64 {
	if b.grams == 0 {
		return 0
	}
	ones := 0
	for _, w := range b.bits {
		ones += bits.OnesCount64(w)
	}
	const m = float64(1 << buildLog)
	if ones == 1<<buildLog {
		return float64(b.grams)
	}
	d := -m * math.Log1p(-float64(ones)/m)
	return min(d, float64(b.grams))
}

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
	j := bits.Len(uint(m - 1)) // 2^(j-1) < m <= 2^j
	dst = appendHeader(dst, j, m/8)
	n := len(dst)
	dst = append(dst, make([]byte, m/8)...)
	out := dst[n:]
	if b.grams == 0 {
		return dst // no grams: no needle of length >= n can be present
	}

	// Fold the build bitmap to 2^j bits: bit i of the 2^j-bit bitmap is the
	// OR of the bits at i + k*2^j. Indexing by h & (2^j-1) sees every gram.
	fw := max(1<<j/64, 1)
	if cap(b.fold) < fw {
		b.fold = make([]uint64, fw)
	}
	f := b.fold[:fw]
	clear(f)
	for w, v := range b.bits {
		f[w&(fw-1)] |= v
	}
	if j < 6 {
		v := f[0]
		for s := 32; s >= 1<<j; s >>= 1 {
			v |= v >> s
		}
		f[0] = v & (1<<(1<<j) - 1)
	}

	if m == 1<<j {
		for o := range out {
			out[o] = byte(f[o/8] >> (8 * (o % 8)))
		}
		return dst
	}
	// Map the 2^j bits onto m < 2^j bits: bit i goes to (i*m)>>j, the same
	// range reduction MayContain applies to h & (2^j-1).
	um := uint64(m)
	for w, v := range f {
		for v != 0 {
			i := uint64(w*64 + bits.TrailingZeros64(v))
			o := (i * um) >> j
			out[o>>3] |= 1 << (o & 7)
			v &= v - 1
		}
	}
	return dst
}
