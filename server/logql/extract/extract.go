package extract

import (
	"bytes"
	"unicode/utf8"
)

// Emit receives one extracted label and returns whether to go on with the
// line. Unless an extractor says otherwise, name is already sanitised.
// Neither string is reused by the extractor.
type Emit func(name, value string) bool

// Error kinds, the values Loki gives the __error__ label.
const (
	KindJSON   = "JSONParserErr"
	KindLogfmt = "LogfmtParserErr"
)

// Error is a line that did not parse, as Loki reports it: Kind goes into
// __error__ and Details, when not empty, into __error_details__.
// Extractors may return the same *Error for many lines: do not modify it.
type Error struct {
	Kind    string
	Details string
}

func (e *Error) Error() string {
	if e.Details == "" {
		return e.Kind
	}
	return e.Kind + ": " + e.Details
}

// Param is one name="expression" parameter of | json or | logfmt; the form
// without "=expression" has Expr equal to Name.
type Param struct {
	Name string // the label to set
	Expr string // a JSON path (a.b[0]) or a logfmt key
}

// SanitizeName turns s into a label name the way Loki does for extracted
// keys: surrounding Unicode white space is trimmed, a leading digit gets a
// "_" prefix, and every character outside [a-zA-Z0-9_] becomes one "_" (an
// invalid UTF-8 byte counts as one character). A blank s gives "".
func SanitizeName(s string) string {
	if isCleanName(s) {
		return s
	}
	return string(appendSanitized(nil, []byte(s)))
}

// isCleanName reports whether SanitizeName(s) == s without building it.
func isCleanName[T string | []byte](s T) bool {
	if len(s) == 0 {
		return true
	}
	if s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// appendSanitized appends the sanitised part to dst. A blank part appends
// nothing; a part starting with a digit gets a "_" prefix only when dst is
// empty, since Loki checks the digit once for the whole (nested) name.
func appendSanitized(dst, part []byte) []byte {
	part = bytes.TrimSpace(part)
	if len(part) == 0 {
		return dst
	}
	if len(dst) == 0 && part[0] >= '0' && part[0] <= '9' {
		dst = append(dst, '_')
	}
	for i := 0; i < len(part); {
		c := part[i]
		if c < utf8.RuneSelf {
			if !isNameByte(c) {
				c = '_'
			}
			dst = append(dst, c)
			i++
			continue
		}
		_, size := utf8.DecodeRune(part[i:])
		dst = append(dst, '_')
		i += size
	}
	return dst
}

// maxCachedNames and maxCachedKey bound each extractor's name cache, so
// that lines with ever new or huge keys cannot grow it without end;
// maxSeqNames bounds the part of it that remembers keys by position.
const (
	maxCachedNames = 2048
	maxCachedKey   = 256
	maxSeqNames    = 256
)

// nameCache maps raw keys (or sanitised byte strings) to interned names.
// It also remembers the entries of the last line by position: lines of a
// stream mostly repeat their keys in the same order, and comparing bytes
// costs less than hashing them.
type nameCache struct {
	m   map[string]nameEntry
	seq []nameEntry // by position in the line
}

type nameEntry struct {
	key  string // the map key
	name string
}

// get returns the name for key b, the pos-th of its line, calling mk on a
// miss.
func (c *nameCache) get(pos int, b []byte, mk func([]byte) string) string {
	if pos < len(c.seq) && c.seq[pos].key == string(b) {
		return c.seq[pos].name
	}
	if len(b) > maxCachedKey {
		return mk(b)
	}
	e, ok := c.m[string(b)]
	if !ok {
		e = nameEntry{string(b), mk(b)}
		if c.m == nil {
			c.m = make(map[string]nameEntry)
		}
		if len(c.m) >= maxCachedNames {
			return e.name
		}
		c.m[e.key] = e
	}
	if pos < maxSeqNames {
		for len(c.seq) <= pos {
			c.seq = append(c.seq, nameEntry{})
		}
		c.seq[pos] = e
	}
	return e.name
}

// sanitizeBytes is SanitizeName for a byte slice key.
func sanitizeBytes(b []byte) string {
	if isCleanName(b) {
		return string(b)
	}
	return string(appendSanitized(nil, b))
}

// internBytes copies b into a string.
func internBytes(b []byte) string { return string(b) }

// lineString hands out values as substrings of a single string copy of the
// line, made on first use.
type lineString struct {
	line []byte
	s    string // string(line), once done
	done bool
}

func (l *lineString) reset(line []byte) {
	l.line, l.s, l.done = line, "", false
}

// of returns b as a string. b must be a subslice of the line (sharing its
// backing array) and must not have had its capacity reduced.
func (l *lineString) of(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if !l.done {
		l.s, l.done = string(l.line), true
	}
	start := cap(l.line) - cap(b)
	return l.s[start : start+len(b)]
}

// hasRuneError reports whether b holds invalid UTF-8 or U+FFFD, the cases
// utf8.RuneError stands for when Loki looks for it.
func hasRuneError(b []byte) bool {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError {
			return true
		}
		i += size
	}
	return false
}

// spaceRuneErrors returns b as a string with every invalid byte and every
// U+FFFD replaced by a space, as Loki does for JSON and logfmt values.
func spaceRuneErrors(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError {
			out = append(out, ' ')
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return string(out)
}
