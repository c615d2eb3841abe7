package ngram

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// TestSweep is the parameter sweep behind gramLen and bitsPerGram (see
// FORMAT.md). It simulates the filter for other n and sizes with exact
// distinct counts and the same multiply-shift hash, so it runs without
// changing the constants. NGRAM_SWEEP=1 go test -run Sweep -v
func TestSweep(t *testing.T) {
	if os.Getenv("NGRAM_SWEEP") == "" {
		t.Skip("set NGRAM_SWEEP=1 to run the parameter sweep")
	}
	for _, c := range corpora[:3] {
		for _, size := range []int{1000, 5000, 20000} {
			lines := genLines(c.gen, 11, size)
			raw := 0
			for _, l := range lines {
				raw += len(l)
			}
			for n := 3; n <= 6; n++ {
				for _, bpg := range []float64{0.5, 0.6, 0.7, 0.8, 1.0} {
					f, d := simBuild(lines, n, bpg)
					r := rand.New(rand.NewPCG(5, 5))
					hex := f.passRate(nil, 2000, func() string { return randHex(r, 32) })
					uuid := f.passRate(nil, 1000, func() string { return randUUID(r) })
					w := 0
					eng := f.passRate(lines, len(englishWords), func() string { w++; return englishWords[w-1] })
					t.Logf("%-5s %5d n=%d b=%.2f distinct/line=%5.1f size=%5.2f%% fill=%.2f FP: hex=%.4f uuid=%.4f words=%.2f",
						c.name, size, n, bpg, float64(d)/float64(size), 100*float64(len(f.bits))/float64(raw),
						-math.Expm1(-1/bpg), hex, uuid, eng)
				}
			}
		}
	}
}

// simFilter is the filter for any n <= 8, with exact distinct counting.
type simFilter struct {
	n    int
	m    uint64
	bits []byte
}

// simHash is the top 40 bits of the product, as hashGram's 24 for n = 5:
// enough bits that 6-grams do not collide in the hash itself.
func simHash(s string) uint64 {
	var x uint64
	for i := range len(s) {
		x |= uint64(s[i]) << (8 * (8 - len(s) + i))
	}
	return x * hashMul >> 24
}

func simBuild(lines []string, n int, bpg float64) (simFilter, int) {
	set := map[uint64]struct{}{}
	for _, l := range lines {
		for i := 0; i+n <= len(l); i++ {
			set[simHash(l[i:i+n])] = struct{}{}
		}
	}
	m := uint64(math.Ceil(float64(len(set))*bpg/8)) * 8
	f := simFilter{n: n, m: m, bits: make([]byte, m/8)}
	for h := range set {
		f.set(h)
	}
	return f, len(set)
}

func (f simFilter) index(h uint64) uint64 { return h * f.m >> 40 } // m < 2^24

func (f simFilter) set(h uint64) {
	k := f.index(h)
	f.bits[k>>3] |= 1 << (k & 7)
}

func (f simFilter) may(s string) bool {
	for i := 0; i+f.n <= len(s); i++ {
		k := f.index(simHash(s[i : i+f.n]))
		if f.bits[k>>3]&(1<<(k&7)) == 0 {
			return false
		}
	}
	return true
}

// passRate is the share of generated absent needles the filter passes.
// Needles found in lines are skipped; random 128-bit ids are passed with
// nil lines, as their odds of being present are ~2^-100.
func (f simFilter) passRate(lines []string, tries int, gen func() string) float64 {
	all := strings.Join(lines, "\n")
	pass, n := 0, 0
	for range tries {
		s := gen()
		if lines != nil && strings.Contains(all, s) {
			continue
		}
		n++
		if f.may(s) {
			pass++
		}
	}
	return float64(pass) / float64(max(n, 1))
}
