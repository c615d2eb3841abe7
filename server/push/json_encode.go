package push

import (
	"strconv"
	"unicode/utf8"
)

// EncodeJSON appends r to dst in Loki's JSON push format:
//
//	{"streams":[{"stream":{"k":"v"},"values":[["<ns>","line"],["<ns>","line",{"meta":"v"}]]}]}
//
// A Labels text that cannot be parsed as {k="v", ...} is sent as the legacy
// "labels" string instead, which DecodeJSON accepts and the server then
// validates, so nothing is lost silently. JSON cannot carry invalid UTF-8:
// such bytes become U+FFFD, as with encoding/json.
func EncodeJSON(dst []byte, r *Request) []byte {
	dst = append(dst, `{"streams":[`...)
	for i := range r.Streams {
		s := &r.Streams[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONLabels(dst, s.Labels)
		dst = append(dst, `,"values":[`...)
		for j := range s.Entries {
			e := &s.Entries[j]
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `["`...)
			dst = strconv.AppendInt(dst, e.Timestamp, 10)
			dst = append(dst, `",`...)
			dst = AppendJSONString(dst, e.Line)
			if len(e.Metadata) > 0 {
				dst = append(dst, ",{"...)
				for k, p := range e.Metadata {
					if k > 0 {
						dst = append(dst, ',')
					}
					dst = AppendJSONString(dst, p.Name)
					dst = append(dst, ':')
					dst = AppendJSONString(dst, p.Value)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, "]}"...)
}

// appendJSONLabels appends `{"stream":{...}` for a label text, or the legacy
// `{"labels":"..."` when the text does not parse.
func appendJSONLabels(dst []byte, labels string) []byte {
	mark := len(dst)
	dst = append(dst, `{"stream":{`...)
	first := true
	err := eachLabel(labels, func(name, value string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, value)
	})
	if err != nil {
		dst = append(dst[:mark], `{"labels":`...)
		return AppendJSONString(dst, labels)
	}
	return append(dst, '}')
}

// jsonSafe marks the ASCII bytes that JSON strings carry unescaped.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendJSONString appends s as a JSON string: escaped as JSON requires,
// invalid UTF-8 replaced by U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, needing no escapes
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
