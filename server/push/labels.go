package push

import (
	"errors"
	"strconv"
)

// eachLabel calls fn for each pair of a label text like {a="b", c="d"}, in
// order. It accepts what DecodeJSON builds and what Prometheus and LogQL
// print: bare or quoted names, "double" or `back` quoted values, optional
// spaces and a trailing comma. It is only used to re-encode labels as JSON,
// so it is lenient and leaves validation to the server.
func eachLabel(s string, fn func(name, value string)) error {
	p := labelParser{s: s}
	p.space()
	if !p.eat('{') {
		return errors.New("label text must start with {")
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		name, ok := p.name()
		if !ok {
			return errors.New("bad label name")
		}
		p.space()
		if !p.eat('=') {
			return errors.New("want = after a label name")
		}
		p.space()
		value, ok := p.quoted()
		if !ok {
			return errors.New("bad label value")
		}
		fn(name, value)
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return errors.New("want , or } after a label value")
	}
	p.space()
	if p.i != len(p.s) {
		return errors.New("data after }")
	}
	return nil
}

type labelParser struct {
	s string
	i int
}

func (p *labelParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *labelParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *labelParser) name() (string, bool) {
	if p.i < len(p.s) && (p.s[p.i] == '"' || p.s[p.i] == '`') {
		return p.quoted()
	}
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if !(c == '_' || c == ':' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			break
		}
		j++
	}
	if j == p.i {
		return "", false
	}
	name := p.s[p.i:j]
	p.i = j
	return name, true
}

// quoted reads a Go-style quoted string, without allocating when it has no
// escapes.
func (p *labelParser) quoted() (string, bool) {
	if p.i >= len(p.s) {
		return "", false
	}
	q := p.s[p.i]
	if q != '"' && q != '`' {
		return "", false
	}
	escaped := false
	for j := p.i + 1; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '\\' && q == '"':
			escaped = true
			j++ // skip the escaped byte, which may be a quote
		case c == q:
			lit := p.s[p.i : j+1]
			p.i = j + 1
			if !escaped {
				return lit[1 : len(lit)-1], true
			}
			v, err := strconv.Unquote(lit)
			return v, err == nil
		case c == '\n' && q == '"':
			return "", false
		}
	}
	return "", false
}
