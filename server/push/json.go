package push

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"
)

// DecodeJSON decodes a Loki JSON push body into r, replacing its contents:
//
//	{"streams":[{"stream":{"k":"v"},"values":[["<ns>","line"],["<ns>","line",{"meta":"v"}]]}]}
//
// Timestamps are strings (or numbers) of integer unix nanoseconds; the optional
// third element of a value holds structured metadata. The legacy form
// {"labels":"{k=\"v\"}","entries":[{"ts":"<RFC3339>","line":"..."}]} is
// accepted too. Unknown fields are ignored.
//
// Stream.Labels is built from the "stream" object in its order as
// {k="v", k2="v2"}, values quoted like strconv.Quote; names that are not
// plain Prometheus names are quoted as well, so no name can forge another pair.
//
// Strings without escapes alias body, the others are unescaped into memory
// owned by this decode alone: body must not be modified while r is in use.
// Errors are *DecodeError and name the offending place as a JSON path.
func DecodeJSON(body []byte, r *Request) error {
	r.Reset()
	iter := jsoniter.ConfigFastest.BorrowIterator(body)
	defer jsoniter.ConfigFastest.ReturnIterator(iter)
	d := jsonDecoder{iter: iter, body: body, r: r, si: -1, ei: -1}
	d.request()
	if d.err != nil {
		return &DecodeError{Format: "json", Err: d.err}
	}
	return nil
}

type jsonDecoder struct {
	iter *jsoniter.Iterator
	body []byte
	r    *Request
	err  error

	// arena holds unescaped strings and built label texts. It is never
	// reused by a later decode, so strings taken from it stay valid.
	arena []byte
	// lbuf is where one label text is built before it moves to arena.
	lbuf []byte

	// where the decoder is, for error messages
	si, ei int    // stream and entry index, -1 outside one
	field  string // "values" or "entries"
}

// path names the current place, e.g. streams[2].values[5], or "" outside
// any stream.
func (d *jsonDecoder) path() string {
	switch {
	case d.si < 0:
		return ""
	case d.ei < 0:
		return fmt.Sprintf("streams[%d]", d.si)
	default:
		return fmt.Sprintf("streams[%d].%s[%d]", d.si, d.field, d.ei)
	}
}

// fail records the first error, prefixed with the current path.
func (d *jsonDecoder) fail(format string, args ...any) {
	if d.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if p := d.path(); p != "" {
		msg = p + ": " + msg
	}
	d.err = errors.New(msg)
}

// ok reports whether decoding may go on, turning a pending jsoniter error
// into ours.
func (d *jsonDecoder) ok() bool {
	if d.err != nil {
		return false
	}
	if err := d.iter.Error; err != nil {
		if isJSONEOF(err) {
			d.fail("unexpected end of JSON: the body is truncated")
		} else {
			d.fail("malformed JSON: %s", printable(err.Error()))
		}
		return false
	}
	return true
}

// printable makes a jsoniter message, which quotes the body raw, safe to show:
// control characters and invalid UTF-8 become '?', and length is bounded.
func printable(s string) string {
	const max = 300
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// isJSONEOF reports whether a jsoniter error means the input ended early.
// jsoniter replaces io.EOF with a syntax error naming the NUL "token" it got
// at the end, so that is recognised too.
func isJSONEOF(err error) bool {
	if errors.Is(err, io.EOF) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "found \x00") || strings.Contains(msg, "unexpected end of input") || strings.Contains(msg, "incomplete field name")
}

// key reads the next key of an object (its opening brace included), or
// reports that the object ended or failed. jsoniter's ReadObject returns ""
// both for the end and for an empty key; only after a key does a value follow.
func (d *jsonDecoder) key() (string, bool) {
	k := d.iter.ReadObject()
	if !d.ok() {
		return "", false
	}
	if k != "" {
		return k, true
	}
	if d.iter.WhatIsNext() != jsoniter.InvalidValue {
		return "", true
	}
	if d.iter.Error == io.EOF {
		// The input ends after the object: fine here, request() judges it.
		d.iter.Error = nil
	}
	return "", false
}

// expect checks the type of the next value; name is how to call it in the
// error, e.g. `"streams"` must be an array.
func (d *jsonDecoder) expect(t jsoniter.ValueType, name, want string) bool {
	if !d.ok() {
		return false
	}
	if got := d.iter.WhatIsNext(); got != t {
		d.fail("%s must be %s, not %s", name, want, jsonTypeName(got))
		return false
	}
	return true
}

func (d *jsonDecoder) request() {
	if len(bytes.TrimSpace(d.body)) == 0 {
		d.fail("the body is empty")
		return
	}
	if !d.expect(jsoniter.ObjectValue, "the body", `a JSON object like {"streams":[...]}`) {
		return
	}
	for k, more := d.key(); more; k, more = d.key() {
		if k == "streams" {
			d.streams()
		} else {
			d.iter.Skip()
		}
	}
	if !d.ok() {
		return
	}
	// WhatIsNext at the end of input sets io.EOF; anything else is trailing data.
	if d.iter.WhatIsNext(); d.iter.Error == nil {
		d.fail("unexpected data after the JSON object")
	}
}

func (d *jsonDecoder) streams() {
	if !d.ok() {
		return
	}
	if d.iter.WhatIsNext() == jsoniter.NilValue {
		d.iter.Skip()
		return
	}
	if !d.expect(jsoniter.ArrayValue, `"streams"`, "an array of stream objects") {
		return
	}
	for d.iter.ReadArray() && d.ok() {
		d.si = len(d.r.Streams)
		d.stream()
		d.si, d.ei = -1, -1
		if d.err != nil {
			return
		}
	}
	d.ok()
}

// stream decodes one element of "streams" and appends it to r.
func (d *jsonDecoder) stream() {
	if !d.expect(jsoniter.ObjectValue, "a stream", `an object with "stream" and "values"`) {
		return
	}
	start := len(d.r.entries)
	var labels string
	haveLabels := false
	for k, more := d.key(); more; k, more = d.key() {
		switch k {
		case "stream":
			if haveLabels {
				d.fail(`has both "stream" and "labels"; send only "stream"`)
				return
			}
			labels, haveLabels = d.labelsObject(), true
		case "labels": // legacy: the label set as text
			if haveLabels {
				d.fail(`has both "stream" and "labels"; send only "stream"`)
				return
			}
			if !d.expect(jsoniter.StringValue, `"labels"`, `a string like "{job=\"x\"}"`) {
				return
			}
			labels, haveLabels = d.readString(), true
		case "values":
			d.values(start)
		case "entries": // legacy: [{"ts":"<RFC3339>","line":"..."}]
			d.legacyEntries(start)
		default:
			d.iter.Skip()
		}
		if d.err != nil {
			return
		}
	}
	if !d.ok() {
		return
	}
	if !haveLabels {
		d.fail(`has no "stream" object of labels`)
		return
	}
	s := d.r.addStream()
	s.Labels = labels
	s.Entries = d.r.entriesFrom(start)
}

// labelsObject turns {"k":"v",...} into the text {k="v", ...}.
func (d *jsonDecoder) labelsObject() string {
	if !d.expect(jsoniter.ObjectValue, `"stream"`, `an object of label names to string values, like {"job":"x"}`) {
		return ""
	}
	b := append(d.lbuf[:0], '{')
	for k, more := d.key(); more; k, more = d.key() {
		if d.iter.WhatIsNext() != jsoniter.StringValue {
			d.fail("label %q must have a string value, not %s", k, jsonTypeName(d.iter.WhatIsNext()))
			return ""
		}
		v := d.readString()
		if d.err != nil {
			return ""
		}
		if len(b) > 1 {
			b = append(b, ", "...)
		}
		b = appendLabelName(b, k)
		b = append(b, '=')
		b = strconv.AppendQuote(b, v)
	}
	b = append(b, '}')
	d.lbuf = b
	if !d.ok() {
		return ""
	}
	start := len(d.arena)
	d.arenaAppend(b)
	return bytesToString(d.arena[start:])
}

// values decodes [[ts, line], [ts, line, {metadata}], ...] into arena
// entries; start is the stream's first entry, to number them.
func (d *jsonDecoder) values(start int) {
	if !d.ok() {
		return
	}
	if d.iter.WhatIsNext() == jsoniter.NilValue {
		d.iter.Skip()
		return
	}
	if !d.expect(jsoniter.ArrayValue, `"values"`, `an array of ["<unix ns>", "line"] arrays`) {
		return
	}
	d.field = "values"
	defer func() { d.ei = -1 }()
	for d.iter.ReadArray() && d.ok() {
		d.ei = len(d.r.entries) - start
		if !d.expect(jsoniter.ArrayValue, "a value", `an array ["<unix ns>", "line"] or ["<unix ns>", "line", {metadata}]`) {
			return
		}
		e := d.r.addEntry()
		if !d.iter.ReadArray() {
			if d.ok() {
				d.fail(`is empty; want ["<unix ns>", "line"]`)
			}
			return
		}
		e.Timestamp = d.timestamp()
		if d.err != nil {
			return
		}
		if !d.iter.ReadArray() {
			if d.ok() {
				d.fail(`has no log line; want ["<unix ns>", "line"]`)
			}
			return
		}
		if !d.expect(jsoniter.StringValue, "the log line", "a string") {
			return
		}
		e.Line = d.readString()
		if !d.iter.ReadArray() {
			continue // on an error, the loop stops and d.ok below reports it
		}
		e.Metadata = d.metadata()
		if d.err != nil {
			return
		}
		if d.iter.ReadArray() {
			if d.ok() {
				d.fail(`has more than 3 elements; want ["<unix ns>", "line", {metadata}]`)
			}
			return
		}
	}
	d.ok() // ReadArray returns false on errors too: report them here, with the path
}

// timestamp reads a string or number of integer unix nanoseconds.
func (d *jsonDecoder) timestamp() int64 {
	if !d.ok() {
		return 0
	}
	var text string
	switch d.iter.WhatIsNext() {
	case jsoniter.StringValue:
		// Digits need no unescaping; a backslash makes the parse fail below.
		text = bytesToString(d.iter.ReadStringAsSlice())
	case jsoniter.NumberValue:
		text = string(d.iter.ReadNumber())
	default:
		d.fail("timestamp must be a string of integer unix nanoseconds, not %s", jsonTypeName(d.iter.WhatIsNext()))
		return 0
	}
	if !d.ok() {
		return 0
	}
	ns, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			d.fail("timestamp %s is out of range: unix nanoseconds must fit in int64 (years 1678-2262)", quoteShort(text))
		} else {
			d.fail("timestamp %s is not an integer of unix nanoseconds", quoteShort(text))
		}
		return 0
	}
	return ns
}

// metadata reads the optional {"name":"value",...} of a value.
func (d *jsonDecoder) metadata() []LabelPair {
	if !d.ok() {
		return nil
	}
	if d.iter.WhatIsNext() == jsoniter.NilValue {
		d.iter.Skip()
		return nil
	}
	if !d.expect(jsoniter.ObjectValue, "structured metadata", `an object of names to string values, like {"trace_id":"abc"}`) {
		return nil
	}
	start := len(d.r.meta)
	for k, more := d.key(); more; k, more = d.key() {
		if d.iter.WhatIsNext() != jsoniter.StringValue {
			d.fail("structured metadata %q must have a string value, not %s", k, jsonTypeName(d.iter.WhatIsNext()))
			return nil
		}
		v := d.readString()
		d.r.meta = append(d.r.meta, LabelPair{Name: k, Value: v})
	}
	if !d.ok() {
		return nil
	}
	return d.r.metaFrom(start)
}

// legacyEntries decodes the old [{"ts":"<RFC3339>","line":"..."}] form.
func (d *jsonDecoder) legacyEntries(start int) {
	if !d.ok() {
		return
	}
	if d.iter.WhatIsNext() == jsoniter.NilValue {
		d.iter.Skip()
		return
	}
	if !d.expect(jsoniter.ArrayValue, `"entries"`, `an array of {"ts":"<RFC3339>","line":"..."} objects`) {
		return
	}
	d.field = "entries"
	defer func() { d.ei = -1 }()
	for d.iter.ReadArray() && d.ok() {
		d.ei = len(d.r.entries) - start
		if !d.expect(jsoniter.ObjectValue, "an entry", `an object {"ts":"<RFC3339>","line":"..."}`) {
			return
		}
		e := d.r.addEntry()
		for k, more := d.key(); more; k, more = d.key() {
			switch k {
			case "ts", "timestamp":
				if !d.expect(jsoniter.StringValue, `"ts"`, "an RFC 3339 time string") {
					return
				}
				text := d.readString()
				t, err := time.Parse(time.RFC3339Nano, text)
				if err != nil {
					d.fail("ts %s is not an RFC 3339 time like 2006-01-02T15:04:05.999999999Z", quoteShort(text))
					return
				}
				e.Timestamp = t.UnixNano()
			case "line":
				if !d.expect(jsoniter.StringValue, "the log line", "a string") {
					return
				}
				e.Line = d.readString()
			default:
				d.iter.Skip()
			}
			if d.err != nil {
				return
			}
		}
		if !d.ok() {
			return
		}
	}
	d.ok()
}

// readString reads a JSON string value, which must be next. Without escapes
// it aliases body; with them it is unescaped into the arena.
func (d *jsonDecoder) readString() string {
	// ReadStringAsSlice stops at the first '"' without looking at escapes,
	// so it is exact, and free, exactly when the slice has no backslash.
	raw := d.iter.ReadStringAsSlice()
	if !d.ok() {
		return ""
	}
	if needsUnescape(raw) {
		return d.readEscaped(raw)
	}
	return bytesToString(raw)
}

// needsUnescape reports whether a JSON string's content (between its quotes)
// has a backslash or a control character, which readEscaped then handles.
func needsUnescape(raw []byte) bool { return stringEnd(raw) < len(raw) }

// stringEnd returns the index of the first byte of b that ends a run of
// plain string content: '"', '\\' or a control character; len(b) if none.
// It tests eight bytes at a time, as lines are most of a push body.
func stringEnd(b []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		q := w ^ (lo * '"')   // zero bytes where w has a quote
		bs := w ^ (lo * '\\') // and where it has a backslash
		// The classic "has a byte less than n" test, with n = 0x20 on w and
		// n = 1 on q and bs. Its lowest set bit is exact, which is all we use.
		if m := ((w-lo*0x20)&^w | (q-lo)&^q | (bs-lo)&^bs) & hi; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' {
			return i
		}
	}
	return len(b)
}

// readEscaped decodes the string that raw starts, from body, then moves the
// iterator past it. raw came from ReadStringAsSlice and so is a subslice of
// the iterator's buffer, itself a subslice of body: their capacities give its
// offset, without unsafe pointer arithmetic.
func (d *jsonDecoder) readEscaped(raw []byte) string {
	i := cap(d.body) - cap(raw)
	if i < 0 || i >= len(d.body) || &d.body[i] != &raw[0] {
		d.fail("internal error: string is not within the body")
		return ""
	}
	// Unescaped strings are never longer than the JSON that spells them, so
	// the rest of the body bounds what they all need: growing the arena to
	// that once avoids a series of copies when many lines have escapes.
	d.reserve(len(d.body) - i)
	start := len(d.arena)
	body := d.body
	for {
		if i >= len(body) {
			d.fail("unterminated string")
			return ""
		}
		switch c := body[i]; {
		case c == '"':
			s := bytesToString(d.arena[start:])
			d.iter.ResetBytes(body[i+1:])
			return s
		case c == '\\':
			n := d.unescape(body[i:])
			if n == 0 {
				return ""
			}
			i += n
		case c < 0x20:
			d.fail("string contains control character 0x%02x; JSON requires it escaped", c)
			return ""
		default:
			j := i + 1 + stringEnd(body[i+1:])
			d.arenaAppend(body[i:j])
			i = j
		}
	}
}

// arenaAppend appends b to the arena, doubling it when full: append alone
// grows large slices by only 1.25x, which would copy the arena many times.
// Growing leaves earlier strings in the old array, which stays valid.
func (d *jsonDecoder) arenaAppend(b []byte) {
	d.reserve(len(b))
	d.arena = append(d.arena, b...)
}

func (d *jsonDecoder) reserve(n int) {
	if len(d.arena)+n > cap(d.arena) {
		d.arena = slices.Grow(d.arena, max(n, cap(d.arena), 4096))
	}
}

// unescape appends the escape sequence at the start of b to the arena and
// returns its length, or 0 after recording an error.
func (d *jsonDecoder) unescape(b []byte) int {
	if len(b) < 2 {
		d.fail("unterminated string")
		return 0
	}
	var c byte
	switch b[1] {
	case '"', '\\', '/':
		c = b[1]
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			d.fail(`invalid \u escape in string: want four hex digits`)
			return 0
		}
		n := 6
		if utf16.IsSurrogate(r) {
			// A pair encodes one rune; a lone half becomes U+FFFD, as in encoding/json.
			if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
				if r2, ok := hex4(b[8:]); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r, n = dec, 12
					}
				}
			}
			if n == 6 {
				r = utf8.RuneError
			}
		}
		d.reserve(utf8.UTFMax)
		d.arena = utf8.AppendRune(d.arena, r)
		return n
	default:
		if b[1] > ' ' && b[1] < utf8.RuneSelf {
			d.fail(`invalid escape \%c in string; JSON allows \" \\ \/ \b \f \n \r \t \uXXXX`, b[1])
		} else {
			d.fail("invalid escape in string: backslash before byte 0x%02x", b[1])
		}
		return 0
	}
	d.reserve(1)
	d.arena = append(d.arena, c)
	return 2
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendLabelName appends a label name bare when it is a plain Prometheus name
// and quoted otherwise, so that odd names cannot break the label text.
func appendLabelName(b []byte, name string) []byte {
	if isPlainLabelName(name) {
		return append(b, name...)
	}
	return strconv.AppendQuote(b, name)
}

// isPlainLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func isPlainLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

func jsonTypeName(t jsoniter.ValueType) string {
	switch t {
	case jsoniter.StringValue:
		return "a string"
	case jsoniter.NumberValue:
		return "a number"
	case jsoniter.NilValue:
		return "null"
	case jsoniter.BoolValue:
		return "a boolean"
	case jsoniter.ArrayValue:
		return "an array"
	case jsoniter.ObjectValue:
		return "an object"
	default:
		return "invalid JSON"
	}
}
