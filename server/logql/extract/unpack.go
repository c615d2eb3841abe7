package extract

import "bytes"

// Unpack extracts the labels of | unpack, which undoes Promtail's pack
// stage: the line is a JSON object whose string members are labels, and
// whose "_entry" member, when present, replaces the line.
//
// Only top-level members with string values count; other values are
// skipped. Values are unescaped as for JSON. A line that does not start
// with '{' gives the KindJSON error "expecting json object(6), but it is
// not"; a malformed object gives the JSON library's error, as for JSON; an
// empty line yields nothing.
//
// Loki's rules here differ from the other parsers', so the callback gets
// the raw key (unescaped, not sanitised). For each call, Loki appends
// "_extracted" to the raw key when a stream or structured-metadata label of
// that name exists, skips the key if that label was already extracted,
// and otherwise sets SanitizeName(key) to the value. It decides all that
// while reading, but sets the labels only after the whole line was read,
// and only when the line had an "_entry" member and no error: so buffer
// what emit receives and, when packed is true and err is nil, set it all,
// without skipping any (of two keys that sanitise to the same name, such
// as "a-b" and "a_b", the later wins).
type Unpack struct {
	keys   nameCache               // raw key → interned copy
	ls     lineString              // the line, for values
	buf    []byte                  // unescape scratch for values
	keyBuf []byte                  // unescape scratch for keys
	entry  []byte                  // unescape buffer for an escaped _entry
	emit   func(key, value string) // the current call's callback
	pos    int                     // number of members read in the line
	packed bool                    // the current line had an _entry
	out    []byte                  // the current line's _entry
}

// NewUnpack returns an Unpack extractor.
func NewUnpack() *Unpack { return &Unpack{} }

// Extract reads line. entry is the "_entry" value, unescaped (not
// otherwise changed), when packed; it may share memory with line or with
// the extractor, until the next call.
func (u *Unpack) Extract(line []byte, emit func(key, value string)) (entry []byte, packed bool, err *Error) {
	if len(line) == 0 {
		return nil, false, nil
	}
	if line[0] != '{' {
		return nil, false, errJSONNotAnObject
	}
	u.ls.reset(line)
	u.emit, u.packed, u.out, u.pos = emit, false, nil, 0
	err = eachMember(line, &u.keyBuf, nil, u.member)
	u.emit = nil
	u.ls.reset(nil)
	if err != nil {
		return nil, false, err
	}
	return u.out, u.packed, nil
}

var errJSONNotAnObject = &Error{KindJSON, "expecting json object(6), but it is not"}

func (u *Unpack) member(key, value []byte, t jsonType) *Error {
	if t != jsonString {
		return nil
	}
	if string(key) == "_entry" {
		u.out, u.packed = value, true
		if bytes.IndexByte(value, '\\') >= 0 {
			e, ok := unescapeJSON(value, u.entry)
			if !ok {
				return errJSONStringEscape
			}
			u.entry, u.out = e[:0], e
		}
		return nil
	}
	u.emit(u.keys.get(u.pos, key, internBytes), jsonStringValue(&u.ls, value, &u.buf))
	u.pos++
	return nil
}
