// Package pipeline runs the stages of a LogQL log pipeline on entries: line
// filters, parsers (json, logfmt, regexp, pattern, unpack), label filters,
// line_format and label_format, drop and keep, decolorize, and the unwrap
// of metric queries.
//
// A Pipeline is compiled once per query and serves one goroutine (its
// parsers keep buffers); each stream gets its own StreamPipeline. Entries that no
// stage changes the labels of cost no allocation: the stream's Result is
// reused.
//
// The stages follow Loki's semantics, quirks included, since answers must
// match Loki's: parsers obey Loki's parser hints (hints.go: which labels
// they extract, label filters applied as they set labels, when they do
// nothing, when errors are kept), label-filter regexps are tested as Loki
// simplifies them (labelre.go), and a metric query drops the line_format
// stages nothing reads after (sample.go).
package pipeline

import (
	"fmt"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
)

// stage is one compiled stage. process returns the line (maybe rewritten)
// and whether the entry is kept.
type stage interface {
	process(ts int64, line []byte, b *Builder) ([]byte, bool)
}

// Pipeline is a compiled log pipeline.
type Pipeline struct {
	stages []stage
	// labelsFixed: no stage can change the labels (only line filters and
	// line-rewriting stages), so every entry of a stream without metadata
	// has the stream's labels.
	labelsFixed bool
	// hints are Loki's parser hints for this pipeline (hints.go).
	hints *hints
}

// New compiles the pipeline of a log query. Its parsers apply the label
// filters of the pipeline as they set labels, as Loki's do.
func New(e *logql.LogSelectorExpr) (*Pipeline, error) {
	p, err := compile(e.Pipeline, nil)
	if err != nil {
		return nil, err
	}
	if p.hints, err = newHints(nil, nil, false, false, "", e.Pipeline, nil); err != nil {
		return nil, err
	}
	return p, nil
}

func compile(stages []logql.Stage, post []logql.LabelFilter) (*Pipeline, error) {
	p := &Pipeline{labelsFixed: true}
	for _, s := range stages {
		st, err := compileStage(s)
		if err != nil {
			return nil, err
		}
		switch s.(type) {
		case *logql.LineFilter, *logql.DecolorizeStage:
		default:
			p.labelsFixed = false
		}
		// Adjacent line filters fuse into one matcher pass.
		p.stages = append(p.stages, st)
	}
	for _, f := range post {
		lf, err := compileLabelFilter(f)
		if err != nil {
			return nil, err
		}
		p.stages = append(p.stages, lf)
		p.labelsFixed = false
	}
	return p, nil
}

func compileStage(s logql.Stage) (stage, error) {
	switch s := s.(type) {
	case *logql.LineFilter:
		m, err := s.Compile()
		if err != nil {
			return nil, err
		}
		return lineFilter{m}, nil
	case *logql.JSONStage:
		return newJSONStage(s)
	case *logql.LogfmtStage:
		return newLogfmtStage(s)
	case *logql.RegexpStage:
		return newRegexpStage(s)
	case *logql.PatternStage:
		return newPatternStage(s)
	case *logql.UnpackStage:
		return newUnpackStage(), nil
	case *logql.DecolorizeStage:
		return decolorizeStage{}, nil
	case *logql.LineFormatStage:
		return newLineFormat(s)
	case *logql.LabelFormatStage:
		return newLabelFormat(s)
	case *logql.DropStage:
		return newDropStage(s.Labels), nil
	case *logql.KeepStage:
		return newKeepStage(s.Labels), nil
	case *logql.LabelFilterStage:
		return compileLabelFilter(s.Filter)
	}
	return nil, fmt.Errorf("unknown stage %s", s)
}

// ForStream returns the pipeline of one stream.
func (p *Pipeline) ForStream(stream labels.Labels) *StreamPipeline {
	sp := &StreamPipeline{p: p, b: &Builder{stream: stream, nBase: len(stream), hints: p.hints}, cache: map[uint64]*Result{}}
	sp.base = &Result{All: stream, Stream: stream, Hash: stream.Hash()}
	return sp
}

// StreamPipeline runs a Pipeline on the entries of one stream. Not safe for
// concurrent use.
type StreamPipeline struct {
	p     *Pipeline
	b     *Builder
	base  *Result
	cache map[uint64]*Result
}

// Process runs the stages on one entry. It returns the line (which may
// alias the input or an internal buffer valid until the next call), the
// labels, and whether the entry is kept.
func (sp *StreamPipeline) Process(ts int64, line []byte, meta labels.Labels) ([]byte, *Result, bool) {
	if sp.p.labelsFixed && len(meta) == 0 {
		for _, s := range sp.p.stages {
			var ok bool
			if line, ok = s.process(ts, line, nil); !ok {
				return nil, nil, false
			}
		}
		return line, sp.base, true
	}
	b := sp.b
	b.reset(meta)
	for _, s := range sp.p.stages {
		var ok bool
		if line, ok = s.process(ts, line, b); !ok {
			return nil, nil, false
		}
	}
	return line, sp.result(), true
}

// result returns the Result of the builder's labels, shared between entries
// with the same labels.
func (sp *StreamPipeline) result() *Result {
	b := sp.b
	if b.unchanged() {
		return sp.base
	}
	h := b.hash()
	if r, ok := sp.cache[h]; ok {
		return r
	}
	r := b.result()
	if len(sp.cache) < maxCachedResults {
		sp.cache[h] = r
	}
	return r
}

// lineFilter is a compiled line filter.
type lineFilter struct{ m logql.LineMatcher }

func (f lineFilter) process(_ int64, line []byte, _ *Builder) ([]byte, bool) {
	return line, f.m.Match(line)
}

// maxCachedResults bounds the label sets a stream keeps for reuse: parsed
// labels of high cardinality (request ids) would otherwise keep one per
// line, for every stream of the query.
const maxCachedResults = 128
