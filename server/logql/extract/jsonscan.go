package extract

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// This file is a small, lenient JSON scanner. Loki reads JSON with
// github.com/grafana/jsonparser (a fork of buger/jsonparser), and both what
// it accepts and the error strings it returns end up in query answers, so
// the scanner reproduces that library's behaviour rather than JSON's
// grammar: it checks only what it walks through, takes any token starting
// with a digit or '-' as a number, accepts trailing commas, ignores what
// follows the closing brace, and so on. The functions correspond to the
// library's ObjectEach, Get, ArrayEach, EachKey and searchKeys, and follow
// their algorithms where the quirks depend on them; they are rewritten,
// not copied (the library is MIT-licensed, Copyright (c) 2016 Leonid
// Bugaev), and were checked against the library by differential fuzzing
// outside this repository (the harness also ran Loki's code, which is
// AGPL).

// jsonType is the type of a JSON value as the scanner classifies it.
type jsonType uint8

const (
	jsonNotExist jsonType = iota
	jsonString
	jsonNumber
	jsonObject
	jsonArray
	jsonBoolean
	jsonNull
	jsonUnknown
)

// The library's errors, with its exact messages.
var (
	errJSONMalformed    = &Error{KindJSON, "Malformed JSON error"}
	errJSONString       = &Error{KindJSON, `Value is string, but can't find closing '"' symbol`}
	errJSONArray        = &Error{KindJSON, "Value is array, but can't find closing ']' symbol"}
	errJSONObject       = &Error{KindJSON, "Value looks like object, but can't find closing '}' symbol"}
	errJSONUnknownType  = &Error{KindJSON, "Unknown value type"}
	errJSONStringEscape = &Error{KindJSON, "Encountered an invalid escape sequence in a string"}
)

// skipSpace returns the index of the first byte of data that is not JSON
// white space, or -1.
func skipSpace(data []byte) int {
	for i, c := range data {
		switch c {
		case ' ', '\n', '\r', '\t':
		default:
			return i
		}
	}
	return -1
}

// tokenEnd returns the length of the bare token (number, true, …) at the
// start of data: up to white space, ',', '}' or ']'.
func tokenEnd(data []byte) int {
	for i, c := range data {
		switch c {
		case ' ', '\n', '\r', '\t', ',', '}', ']':
			return i
		}
	}
	return len(data)
}

// stringEnd returns the index just past the closing quote of a string whose
// opening quote precedes data, or -1, and whether a backslash was seen.
func stringEnd(data []byte) (int, bool) {
	escaped := false
	for i, c := range data {
		switch c {
		case '"':
			if !escaped {
				return i + 1, false
			}
			// The quote closes the string when an even number of
			// backslashes precede it.
			n := 0
			for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
				n++
			}
			if n%2 == 0 {
				return i + 1, true
			}
		case '\\':
			escaped = true
		}
	}
	return -1, escaped
}

// blockEnd returns the index just past the close that balances the
// brackets of data (which starts with open), skipping strings, or -1.
// Only open and close are counted: '[' inside an object is not.
func blockEnd(data []byte, open, close byte) int {
	level := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			n, _ := stringEnd(data[i+1:])
			if n == -1 {
				return -1
			}
			i += n
		case open:
			level++
		case close:
			level--
			if level == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// valueAt classifies the value starting at data[off] and returns it (with
// its quotes for a string) and the index just past it. ends, if not nil,
// finds the ends of objects.
func valueAt(data []byte, off int, ends *objectEnds) ([]byte, jsonType, int, *Error) {
	switch data[off] {
	case '"':
		n, _ := stringEnd(data[off+1:])
		if n == -1 {
			return nil, jsonString, off, errJSONString
		}
		end := off + n + 1
		return data[off:end], jsonString, end, nil
	case '[':
		n := blockEnd(data[off:], '[', ']')
		if n == -1 {
			return nil, jsonArray, off, errJSONArray
		}
		return data[off : off+n], jsonArray, off + n, nil
	case '{':
		var n int
		if ends != nil {
			n = ends.find(data[off:])
		} else {
			n = blockEnd(data[off:], '{', '}')
		}
		if n == -1 {
			return nil, jsonObject, off, errJSONObject
		}
		return data[off : off+n], jsonObject, off + n, nil
	}
	end := off + tokenEnd(data[off:])
	v := data[off:end]
	var t jsonType
	switch data[off] {
	case 't', 'f':
		if string(v) != "true" && string(v) != "false" {
			return nil, jsonUnknown, off, errJSONUnknownType
		}
		t = jsonBoolean
	case 'u', 'n':
		if string(v) != "null" {
			return nil, jsonUnknown, off, errJSONUnknownType
		}
		t = jsonNull
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-':
		t = jsonNumber
	default:
		return nil, jsonUnknown, off, errJSONUnknownType
	}
	return v, t, end, nil
}

// objectEnds finds where objects end like blockEnd, but remembers the end
// of every object met on the way, by position in the line. Walking nested
// objects calls blockEnd once per level on the rest of the line, so a
// deeply nested line costs time quadratic in its length (in Loki too);
// with objectEnds, each level after the first finds its end remembered.
// That gives blockEnd's answer exactly: an object met outside strings by
// an earlier scan ends where a scan starting at it would end, since the
// scan's only state is its position and depth.
type objectEnds struct {
	line  []byte      // the line, to turn slices into positions
	end   map[int]int // start of an object → just past its end
	stack []int       // starts of the objects open during a scan
}

func (o *objectEnds) reset(line []byte) {
	o.line = line
	switch {
	case len(o.end) > 4096:
		o.end = nil // let a big one go
	case len(o.end) > 0:
		clear(o.end)
	}
}

// find returns blockEnd(data, '{', '}') for data, a subslice of the line.
func (o *objectEnds) find(data []byte) int {
	base := cap(o.line) - cap(data)
	if e, ok := o.end[base]; ok {
		return e - base
	}
	if o.end == nil {
		o.end = make(map[int]int)
	}
	o.stack = o.stack[:0]
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			n, _ := stringEnd(data[i+1:])
			if n == -1 {
				return -1
			}
			i += n
		case '{':
			o.stack = append(o.stack, base+i)
		case '}':
			start := o.stack[len(o.stack)-1]
			o.stack = o.stack[:len(o.stack)-1]
			o.end[start] = base + i + 1
			if len(o.stack) == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// firstValue returns the first value of data (a string without its quotes)
// and the index just past it: the library's Get without a path.
func firstValue(data []byte) ([]byte, jsonType, int, *Error) {
	return firstValueEnds(data, nil)
}

func firstValueEnds(data []byte, ends *objectEnds) ([]byte, jsonType, int, *Error) {
	off := skipSpace(data)
	if off == -1 {
		return nil, jsonNotExist, -1, errJSONMalformed
	}
	v, t, end, err := valueAt(data, off, ends)
	if err != nil {
		return nil, t, end, err
	}
	if t == jsonString {
		v = v[1 : len(v)-1]
	}
	return v, t, end, nil
}

// eachMember calls fn for each member of the object at the start of data:
// the library's ObjectEach. The key is unescaped (into *scratch if need
// be) and only valid until fn uses scratch; a string value comes without
// its quotes and still escaped. An error from fn stops the walk and is
// returned. ends, if not nil, finds the ends of objects.
func eachMember(data []byte, scratch *[]byte, ends *objectEnds, fn func(key, value []byte, t jsonType) *Error) *Error {
	off := skipSpace(data)
	if off == -1 || data[off] != '{' {
		return errJSONObject
	}
	off++
	n := skipSpace(data[off:])
	if n == -1 {
		return errJSONMalformed
	}
	off += n
	if data[off] == '}' {
		return nil
	}
	for off < len(data) {
		switch data[off] {
		case '"':
			off++
		case '}':
			return nil
		default:
			return errJSONObject
		}
		n, escaped := stringEnd(data[off:])
		if n == -1 {
			return errJSONMalformed
		}
		key := data[off : off+n-1]
		off += n
		if escaped {
			k, ok := unescapeJSON(key, *scratch)
			if !ok {
				return errJSONStringEscape
			}
			key, *scratch = k, k[:0]
		}
		n = skipSpace(data[off:])
		if n == -1 {
			return errJSONMalformed
		}
		off += n
		if data[off] != ':' {
			return errJSONMalformed
		}
		off++
		v, t, end, err := firstValueEnds(data[off:], ends)
		if err != nil {
			return err
		}
		if err := fn(key, v, t); err != nil {
			return err
		}
		off += end
		// The library reports a missing ',' or '}' after a value with its
		// array message.
		n = skipSpace(data[off:])
		if n == -1 {
			return errJSONArray
		}
		off += n
		switch data[off] {
		case '}':
			return nil
		case ',':
			off++
		default:
			return errJSONObject
		}
		n = skipSpace(data[off:])
		if n == -1 {
			return errJSONArray
		}
		off += n
	}
	return errJSONObject
}

// eachElement calls fn for each element of the array at the start of data
// (whose first token is assumed to be '['): the library's ArrayEach. A
// string element comes without its quotes; start is the index of the
// element in data, plus one for a string. It returns the index where it
// stopped: the closing ']' when all went well. Malformed input stops it
// early, which its callers ignore, as Loki's library does.
func eachElement(data []byte, fn func(v []byte, t jsonType, start int)) int {
	if len(data) == 0 {
		return -1
	}
	off := skipSpace(data)
	if off == -1 {
		return -1
	}
	off++
	n := skipSpace(data[off:])
	if n == -1 {
		return off
	}
	off += n
	if data[off] == ']' {
		return off
	}
	for {
		v, t, end, err := firstValue(data[off:])
		if err != nil || end == 0 {
			return off
		}
		fn(v, t, off+end-len(v))
		off += end
		n := skipSpace(data[off:])
		if n == -1 {
			return off
		}
		off += n
		if data[off] == ']' {
			return off
		}
		if data[off] != ',' {
			return off
		}
		off++
	}
}

// unescapeJSON appends the unescaped form of the string body in to buf and
// returns it, or returns in itself when it has no backslash. ok is false
// for an invalid escape. It follows the library's Unescape, including its
// handling of UTF-16 surrogate escapes: a high surrogate must be followed
// by six more bytes ending in four hex digits, whatever the two before
// them, and the pair is combined without checking that the second is a
// low surrogate (out-of-range results become U+FFFD).
func unescapeJSON(in, buf []byte) ([]byte, bool) {
	i := bytes.IndexByte(in, '\\')
	if i == -1 {
		return in, true
	}
	out := append(buf[:0], in[:i]...)
	for i < len(in) {
		c := in[i]
		if c != '\\' {
			j := bytes.IndexByte(in[i:], '\\')
			if j == -1 {
				out = append(out, in[i:]...)
				break
			}
			out = append(out, in[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(in) {
			return nil, false
		}
		switch e := in[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
			i += 2
		case 'b':
			out = append(out, '\b')
			i += 2
		case 'f':
			out = append(out, '\f')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 't':
			out = append(out, '\t')
			i += 2
		case 'u':
			r, n := decodeUnicodeEscape(in[i:])
			if n == -1 {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			i += n
		default:
			return nil, false
		}
	}
	return out, true
}

// decodeUnicodeEscape decodes the \uXXXX escape (or surrogate pair) at the
// start of in and returns the rune and the bytes used, or -1.
func decodeUnicodeEscape(in []byte) (rune, int) {
	r, ok := hex4(in)
	if !ok {
		return utf8.RuneError, -1
	}
	if r < 0xD800 || r > 0xDFFF {
		return r, 6
	}
	r2, ok := hex4(in[6:])
	if !ok || r2 < 0xDC00 {
		return utf8.RuneError, -1
	}
	return 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00), 12
}

// hex4 reads the four hex digits at in[2:6], without checking in[:2].
func hex4(in []byte) (rune, bool) {
	if len(in) < 6 {
		return 0, false
	}
	var r rune
	for _, c := range in[2:6] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// searchKeys returns the index in data just past the ':' that follows the
// path keys, or -1: the library's searchKeys, quirks included. An element
// "[n]" of keys indexes an array. With no keys it returns 0.
func searchKeys(data []byte, keys []string) int {
	if len(keys) == 0 {
		return 0
	}
	keyLevel, level := 0, 0
	lastMatched := true
	var keyBuf [64]byte
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			i++
			keyBegin := i
			n, escaped := stringEnd(data[i:])
			if n == -1 {
				return -1
			}
			i += n
			keyEnd := i - 1
			n = skipSpace(data[i:])
			if n == -1 {
				return -1
			}
			i += n
			if data[i] != ':' {
				i--
				continue
			}
			if level < 1 {
				return -1
			}
			key := data[keyBegin:keyEnd]
			if escaped {
				k, ok := unescapeJSON(key, keyBuf[:0])
				if !ok {
					return -1
				}
				key = k
			}
			if level > len(keys) {
				return -1
			}
			if string(key) != keys[level-1] {
				lastMatched = false
				continue
			}
			lastMatched = true
			if keyLevel == level-1 {
				keyLevel++
				if keyLevel == len(keys) {
					return i + 1
				}
			}
		case '{':
			if lastMatched {
				level++
				continue
			}
			n := blockEnd(data[i:], '{', '}')
			if n == -1 {
				return -1
			}
			i += n - 1
		case '}':
			level--
			if level == keyLevel {
				keyLevel--
			}
		case '[':
			// Loki's library indexes keys[level][0] here and panics on an
			// empty key ("a[0][\"\"]" over an array element that is itself
			// an array); an empty key simply matches nothing here.
			if keyLevel == level && keys[level] != "" && keys[level][0] == '[' {
				k := keys[level]
				if len(k) < 3 || k[len(k)-1] != ']' {
					return -1
				}
				idx, err := strconv.Atoi(k[1 : len(k)-1])
				if err != nil {
					return -1
				}
				var found []byte
				foundAt, cur := 0, 0
				base := data[i:]
				eachElement(base, func(v []byte, t jsonType, start int) {
					if cur == idx {
						found, foundAt = v, start
						if t == jsonString {
							foundAt -= 2
							found = base[foundAt : foundAt+len(v)+2]
						}
					}
					cur++
				})
				if found == nil {
					return -1
				}
				sub := searchKeys(found, keys[level+1:])
				if sub < 0 {
					return -1
				}
				return i + foundAt + sub
			}
			n := blockEnd(data[i:], '[', ']')
			if n == -1 {
				return -1
			}
			i += n - 1
		case ':':
			return -1
		}
	}
	return -1
}
