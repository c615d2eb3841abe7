package pipeline

import (
	"slices"

	"github.com/loam-logs/loam/server/bytesize"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
)

// SampleKind is what a range aggregation takes from an entry.
type SampleKind int

const (
	CountSamples  SampleKind = iota // 1 per entry: count_over_time, rate, absent_over_time
	BytesSamples                    // the line's length: bytes_over_time, bytes_rate
	UnwrapSamples                   // a label's value: | unwrap
)

// SampleExtractor turns entries into samples for a range aggregation; each
// stream gets its own StreamExtractor. It serves one goroutine, its stages
// keeping buffers: Clone gives another goroutine its own.
type SampleExtractor struct {
	pre    *Pipeline
	post   *Pipeline // label filters after unwrap
	kind   SampleKind
	label  string // unwrapped label
	conv   func(string) (float64, error)
	groups []string // sorted; by when !without
	// without removes the groups; when no grouping was written, the
	// unwrapped label is removed (Loki does the same).
	without bool
	// noGrouping: the series are the full label sets.
	noGrouping bool
	// What it was compiled from, for Clone.
	expr     *logql.RangeAggExpr
	grouping *logql.Grouping
}

// Clone returns an extractor of its own for another goroutine.
func (x *SampleExtractor) Clone() (*SampleExtractor, error) {
	return newSampleExtractor(x.expr, x.grouping)
}

// NewSampleExtractor compiles the extraction of a range aggregation.
func NewSampleExtractor(e *logql.RangeAggExpr) (*SampleExtractor, error) {
	return newSampleExtractor(e, e.Grouping)
}

// NewSampleExtractorGrouped is NewSampleExtractor with the grouping g in
// place of the range aggregation's own: that of a vector aggregation folded
// into it (sum by (x) (count_over_time(…))), or by () when no label
// matters (absent_over_time). The grouping decides the parser hints too:
// under by (), parsers whose labels nothing reads do nothing, so a line
// they cannot parse gives no error, as in Loki.
func NewSampleExtractorGrouped(e *logql.RangeAggExpr, g *logql.Grouping) (*SampleExtractor, error) {
	return newSampleExtractor(e, g)
}

// withoutLineFormat drops the line_format stages after which no parser
// nor line filter reads the line, as Loki's query optimiser does for
// metric queries other than bytes_over_time and bytes_rate: their template
// errors then never happen, and label_format sees the original line.
func withoutLineFormat(stages []logql.Stage) []logql.Stage {
	var out []logql.Stage
	for i, st := range stages {
		if _, ok := st.(*logql.LineFormatStage); ok && !slices.ContainsFunc(stages[i:], readsLine) {
			continue
		}
		out = append(out, st)
	}
	return out
}

func readsLine(st logql.Stage) bool {
	switch st.(type) {
	case *logql.JSONStage, *logql.LogfmtStage, *logql.RegexpStage, *logql.PatternStage, *logql.UnpackStage, *logql.LineFilter:
		return true
	}
	return false
}

func newSampleExtractor(e *logql.RangeAggExpr, g *logql.Grouping) (*SampleExtractor, error) {
	stages := e.Range.Log.Pipeline
	if e.Op != "bytes_over_time" && e.Op != "bytes_rate" {
		stages = withoutLineFormat(stages)
	}
	pre, err := compile(stages, nil)
	if err != nil {
		return nil, err
	}
	// The hints, from the grouping as Loki's extractors see it.
	var groups []string
	var without, noLabels bool
	var metric string
	var post []logql.LabelFilter
	if g != nil {
		groups, without = slices.Clone(g.Labels), g.Without
		noLabels = !g.Without && len(g.Labels) == 0
	}
	if e.Op == "absent_over_time" {
		noLabels = true
	}
	if u := e.Range.Unwrap; u != nil {
		metric, post = u.Label, u.PostFilters
		if len(groups) == 0 || without {
			without, groups = true, append(groups, u.Label)
		}
	}
	if pre.hints, err = newHints(requiredLabels(stages, post), groups, without, noLabels, metric, stages, post); err != nil {
		return nil, err
	}
	x := &SampleExtractor{pre: pre, kind: CountSamples, expr: e, grouping: g}
	switch e.Op {
	case "bytes_over_time", "bytes_rate":
		x.kind = BytesSamples
	}
	if u := e.Range.Unwrap; u != nil {
		x.kind = UnwrapSamples
		x.label = u.Label
		switch u.Conv {
		case "duration", "duration_seconds":
			x.conv = parseDurationSeconds
		case "bytes":
			x.conv = func(v string) (float64, error) {
				b, err := bytesize.Parse(v)
				return float64(b), err
			}
		default:
			x.conv = parseFloat
		}
		if x.post, err = compile(nil, u.PostFilters); err != nil {
			return nil, err
		}
	}
	switch {
	case g != nil && !g.Without:
		x.groups = slices.Clone(g.Labels)
	case g != nil:
		x.without = true
		x.groups = slices.Clone(g.Labels)
	default:
		x.without = true
	}
	if x.kind == UnwrapSamples && x.without {
		x.groups = append(x.groups, x.label)
	}
	slices.Sort(x.groups)
	x.noGrouping = x.without && len(x.groups) == 0
	return x, nil
}

// NoStages reports whether the log query has no pipeline at all: every
// entry of the selected streams gives a sample, and only its time matters
// for counting.
func (x *SampleExtractor) NoStages() bool { return len(x.pre.stages) == 0 && x.post == nil }

// LineFiltersOnly reports whether the pipeline is line filters at most,
// and returns them as one predicate (nil when there is none): the series
// are then the streams, and only the lines matter.
func (x *SampleExtractor) LineFiltersOnly() (func(line []byte) bool, bool) {
	if x.post != nil {
		return nil, false
	}
	var ms []logql.LineMatcher
	for _, st := range x.pre.stages {
		f, ok := st.(lineFilter)
		if !ok {
			return nil, false
		}
		ms = append(ms, f.m)
	}
	switch len(ms) {
	case 0:
		return nil, true
	case 1:
		return ms[0].Match, true
	}
	return func(line []byte) bool {
		for _, m := range ms {
			if !m.Match(line) {
				return false
			}
		}
		return true
	}, true
}

// Kind returns what the extractor takes from an entry.
func (x *SampleExtractor) Kind() SampleKind { return x.kind }

// ForStream returns the extractor of one stream.
func (x *SampleExtractor) ForStream(stream labels.Labels) *StreamExtractor {
	s := &StreamExtractor{x: x, sp: x.pre.ForStream(stream), cache: map[uint64]*Result{}}
	return s
}

// StreamExtractor extracts the samples of one stream. Not safe for
// concurrent use.
type StreamExtractor struct {
	x     *SampleExtractor
	sp    *StreamPipeline
	cache map[uint64]*Result // by the hash of all labels
	fixed *Result            // the grouped labels when the labels never change
	// byCache holds the series of a by (…) grouping, by their own hash.
	byCache map[uint64]*Result
	buf     labels.Labels
}

// Process returns the sample of one entry: its value and its series
// labels; ok is false when the entry gives no sample.
func (s *StreamExtractor) Process(ts int64, line []byte, meta labels.Labels) (float64, *Result, bool) {
	sp := s.sp
	x := s.x
	if x.kind != UnwrapSamples && sp.p.labelsFixed && len(meta) == 0 {
		out, r, ok := sp.Process(ts, line, nil)
		if !ok {
			return 0, nil, false
		}
		if s.fixed == nil {
			s.fixed = s.group(r.All)
		}
		if x.kind == BytesSamples {
			return float64(len(out)), s.fixed, true
		}
		return 1, s.fixed, true
	}
	b := sp.b
	b.reset(meta)
	for _, st := range sp.p.stages {
		var ok bool
		if line, ok = st.process(ts, line, b); !ok {
			return 0, nil, false
		}
	}
	v := 1.0
	switch x.kind {
	case BytesSamples:
		v = float64(len(line))
	case UnwrapSamples:
		str, _ := b.Get(x.label)
		if str == "" {
			return 0, nil, false // entries without the label give no sample
		}
		var err error
		if v, err = x.conv(str); err != nil {
			b.SetErr("SampleExtractionErr", err.Error())
		}
		for _, st := range x.post.stages {
			var ok bool
			if line, ok = st.process(ts, line, b); !ok {
				return 0, nil, false
			}
		}
	}
	if b.HasErr() {
		// Errors survive grouping so that the query can report them.
		return v, sp.result(), true
	}
	if x.noGrouping {
		return v, sp.result(), true
	}
	if !x.without {
		return v, s.byGroups(b), true
	}
	h := b.hash()
	if r, ok := s.cache[h]; ok {
		return v, r, true
	}
	r := s.group(sp.result().All)
	if len(s.cache) < maxCachedResults {
		s.cache[h] = r
	}
	return v, r, true
}

// byGroups returns the series of a by (…) grouping: the few grouped labels
// are looked up in the builder, so the labels parsers found in a line
// (request ids, durations: a new set per line) are never sorted nor hashed.
func (s *StreamExtractor) byGroups(b *Builder) *Result {
	s.buf = s.buf[:0]
	for _, name := range s.x.groups {
		// Entries with an error took another path: error details left
		// without an error are not a label here, as in Loki.
		if v, ok := b.label(name); ok {
			s.buf = append(s.buf, labels.Label{Name: name, Value: v})
		}
	}
	h := s.buf.Hash()
	if r, ok := s.byCache[h]; ok && r.All.Equal(s.buf) {
		return r
	}
	r := &Result{All: slices.Clone(s.buf), Hash: h}
	if s.byCache == nil {
		s.byCache = map[uint64]*Result{}
	}
	if len(s.byCache) < maxCachedResults {
		s.byCache[h] = r
	}
	return r
}

// group applies the extractor's grouping to a label set.
func (s *StreamExtractor) group(all labels.Labels) *Result {
	g := s.x.Group(all)
	return &Result{All: g, Hash: g.Hash()}
}

// Group returns the labels of the series an entry with labels all counts
// towards: the extractor's grouping applied.
func (x *SampleExtractor) Group(all labels.Labels) labels.Labels {
	if x.noGrouping {
		return all
	}
	out := make(labels.Labels, 0, len(all))
	for _, l := range all {
		_, in := slices.BinarySearch(x.groups, l.Name)
		if in != x.without {
			out = append(out, l)
		}
	}
	return out
}
