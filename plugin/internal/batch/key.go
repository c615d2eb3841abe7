package batch

import (
	"strconv"

	"github.com/loam-logs/loam/server/labels"
)

// appendStreamKey appends the canonical text of ls, byte for byte what
// labels.Labels.AppendString writes (names are valid, so unquoted), but
// without strconv's per-rune work for the common value: printable ASCII
// with no quote or backslash, which Go quoting leaves as is.
func appendStreamKey(dst []byte, ls labels.Labels) []byte {
	dst = append(dst, '{')
	for i, l := range ls {
		if i > 0 {
			dst = append(dst, ',', ' ')
		}
		if labels.ValidName(l.Name) {
			dst = append(dst, l.Name...)
		} else {
			dst = strconv.AppendQuote(dst, l.Name)
		}
		dst = append(dst, '=')
		if plain(l.Value) {
			dst = append(dst, '"')
			dst = append(dst, l.Value...)
			dst = append(dst, '"')
		} else {
			dst = strconv.AppendQuote(dst, l.Value)
		}
	}
	return append(dst, '}')
}

// plain reports whether strconv.Quote would copy s unchanged.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
