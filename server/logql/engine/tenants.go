package engine

import (
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql/pipeline"
	"github.com/loam-logs/loam/server/tenants"
)

// A multi-tenant query (Params.MultiTenant) reads through a
// tenants.Reader, whose streams carry their tenant in tenants.Label. As in
// Loki, where the tenant is added above the queriers that run the
// pipeline, the pipeline and a range aggregation's grouping run on the
// stream's labels without it, and what they answer gets it back (a
// __tenant_id__ they made is kept as original___tenant_id__). A vector
// aggregation, above, treats it as any label: sum by (__tenant_id__)
// keeps it, sum by (app) drops it.

// logProcessor runs a log pipeline on the entries of one stream.
type logProcessor interface {
	Process(ts int64, line []byte, meta labels.Labels) ([]byte, *pipeline.Result, bool)
}

// sampleProcessor runs a sample extractor on the entries of one stream.
type sampleProcessor interface {
	Process(ts int64, line []byte, meta labels.Labels) (float64, *pipeline.Result, bool)
}

// maxTaggedResults bounds the tagged results a stream remembers; more are
// tagged anew each time.
const maxTaggedResults = 4096

// resultTagger tags the results of one stream's pipeline with its tenant,
// each distinct result once (a pipeline shares a result among the entries
// with the same labels).
type resultTagger struct {
	id   string
	done map[*pipeline.Result]*pipeline.Result
}

func (t *resultTagger) of(r *pipeline.Result) *pipeline.Result {
	if out, ok := t.done[r]; ok {
		return out
	}
	out := tenants.TagResult(r, t.id)
	if t.done == nil {
		t.done = map[*pipeline.Result]*pipeline.Result{}
	}
	if len(t.done) < maxTaggedResults {
		t.done[r] = out
	}
	return out
}

type taggedLogs struct {
	sp  logProcessor
	tag resultTagger
}

func (t *taggedLogs) Process(ts int64, line []byte, meta labels.Labels) ([]byte, *pipeline.Result, bool) {
	out, r, ok := t.sp.Process(ts, line, meta)
	if !ok {
		return nil, nil, false
	}
	return out, t.tag.of(r), true
}

type taggedSamples struct {
	sx  sampleProcessor
	tag resultTagger
}

func (t *taggedSamples) Process(ts int64, line []byte, meta labels.Labels) (float64, *pipeline.Result, bool) {
	v, r, ok := t.sx.Process(ts, line, meta)
	if !ok {
		return 0, nil, false
	}
	return v, t.tag.of(r), true
}

// logPipelines returns the maker of the per-stream pipelines of pl.
func logPipelines(pl *pipeline.Pipeline, multi bool) func(labels.Labels) logProcessor {
	if !multi {
		return func(ls labels.Labels) logProcessor { return pl.ForStream(ls) }
	}
	return func(ls labels.Labels) logProcessor {
		rest, id, ok := tenants.Untag(ls)
		if !ok {
			return pl.ForStream(ls)
		}
		return &taggedLogs{sp: pl.ForStream(rest), tag: resultTagger{id: id}}
	}
}

// sampleExtractors returns the maker of the per-stream extractors of ext.
func sampleExtractors(ext *pipeline.SampleExtractor, multi bool) func(labels.Labels) sampleProcessor {
	if !multi {
		return func(ls labels.Labels) sampleProcessor { return ext.ForStream(ls) }
	}
	return func(ls labels.Labels) sampleProcessor {
		rest, id, ok := tenants.Untag(ls)
		if !ok {
			return ext.ForStream(ls)
		}
		return &taggedSamples{sx: ext.ForStream(rest), tag: resultTagger{id: id}}
	}
}
