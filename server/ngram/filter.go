package ngram

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header layout; FORMAT.md has the diagram.
const (
	offVersion = 0 // format version
	offGramLen = 1 // n
	offLog     = 2 // j: a hash's bit is ((hash >> (hashBits-j)) * m) >> j
	offBytes   = 3 // bitmap bytes B, uint32 little-endian; m = 8*B bits
	headerLen  = 7
)

func appendHeader(dst []byte, j, nbytes int) []byte {
	dst = append(dst, version, gramLen, byte(j))
	return binary.LittleEndian.AppendUint32(dst, uint32(nbytes))
}

// Filter is a serialised filter as stored, read in place. A nil, empty or
// invalid Filter cannot prove anything: MayContain answers true.
type Filter []byte

var errShort = errors.New("ngram: filter shorter than its header")

// Valid checks the filter's structure: version, parameters and length.
// It does not read the bitmap, so it costs the same for any size.
func (f Filter) Valid() error {
	if _, ok := f.bitmap(); ok {
		return nil
	}
	switch {
	case len(f) < headerLen:
		return errShort
	case f[offVersion] != version:
		return fmt.Errorf("ngram: unknown filter version %d", f[offVersion])
	case f[offGramLen] < 1 || f[offGramLen] > 7:
		return fmt.Errorf("ngram: bad gram length %d", f[offGramLen])
	case uint64(len(f)-headerLen) != uint64(binary.LittleEndian.Uint32(f[offBytes:])):
		return fmt.Errorf("ngram: filter has %d bitmap bytes, header says %d",
			len(f)-headerLen, binary.LittleEndian.Uint32(f[offBytes:]))
	}
	return fmt.Errorf("ngram: bitmap of %d bytes does not fit a hash space of 2^%d bits",
		len(f)-headerLen, f[offLog])
}

// bitmap returns the filter's bitmap and whether the filter is well formed.
func (f Filter) bitmap() ([]byte, bool) {
	if len(f) < headerLen || f[offVersion] != version || f[offGramLen] < 1 || f[offGramLen] > 7 {
		return nil, false
	}
	nb := uint64(binary.LittleEndian.Uint32(f[offBytes:]))
	if uint64(len(f)-headerLen) != nb {
		return nil, false
	}
	j, m := uint(f[offLog]), 8*nb
	if m == 0 {
		return nil, j == 0 // the always-true filter
	}
	// A hash of n-byte grams has 64-8n bits (hashBits for this package's
	// n), and the bitmap cannot have more bits than its hash space.
	return f[headerLen:], j <= 64-8*uint(f[offGramLen]) && m <= 1<<j
}

// MayContain reports whether a line added to the filter's Builder may
// contain the needle. False is a proof of absence; true is only a maybe.
func (f Filter) MayContain(n Needle) bool {
	if len(n.hashes) == 0 {
		return true
	}
	bm, ok := f.bitmap()
	if !ok || len(bm) == 0 || f[offGramLen] != gramLen {
		return true
	}
	// Valid ensures j <= hashBits; the masks only spare the compiler's
	// checks for shifts of 64 or more.
	j := uint(f[offLog]) & 63
	sh := uint(hashBits-f[offLog]) & 63
	m := uint64(len(bm)) * 8
	for _, h := range n.hashes {
		// The top j bits of the hash, scaled from [0, 2^j) to [0, m).
		i := (uint64(h) >> sh * m) >> j
		if bm[i>>3]>>(i&7)&1 == 0 {
			return false
		}
	}
	return true
}
