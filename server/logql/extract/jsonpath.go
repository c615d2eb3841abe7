package extract

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// JSONPaths extracts the labels of | json with parameters
// (| json a="x.y", b="z[0]", c=`["key with space"]`, d).
//
// An expression is a field name ([a-zA-Z_][a-zA-Z0-9_]*), ["key"] or
// [index] first, then any of .field, ["key"] and [index]. It cannot start
// with a dot. Inside ["…"] there are no escapes, and a ']' ends the key.
//
// A path that reaches a string gives the string unescaped; an object gives
// its JSON text as written; null gives ""; a number, boolean or array gives
// its text unescaped as if it were a string (so an array keeps its quotes
// but loses its backslashes, as in Loki). Each invalid UTF-8 byte or U+FFFD
// in the result becomes a space, except in objects. The first occurrence of
// a duplicate key wins. Names are the parameter names as written, not
// sanitised.
//
// Loki looks paths up with its JSON library's EachKey, which is lenient and
// has quirks that this type reproduces: the line is not otherwise checked,
// a line starting with '"' or '[' is scanned too, and a key inside ["…"]
// that looks like "[n]" indexes an array. One quirk is not reproduced: for
// a path like a[0][""] over an element that is itself an array, Loki's
// library panics; here that path is just not found.
type JSONPaths struct {
	names []string   // per parameter: the label name
	scan  pathScan   // the paths, and the state of their search
	found []bool     // per parameter: a value was emitted this line
	ls    lineString // the line, for values
	buf   []byte     // unescape scratch for values
}

// NewJSONPaths parses the parameters. Its errors carry Loki's messages:
// "cannot parse expression [a..b]: syntax error: unexpected DOT, expecting
// FIELD", or "invalid extracted label name '…'" for an empty name or one
// that is not UTF-8. Loki reports them when the query runs, not when it is
// parsed.
func NewJSONPaths(params []Param) (*JSONPaths, error) {
	j := &JSONPaths{}
	for _, p := range params {
		path, err := parseJSONPath(p.Expr)
		if err != nil {
			return nil, fmt.Errorf("cannot parse expression [%s]: %w", p.Expr, err)
		}
		if p.Name == "" || !utf8.ValidString(p.Name) {
			return nil, fmt.Errorf("invalid extracted label name '%s'", p.Name)
		}
		j.names = append(j.names, p.Name)
		j.scan.paths = append(j.scan.paths, path)
	}
	j.scan.init()
	j.found = make([]bool, len(j.names))
	return j, nil
}

// Names returns the label names, in parameter order.
func (j *JSONPaths) Names() []string { return j.names }

// Extract emits the value of each path found in line, in the order the
// line holds them, then calls missing with the name of each parameter that
// gave no value.
//
// Loki sets a missing label to "" only when no label of that name exists
// yet (stream label, structured metadata, or a label set by any earlier
// stage): missing is for the caller to apply that rule. It is not called
// when all paths were found, nor for an empty line (which yields nothing
// at all), nor for a line whose first byte is not '{', '[' or '"' (which
// yields a KindJSON error with empty Details and nothing else).
//
// Errors met while reading a value are returned (the last one wins) and
// that parameter counts as missing; the scan goes on.
func (j *JSONPaths) Extract(line []byte, emit Emit, missing func(name string)) *Error {
	if len(line) == 0 {
		return nil
	}
	switch line[0] {
	case '{', '[', '"':
	default:
		return errJSONNoDetails
	}
	j.ls.reset(line)
	defer j.ls.reset(nil)
	clear(j.found)
	var lastErr *Error
	nfound := 0
	stopped := false
	j.scan.run(line, func(pi int, v []byte, t jsonType, err *Error) bool {
		if err != nil {
			lastErr = err
			return true
		}
		var s string
		switch t {
		case jsonNull:
		case jsonObject:
			s = j.ls.of(v)
		default:
			s = jsonStringValue(&j.ls, v, &j.buf)
		}
		j.found[pi] = true
		nfound++
		if !emit(j.names[pi], s) {
			stopped = true
			return false
		}
		return true
	})
	if stopped {
		return lastErr
	}
	if nfound < len(j.names) {
		for i, name := range j.names {
			if !j.found[i] {
				missing(name)
			}
		}
	}
	return lastErr
}

var errJSONNoDetails = &Error{Kind: KindJSON}

// pathScan finds values by path the way Loki's JSON library's EachKey
// does. Its buffers are reused from line to line.
type pathScan struct {
	paths    [][]string // per parameter: keys, and "[n]" for indexes
	maxPath  int        // the longest path's length
	matched  []bool     // per path: already reported (or given up)
	levelKey [][]byte   // the key last seen at each depth
	inArray  []bool     // per path: indexes the array being read
	indexes  []int      // array indexes wanted in the array being read
}

func (s *pathScan) init() {
	for _, p := range s.paths {
		s.maxPath = max(s.maxPath, len(p))
	}
	s.matched = make([]bool, len(s.paths))
	s.inArray = make([]bool, len(s.paths))
	s.levelKey = make([][]byte, s.maxPath)
}

// sameTree reports whether p agrees with the keys seen at the first level
// depths (as far as p goes).
func (s *pathScan) sameTree(p []string, level int) bool {
	for i := 0; i < min(len(p), level); i++ {
		if p[i] != string(s.levelKey[i]) {
			return false
		}
	}
	return true
}

// arrayIndex is the library's reading of a "[n]" path element: the text
// between the first and the last byte, 0 when that is not a number.
func arrayIndex(elem string) int {
	n, _ := strconv.Atoi(elem[1 : len(elem)-1])
	return n
}

// run scans data and calls cb for each path found, with the value (a
// string without its quotes) or the error met reading it; pi -1 with an
// error means the document itself is malformed. cb returns false to stop.
func (s *pathScan) run(data []byte, cb func(pi int, v []byte, t jsonType, err *Error) bool) {
	clear(s.matched)
	for i := range s.levelKey {
		s.levelKey[i] = s.levelKey[i][:0]
	}
	level, nmatched := 0, 0
	var keyBuf [64]byte
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			i++
			keyBegin := i
			n, escaped := stringEnd(data[i:])
			if n == -1 {
				return
			}
			i += n
			keyEnd := i - 1
			n = skipSpace(data[i:])
			if n == -1 {
				return
			}
			i += n
			if data[i] != ':' {
				i-- // a string value: go on from its closing quote
				continue
			}
			key := data[keyBegin:keyEnd]
			if escaped {
				k, ok := unescapeJSON(key, keyBuf[:0])
				if !ok {
					return
				}
				key = k
			}
			match := false
			if s.maxPath >= level {
				if level < 1 {
					cb(-1, nil, jsonUnknown, errJSONMalformed)
					return
				}
				s.levelKey[level-1] = append(s.levelKey[level-1][:0], key...)
				for pi, p := range s.paths {
					if len(p) != level || s.matched[pi] || string(key) != p[level-1] || !s.sameTree(p, level) {
						continue
					}
					match = true
					nmatched++
					s.matched[pi] = true
					v, t, _, err := firstValue(data[i+1:])
					if !cb(pi, v, t, err) {
						return
					}
					if nmatched == len(s.paths) {
						return
					}
				}
			}
			if !match {
				// The library steps to just before the value (back onto
				// the key's closing quote when nothing follows the ':').
				// Its check for an object to skip there can never hold.
				i += skipSpace(data[i+1:])
			}
			if i < len(data) {
				switch data[i] {
				case '{', '}', '[', '"':
					i--
				}
			}
		case '{':
			level++
		case '}':
			level--
		case '[':
			if level < 0 {
				cb(-1, nil, jsonUnknown, errJSONMalformed)
				return
			}
			s.indexes = s.indexes[:0]
			clear(s.inArray)
			for pi, p := range s.paths {
				if len(p) < level+1 || s.matched[pi] || p[level] == "" || p[level][0] != '[' || !s.sameTree(p, level) {
					continue
				}
				if len(p[level]) > 2 {
					s.indexes = append(s.indexes, arrayIndex(p[level]))
					s.inArray[pi] = true
				}
			}
			if len(s.indexes) == 0 {
				n := blockEnd(data[i:], '[', ']')
				if n == -1 {
					return
				}
				i += n - 1
				continue
			}
			level++
			cur := 0
			stopped := false
			end := eachElement(data[i:], func(v []byte, t jsonType, _ int) {
				idx := cur
				cur++
				if stopped || !containsInt(s.indexes, idx) {
					return
				}
				for pi, p := range s.paths {
					if stopped || !s.inArray[pi] || arrayIndex(p[level-1]) != idx {
						continue
					}
					at := searchKeys(v, p[level:])
					nmatched++
					s.matched[pi] = true
					if at == -1 {
						continue
					}
					var ok bool
					if t == jsonString {
						ok = cb(pi, v[at:], t, nil)
					} else {
						fv, ft, _, err := firstValue(v[at:])
						ok = cb(pi, fv, ft, err)
					}
					stopped = !ok
				}
			})
			if stopped || nmatched == len(s.paths) {
				return
			}
			i += end - 1
		case ']':
			level--
		}
	}
}

func containsInt(s []int, n int) bool {
	for _, v := range s {
		if v == n {
			return true
		}
	}
	return false
}
