package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/loam-logs/loam/server/labels"
)

// Record paths name a field of a record, nested maps allowed, in one of two
// forms:
//
//   - dotted, kubernetes.labels.app: split at every '.';
//   - Fluent Bit's record accessor, $kubernetes['labels']['app.kubernetes.io/name']:
//     needed because Kubernetes label keys hold dots and slashes. As in
//     Fluent Bit, the name after '$' is one key even when it holds dots
//     ($log.level is the top-level key "log.level"); each ['…'] goes one
//     map deeper. Quotes may be ' or ", a doubled quote stands for itself.
//     Array indexes ([0]) are refused: records are mapped by key only.

// parsePath reads one record path.
func parsePath(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty record path")
	}
	if s[0] == '$' {
		return parseAccessor(s)
	}
	path := strings.Split(s, ".")
	for _, e := range path {
		if e == "" {
			return nil, fmt.Errorf("record path %q has an empty element (want e.g. kubernetes.labels.app)", s)
		}
		if strings.ContainsAny(e, "[]'\"$") {
			return nil, fmt.Errorf("record path %q mixes forms (the record-accessor form starts with $, e.g. $kubernetes['labels']['app'])", s)
		}
		if strings.Contains(e, "=") {
			return nil, fmt.Errorf("record path %q holds '=' (name=path is for LabelKeys and StructuredMetadataKeys; a nested key with '=' is written $a['b=c'])", s)
		}
	}
	return path, nil
}

// parseAccessor reads the record-accessor form; s starts with '$'.
func parseAccessor(s string) ([]string, error) {
	i := 1
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	space()
	start := i
	if i < len(s) && (s[i] == '_' || isLetter(s[i])) {
		for i++; i < len(s) && isIdentChar(s[i]); i++ {
		}
	}
	if i == start {
		return nil, fmt.Errorf("record accessor %q: want a key name after $ (e.g. $kubernetes['labels'])", s)
	}
	path := []string{s[start:i]}
	for {
		space()
		if i == len(s) {
			return path, nil
		}
		if s[i] != '[' {
			return nil, fmt.Errorf("record accessor %q: unexpected %q at offset %d (want ['key'])", s, s[i], i)
		}
		i++
		space()
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			return nil, fmt.Errorf("record accessor %q: array indexes are not supported (want ['key'])", s)
		}
		if i == len(s) || (s[i] != '\'' && s[i] != '"') {
			return nil, fmt.Errorf("record accessor %q: want a quoted key inside [ ] at offset %d", s, i)
		}
		q := s[i]
		i++
		var key strings.Builder
		for {
			if i == len(s) {
				return nil, fmt.Errorf("record accessor %q: unterminated %c quote", s, q)
			}
			if s[i] == q {
				if i+1 < len(s) && s[i+1] == q {
					key.WriteByte(q)
					i += 2
					continue
				}
				i++
				break
			}
			key.WriteByte(s[i])
			i++
		}
		space()
		if i == len(s) || s[i] != ']' {
			return nil, fmt.Errorf("record accessor %q: missing ] at offset %d", s, i)
		}
		i++
		if key.Len() == 0 {
			return nil, fmt.Errorf("record accessor %q: empty key ['']", s)
		}
		path = append(path, key.String())
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isIdentChar follows Fluent Bit's record-accessor lexer: [A-Za-z0-9_.\-/].
func isIdentChar(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/'
}

// formatPath writes path back in the dotted form when that reads the same,
// else in the record-accessor form.
func formatPath(path []string) string {
	dotted := true
	for _, e := range path {
		if e == "" || e != strings.TrimSpace(e) || strings.ContainsAny(e, ".[]'\"$=") {
			dotted = false
		}
	}
	if dotted {
		return strings.Join(path, ".")
	}
	var b strings.Builder
	b.WriteByte('$')
	for i, e := range path {
		if i == 0 && isAccessorIdent(e) {
			b.WriteString(e)
			continue
		}
		if i == 0 {
			// The first key cannot be quoted in the accessor form; show it
			// as Go would quote it, for messages only.
			fmt.Fprintf(&b, "%q", e)
			continue
		}
		b.WriteString("['")
		b.WriteString(strings.ReplaceAll(e, "'", "''"))
		b.WriteString("']")
	}
	return b.String()
}

func isAccessorIdent(s string) bool {
	if s == "" || !(s[0] == '_' || isLetter(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// splitPaths splits a comma-separated list of record paths. Commas inside
// [ ] (where quoted keys live) belong to the path, so
// $kubernetes['labels']['a,b'] stays whole. Empty entries are dropped.
func splitPaths(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same effect
			}
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case (c == '\'' || c == '"') && depth > 0:
			quote = c
		case c == ',' && depth == 0:
			out = appendTrimmed(out, s[start:i])
			start = i + 1
		}
	}
	return appendTrimmed(out, s[start:])
}

// parseKeyPath reads one LabelKeys or StructuredMetadataKeys entry:
// "name=path" gives the name, "path" takes it from the last path element.
func parseKeyPath(s string) (KeyPath, error) {
	name, path, renamed := cutName(s)
	p, err := parsePath(path)
	if err != nil {
		return KeyPath{}, err
	}
	if !renamed {
		return KeyPath{Path: p, Name: labelName(p[len(p)-1])}, nil
	}
	if !labels.ValidName(name) {
		return KeyPath{}, fmt.Errorf("name %q is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)", name)
	}
	return KeyPath{Path: p, Name: name}, nil
}

// cutName splits "name=path" at the first '=' outside [ ], if any.
func cutName(s string) (name, path string, ok bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case '=':
			if depth == 0 {
				return strings.TrimSpace(s[:i]), s[i+1:], true
			}
		}
	}
	return "", s, false
}

// labelName makes a Prometheus label name of a record key: characters
// outside [a-zA-Z0-9_] become '_', and a leading digit gets a '_' in front
// (rather than being replaced, so "1a" and "2a" stay apart).
func labelName(key string) string {
	b := []byte(key)
	for i, c := range b {
		if !(c == '_' || isLetter(c) || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || (b[0] >= '0' && b[0] <= '9') {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// maxMapDepth bounds the nesting of a label map file; record paths are
// never this deep, and the bound keeps a hostile file from recursing far.
const maxMapDepth = 32

// parseLabelMap reads a LabelMapPath file: a JSON object whose nesting
// follows the record and whose string leaves are label names, e.g.
//
//	{"kubernetes": {"namespace_name": "namespace", "labels": {"app": "app"}}}
//
// Paths come back in file order, so the mapping is deterministic.
func parseLabelMap(data []byte) ([]KeyPath, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return nil, notJSON(dec, err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("want a JSON object at the top")
	}
	var out []KeyPath
	if err := walkLabelMap(dec, nil, &out); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the top-level object")
	}
	if len(out) == 0 {
		return nil, errors.New("maps no record field to a label")
	}
	return out, nil
}

// walkLabelMap reads the members of an object whose '{' has been read, and
// its closing '}'.
func walkLabelMap(dec *json.Decoder, prefix []string, out *[]KeyPath) error {
	if len(prefix) >= maxMapDepth {
		return fmt.Errorf("nested deeper than %d levels", maxMapDepth)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return notJSON(dec, err)
		}
		key, ok := t.(string)
		if !ok { // the decoder reports a syntax error first; be safe anyway
			return fmt.Errorf("not JSON: object key %v", t)
		}
		path := append(append([]string(nil), prefix...), key)
		if key == "" {
			return fmt.Errorf("%s: empty key", formatPath(path))
		}
		if seen[key] {
			return fmt.Errorf("%s: duplicate key", formatPath(path))
		}
		seen[key] = true
		t, err = dec.Token()
		if err != nil {
			return notJSON(dec, err)
		}
		switch v := t.(type) {
		case string:
			if !labels.ValidName(v) {
				return fmt.Errorf("%s: %q is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)", formatPath(path), v)
			}
			*out = append(*out, KeyPath{Path: path, Name: v})
		case json.Delim:
			if v != '{' {
				return fmt.Errorf("%s: want a label name or an object, found an array", formatPath(path))
			}
			if err := walkLabelMap(dec, path, out); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: want a label name or an object, found %s", formatPath(path), jsonKind(v))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return notJSON(dec, err)
	}
	return nil
}

// notJSON describes a syntax error of a label map file with its offset.
func notJSON(dec *json.Decoder, err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("not JSON: the file ends too early")
	}
	return fmt.Errorf("not JSON: %v (at byte %d)", err, dec.InputOffset())
}

// jsonKind names a scalar JSON token for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	}
	return fmt.Sprintf("%v", v)
}
