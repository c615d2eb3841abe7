package extract

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Logfmt extracts the labels of | logfmt, with or without --strict,
// --keep-empty and name="key" parameters.
//
// A line is a sequence of key=value pairs separated by bytes up to ' '
// (control characters count as spaces). A key is any run of bytes above
// ' ' without '=' or '"'; a key alone, or followed by '=' and nothing,
// has an empty value. A value is either a bare run of bytes above ' '
// without '=' or '"', or a quoted string whose escapes are JSON's plus \'
// (\uXXXX and surrogate pairs included). Keys are sanitised; one that
// sanitises to "" is skipped. Each invalid UTF-8 byte or U+FFFD in a value
// becomes a space.
//
// Without parameters every pair is emitted, in line order, except those
// with an empty value unless keepEmpty. Duplicate keys are all emitted;
// Loki keeps the first (see the package comment).
//
// A malformed pair ('=' or '"' in a key or a bare value, an empty key, a
// key with invalid UTF-8, an unterminated quote or a bad escape) is
// skipped up to the next space and reading goes on; with strict, reading
// stops there instead and Extract returns a KindLogfmt error such as
// "logfmt syntax error at pos 15 : unexpected '='" (pos is 1-based). The
// pairs emitted before it stay. Without strict, errors are never reported.
//
// With parameters (| logfmt a="key", b), only the pairs whose sanitised
// key equals a parameter's expression are emitted, under the parameter's
// name, with keepEmpty ignored: empty values are emitted too, and a value
// with invalid UTF-8 or U+FFFD is emitted as "". As in Loki, a pair whose
// key is itself one of the parameter names is emitted under that name even
// when the parameter reads another key (| logfmt a="b" takes a=1 as well
// as b=2); when two parameters read the same key, Loki picks one at random
// and this type the first; and of two parameters with the same name the
// last counts. Three of Loki's rules are for the caller: before reading a
// line, Loki sets every parameter name (Names) to "" unless a stream or
// structured-metadata label of that name exists; a label it emits is set
// even if already extracted; and when a name collides, so that the label
// is name+"_extracted", and that label was already extracted in this line,
// Loki stops reading the line (return false from Emit); and a pair whose
// key is no parameter name and which an earlier stage already extracted,
// or which the query's hints do not want, is skipped (Key gives the key).
type Logfmt struct {
	strict    bool          // stop at the first malformed pair and report it
	keepEmpty bool          // emit empty values (without parameters)
	names     []string      // parameter names; nil without parameters
	keys      []string      // per parameter: the key it reads
	dec       logfmtScanner // reads the pairs
	cache     nameCache     // raw key → sanitised name
	ls        lineString    // the line, for values
	cur       string        // the sanitised key of the pair being emitted
}

// Key returns the sanitised key of the pair being emitted. Call it only
// from within Emit.
func (l *Logfmt) Key() string { return l.cur }

// NewLogfmt returns a Logfmt extractor. Its errors carry Loki's messages,
// such as "cannot parse expression [a.b]: unexpected char .".
func NewLogfmt(strict, keepEmpty bool, params []Param) (*Logfmt, error) {
	l := &Logfmt{strict: strict, keepEmpty: keepEmpty}
	for _, p := range params {
		key, err := parseLogfmtKey(p.Expr)
		if err != nil {
			return nil, fmt.Errorf("cannot parse expression [%s]: %w", p.Expr, err)
		}
		if p.Name == "" || !utf8.ValidString(p.Name) {
			return nil, fmt.Errorf("invalid extracted label name '%s'", p.Name)
		}
		if i := indexOf(l.names, p.Name); i >= 0 {
			l.keys[i] = key
			continue
		}
		l.names = append(l.names, p.Name)
		l.keys = append(l.keys, key)
	}
	return l, nil
}

func indexOf(s []string, v string) int {
	for i, e := range s {
		if e == v {
			return i
		}
	}
	return -1
}

// Names returns the parameter names (each once), or nil without
// parameters.
func (l *Logfmt) Names() []string { return l.names }

// Extract emits the labels of line; see the type's comment. With strict it
// returns the syntax error that stopped it, if any.
func (l *Logfmt) Extract(line []byte, emit Emit) *Error {
	l.dec.reset(line)
	l.ls.reset(line)
	defer l.ls.reset(nil)
	for pos := 0; !l.dec.eol(); pos++ {
		if !l.dec.scan() {
			if l.strict {
				break
			}
			continue
		}
		key := l.cache.get(pos, l.dec.key, sanitizeBytes)
		if key == "" {
			continue
		}
		var name, value string
		if l.names == nil {
			value = l.value(true)
			if value == "" && !l.keepEmpty {
				continue
			}
			name = key
		} else {
			name = l.paramFor(key)
			if name == "" {
				continue
			}
			value = l.value(false)
		}
		l.cur = key
		if !emit(name, value) {
			break
		}
	}
	if l.strict && l.dec.err != "" {
		return &Error{KindLogfmt, fmt.Sprintf("logfmt syntax error at pos %d : %s", l.dec.errPos, l.dec.err)}
	}
	return nil
}

// paramFor returns the name of the parameter that takes key, or "".
func (l *Logfmt) paramFor(key string) string {
	for i, k := range l.keys {
		if k == key {
			return l.names[i]
		}
	}
	if indexOf(l.names, key) >= 0 {
		return key
	}
	return ""
}

// value returns the current value; with spaces, invalid UTF-8 and U+FFFD
// become spaces, else they make the whole value "".
func (l *Logfmt) value(spaces bool) string {
	v := l.dec.value
	if hasRuneError(v) {
		if !spaces {
			return ""
		}
		return spaceRuneErrors(v)
	}
	if l.dec.owned {
		return string(v)
	}
	return l.ls.of(v)
}

// logfmtScanner reads the pairs of a line as Loki's logfmt decoder does
// (Loki's is adapted from github.com/go-logfmt/logfmt); positions in its
// errors are those Loki reports.
type logfmtScanner struct {
	line   []byte // the line being read
	pos    int    // where reading goes on
	key    []byte // the current key, in line
	value  []byte // the current value, in line or (owned) in buf
	owned  bool   // value is in buf
	buf    []byte // unquoted values with escapes
	err    string // the last error of the line, "" if none
	errPos int    // its 1-based position
}

func (d *logfmtScanner) reset(line []byte) {
	d.line, d.pos, d.err, d.errPos = line, 0, "", 0
}

func (d *logfmtScanner) eol() bool { return d.pos >= len(d.line) }

func (d *logfmtScanner) fail(msg string) {
	d.err, d.errPos = msg, d.pos+1
}

// scan reads the next pair and reports whether it got one; false means
// white space up to the end, or an error (then recorded).
func (d *logfmtScanner) scan() bool {
	d.key, d.value, d.owned = nil, nil, false
	line := d.line
	for d.pos < len(line) && line[d.pos] <= ' ' {
		d.pos++
	}
	if d.pos == len(line) {
		return false
	}

	start, multibyte := d.pos, false
	for p := d.pos; p < len(line); p++ {
		switch c := line[p]; {
		case c == '=':
			d.pos = p
			if p == start {
				d.fail("unexpected '='")
				return d.skip()
			}
			d.key = line[start:p]
			if multibyte && hasRuneError(d.key) {
				d.fail("invalid key")
				return d.skip()
			}
			return d.afterEqual()
		case c == '"':
			d.pos = p
			d.fail(`unexpected '"'`)
			return d.skip()
		case c <= ' ':
			d.pos = p
			d.key = line[start:p]
			if multibyte && hasRuneError(d.key) {
				d.fail("invalid key")
				return false
			}
			return true
		case c >= utf8.RuneSelf:
			multibyte = true
		}
	}
	d.pos = len(line)
	d.key = line[start:]
	if multibyte && hasRuneError(d.key) {
		d.fail("invalid key")
		return false
	}
	return true
}

// afterEqual reads the value after the '=' at d.pos.
func (d *logfmtScanner) afterEqual() bool {
	line := d.line
	d.pos++
	if d.pos >= len(line) || line[d.pos] <= ' ' {
		return true
	}
	if line[d.pos] == '"' {
		return d.quoted()
	}
	start := d.pos
	for p := start; p < len(line); p++ {
		switch c := line[p]; {
		case c == '=' || c == '"':
			d.pos = p
			if c == '=' {
				d.fail("unexpected '='")
			} else {
				d.fail(`unexpected '"'`)
			}
			return d.skip()
		case c <= ' ':
			d.pos = p
			d.value = line[start:p]
			return true
		}
	}
	d.pos = len(line)
	d.value = line[start:]
	return true
}

// skip moves past the rest of a malformed pair and returns false.
func (d *logfmtScanner) skip() bool {
	for d.pos < len(d.line) && d.line[d.pos] > ' ' {
		d.pos++
	}
	return false
}

// quoted reads the quoted value whose opening quote is at d.pos.
func (d *logfmtScanner) quoted() bool {
	line := d.line
	start := d.pos
	hasEsc, esc := false, false
	for p := start + 1; p < len(line); p++ {
		switch c := line[p]; {
		case esc:
			esc = false
		case c == '\\':
			hasEsc, esc = true, true
		case c == '"':
			d.pos = p + 1
			if !hasEsc {
				d.value = line[start+1 : p]
				return true
			}
			v, ok := unquoteLogfmt(line[start+1:p], d.buf[:0])
			if !ok {
				d.fail("invalid quoted value")
				return false
			}
			d.buf, d.value, d.owned = v, v, true
			return true
		}
	}
	d.pos = len(line)
	d.fail("unterminated quoted value")
	return false
}

// unquoteLogfmt appends the unescaped body s of a quoted value to buf. It
// leaves invalid UTF-8 as it is (Loki turns it into U+FFFD, which its
// callers then treat exactly as invalid UTF-8).
func unquoteLogfmt(s, buf []byte) ([]byte, bool) {
	out := buf
	for r := 0; r < len(s); {
		c := s[r]
		if c != '\\' {
			out = append(out, c)
			r++
			continue
		}
		r++
		if r >= len(s) {
			return nil, false
		}
		switch s[r] {
		case '"', '\\', '/', '\'':
			out = append(out, s[r])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			rr := getu4(s[r-1:])
			if rr < 0 {
				return nil, false
			}
			r += 5
			if utf16.IsSurrogate(rr) {
				if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != utf8.RuneError {
					r += 6
					out = utf8.AppendRune(out, dec)
					continue
				}
				rr = utf8.RuneError
			}
			out = utf8.AppendRune(out, rr)
			continue
		default:
			return nil, false
		}
		r++
	}
	return out, true
}

// getu4 decodes a \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	n, err := strconv.ParseUint(string(s[2:6]), 16, 64)
	if err != nil {
		return -1
	}
	return rune(n)
}
