package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// pyDumps writes a decoded JSON value (decoded with UseNumber) the way
// Python's json.dumps(v, sort_keys=True) does: ", " and ": " separators,
// keys sorted, everything outside printable ASCII escaped as \uXXXX. Stream
// and series keys are recorded in that form, so an answer's label sets are
// written the same way to be compared with them. Numbers keep their text.
func pyDumps(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(v.String())
	case string:
		pyQuote(b, v)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyDumps(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // byte order of UTF-8 is code point order, as Python sorts
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			pyQuote(b, k)
			b.WriteString(": ")
			pyDumps(b, v[k])
		}
		b.WriteByte('}')
	default:
		// Only values of encoding/json's decoding reach here.
		panic(fmt.Sprintf("conformance: pyDumps of %T", v))
	}
}

func pyDumpsString(v any) string {
	var b strings.Builder
	pyDumps(&b, v)
	return b.String()
}

// pyQuote writes s as a JSON string with ensure_ascii: printable ASCII as it
// is, the usual short escapes, everything else as lower-case \uXXXX (a
// surrogate pair above U+FFFF).
func pyQuote(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		for sh := 12; sh >= 0; sh -= 4 {
			b.WriteByte(hex[(r>>sh)&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u(0xd800 + r>>10)
			u(0xdc00 + r&0x3ff)
		default:
			u(r)
		}
	}
	b.WriteByte('"')
}
