package ring

import (
	"slices"

	"github.com/cespare/xxhash/v2"
)

// DefaultTokens is the number of tokens of a member (-ring.tokens);
// MaxTokens is the most a member may have.
const (
	DefaultTokens = 128
	MaxTokens     = 4096
)

// Tokens returns n distinct tokens for the member name, ascending. They
// depend on the name alone, so a node that restarts under its name gets
// its tokens (and its keys) back without keeping them anywhere: a
// splitmix64 sequence seeded with the name's xxhash, high halves kept.
func Tokens(name string, n int) []uint32 {
	if n <= 0 {
		return nil
	}
	out := make([]uint32, 0, n)
	seen := make(map[uint32]struct{}, n)
	x := xxhash.Sum64String(name)
	for len(out) < n {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		t := uint32(z >> 32)
		if _, dup := seen[t]; dup {
			continue
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

var zero = []byte{0}

// StreamKey is the ring key of a stream: xxhash of the tenant, a zero
// byte and the stream's canonical label text ({a="1", b="2"} as
// labels.Labels prints it), folded to 32 bits. Every node must hash the
// same text for a stream, so the caller passes the canonical form.
func StreamKey(tenant, labels string) uint32 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(tenant)
	d.Write(zero)
	d.WriteString(labels)
	h := d.Sum64()
	return uint32(h) ^ uint32(h>>32)
}
