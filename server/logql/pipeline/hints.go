package pipeline

import (
	"slices"
	"strings"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/tmpl"
)

// hints are Loki's parser hints, which decide more than speed, and so are
// followed here as Loki's pipeline follows them:
//
//   - Which labels parsers extract. A metric query whose series keep only
//     some labels (sum by (level) …) needs only those and the ones a stage
//     reads; a parser then sets no other label, stops reading a line once
//     it has them all (a line malformed after them is no error), and does
//     nothing at all when the query needs no label (sum(…) with nothing
//     read): a line it cannot parse is then no error either.
//   - Which label filters parsers apply as they set a label. Wherever a
//     filter on one label stands in the pipeline, the parser that sets
//     that label runs it at once and drops the line if it fails, besides
//     the filter running in its place. Only log queries and metric queries
//     whose series keep every label do this.
//   - Whether errors of parsers are kept. When __error__ is among the
//     needed labels, a parser that fails marks the entry
//     __preserve_error__="true", and a metric query keeps its series
//     instead of failing.
//
// Every label a stage sets as parsed during a line is recorded, and no
// parser sets a recorded label again: label_format's too.
type hints struct {
	required      []string // the labels parsers extract; nil: all of them
	noLabels      bool     // parsers extract nothing
	preserveError bool     // parser errors are kept in metric queries
	// filterNames and filters are the single-label filters of the
	// pipeline in its order. A filter that can name no label adds no name,
	// as in Loki, so a later name may meet an earlier filter.
	filterNames []string
	filters     []stage
}

// PreserveErrorLabel marks an entry whose parser error a metric query
// keeps (Loki's __preserve_error__).
const PreserveErrorLabel = "__preserve_error__"

// newHints builds the hints of a pipeline as Loki's NewParserHint does.
// required are the labels the stages read, groups, without and noLabels
// the grouping of the series, metric the unwrapped label; filterStages
// are the stages whose single-label filters parsers apply.
func newHints(required, groups []string, without, noLabels bool, metric string, filterStages []logql.Stage, post []logql.LabelFilter) (*hints, error) {
	// Each name, and for name_extracted the name a parser finds too: the
	// suffix is added only once a parser sees the collision.
	var names []string
	for _, n := range slices.Concat(required, groups, []string{metric}) {
		if n == "" {
			continue
		}
		names = append(names, n)
		if s, ok := strings.CutSuffix(n, "_extracted"); ok && s != "" {
			names = append(names, s)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	filtered := func() (*hints, error) {
		h := &hints{}
		var fs []logql.LabelFilter
		for _, st := range filterStages {
			if lf, ok := st.(*logql.LabelFilterStage); ok {
				fs = append(fs, lf.Filter)
			}
		}
		// The filters after unwrap count as one: several make an and.
		if len(post) == 1 {
			fs = append(fs, post[0])
		}
		for _, f := range fs {
			if _, ok := f.(*logql.LabelFilterBinary); ok {
				continue
			}
			c, err := compileLabelFilter(f)
			if err != nil {
				return nil, err
			}
			h.filters = append(h.filters, c)
			if name, ok := filterLabel(f); ok {
				h.filterNames = append(h.filterNames, name)
			}
		}
		return h, nil
	}
	if noLabels {
		if len(names) == 0 {
			return &hints{noLabels: true}, nil
		}
		h, err := filtered()
		if err != nil {
			return nil, err
		}
		h.required, h.preserveError = names, slices.Contains(names, ErrorLabel)
		return h, nil
	}
	if without || len(groups) == 0 {
		return filtered()
	}
	return &hints{required: names, preserveError: slices.Contains(names, ErrorLabel)}, nil
}

// filterLabel returns the label a single filter reads; a regexp matcher
// that matches everything reads none (Loki makes it a no-op).
func filterLabel(f logql.LabelFilter) (string, bool) {
	switch f := f.(type) {
	case *logql.LabelMatchFilter:
		m := f.Matcher
		if m.Type == labels.MatchRegexp && (m.Value == ".*" || m.Value == "(?s:.*)") {
			return "", false
		}
		return m.Name, true
	case *logql.NumericFilter:
		return f.Name, true
	case *logql.IPFilter:
		return f.Name, true
	}
	return "", false
}

// requiredLabels returns the labels stages read, as Loki's
// RequiredLabelNames: label filters, the fields of templates and the
// sources of renames.
func requiredLabels(stages []logql.Stage, post []logql.LabelFilter) []string {
	var out []string
	for _, st := range stages {
		switch s := st.(type) {
		case *logql.LabelFilterStage:
			out = filterLabels(out, s.Filter)
		case *logql.LineFormatStage:
			out = append(out, templateFields(s.Template)...)
		case *logql.LabelFormatStage:
			for _, it := range s.Items {
				if it.Template {
					out = append(out, templateFields(it.Value)...)
				} else {
					out = append(out, it.Src)
				}
			}
		}
	}
	for _, f := range post {
		out = filterLabels(out, f)
	}
	return out
}

func filterLabels(out []string, f logql.LabelFilter) []string {
	switch f := f.(type) {
	case *logql.LabelFilterBinary:
		return filterLabels(filterLabels(out, f.L), f.R)
	case *logql.LabelMatchFilter:
		return append(out, f.Matcher.Name)
	case *logql.NumericFilter:
		return append(out, f.Name)
	case *logql.IPFilter:
		return append(out, f.Name)
	}
	return out
}

func templateFields(text string) []string {
	t, err := tmpl.ParseLine(text)
	if err != nil {
		return nil // compiling the stage reports it
	}
	names, _ := t.LabelNames()
	return names
}

// The hints as the builder of one entry sees them. A nil *hints extracts
// everything and applies no filter.

func (b *Builder) shouldExtract(name string) bool {
	return b.hints == nil || b.hints.required == nil || slices.Contains(b.hints.required, name)
}

// isExtracted reports whether a stage set the label as parsed during this
// line, even if a later stage removed it.
func (b *Builder) isExtracted(name string) bool { return slices.Contains(b.extracted, name) }

// allRequiredExtracted reports whether every label the hints require was
// set: parsers may stop.
func (b *Builder) allRequiredExtracted() bool {
	h := b.hints
	if h == nil || len(h.required) == 0 || len(b.extracted) < len(h.required) {
		return false
	}
	for _, n := range h.required {
		if !b.isExtracted(n) {
			return false
		}
	}
	return true
}

// noLabels reports whether parsers may skip the line: the query needs no
// label, or has all it needs.
func (b *Builder) noLabels() bool {
	return b.hints != nil && (b.hints.noLabels || b.allRequiredExtracted())
}

// continueParsing runs the first single-label filter on name, if any, as
// a parser does right after setting the label: false drops the line.
func (b *Builder) continueParsing(name string) bool {
	if b.hints == nil {
		return true
	}
	for i, n := range b.hints.filterNames {
		if n == name {
			_, ok := b.hints.filters[i].process(0, nil, b)
			return ok
		}
	}
	return true
}

// setParserError records a parser's failure; when the hints keep errors,
// the entry is marked so that a metric query keeps it.
func (b *Builder) setParserError(kind, details string) {
	b.SetErr(kind, details)
	if b.hints != nil && b.hints.preserveError {
		b.Set(Parsed, PreserveErrorLabel, "true")
	}
}
