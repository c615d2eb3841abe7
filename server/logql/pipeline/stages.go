package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/loam-logs/loam/server/bytesize"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/extract"
	"github.com/loam-logs/loam/server/logql/tmpl"
)

// setError records a parser error on the builder.
func setError(b *Builder, e *extract.Error) {
	if e != nil {
		b.setParserError(e.Kind, e.Details)
	}
}

func params(ps []logql.Param) []extract.Param {
	out := make([]extract.Param, len(ps))
	for i, p := range ps {
		out[i] = extract.Param{Name: p.Name, Expr: p.Expr}
	}
	return out
}

// The extractors keep name caches and buffers: each stage owns one, so a
// Pipeline serves one goroutine (the engine compiles one per query).

type jsonStage struct {
	j     *extract.JSON
	paths *extract.JSONPaths
}

func newJSONStage(s *logql.JSONStage) (stage, error) {
	if len(s.Params) == 0 {
		return &jsonStage{j: extract.NewJSON()}, nil
	}
	j, err := extract.NewJSONPaths(params(s.Params))
	if err != nil {
		return nil, err
	}
	return &jsonStage{paths: j}, nil
}

// The parsers follow Loki's parser hints (hints.go): a parser sets no label
// the query does not need nor one already set as parsed, runs the pipeline's
// filter on a label as soon as it sets it (dropping the line when it
// fails), and stops once every needed label is set.

// parsed is the Emit of the parsers without parameters: name is the label's
// name after a collision; *drop is set when a filter drops the line.
func parsed(b *Builder, drop *bool) extract.Emit {
	return func(name, value string) bool {
		if !b.shouldExtract(name) || b.isExtracted(name) {
			return true
		}
		b.Set(Parsed, name, value)
		if !b.continueParsing(name) {
			*drop = true
			return false
		}
		return !b.allRequiredExtracted()
	}
}

func (s *jsonStage) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	if b.noLabels() {
		return line, true
	}
	if s.paths != nil {
		err := s.paths.Extract(line, func(name, value string) bool {
			if b.collides(name) {
				name += "_extracted"
			}
			b.Set(Parsed, name, value)
			return true
		}, func(name string) {
			if _, ok := b.Get(name); !ok {
				b.Set(Parsed, name, "")
			}
		})
		setError(b, err)
		return line, true
	}
	drop := false
	emit := parsed(b, &drop)
	err := s.j.Extract(line, func(name, value string) bool {
		if b.collides(name) {
			name = s.j.ExtractedName(name)
		}
		return emit(name, value)
	})
	if drop {
		return line, false
	}
	setError(b, err)
	return line, true
}

type logfmtStage struct {
	l      *extract.Logfmt
	params bool
}

func newLogfmtStage(s *logql.LogfmtStage) (stage, error) {
	l, err := extract.NewLogfmt(s.Strict, s.KeepEmpty, params(s.Params))
	if err != nil {
		return nil, err
	}
	return &logfmtStage{l: l, params: len(s.Params) > 0}, nil
}

func (s *logfmtStage) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	if b.noLabels() {
		return line, true
	}
	if s.params {
		s.withParams(line, b)
		return line, true
	}
	drop := false
	emit := parsed(b, &drop)
	err := s.l.Extract(line, func(name, value string) bool {
		if b.collides(name) {
			name += "_extracted"
		}
		return emit(name, value)
	})
	if drop {
		return line, false
	}
	if err != nil {
		setError(b, err)
		// A filter on __error__ applies as soon as the error is set.
		return line, b.continueParsing(ErrorLabel)
	}
	return line, true
}

// withParams is | logfmt a="key", …, as Loki's logfmt expression parser:
// every parameter is first set to "" unless the stream or the metadata has
// it; a pair is read under its parameter's name, also when already set,
// but a key that is no parameter name is skipped when already extracted or
// not needed; a colliding name_extracted already set stops the line.
func (s *logfmtStage) withParams(line []byte, b *Builder) {
	names := s.l.Names()
	for _, name := range names {
		if !b.collides(name) {
			b.Set(Parsed, name, "")
		}
	}
	err := s.l.Extract(line, func(name, value string) bool {
		if key := s.l.Key(); !slices.Contains(names, key) && (!b.shouldExtract(key) || b.isExtracted(key)) {
			return true
		}
		if b.collides(name) {
			name += "_extracted"
			if b.isExtracted(name) || !b.shouldExtract(name) {
				return false
			}
		}
		b.Set(Parsed, name, value)
		return !b.allRequiredExtracted()
	})
	setError(b, err)
}

type regexpStage struct{ r *extract.Regexp }

func newRegexpStage(s *logql.RegexpStage) (stage, error) {
	r, err := extract.NewRegexp(s.Expr)
	if err != nil {
		return nil, err
	}
	return regexpStage{r}, nil
}

// process runs even when the query needs no label, as Loki's regexp
// parser does (it never fails a line).
func (s regexpStage) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	return line, setEach(b, func(emit extract.Emit) { s.r.Extract(line, emit) })
}

// setEach sets what a regexp or pattern extractor emits: every capture is
// tried, even once the needed labels are set, as in Loki; false when a
// filter drops the line.
func setEach(b *Builder, extract func(extract.Emit)) bool {
	drop := false
	emit := parsed(b, &drop)
	extract(func(name, value string) bool {
		if b.collides(name) {
			name += "_extracted"
		}
		emit(name, value)
		return !drop
	})
	return !drop
}

type patternStage struct{ p *extract.Pattern }

func newPatternStage(s *logql.PatternStage) (stage, error) {
	p, err := extract.NewPattern(s.Pattern)
	if err != nil {
		return nil, err
	}
	return patternStage{p}, nil
}

func (s patternStage) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	if b.noLabels() {
		return line, true
	}
	return line, setEach(b, func(emit extract.Emit) { s.p.Extract(line, emit) })
}

// unpackStage is | unpack. Loki decides each label while reading but sets
// them only for a line with an _entry member and no error.
type unpackStage struct {
	u       *extract.Unpack
	pending [][2]string
}

func (s *unpackStage) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	if b.noLabels() {
		return line, true
	}
	s.pending = s.pending[:0]
	entry, packed, err := s.u.Extract(line, func(key, value string) {
		name := key
		if b.collides(key) {
			name = key + "_extracted"
		}
		if !b.shouldExtract(name) || b.isExtracted(name) {
			return
		}
		s.pending = append(s.pending, [2]string{extract.SanitizeName(name), value})
	})
	if err != nil {
		setError(b, err)
		return line, true
	}
	if !packed {
		return line, true
	}
	// The labels decided while reading are all set, later ones winning.
	out := append([]byte(nil), entry...)
	for _, kv := range s.pending {
		b.Set(Parsed, kv[0], kv[1])
		if !b.continueParsing(kv[0]) {
			return out, false
		}
	}
	return out, true
}

// decolorizeStage removes ANSI escape sequences.
type decolorizeStage struct{}

// ansi matches the escape sequences terminals use for colours and cursor
// movement: CSI sequences (ESC [ … final byte) and OSC strings ending in BEL.
var ansi = regexp.MustCompile("[\x1b\u009b][\\[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\x07)|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))")

func (decolorizeStage) process(_ int64, line []byte, _ *Builder) ([]byte, bool) {
	if !containsEsc(line) {
		return line, true
	}
	return ansi.ReplaceAll(line, nil), true
}

func containsEsc(line []byte) bool {
	for i := 0; i < len(line); i++ {
		if line[i] == 0x1b || line[i] == 0xc2 && i+1 < len(line) && line[i+1] == 0x9b {
			return true
		}
	}
	return false
}

func newLineFormat(s *logql.LineFormatStage) (stage, error) {
	t, err := tmpl.ParseLine(s.Template)
	if err != nil {
		return nil, err
	}
	return &lineFormatStage{t: t}, nil
}

// lineFormatStage is line_format: the template's output becomes the line.
// It keeps no buffer: a Pipeline is shared between goroutines, so each
// output is a fresh slice.
type lineFormatStage struct{ t *tmpl.Template }

func (s *lineFormatStage) process(ts int64, line []byte, b *Builder) ([]byte, bool) {
	if lit, ok := s.t.Literal(); ok {
		return []byte(lit), true
	}
	if name, ok := s.t.SimpleKey(); ok {
		v, _ := b.label(name)
		return []byte(v), true
	}
	out, err := s.t.Execute(nil, line, ts, b.Map())
	if err != nil {
		b.SetErr(tmpl.ErrorType, err.Error())
		return line, true
	}
	return out, true
}

// labelFormat is label_format: renames and templates.
type labelFormat struct {
	items []labelFormatItem
}

type labelFormatItem struct {
	dst, src string
	t        *tmpl.Template // nil for a rename
}

func newLabelFormat(s *logql.LabelFormatStage) (stage, error) {
	lf := &labelFormat{}
	for _, it := range s.Items {
		item := labelFormatItem{dst: it.Dst, src: it.Src}
		if it.Template {
			t, err := tmpl.ParseLabel(it.Dst, it.Value)
			if err != nil {
				return nil, err
			}
			item.t = t
		}
		lf.items = append(lf.items, item)
	}
	return lf, nil
}

func (s *labelFormat) process(ts int64, line []byte, b *Builder) ([]byte, bool) {
	var data map[string]string
	for _, it := range s.items {
		if it.t == nil {
			i := b.find(it.src)
			if i < 0 {
				continue
			}
			// The renamed label is a parsed one, whatever it was (as in Loki).
			v := b.ents[i].value
			b.Del(it.src)
			b.Set(Parsed, it.dst, v)
			continue
		}
		if data == nil {
			data = b.Map()
		}
		v, err := it.t.ExecuteString(line, ts, data)
		if err != nil {
			b.SetErr(tmpl.ErrorType, err.Error())
			continue
		}
		b.Set(Parsed, it.dst, v)
	}
	return line, true
}

// dropStage is drop: it removes labels, or those whose value matches.
type dropStage struct{ refs []logql.LabelRef }

func newDropStage(refs []logql.LabelRef) stage { return dropStage{refs} }

func (s dropStage) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	for _, r := range s.refs {
		if r.Matcher == nil {
			b.Del(r.Name)
			continue
		}
		if v, ok := b.Get(r.Name); ok && r.Matcher.Matches(v) {
			b.Del(r.Name)
		}
	}
	return line, true
}

// keepStage is keep: every label not listed (or whose value does not
// match) is removed, except __error__ and __error_details__.
type keepStage struct{ refs []logql.LabelRef }

func newKeepStage(refs []logql.LabelRef) stage { return keepStage{refs} }

func (s keepStage) keeps(name, value string) bool {
	for _, r := range s.refs {
		if r.Name == name && (r.Matcher == nil || r.Matcher.Matches(value)) {
			return true
		}
	}
	return false
}

func (s keepStage) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	for i := range b.ents {
		e := &b.ents[i]
		if !e.deleted && e.name != PreserveErrorLabel && !s.keeps(e.name, e.value) {
			e.deleted = true
		}
	}
	// The error labels stay, as in Loki, so that a failed stage still fails
	// a metric query unless a filter on __error__ drops the entry.
	return line, true
}

// matcherFilter is a string label filter.
type matcherFilter struct{ m *labels.Matcher }

func (f matcherFilter) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	v, _ := b.Get(f.m.Name)
	return line, f.m.Matches(v)
}

// valueFilter is a regexp label filter, tested as Loki tests it
// (labelre.go).
type valueFilter struct {
	name string
	test valueTest
}

func (f valueFilter) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	v, _ := b.Get(f.name)
	return line, f.test(v)
}

func compileLabelFilter(f logql.LabelFilter) (stage, error) {
	switch f := f.(type) {
	case *logql.LabelFilterBinary:
		l, err := compileLabelFilter(f.L)
		if err != nil {
			return nil, err
		}
		r, err := compileLabelFilter(f.R)
		if err != nil {
			return nil, err
		}
		return binaryFilter{or: f.Or, l: l, r: r}, nil
	case *logql.LabelMatchFilter:
		switch m := f.Matcher; m.Type {
		case labels.MatchRegexp, labels.MatchNotRegexp:
			t, err := labelRegexp(m.Value, m.Type == labels.MatchNotRegexp)
			if err != nil {
				return nil, err
			}
			return valueFilter{name: m.Name, test: t}, nil
		}
		return matcherFilter{f.Matcher}, nil
	case *logql.NumericFilter:
		nf := numericFilter{f: f, value: f.Value}
		if f.Kind == logql.KindBytes {
			nf.value = lokiBytes(f.Value)
		}
		return nf, nil
	case *logql.IPFilter:
		r, err := logql.ParseIPRange(f.Range)
		if err != nil {
			return nil, err
		}
		return ipFilter{name: f.Name, negated: f.Negated, m: logql.IPMatcher(r)}, nil
	}
	return nil, fmt.Errorf("unknown label filter %s", f)
}

// binaryFilter is and / or of two label filters. or stops at a kept left
// side, so the right side sets no error then.
type binaryFilter struct {
	or   bool
	l, r stage
}

func (f binaryFilter) process(ts int64, line []byte, b *Builder) ([]byte, bool) {
	line, lok := f.l.process(ts, line, b)
	if f.or && lok {
		return line, true
	}
	line, rok := f.r.process(ts, line, b)
	if f.or {
		return line, lok || rok
	}
	return line, lok && rok
}

// numericFilter compares a label as a number, a duration or a byte size.
// As in Loki, an entry without the label fails, whether or not a stage
// failed before; a value that does not convert passes and sets
// LabelFilterErr, unless an earlier error is already set (which it keeps,
// being the more useful one).
type numericFilter struct {
	f     *logql.NumericFilter
	value float64 // compared with; for bytes, as Loki's frontend passes it on
}

// lokiBytes is the bound of a byte-size filter as Loki's queriers get it:
// its frontend prints the filter with go-humanize's Bytes and parses it
// back, so size > 1KiB compares with 1000 and size < 1234KB with 1,200,000.
func lokiBytes(v float64) float64 {
	u, err := bytesize.Parse(strings.ReplaceAll(bytesize.Format(uint64(v)), " ", ""))
	if err != nil {
		return v
	}
	return float64(u)
}

func (n numericFilter) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	v, ok := b.Get(n.f.Name)
	if !ok {
		return line, false
	}
	var x float64
	var err error
	switch n.f.Kind {
	case logql.KindNumber:
		x, err = parseFloat(v)
	case logql.KindDuration:
		x, err = parseDurationSeconds(v)
	case logql.KindBytes:
		var u uint64
		u, err = bytesize.Parse(v)
		x = float64(u)
	}
	if err != nil {
		if !b.HasErr() {
			b.SetErr("LabelFilterErr", err.Error())
		}
		return line, true
	}
	return line, n.f.Op.Compare(x, n.value)
}

// ipFilter is name = ip("range") or name != ip("range"). As in Loki, an
// entry with an error passes, one without the label fails, and the value
// is searched for an address as a line is.
type ipFilter struct {
	name    string
	negated bool
	m       logql.LineMatcher
}

func (f ipFilter) process(_ int64, line []byte, b *Builder) ([]byte, bool) {
	if b.HasErr() {
		return line, true
	}
	v, ok := b.Get(f.name)
	if !ok {
		return line, false
	}
	return line, f.m.Match([]byte(v)) != f.negated
}

func newUnpackStage() stage { return &unpackStage{u: extract.NewUnpack()} }
