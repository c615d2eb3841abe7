package pipeline

import (
	"slices"

	"github.com/loam-logs/loam/server/bytesize"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/tmpl"
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
	stages   []logql.Stage
}

// Clone returns an extractor of its own for another goroutine.
func (x *SampleExtractor) Clone() (*SampleExtractor, error) {
	return newSampleExtractor(x.expr, x.grouping, x.stages)
}

// NewSampleExtractor compiles the extraction of a range aggregation.
func NewSampleExtractor(e *logql.RangeAggExpr) (*SampleExtractor, error) {
	return newSampleExtractor(e, e.Grouping, e.Range.Log.Pipeline)
}

// NewSampleExtractorGrouped is NewSampleExtractor with the grouping g in
// place of the range aggregation's own: that of a vector aggregation folded
// into it (sum by (x) (count_over_time(…))). Under by (), which keeps no
// label, parsers that nothing after them reads are not run, as Loki does,
// so a line they cannot parse gives no error either.
func NewSampleExtractorGrouped(e *logql.RangeAggExpr, g *logql.Grouping) (*SampleExtractor, error) {
	stages := e.Range.Log.Pipeline
	if e.Range.Unwrap == nil && g != nil && !g.Without && len(g.Labels) == 0 {
		stages = withoutUnreadParsers(stages)
	}
	return newSampleExtractor(e, g, stages)
}

// withoutUnreadParsers drops the parser stages whose labels no later stage
// reads. Loki's parsers (json, logfmt, pattern, unpack) do nothing when the
// query needs no label, and regexp sets no error: a line they cannot parse
// then gives no error, and unpack leaves the line packed.
func withoutUnreadParsers(stages []logql.Stage) []logql.Stage {
	var out []logql.Stage
	for i, st := range stages {
		if isParser(st) && !slices.ContainsFunc(stages[i+1:], readsLabels) {
			continue
		}
		out = append(out, st)
	}
	return out
}

func isParser(st logql.Stage) bool {
	switch st.(type) {
	case *logql.JSONStage, *logql.LogfmtStage, *logql.RegexpStage, *logql.PatternStage, *logql.UnpackStage:
		return true
	}
	return false
}

// readsLabels reports whether a stage reads labels, as Loki's
// RequiredLabelNames of the stage says: label filters do, templates that
// name a label and renames do; line filters, parsers, decolorize, drop and
// keep do not.
func readsLabels(st logql.Stage) bool {
	switch s := st.(type) {
	case *logql.LineFilter, *logql.DecolorizeStage, *logql.DropStage, *logql.KeepStage:
		return false
	case *logql.LineFormatStage:
		return templateReads(s.Template)
	case *logql.LabelFormatStage:
		for _, it := range s.Items {
			if !it.Template || templateReads(it.Value) {
				return true
			}
		}
		return false
	}
	return !isParser(st)
}

func templateReads(text string) bool {
	t, err := tmpl.ParseLine(text)
	if err != nil {
		return true // the pipeline's compilation reports it
	}
	names, _ := t.LabelNames()
	return len(names) > 0
}

func newSampleExtractor(e *logql.RangeAggExpr, g *logql.Grouping, stages []logql.Stage) (*SampleExtractor, error) {
	pre, err := compile(stages, nil)
	if err != nil {
		return nil, err
	}
	x := &SampleExtractor{pre: pre, kind: CountSamples, expr: e, grouping: g, stages: stages}
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
		if v, ok := b.Get(name); ok {
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
