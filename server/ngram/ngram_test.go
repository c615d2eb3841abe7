package ngram

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

func build(b *Builder, lines []string) Filter {
	b.Reset()
	for _, l := range lines {
		b.Add([]byte(l))
	}
	return Filter(b.AppendFilter(nil))
}

// TestSubstringsMatch is the correctness property: every substring of every
// added line passes the filter, for every corpus and chunk size.
func TestSubstringsMatch(t *testing.T) {
	var b Builder // reused across chunks: Reset must leave nothing behind
	for _, c := range corpora {
		for _, size := range []int{1, 7, 100, 2000} {
			lines := genLines(c.gen, uint64(size), size)
			f := build(&b, lines)
			if err := f.Valid(); err != nil {
				t.Fatalf("%s/%d: %v", c.name, size, err)
			}
			r := rand.New(rand.NewPCG(uint64(size), 7))
			checked := 0
			for li, l := range lines {
				if li < 8 { // every substring of the first lines
					for i := range len(l) {
						for k := i + gramLen; k <= len(l); k++ {
							mustContain(t, f, l[i:k], c.name, size)
							checked++
						}
					}
					continue
				}
				for range 20 { // a random sample of the rest
					if len(l) < gramLen {
						break
					}
					i := r.IntN(len(l) - gramLen + 1)
					k := i + gramLen + r.IntN(len(l)-i-gramLen+1)
					mustContain(t, f, l[i:k], c.name, size)
					checked++
				}
			}
			if checked == 0 && c.name != "random" {
				t.Fatalf("%s/%d: nothing checked", c.name, size)
			}
		}
	}
}

func mustContain(t *testing.T, f Filter, s, name string, size int) {
	t.Helper()
	if !f.MayContain(NewNeedle(s)) {
		t.Fatalf("%s/%d: false negative for %q", name, size, s)
	}
}

// TestFoldMatchesDirect checks the folding and range reduction bit for bit:
// the bitmap must equal one built directly at the final (j, m) from the
// exact set of gram hashes.
func TestFoldMatchesDirect(t *testing.T) {
	var b Builder
	for _, c := range corpora {
		for _, size := range []int{0, 1, 3, 30, 300, 3000} {
			lines := genLines(c.gen, 99, size)
			f := build(&b, lines)
			bm, ok := f.bitmap()
			if !ok {
				t.Fatalf("%s/%d: invalid filter", c.name, size)
			}
			if len(bm) == 0 {
				continue // always-true
			}
			j := f[offLog]
			m := uint64(len(bm)) * 8
			want := make([]byte, len(bm))
			for _, l := range lines {
				for i := 0; i+gramLen <= len(l); i++ {
					h := hashGram(load(l[i:]))
					k := ((uint64(h) >> (hashBits - j)) * m) >> j // MayContain's index
					want[k>>3] |= 1 << (k & 7)
				}
			}
			if !bytes.Equal(bm, want) {
				t.Fatalf("%s/%d: folded bitmap (j=%d, m=%d) differs from a direct build", c.name, size, j, m)
			}
		}
	}
}

func TestBuilderReuse(t *testing.T) {
	var b Builder
	b.Add([]byte("the quick brown fox"))
	first := Filter(b.AppendFilter(nil))
	again := Filter(b.AppendFilter([]byte("prefix")))
	if !bytes.Equal(again[len("prefix"):], first) || string(again[:6]) != "prefix" {
		t.Fatal("AppendFilter is not repeatable or does not append")
	}
	b.Add([]byte("jumps over the lazy dog"))
	f := Filter(b.AppendFilter(nil))
	for _, s := range []string{"quick", "brown fox", "lazy dog", "jumps"} {
		mustContain(t, f, s, "reuse", 2)
	}
	b.Reset()
	b.Add([]byte("abc")) // no grams
	f = Filter(b.AppendFilter(nil))
	if f.MayContain(NewNeedle("quick brown")) {
		t.Error("Reset kept grams of the previous chunk")
	}
}

func TestEdgeCases(t *testing.T) {
	var b Builder
	empty := Filter(b.AppendFilter(nil))
	if err := empty.Valid(); err != nil {
		t.Fatal(err)
	}
	if empty.MayContain(NewNeedle("hello")) {
		t.Error("a chunk without lines cannot contain a 5-byte needle")
	}
	if !empty.MayContain(NewNeedle("hell")) || !empty.MayContain(NewNeedle("")) {
		t.Error("needles shorter than n must pass")
	}

	b.Add([]byte("abcd"))
	b.Add([]byte(""))
	short := Filter(b.AppendFilter(nil))
	if short.MayContain(NewNeedle("abcde")) {
		t.Error("lines shorter than n hold no 5-byte needle")
	}
	if !short.MayContain(NewNeedle("abcd")) {
		t.Error("short needle must pass")
	}

	// Lines of every length around the 8-byte load boundary.
	s := "0123456789abcdefghijklmnopqrstuv"
	for n := range len(s) {
		b.Reset()
		b.Add([]byte(s[:n]))
		f := Filter(b.AppendFilter(nil))
		for i := range n {
			for k := i + gramLen; k <= n; k++ {
				mustContain(t, f, s[i:k], "prefix", n)
			}
		}
	}

	// Grams do not span lines.
	b.Reset()
	b.Add([]byte("abc"))
	b.Add([]byte("def"))
	if Filter(b.AppendFilter(nil)).MayContain(NewNeedle("abcdef")) {
		t.Error("a gram spanned two lines")
	}

	var zero Needle
	if !Filter(nil).MayContain(zero) || !Filter(nil).MayContain(NewNeedle("hello world")) {
		t.Error("a nil filter must answer true")
	}
}

func TestValidRejectsCorruption(t *testing.T) {
	var b Builder
	for _, l := range genLines(jsonLine, 3, 200) {
		b.Add([]byte(l))
	}
	good := Filter(b.AppendFilter(nil))
	if err := good.Valid(); err != nil {
		t.Fatal(err)
	}
	needle := NewNeedle("0123456789abcdef0123456789abcdef")
	mutate := func(fn func(f []byte) []byte) Filter {
		return Filter(fn(bytes.Clone(good)))
	}
	bad := map[string]Filter{
		"empty":       nil,
		"header only": good[:headerLen-1],
		"truncated":   good[:len(good)-1],
		"trailing":    append(bytes.Clone(good), 0),
		"version":     mutate(func(f []byte) []byte { f[offVersion] = 9; return f }),
		"gram length": mutate(func(f []byte) []byte { f[offGramLen] = 0; return f }),
		"log too big": mutate(func(f []byte) []byte { f[offLog] = hashBits + 1; return f }),
		"log small":   mutate(func(f []byte) []byte { f[offLog] = 3; return f }),
		"size":        mutate(func(f []byte) []byte { binary.LittleEndian.PutUint32(f[offBytes:], 1<<31); return f }),
	}
	for name, f := range bad {
		if f.Valid() == nil {
			t.Errorf("%s: Valid accepted a corrupted filter", name)
		}
		if !f.MayContain(needle) {
			t.Errorf("%s: an invalid filter must answer true", name)
		}
	}
}

// TestAlwaysTrueWhenSaturated: a chunk whose grams would overfill the capped
// bitmap gets the always-true filter instead of useless bytes.
func TestAlwaysTrueWhenSaturated(t *testing.T) {
	var b Builder
	r := rand.New(rand.NewPCG(1, 2))
	line := make([]byte, 400)
	for range 200 {
		for i := range line {
			line[i] = byte(r.Uint32())
		}
		b.Add(line)
	}
	f := Filter(b.AppendFilter(nil))
	if err := f.Valid(); err != nil {
		t.Fatal(err)
	}
	if len(f) != headerLen {
		t.Fatalf("random bytes gave a %d-byte filter, want the %d-byte always-true one", len(f), headerLen)
	}
	if !f.MayContain(NewNeedle("anything at all")) {
		t.Fatal("the always-true filter said false")
	}
}

func TestNeedle(t *testing.T) {
	if g := NewNeedle("abcd").Grams(); g != 0 {
		t.Errorf("short needle has %d grams", g)
	}
	if g := NewNeedle("aaaaaaaaaaaa").Grams(); g != 1 {
		t.Errorf("repeated grams not deduplicated: %d", g)
	}
	if g := NewNeedle(strings.Repeat("x", 4) + "0123456789").Grams(); g != 10 {
		t.Errorf("got %d grams, want 10", g)
	}
}

// FuzzFilter: if the needle occurs in any line the filter must say maybe,
// and garbage bytes read as a filter must never panic. When pick is not
// zero the needle is cut from the data instead, so that present needles,
// the interesting case, are common.
func FuzzFilter(f *testing.F) {
	f.Add([]byte("level=info msg=timeout\nrequest_id=9f1c0a"), "timeout", uint16(0))
	f.Add([]byte("abc\ndef"), "abcdef", uint16(0))
	f.Add([]byte{}, "hello", uint16(0))
	f.Add([]byte("\x01\x05\x15\x01\x00\x00\x00\xff"), "0123456789", uint16(0))
	f.Add([]byte(`{"request_id":"9f1c0a55e2b74d6c8e31f0a2b9c4d7e1"}`), "", uint16(0x1a05))
	var b Builder
	f.Fuzz(func(t *testing.T, data []byte, needle string, pick uint16) {
		if pick != 0 && len(data) > 0 {
			i := int(pick&0xff) % len(data)
			needle = string(data[i:min(len(data), i+int(pick>>8))])
		}
		b.Reset()
		found := false
		for _, l := range bytes.Split(data, []byte("\n")) {
			b.Add(l)
			found = found || bytes.Contains(l, []byte(needle))
		}
		filt := Filter(b.AppendFilter(nil))
		if err := filt.Valid(); err != nil {
			t.Fatal(err)
		}
		n := NewNeedle(needle)
		if found && !filt.MayContain(n) {
			t.Fatalf("false negative for %q", needle)
		}
		// Garbage, and the real filter with a byte damaged.
		g := Filter(data)
		_ = g.MayContain(n)
		_ = g.Valid()
		if len(data) > 0 {
			filt[int(data[0])%len(filt)] ^= data[len(data)-1] | 1
			_ = filt.Valid()
			_ = filt.MayContain(n)
		}
	})
}

// TestDistinctEstimate: the sampled linear count that sizes the filter is
// close to the exact number of distinct grams.
func TestDistinctEstimate(t *testing.T) {
	var b Builder
	for _, c := range corpora {
		for _, size := range []int{100, 1000, 5000} {
			lines := genLines(c.gen, 5, size)
			exact := map[string]struct{}{}
			b.Reset()
			for _, l := range lines {
				b.Add([]byte(l))
				for i := 0; i+gramLen <= len(l); i++ {
					exact[l[i:i+gramLen]] = struct{}{}
				}
			}
			est, want := b.distinct(), float64(len(exact))
			if err := est/want - 1; err < -0.1 || err > 0.1 {
				t.Errorf("%s/%d: estimated %.0f distinct grams, exact %.0f", c.name, size, est, want)
			}
		}
	}
}

// TestHashSpread: structured grams (every 5-digit number, every 5-hex-digit
// string below 2^18) fill the bitmap as uniformly random hashes would,
// 1-exp(-D/m), so the sizing's fill target holds on counters and ids.
// Multiply-shift is not a random function: grams that vary in two isolated
// bytes ("sparse") land on a lattice and spread more evenly than random,
// which raises the fill. That costs false positives on such data, never
// correctness; the test logs it.
func TestHashSpread(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		gram func(i int) string
		tol  float64
	}{
		{"decimal", 100000, func(i int) string { return fmt.Sprintf("%05d", i) }, 0.01},
		{"hex", 1 << 18, func(i int) string { return fmt.Sprintf("%05x", i) }, 0.03},
		{"sparse", 1 << 16, func(i int) string { return string([]byte{'a', byte(i >> 8), 'b', byte(i), 'c'}) }, 1},
	} {
		var b Builder
		for i := range tc.n {
			b.Add([]byte(tc.gram(i)))
		}
		bm, _ := Filter(b.AppendFilter(nil)).bitmap()
		ones := 0
		for _, c := range bm {
			ones += bits.OnesCount8(c)
		}
		m := float64(len(bm) * 8)
		got, want := float64(ones)/m, -math.Expm1(-float64(tc.n)/m)
		t.Logf("%s: %d grams in %.0f bits: fill %.4f, uniform hashing %.4f", tc.name, tc.n, m, got, want)
		if math.Abs(got-want) > tc.tol {
			t.Errorf("%s: fill %.4f, want %.4f", tc.name, got, want)
		}
	}
}

// TestFoldAllSizes checks fold bit for bit against the index MayContain
// computes, for every size class (each power of two, each c in 9..16 at
// each scale) and build bitmaps from nearly empty to nearly full.
func TestFoldAllSizes(t *testing.T) {
	var b Builder
	b.Add([]byte("allocate"))
	r := rand.New(rand.NewPCG(3, 3))
	var sizes []int
	for m := 8; m <= 64; m *= 2 {
		sizes = append(sizes, m)
	}
	for k := 7; k <= buildLog; k++ {
		for c := 9; c <= 16; c++ {
			sizes = append(sizes, c<<(k-4))
		}
	}
	for _, density := range []float64{0.0005, 0.05, 0.5, 0.97} {
		for w := range b.bits {
			var v uint64
			for bit := range 64 {
				if r.Float64() < density {
					v |= 1 << bit
				}
			}
			b.bits[w] = v
		}
		for _, m := range sizes {
			k := bits.Len(uint(m - 1))
			j := min(k+3, buildLog)
			if m == 1<<k {
				j = k
			}
			want := make([]byte, m/8)
			for B := range uint64(1 << buildLog) {
				if b.bits[B>>6]&(1<<(B&63)) != 0 {
					o := ((B >> (buildLog - j)) * uint64(m)) >> j
					want[o>>3] |= 1 << (o & 7)
				}
			}
			got := make([]byte, m/8)
			b.fold(got, m, j)
			if !bytes.Equal(got, want) {
				t.Fatalf("density %g, m=%d, j=%d: fold differs from the index", density, m, j)
			}
		}
	}
}

func TestFilterSize(t *testing.T) {
	for d := 1.0; d < 1e7; d *= 1.07 {
		for _, raw := range []int{1 << 40, int(d * 3)} {
			m, j := filterSize(d, raw)
			if m == 0 {
				continue
			}
			want := min(d*bitsPerGram, 1<<buildLog)
			limit := maxFilterFrac * 8 * float64(raw)
			slack := 8.0 / 9 // the steps between size classes
			if m <= 64 {
				slack = 0.5
			}
			if float64(m) > max(limit, 8) || (float64(m) < want*slack && float64(m) < limit*slack) ||
				(want > 64 && float64(m) > want*1.13+8) {
				t.Errorf("d=%.0f raw=%d: m=%d, want about %.0f, at most %.0f", d, raw, m, want, limit)
			}
			if m%8 != 0 || m > 1<<j || j > buildLog {
				t.Errorf("d=%.0f: m=%d, j=%d", d, m, j)
			}
		}
	}
}
