package detected

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql/extract"
)

// The parsers a field can be found by, as Loki names them.
const (
	ParserJSON   = "json"
	ParserLogfmt = "logfmt"
)

// Entry is one log line of a query's answer with its labels by origin.
type Entry struct {
	Stream   labels.Labels // the stream's labels
	Metadata labels.Labels // structured metadata
	Parsed   labels.Labels // labels the query's own parser stages extracted
	Line     string
}

// Field is one detected field.
type Field struct {
	Label string
	// Type is the type of a value of the field (see TypeOf). As in Loki,
	// the last line that holds the field decides it.
	Type string
	// Cardinality is the number of distinct values seen: exact here, where
	// Loki estimates it with a HyperLogLog sketch (exact in practice for
	// the few hundred lines a call reads).
	Cardinality int
	// Parsers are the parsers that found the field; nil for a field found
	// only in structured metadata.
	Parsers []string
	// JSONPath is the path of keys of the field in the JSON of the last
	// line parsed as JSON ({"user":{"id":1}} gives user_id, path
	// ["user","id"]); nil for other fields.
	JSONPath []string
}

type field struct {
	Field
	values map[string]struct{}
}

// Fields collects the fields of entries. Not safe for concurrent use.
type Fields struct {
	limit  int
	byName map[string]*field
	p      lineParser
}

// NewFields returns a collector of at most limit fields: once it holds
// limit fields, new names are ignored and known ones still counted, as in
// Loki.
func NewFields(limit int) *Fields {
	return &Fields{limit: limit, byName: map[string]*field{}}
}

// Add counts the fields of one entry: its structured metadata, the labels
// of its Parsed set, and those that | json, or if the line is not a JSON
// object | logfmt, extract from the line. A label that collides with a
// stream label gets the suffix _extracted, as the parsers give it.
func (f *Fields) Add(e Entry) {
	for _, name := range sortedNames(e.Metadata) {
		df := f.get(name, nil)
		if df == nil {
			continue
		}
		f.insert(df, valuesOf(e.Metadata, name))
	}
	parsed, parsers, paths := f.p.parse(e)
	for _, name := range sortedKeys(parsed) {
		df := f.get(name, parsers)
		if df == nil {
			continue
		}
		for _, p := range parsers {
			if !slices.Contains(df.Parsers, p) {
				df.Parsers = append(df.Parsers, p)
			}
		}
		if slices.Contains(parsers, ParserJSON) {
			df.JSONPath = paths[name]
		}
		f.insert(df, parsed[name])
	}
}

func (f *Fields) get(name string, parsers []string) *field {
	df := f.byName[name]
	if df == nil && len(f.byName) < f.limit {
		df = &field{Field: Field{Label: name, Type: TypeString, Parsers: slices.Clone(parsers)}, values: map[string]struct{}{}}
		f.byName[name] = df
	}
	return df
}

// insert adds the values of a field in one entry; the first decides the
// type, as Loki checks one value a line.
func (f *Fields) insert(df *field, values []string) {
	if len(values) == 0 {
		return
	}
	df.Type = TypeOf(values[0])
	for _, v := range values {
		df.values[v] = struct{}{}
	}
}

// List returns the fields sorted by name (Loki's order is random).
func (f *Fields) List() []Field {
	out := make([]Field, 0, len(f.byName))
	for _, df := range f.byName {
		fl := df.Field
		fl.Cardinality = len(df.values)
		if len(fl.Parsers) == 0 {
			fl.Parsers = nil
		}
		out = append(out, fl)
	}
	slices.SortFunc(out, func(a, b Field) int { return strings.Compare(a.Label, b.Label) })
	return out
}

// Values collects the distinct values of one field. Not safe for
// concurrent use.
type Values struct {
	name  string
	limit int
	set   map[string]struct{}
	p     lineParser
}

// NewValues returns a collector of the values of the field name. It stops
// taking entries once it holds limit values; the entry that reaches the
// limit may take it past, as in Loki.
func NewValues(name string, limit int) *Values {
	return &Values{name: name, limit: limit, set: map[string]struct{}{}}
}

// Full reports whether the limit is reached.
func (v *Values) Full() bool { return len(v.set) >= v.limit }

// Add takes the values of the field in one entry: from its structured
// metadata as they are, from its parsed labels with sizes normalised (see
// NormalizeBytes).
func (v *Values) Add(e Entry) {
	if v.Full() {
		return
	}
	for _, x := range valuesOf(e.Metadata, v.name) {
		v.set[x] = struct{}{}
	}
	parsed, _, _ := v.p.parse(e)
	for _, x := range parsed[v.name] {
		v.set[NormalizeBytes(x)] = struct{}{}
	}
}

// List returns the values, sorted (Loki's order is random).
func (v *Values) List() []string {
	out := make([]string, 0, len(v.set))
	for x := range v.set {
		out = append(out, x)
	}
	slices.Sort(out)
	return out
}

// errorLabels are set by parsers on failure; they are not fields.
var errorLabels = map[string]bool{"__error__": true, "__error_details__": true, "__preserve_error__": true}

// lineParser finds the parsed fields of an entry, with extractors kept
// across lines.
type lineParser struct {
	json   *extract.JSON
	logfmt *extract.Logfmt
	seen   map[string]bool
	found  []kv
}

type kv struct{ name, key, value string }

// parse returns the entry's parsed labels with their distinct values: the
// query's own (Parsed) and what | json extracts from the line, or | logfmt
// when the line is not a JSON object; the parser that read the line; and,
// for JSON, the path of keys of each label.
func (p *lineParser) parse(e Entry) (fields map[string][]string, parsers []string, paths map[string][]string) {
	if p.json == nil {
		p.json = extract.NewJSON()
		p.logfmt, _ = extract.NewLogfmt(false, false, nil)
		p.seen = map[string]bool{}
	}
	fields = map[string][]string{}
	add := func(name, value string) {
		if !slices.Contains(fields[name], value) {
			fields[name] = append(fields[name], value)
		}
	}
	for _, l := range e.Parsed {
		if !errorLabels[l.Name] {
			add(l.Name, l.Value)
		}
	}
	// A parsed name shadows the stream label of the same name (the query's
	// parser already renamed a colliding key), so it is no collision here.
	collides := func(name string) bool { return e.Stream.Has(name) && !e.Parsed.Has(name) }
	// The first label of a name in a line wins, as with Loki's parsers.
	clear(p.seen)
	p.found = p.found[:0]
	line := []byte(e.Line)
	err := p.json.Extract(line, func(name, value string) bool {
		key := name
		if collides(name) {
			name = p.json.ExtractedName(name)
		}
		if name != "" && !p.seen[name] {
			p.seen[name] = true
			p.found = append(p.found, kv{name, key, value})
		}
		return true
	})
	if err == nil {
		keyPaths := jsonPaths(e.Line)
		paths = map[string][]string{}
		for _, f := range p.found {
			add(f.name, f.value)
			if kp := keyPaths[f.key]; kp != nil {
				paths[f.name] = kp
			}
		}
		return fields, []string{ParserJSON}, paths
	}
	clear(p.seen)
	p.logfmt.Extract(line, func(name, value string) bool {
		if collides(name) {
			name += "_extracted"
		}
		if !p.seen[name] {
			p.seen[name] = true
			add(name, value)
		}
		return true
	})
	// Without --strict, | logfmt reads any line: Loki names it the parser
	// even when it found nothing.
	return fields, []string{ParserLogfmt}, nil
}

// jsonPaths maps the label names | json gives the scalar members of a JSON
// object to the keys on their way ({"a":{"b-c":1}} gives a_b_c →
// ["a","b-c"]). The first member of a name wins. A line that the standard
// library cannot decode (the extractor is more lenient) gives nil.
func jsonPaths(line string) map[string][]string {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	out := map[string][]string{}
	var object func(path []string) bool
	object = func(path []string) bool {
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return false
			}
			key, _ := kt.(string)
			p := append(path[:len(path):len(path)], key)
			vt, err := dec.Token()
			if err != nil {
				return false
			}
			switch v := vt.(type) {
			case json.Delim:
				if v == '{' && !object(p) {
					return false
				}
				if v == '[' && !skipArray(dec) {
					return false
				}
			case nil:
			default:
				if name := jsonName(p); name != "" {
					if _, ok := out[name]; !ok {
						out[name] = p
					}
				}
			}
		}
		_, err := dec.Token() // the closing brace
		return err == nil
	}
	if !object(nil) {
		return nil
	}
	return out
}

// skipArray reads up to the end of an array whose '[' was read.
func skipArray(dec *json.Decoder) bool {
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch t {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return true
}

// jsonName is the name | json gives a member from its path: the sanitised
// keys joined by "_", blank keys left out, and a "_" before a leading
// digit of the whole name only.
func jsonName(path []string) string {
	var b strings.Builder
	for _, k := range path {
		s := extract.SanitizeName(k)
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			if t := strings.TrimSpace(k); t[0] >= '0' && t[0] <= '9' {
				s = s[1:] // SanitizeName's prefix, for a first part only
			}
			b.WriteByte('_')
		}
		b.WriteString(s)
	}
	return b.String()
}

func sortedNames(ls labels.Labels) []string {
	var out []string
	for _, l := range ls {
		if !slices.Contains(out, l.Name) {
			out = append(out, l.Name)
		}
	}
	slices.Sort(out)
	return out
}

// valuesOf returns the distinct values of name in ls, in order.
func valuesOf(ls labels.Labels, name string) []string {
	var out []string
	for _, l := range ls {
		if l.Name == name && !slices.Contains(out, l.Value) {
			out = append(out, l.Value)
		}
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
