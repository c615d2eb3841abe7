package patterns

import (
	"cmp"
	"slices"
	"time"
)

// What Patterns keeps by default, as Loki's pattern querier does.
const (
	MinCount    = 30  // patterns seen fewer times are noise
	MaxPatterns = 300 // the most frequent patterns answered
)

// Options bound a Miner. Zero fields take DefaultOptions.
type Options struct {
	// Step is the width of a sample bucket in nanoseconds; buckets start
	// at multiples of Step since the Unix epoch.
	Step int64
	// MaxLines is how many lines the Miner takes; Add refuses more.
	MaxLines int
	// MaxClusters bounds the groups held across all streams; a line that
	// fits none once that many exist is dropped (Stats.Unclustered).
	MaxClusters int
}

// DefaultOptions are applied to zero fields.
var DefaultOptions = Options{
	Step:        int64(10 * time.Second),
	MaxLines:    500_000,
	MaxClusters: 50_000,
}

// Stats counts what a Miner did with the lines it took.
type Stats struct {
	Lines       int // lines given to Add and taken
	Mined       int // lines counted under a group
	Skipped     int // not mined: too long, too few or too many tokens, JSON without message
	Unclustered int // fit no group once MaxClusters groups existed
}

// Pattern is a mined pattern and its counts.
type Pattern struct {
	Pattern string // literal text with <_> for the variable parts
	Level   string // one of the Level constants
	Total   int64  // lines counted, the sum of the samples
	// Samples has one sample per step from the first bucket with a line to
	// the last, zeros included, in time order (without the zeros if that
	// would make more than 100,000 samples).
	Samples []Sample
}

// Sample is the count of lines in the bucket starting at T (unix
// nanoseconds).
type Sample struct {
	T     int64
	Count int64
}

// Miner mines the lines of one query. It is not safe for concurrent use.
type Miner struct {
	opts     Options
	drains   map[drainKey]*drain
	clusters int // across all drains
	stats    Stats
	line     line // reused by every Add
}

// drainKey identifies the lines mined together: Loki mines each stream and
// level apart.
type drainKey struct {
	stream uint64
	level  string
}

// NewMiner returns an empty Miner.
func NewMiner(opts Options) *Miner {
	if opts.Step <= 0 {
		opts.Step = DefaultOptions.Step
	}
	if opts.MaxLines <= 0 {
		opts.MaxLines = DefaultOptions.MaxLines
	}
	if opts.MaxClusters <= 0 {
		opts.MaxClusters = DefaultOptions.MaxClusters
	}
	return &Miner{opts: opts, drains: map[drainKey]*drain{}}
}

// Add mines one line at t (unix nanoseconds) of the stream identified by
// stream (a hash of its labels, say), with its level (see DetectLevel;
// what Level does not know counts as unknown). The line is not retained.
// Add reports whether the Miner takes more lines: false once it has taken
// MaxLines, and then for every further call, which is ignored.
func (m *Miner) Add(stream uint64, level string, t int64, line []byte) bool {
	if m.stats.Lines >= m.opts.MaxLines {
		return false
	}
	m.stats.Lines++
	more := m.stats.Lines < m.opts.MaxLines
	l := &m.line
	if !l.tokenize(line) {
		m.stats.Skipped++
		return more
	}
	key := drainKey{stream, Level(level)}
	d := m.drains[key]
	if d == nil {
		d = newDrain()
		m.drains[key] = d
	}
	c := d.match(l)
	switch {
	case c != nil:
		c.merge(l)
	case m.clusters < m.opts.MaxClusters:
		c = d.add(l)
		m.clusters++
	default:
		m.stats.Unclustered++
		return more
	}
	c.count(t, m.opts.Step)
	m.stats.Mined++
	return more
}

// Stats returns what the Miner did so far.
func (m *Miner) Stats() Stats { return m.stats }

// Patterns returns the patterns seen at least minCount times, the most
// frequent first, at most limit of them (limit <= 0: all). Groups of
// different streams with the same pattern and level are one pattern.
func (m *Miner) Patterns(minCount int64, limit int) []Pattern {
	type patternKey struct{ pattern, level string }
	merged := map[patternKey]*Pattern{}
	var buf []byte
	for key, d := range m.drains {
		for _, root := range d.roots {
			root.walk(func(c *cluster) {
				buf = c.appendPattern(buf[:0])
				k := patternKey{string(buf), key.level}
				p := merged[k]
				if p == nil {
					p = &Pattern{Pattern: k.pattern, Level: k.level}
					merged[k] = p
				}
				p.Total += c.total
				p.Samples = append(p.Samples, c.samples...)
			})
		}
	}
	out := make([]Pattern, 0, len(merged))
	for _, p := range merged {
		if p.Total >= minCount {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b Pattern) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Level, b.Level), cmp.Compare(a.Pattern, b.Pattern))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Samples = fillSteps(out[i].Samples, m.opts.Step)
	}
	return out
}

// walk calls fn for every cluster under n.
func (n *node) walk(fn func(*cluster)) {
	for _, c := range n.clusters {
		fn(c)
	}
	for _, ch := range n.children {
		ch.walk(fn)
	}
	if n.wild != nil {
		n.wild.walk(fn)
	}
}

// maxFill bounds the samples of one pattern after zero filling; the API
// allows 11,000 steps per range.
const maxFill = 100_000

// fillSteps sorts samples by time, adds up those of the same bucket and
// puts a zero in every empty bucket between the first and the last, unless
// that would make more than maxFill samples.
func fillSteps(samples []Sample, step int64) []Sample {
	if len(samples) == 0 {
		return samples
	}
	slices.SortFunc(samples, func(a, b Sample) int { return cmp.Compare(a.T, b.T) })
	// In uint64, the span of any two int64s fits.
	span := uint64(samples[len(samples)-1].T) - uint64(samples[0].T)
	fill := span/uint64(step) < maxFill
	out := make([]Sample, 0, len(samples))
	for _, s := range samples {
		k := len(out)
		if k > 0 && out[k-1].T == s.T {
			out[k-1].Count += s.Count
			continue
		}
		if fill && k > 0 {
			// Bucket starts are multiples of step, so t never passes s.T.
			for t := out[k-1].T + step; t < s.T; t += step {
				out = append(out, Sample{T: t})
			}
		}
		out = append(out, s)
	}
	return out
}
