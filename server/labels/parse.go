package labels

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads a label set in Loki's text form, `{a="1", b="2"}`, as push
// clients send it. Values are Go-style quoted strings ("…" or `…`); names are
// not validated here (Validate does). The result is sorted.
func Parse(s string) (Labels, error) {
	p := parser{s: s}
	p.space()
	if !p.eat('{') {
		return nil, fmt.Errorf("label set %q must start with '{'", clip(s))
	}
	var out Labels
	for {
		p.space()
		if p.eat('}') {
			break
		}
		if len(out) > 0 {
			if !p.eat(',') {
				return nil, fmt.Errorf("label set %q: expected ',' or '}' at offset %d", clip(s), p.i)
			}
			p.space()
		}
		name := p.ident()
		if name == "" && p.i < len(p.s) && p.s[p.i] == '"' {
			// A quoted name, as Prometheus 3 writes names that are not
			// plain identifiers; Validate says what is wrong with it.
			q, err := p.quoted()
			if err != nil {
				return nil, fmt.Errorf("label set %q: label name: %w", clip(s), err)
			}
			name = q
		}
		if name == "" {
			return nil, fmt.Errorf("label set %q: expected a label name at offset %d", clip(s), p.i)
		}
		p.space()
		if !p.eat('=') {
			return nil, fmt.Errorf("label set %q: expected '=' after %q", clip(s), name)
		}
		p.space()
		v, err := p.quoted()
		if err != nil {
			return nil, fmt.Errorf("label set %q: value of %q: %w", clip(s), name, err)
		}
		out = append(out, Label{name, v})
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("label set %q: unexpected text after '}'", clip(s))
	}
	return New(out...), nil
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == '.' || c == '-' || c == '/' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// quoted reads a "…" or `…` string. The common case, no escapes, costs no
// allocation.
func (p *parser) quoted() (string, error) {
	if p.i >= len(p.s) {
		return "", fmt.Errorf("missing quoted value")
	}
	q := p.s[p.i]
	switch q {
	case '`':
		end := strings.IndexByte(p.s[p.i+1:], '`')
		if end < 0 {
			return "", fmt.Errorf("unterminated raw string")
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return v, nil
	case '"':
		j := p.i + 1
		escaped := false
		for ; j < len(p.s); j++ {
			if p.s[j] == '\\' {
				escaped = true
				j++
				continue
			}
			if p.s[j] == '"' {
				break
			}
		}
		if j >= len(p.s) {
			return "", fmt.Errorf("unterminated quoted string")
		}
		raw := p.s[p.i : j+1]
		p.i = j + 1
		if !escaped {
			return raw[1 : len(raw)-1], nil
		}
		v, err := strconv.Unquote(raw)
		if err != nil {
			return "", fmt.Errorf("bad escape in %s", raw)
		}
		return v, nil
	}
	return "", fmt.Errorf("value must be quoted, found %q", p.s[p.i:min(len(p.s), p.i+10)])
}
