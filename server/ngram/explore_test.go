package ngram

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// simulated filter for arbitrary n and bits/gram
type simF struct {
	n, s int
	m    uint64
	bits []byte
}

func simHash(s string) uint64 {
	var x uint64
	for i := range len(s) {
		x |= uint64(s[i]) << (8 * (8 - len(s) + i))
	}
	return (x * hashMul) >> 24
}

func simBuild(lines []string, n int, bpg float64) (simF, int) { return simBuildS(lines, n, 1, bpg) }

func simBuildS(lines []string, n, stride int, bpg float64) (simF, int) {
	set := map[uint64]struct{}{}
	for _, l := range lines {
		for i := 0; i+n <= len(l); i += stride {
			set[simHash(l[i:i+n])] = struct{}{}
		}
	}
	m := uint64(math.Ceil(float64(len(set))*bpg/8)) * 8
	f := simF{n: n, s: stride, m: m, bits: make([]byte, m/8)}
	for h := range set {
		k := (h * m) >> 40
		f.bits[k>>3] |= 1 << (k & 7)
	}
	return f, len(set)
}

func (f simF) may(s string) bool {
	if len(s) < f.n+f.s-1 {
		return true
	}
outer:
	for r := 0; r < f.s; r++ {
		for i := r; i+f.n <= len(s); i += f.s {
			h := simHash(s[i : i+f.n])
			k := (h * f.m) >> 40
			if f.bits[k>>3]&(1<<(k&7)) == 0 {
				continue outer
			}
		}
		return true
	}
	return false
}

func absentRate(f simF, lines []string, gen func(r *rand.Rand) string, tries int) float64 {
	r := rand.New(rand.NewPCG(5, 5))
	pass, tot := 0, 0
	for range tries {
		s := gen(r)
		present := false
		for _, l := range lines {
			if strings.Contains(l, s) {
				present = true
				break
			}
		}
		if present {
			continue
		}
		tot++
		if f.may(s) {
			pass++
		}
	}
	return float64(pass) / float64(tot)
}

func TestExplore(t *testing.T) {
	if os.Getenv("NGRAM_SWEEP") == "" {
		t.Skip("set NGRAM_SWEEP=1 to run the parameter sweep")
	}
	for _, cn := range []string{"json"} {
		var c corpus
		for _, x := range corpora {
			if x.name == cn {
				c = x
			}
		}
		for _, size := range []int{10000, 20000} {
			lines := genLines(c.gen, 11, size)
			raw := 0
			for _, l := range lines {
				raw += len(l)
			}
			for _, ns := range [][2]int{{4, 1}, {5, 1}, {6, 1}} {
				n, st := ns[0], ns[1]
				for _, bpg := range []float64{0.6, 0.8} {
					f, d := simBuildS(lines, n, st, bpg)
					hex := absentRate(f, lines, func(r *rand.Rand) string { return randHex(r, 32) }, 2000)
					uuid := absentRate(f, lines, func(r *rand.Rand) string { return randUUID(r) }, 1000)
					w := 0
					eng := absentRate(f, lines, func(r *rand.Rand) string { w++; return englishWords[w%len(englishWords)] }, len(englishWords))
					t.Logf("%-5s %5d n=%d s=%d b=%.2f D/line=%5.1f size=%5.2f%% fill~%.2f hex=%.4f uuid=%.4f eng=%.2f",
						cn, size, n, st, bpg, float64(d)/float64(size), 100*float64(f.m/8)/float64(raw), 1-math.Exp(-1/bpg), hex, uuid, eng)
				}
			}
		}
	}
}
