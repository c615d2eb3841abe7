package extract

import "bytes"

// JSON extracts the labels of | json without parameters.
//
// The line must be a JSON object. Each member with a string, number or
// boolean value becomes a label; members of nested objects too, their name
// being the keys on the way joined with "_" ({"user":{"id":1}} gives
// user_id="1"). Arrays and nulls are skipped, at any depth. Strings are
// unescaped (a string with an invalid escape gives ""), and each invalid
// UTF-8 byte or U+FFFD in them becomes a space; numbers are kept as
// written; booleans are "true" or "false".
//
// Names are sanitised part by part: blank keys are dropped from a nested
// name, and only the first part gets a "_" before a leading digit. A
// top-level key that sanitises to "" is skipped, but a nested one whose
// parts are all blank gives the name "" ({" ":{" ":"x"}}), as in Loki.
// Duplicate keys are all emitted, in order; Loki keeps the first (see the
// package comment).
//
// A line that is not a well-formed object gives a KindJSON error carrying
// the message of Loki's JSON library ("Value looks like object, but can't
// find closing '}' symbol" for a line that does not start with '{'); the
// labels emitted before the error stay. Like that library, the scanner is
// lenient: it stops at the object's closing brace, accepts trailing commas
// and takes any token starting with a digit or '-' as a number.
//
// When a name collides with a stream label, Loki appends "_extracted" to
// the last key before sanitising it, which is not always name+"_extracted"
// (a nested key with trailing white space): use ExtractedName.
type JSON struct {
	top    nameCache  // raw top-level key → name
	nested nameCache  // sanitised nested name → interned copy
	prefix []byte     // sanitised name of the enclosing objects
	depth  int        // nesting depth of the member being read
	pos    int        // number of labels of the line so far
	buf    []byte     // unescape scratch for values
	keyBuf []byte     // unescape scratch for keys
	ls     lineString // the line, for values
	emit   Emit       // the current call's callback
	leaf   []byte     // raw key of the label being emitted
	ends   objectEnds // object ends, for deeply nested lines
}

// deepObjects is the depth from which JSON remembers where objects end.
const deepObjects = 16

// NewJSON returns a JSON extractor.
func NewJSON() *JSON { return &JSON{} }

// errStop is returned by member callbacks when Emit asks to stop.
var errStop = &Error{Kind: "stop"}

// Extract emits the labels of line and returns the parse error, if any.
func (j *JSON) Extract(line []byte, emit Emit) *Error {
	j.ls.reset(line)
	j.prefix = j.prefix[:0]
	j.depth, j.pos = 0, 0
	j.emit = emit
	j.ends.reset(line)
	err := eachMember(line, &j.keyBuf, nil, j.member)
	j.emit = nil
	j.ls.reset(nil)
	j.ends.reset(nil)
	if err == errStop {
		return nil
	}
	return err
}

func (j *JSON) member(key, value []byte, t jsonType) *Error {
	switch t {
	case jsonString, jsonNumber, jsonBoolean:
		var name string
		pos := j.pos
		j.pos++
		if j.depth == 0 {
			name = j.top.get(pos, key, sanitizeBytes)
			if name == "" {
				return nil
			}
		} else {
			n := len(j.prefix)
			j.prefix = appendPart(j.prefix, key)
			name = j.nested.get(pos, j.prefix, internBytes)
			j.prefix = j.prefix[:n]
		}
		j.leaf = key
		ok := j.emit(name, j.value(value, t))
		j.leaf = nil
		if !ok {
			return errStop
		}
	case jsonObject:
		n := len(j.prefix)
		j.prefix = appendPart(j.prefix, key)
		j.depth++
		var ends *objectEnds
		if j.depth >= deepObjects {
			ends = &j.ends
		}
		err := eachMember(value, &j.keyBuf, ends, j.member)
		j.depth--
		j.prefix = j.prefix[:n]
		return err
	}
	return nil
}

// ExtractedName returns the name Loki gives the label being emitted when
// it collides with a stream or structured-metadata label. It is
// name+"_extracted" except for a nested key with trailing white space, or
// a blank one, where Loki gets "…__extracted". Call it only from within
// Emit, with the name Emit received.
func (j *JSON) ExtractedName(name string) string {
	if j.depth == 0 || j.leaf == nil {
		return name + "_extracted"
	}
	n := len(j.prefix)
	key := append(append([]byte(nil), j.leaf...), "_extracted"...)
	j.prefix = appendPart(j.prefix, key)
	s := string(j.prefix)
	j.prefix = j.prefix[:n]
	return s
}

// appendPart appends one key of a nested name: "_" and the sanitised key,
// or nothing for a blank key.
func appendPart(dst, key []byte) []byte {
	key = bytes.TrimSpace(key)
	if len(key) == 0 {
		return dst
	}
	if len(dst) > 0 {
		dst = append(dst, '_')
	}
	return appendSanitized(dst, key)
}

func (j *JSON) value(v []byte, t jsonType) string {
	switch t {
	case jsonString:
		return jsonStringValue(&j.ls, v, &j.buf)
	case jsonBoolean:
		if v[0] == 't' {
			return "true"
		}
		return "false"
	}
	return j.ls.of(v)
}

// jsonStringValue returns the string body raw (a subslice of ls's line)
// unescaped, with invalid UTF-8 and U+FFFD turned into spaces; an invalid
// escape gives "". buf is scratch space.
func jsonStringValue(ls *lineString, raw []byte, buf *[]byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		if hasRuneError(raw) {
			return spaceRuneErrors(raw)
		}
		return ls.of(raw)
	}
	u, ok := unescapeJSON(raw, *buf)
	if !ok {
		return ""
	}
	*buf = u[:0]
	if hasRuneError(u) {
		return spaceRuneErrors(u)
	}
	return string(u)
}
