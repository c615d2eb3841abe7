package pipeline

import (
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/loam-logs/loam/server/labels"
)

// The labels Loki sets when a stage fails on an entry.
const (
	ErrorLabel        = "__error__"
	ErrorDetailsLabel = "__error_details__"
)

// Category is where a label of an entry comes from. Loki's
// categorize-labels encoding returns the three apart.
type Category uint8

const (
	Stream   Category = iota // the stream's own labels
	Metadata                 // structured metadata of the entry
	Parsed                   // set by a parser or a formatting stage
)

// entry is one label of the working set.
type entry struct {
	name, value string
	cat         Category
	deleted     bool
}

// Builder holds the labels of one entry while it passes the stages. It
// starts as the stream labels plus the entry's structured metadata; stages
// add, change and delete labels and may set an error.
type Builder struct {
	stream labels.Labels
	ents   []entry // stream labels first (in order), then metadata, then parsed
	nBase  int     // len(stream)
	err    string
	errDet string
	// hints are the pipeline's parser hints (nil: none); extracted the
	// labels set as parsed during this line (hints.go).
	hints     *hints
	extracted []string
}

// reset starts a new entry of the same stream.
func (b *Builder) reset(meta labels.Labels) {
	b.ents = b.ents[:0]
	for _, l := range b.stream {
		b.ents = append(b.ents, entry{name: l.Name, value: l.Value, cat: Stream})
	}
	b.err, b.errDet = "", ""
	b.extracted = b.extracted[:0]
	for _, l := range meta {
		name := l.Name
		if b.stream.Has(name) {
			name += "_extracted" // as Loki: the stream label keeps its name
		}
		switch name {
		case ErrorLabel:
			b.err = l.Value
		case ErrorDetailsLabel:
			b.errDet = l.Value
		default:
			b.ents = append(b.ents, entry{name: name, value: l.Value, cat: Metadata})
		}
	}
}

func (b *Builder) find(name string) int {
	// Later entries win: parsed labels shadow metadata and stream labels.
	for i := len(b.ents) - 1; i >= 0; i-- {
		if b.ents[i].name == name && !b.ents[i].deleted {
			return i
		}
	}
	return -1
}

// Get returns a label's value; __error__ and __error_details__ included.
func (b *Builder) Get(name string) (string, bool) {
	switch name {
	case ErrorLabel:
		return b.err, b.err != ""
	case ErrorDetailsLabel:
		return b.errDet, b.errDet != ""
	}
	if i := b.find(name); i >= 0 {
		return b.ents[i].value, true
	}
	return "", false
}

// label returns a label's value, the error labels aside.
func (b *Builder) label(name string) (string, bool) {
	if i := b.find(name); i >= 0 {
		return b.ents[i].value, true
	}
	return "", false
}

// collides reports whether an extracted label of this name must be renamed
// name_extracted: the stream or the entry's structured metadata has it.
func (b *Builder) collides(name string) bool {
	if b.stream.Has(name) {
		return true
	}
	for i := b.nBase; i < len(b.ents) && b.ents[i].cat == Metadata; i++ {
		if b.ents[i].name == name {
			return true
		}
	}
	return false
}

// Set sets a label in a category, replacing any label of that name.
func (b *Builder) Set(cat Category, name, value string) {
	switch name {
	case ErrorLabel:
		b.err = value
		return
	case ErrorDetailsLabel:
		b.errDet = value
		return
	}
	for i := range b.ents {
		if b.ents[i].name == name && !b.ents[i].deleted {
			if b.ents[i].cat == cat {
				b.ents[i].value = value
				// Shadowed copies in other categories go.
				for j := i + 1; j < len(b.ents); j++ {
					if b.ents[j].name == name {
						b.ents[j].deleted = true
					}
				}
				return
			}
			b.ents[i].deleted = true
		}
	}
	b.ents = append(b.ents, entry{name: name, value: value, cat: cat})
	// As in Loki, a label set as parsed, by a parser or by label_format,
	// is one no later parser sets again during this line.
	if cat == Parsed && !b.isExtracted(name) {
		b.extracted = append(b.extracted, name)
	}
}

// Del removes a label.
func (b *Builder) Del(name string) {
	switch name {
	case ErrorLabel:
		b.err = ""
		return
	case ErrorDetailsLabel:
		b.errDet = ""
		return
	}
	for i := range b.ents {
		if b.ents[i].name == name {
			b.ents[i].deleted = true
		}
	}
}

// SetErr records a stage failure. A later failure replaces the kind; its
// details replace earlier ones only when it has some (as in Loki).
func (b *Builder) SetErr(kind, details string) {
	b.err = kind
	if details != "" {
		b.errDet = details
	}
}

// HasErr reports whether a stage failed.
func (b *Builder) HasErr() bool { return b.err != "" }

// Map returns every label as a map, as templates see them. Labels no
// stage changed are the stream's alone, without error details (as Loki).
func (b *Builder) Map() map[string]string {
	m := make(map[string]string, len(b.ents)+2)
	if b.unchanged() {
		for _, l := range b.stream {
			m[l.Name] = l.Value
		}
		return m
	}
	for _, e := range b.ents {
		if !e.deleted {
			m[e.name] = e.value
		}
	}
	if b.err != "" {
		m[ErrorLabel] = b.err
	}
	if b.errDet != "" {
		m[ErrorDetailsLabel] = b.errDet
	}
	return m
}

// each calls fn for every live label, errors last.
func (b *Builder) each(fn func(name, value string, cat Category)) {
	for _, e := range b.ents {
		if !e.deleted {
			fn(e.name, e.value, e.cat)
		}
	}
	if b.err != "" {
		fn(ErrorLabel, b.err, Parsed)
	}
	if b.errDet != "" {
		fn(ErrorDetailsLabel, b.errDet, Parsed)
	}
}

// unchanged reports whether the labels are the stream's own: no stage
// changed anything and the entry has no metadata. Error details without an
// error (drop __error__ after a failed parser) do not count: Loki shows the
// stream's labels alone then.
func (b *Builder) unchanged() bool {
	if len(b.ents) != b.nBase || b.err != "" {
		return false
	}
	for i := range b.ents {
		if b.ents[i].deleted || b.ents[i].value != b.stream[i].Value {
			return false
		}
	}
	return true
}

// hash identifies the current label set with its categories.
func (b *Builder) hash() uint64 {
	d := xxhash.New()
	var sep = []byte{0xff}
	b.each(func(name, value string, cat Category) {
		d.WriteString(name)
		d.Write(sep)
		d.WriteString(value)
		d.Write([]byte{byte(cat)})
	})
	return d.Sum64()
}

// Result is the labels of an entry after the pipeline.
type Result struct {
	// All is every label, sorted: what a Loki answer without categorised
	// labels shows as the stream.
	All labels.Labels
	// The same split by origin, for the categorize-labels encoding.
	Stream, Metadata, Parsed labels.Labels
	// Hash identifies All.
	Hash uint64
}

// result builds the Result of the current labels.
func (b *Builder) result() *Result {
	r := &Result{}
	b.each(func(name, value string, cat Category) {
		l := labels.Label{Name: name, Value: value}
		r.All = append(r.All, l)
		switch cat {
		case Stream:
			r.Stream = append(r.Stream, l)
		case Metadata:
			r.Metadata = append(r.Metadata, l)
		default:
			r.Parsed = append(r.Parsed, l)
		}
	})
	sortLabels(r.All)
	sortLabels(r.Stream)
	sortLabels(r.Metadata)
	sortLabels(r.Parsed)
	// A name may appear twice only across categories shadowing each other,
	// which Set prevents; keep the last to be safe.
	r.All = slices.CompactFunc(r.All, func(a, b labels.Label) bool { return a.Name == b.Name })
	r.Hash = r.All.Hash()
	return r
}

func sortLabels(ls labels.Labels) {
	slices.SortStableFunc(ls, func(a, b labels.Label) int { return strings.Compare(a.Name, b.Name) })
}
