package patterns

import (
	"cmp"
	"slices"
	"strings"
	"testing"
)

// FuzzMiner mines the lines of a text (split at "\n", and again at "\x00"
// into two streams): it never panics, every line is accounted for, the
// counts add up, and every pattern is a valid LogQL pattern filter that
// keeps the lines counted under it.
func FuzzMiner(f *testing.F) {
	for _, tt := range minerTests {
		var b strings.Builder
		for i, e := range tt.lines {
			if i == 3 {
				break
			}
			b.WriteString(e.line)
			b.WriteByte('\n')
		}
		f.Add(b.String(), int64(10e9))
	}
	for _, tt := range tokenizeTests {
		f.Add(tt.in+"\n"+tt.in, int64(1))
	}
	for _, tt := range lineLevelTests {
		f.Add(tt.line, int64(60e9))
	}
	f.Add("a <b> c d\n a <x> c d\x00 a <b> c d", int64(-5))
	f.Add("x <_> y z\nx <_><_> y z\nx <__> y <_>", int64(7))
	f.Fuzz(func(t *testing.T, text string, step int64) {
		m := NewMiner(Options{Step: step})
		var es []entry
		for s, part := range strings.SplitN(text, "\x00", 2) {
			for i, l := range strings.Split(part, "\n") {
				// Timestamps far apart, to exercise bucketing at the edges.
				es = append(es, entry{stream: uint64(s), line: l})
				m.Add(uint64(s), LineLevel([]byte(l)), int64(i)*int64(i)*1e15-4e18, []byte(l))
			}
		}
		st := m.Stats()
		if st.Mined+st.Skipped+st.Unclustered != st.Lines || st.Lines != len(es) {
			t.Fatalf("stats %+v for %d lines", st, len(es))
		}
		ps := m.Patterns(0, 0)
		var total int64
		for _, p := range ps {
			total += p.Total
			var sum int64
			for _, s := range p.Samples {
				sum += s.Count
			}
			if sum != p.Total {
				t.Fatalf("pattern %q: samples add up to %d, total %d", p.Pattern, sum, p.Total)
			}
			if !slices.IsSortedFunc(p.Samples, func(a, b Sample) int { return cmp.Compare(a.T, b.T) }) {
				t.Fatalf("pattern %q: samples out of order: %v", p.Pattern, p.Samples)
			}
		}
		if total != int64(st.Mined) {
			t.Fatalf("patterns count %d lines, %d were mined", total, st.Mined)
		}
		checkMatchesOwnLines(t, ps, es)
	})
}

// FuzzLineLevel: level detection never panics and answers a known level.
func FuzzLineLevel(f *testing.F) {
	for _, tt := range lineLevelTests {
		f.Add(tt.line)
	}
	for _, tt := range tokenizeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got := LineLevel([]byte(line))
		if Level(got) != got {
			t.Fatalf("LineLevel(%q) = %q, not a level", line, got)
		}
	})
}
