package ngram

// Tuning constants. FORMAT.md has the measurements behind each choice.
const (
	// gramLen is n. 3- and 4-grams cannot tell hex ids apart: a chunk of
	// 5000 lines holding one 32-hex request id each already contains 89% of
	// the 65536 hex 4-grams, so an absent id would match by its true grams
	// alone. 5-grams leave 87% of the hex space empty at 5000 lines, for
	// 35-65% more distinct grams than 4-grams on text.
	gramLen = 5

	// hashMul is an odd 64-bit constant (2^64/phi). A gram's hash is the
	// top hashBits bits of (gram in the top 40 bits) * hashMul: multiply-shift
	// hashing, universal over the 40-bit grams, and one multiply per gram.
	hashMul  = 0x9e3779b97f4a7c15
	hashBits = 64 - 8*gramLen

	// buildLog is log2 of the build bitmap's size in bits. Every gram is set
	// there, indexed by the top buildLog bits of its hash, and AppendFilter
	// folds it down to the final size once the distinct count is known.
	// 2^21 bits (256 KiB, within L2) gives 8 build bits per filter bit up to
	// 2^18-bit filters, ~440k distinct grams or ~2.5 MB of JSON lines (the
	// block writer cuts chunks at 1 MiB); bigger chunks still get a correct
	// filter, with coarser buckets.
	buildLog   = 21
	buildWords = 1 << (buildLog - 6)

	// bitsPerGram is the filter size per distinct gram, m = bitsPerGram * D.
	// With one hash per gram the expected fill is 1-exp(-1/bitsPerGram):
	// 0.60 bits gives 81% fill, which rejects an absent 28-gram needle
	// (a 32-hex id) with probability 1-0.81^28 > 99.7%.
	bitsPerGram = 0.60

	// maxFilterFrac caps the filter at this fraction of the raw line bytes,
	// so a chunk of high-entropy lines cannot blow the disk budget. Typical
	// logs stay well under it (JSON access logs ~1.3-2%, nginx 0.4-1.4%).
	maxFilterFrac = 0.03

	// maxFill: when the cap squeezes the bitmap beyond this expected fill it
	// would reject too little (0.95^28 = 24% of absent ids pass) to be worth
	// its bytes, and an empty, always-true filter is written instead.
	maxFill = 0.95

	version = 1
)

// hashGram hashes one gram given as top: its gramLen bytes in the top bytes
// of a little-endian word, the low bytes zero.
//
// A bitmap over 2^j hash buckets indexes a gram by the top j bits of its
// hash (multiply-shift puts the mixing in the top bits), so a bitmap is
// folded to a quarter, say, by OR-ing runs of 4 adjacent bits, and every
// filter size is indexed by the same hashes.
func hashGram(top uint64) uint32 {
	return uint32((top * hashMul) >> (64 - hashBits))
}

// Needle holds the distinct n-gram hashes of a search string, computed once
// per query and reused for every chunk. The zero Needle matches everything.
type Needle struct {
	hashes []uint32 // distinct, in probe order; nil when the string is shorter than n
}

// maxProbes bounds the grams a needle probes. A subset of the grams still
// proves absence, and 64 grams at 81% fill already pass an absent needle
// with probability 0.81^64 < 1e-5, so longer needles only cost time.
const maxProbes = 64

// NewNeedle returns the needle of s for MayContain. Strings shorter than n
// cannot be filtered: their Needle makes MayContain return true.
func NewNeedle(s string) Needle {
	if len(s) < gramLen {
		return Needle{}
	}
	g := len(s) - gramLen + 1
	hs := make([]uint32, 0, min(g, maxProbes))
	// Probe order: non-overlapping grams first (0, n, 2n, ..., then 1,
	// n+1, ...). Overlapping grams of text tend to be present or absent
	// together, so spreading the first probes out finds a missing gram,
	// and the answer false, sooner.
	for start := range min(gramLen, g) {
	next:
		for i := start; i < g && len(hs) < maxProbes; i += gramLen {
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

// load returns the first gramLen bytes of s in the top bytes of a
// little-endian word, as hashGram takes them.
func load(s string) uint64 {
	var x uint64
	for i := range gramLen {
		x |= uint64(s[i]) << (8 * (8 - gramLen + i))
	}
	return x
}

// Grams returns the number of distinct n-grams the needle probes; 0 means
// the needle is too short to be filtered.
func (n Needle) Grams() int { return len(n.hashes) }
