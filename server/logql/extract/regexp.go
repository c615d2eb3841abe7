package extract

import (
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"
)

// Regexp extracts the labels of | regexp "…": one per named capture group.
//
// The expression is Go's RE2 syntax (Loki uses grafana/regexp, a faster
// copy of Go's package with the same syntax and matching), matched
// leftmost-first anywhere in the line. Names are sanitised (a leading digit
// gets a "_"). A line that does not match yields nothing; a group that
// takes no part in the match yields "". Values are the line's bytes as
// they are, invalid UTF-8 included.
type Regexp struct {
	re    *regexp.Regexp // the compiled expression
	names []string       // per group index: the label name, "" for unnamed groups
	ls    lineString     // the line, for values
}

var errMissingCapture = errors.New("at least one named capture must be supplied")

// NewRegexp compiles expr, which needs at least one named group. Its errors
// are Go's compile errors and Loki's: "at least one named capture must be
// supplied", "duplicate extracted label name 'x'".
func NewRegexp(expr string) (*Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	if re.NumSubexp() == 0 {
		return nil, errMissingCapture
	}
	r := &Regexp{re: re, names: make([]string, re.NumSubexp()+1)}
	named := 0
	for i, n := range re.SubexpNames() {
		if n == "" {
			continue
		}
		if !utf8.ValidString(n) {
			return nil, fmt.Errorf("invalid extracted label name '%s'", n)
		}
		for _, prev := range re.SubexpNames()[:i] {
			if prev == n {
				return nil, fmt.Errorf("duplicate extracted label name '%s'", n)
			}
		}
		r.names[i] = SanitizeName(n)
		named++
	}
	if named == 0 {
		return nil, errMissingCapture
	}
	return r, nil
}

// Names returns the label names of the named groups, in group order.
func (r *Regexp) Names() []string {
	var names []string
	for _, n := range r.names {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// Extract emits the named groups of the first match in line, in group
// order.
func (r *Regexp) Extract(line []byte, emit Emit) {
	m := r.re.FindSubmatchIndex(line)
	if m == nil {
		return
	}
	r.ls.reset(line)
	defer r.ls.reset(nil)
	for i, name := range r.names {
		if name == "" {
			continue
		}
		var v string
		if m[2*i] >= 0 {
			v = r.ls.of(line[m[2*i]:m[2*i+1]])
		}
		if !emit(name, v) {
			return
		}
	}
}
