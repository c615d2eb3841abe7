package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// The repair messages are little-endian binary, with no framing beyond
// their counts: they travel as whole HTTP bodies.
//
//	digests  := count:uvarint { stream:u64 hour:varint entries:uvarint sum:u64 }
//	diffs    := count:uvarint { stream:u64 labels:string hour:varint n:uvarint ts:delta* }
//	times    := labels:string n:uvarint ts:delta*
//	string   := len:uvarint bytes
//	delta*   := n timestamps, ascending, each as the uvarint of its distance
//	            from the one before (the first from 0, as a zigzag varint)
//
// A stream is named by the 64-bit hash of its labels in digests (both
// sides hash the same canonical label text) and by its label text where the
// receiver may not hold it.

// digestKey is one stream's hour.
type digestKey struct {
	stream uint64 // labels.Labels.Hash
	hour   int64  // Unix hour: timestamp / 1h
}

// digest sums up a stream's entries in an hour: their count and the sum of
// a mix of their timestamps. Two replicas holding the same entries have
// equal digests; one missing an entry has not.
type digest struct {
	entries uint64
	sum     uint64
}

// mixTime spreads a timestamp over 64 bits (SplitMix64's finalizer), so
// that sums of different sets collide only by chance.
func mixTime(t int64) uint64 {
	z := uint64(t) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (d *digest) add(ts []int64) {
	d.entries += uint64(len(ts))
	for _, t := range ts {
		d.sum += mixTime(t)
	}
}

// errBadRepair is a repair message that does not decode.
var errBadRepair = errors.New("corrupt repair message")

func appendDigests(dst []byte, ds map[digestKey]digest) []byte {
	keys := make([]digestKey, 0, len(ds))
	for k := range ds {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b digestKey) int {
		if a.stream != b.stream {
			return cmpU64(a.stream, b.stream)
		}
		return int(a.hour - b.hour)
	})
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		d := ds[k]
		dst = binary.LittleEndian.AppendUint64(dst, k.stream)
		dst = binary.AppendVarint(dst, k.hour)
		dst = binary.AppendUvarint(dst, d.entries)
		dst = binary.LittleEndian.AppendUint64(dst, d.sum)
	}
	return dst
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decodeDigests(b []byte) (map[digestKey]digest, error) {
	r := reader{b: b}
	n := r.count(8 + 1 + 1 + 8)
	out := make(map[digestKey]digest, n)
	for range n {
		k := digestKey{stream: r.u64(), hour: r.varint()}
		d := digest{entries: r.uvarint(), sum: r.u64()}
		if r.err != nil {
			break
		}
		out[k] = d
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return out, nil
}

// diff is one stream's hour where two replicas differ: the stream, its
// labels (empty when the sender does not hold it) and the timestamps the
// sender holds there.
type diff struct {
	stream uint64
	labels string
	hour   int64
	ts     []int64 // ascending
}

func appendDiffs(dst []byte, ds []diff) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ds)))
	for _, d := range ds {
		dst = binary.LittleEndian.AppendUint64(dst, d.stream)
		dst = appendString(dst, d.labels)
		dst = binary.AppendVarint(dst, d.hour)
		dst = appendTimes(dst, d.ts)
	}
	return dst
}

func decodeDiffs(b []byte) ([]diff, error) {
	r := reader{b: b}
	n := r.count(8 + 3)
	out := make([]diff, 0, n)
	for range n {
		d := diff{stream: r.u64(), labels: r.string(), hour: r.varint(), ts: r.times()}
		if r.err != nil {
			break
		}
		out = append(out, d)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return out, nil
}

// appendTimes writes ascending timestamps as deltas.
func appendTimes(dst []byte, ts []int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	prev := int64(0)
	for i, t := range ts {
		if i == 0 {
			dst = binary.AppendVarint(dst, t)
		} else {
			dst = binary.AppendUvarint(dst, uint64(t-prev))
		}
		prev = t
	}
	return dst
}

// reader decodes a message, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errBadRepair
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// count reads an element count, refusing one that the rest of the message
// cannot hold at minSize bytes an element.
func (r *reader) count(minSize int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/minSize) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) times() []int64 {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	ts := make([]int64, n)
	for i := range ts {
		if i == 0 {
			ts[i] = r.varint()
			continue
		}
		d := r.uvarint()
		if d > math.MaxInt64 || ts[i-1] > math.MaxInt64-int64(d) {
			r.fail()
		}
		ts[i] = ts[i-1] + int64(d)
	}
	if r.err != nil {
		return nil
	}
	return ts
}

func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after its end", errBadRepair, len(r.b))
	}
	return nil
}
