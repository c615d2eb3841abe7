package extract

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Pattern extracts the labels of | pattern "<ip> - - [<_>] \"<method> …".
//
// A pattern is literal text and captures: <name> with name matching
// [a-zA-Z_][a-zA-Z0-9_]*, or <_> which matches without capturing. Any other
// '<' is literal. The pattern ends at its first invalid UTF-8 byte (Loki's
// lexer stops there). It needs at least one named capture, no two captures
// next to each other, and no name twice; NewPattern's errors carry Loki's
// messages.
//
// Matching is Loki's: a leading literal must start the line; then each
// capture takes the text up to the first occurrence of the literal after
// it, and a capture at the end takes the rest of the line; text after a
// final literal is ignored. When a literal is not found, the capture
// before it takes the rest of the line and matching stops there, so a line
// may yield only the first captures. An empty line, or one that does not
// start with the leading literal, yields nothing. Captures may be empty.
// Values are the line's bytes as they are; names are emitted as written.
type Pattern struct {
	nodes []patternNode // literals and captures, never two captures in a row
	names []string      // names of the named captures, in order
	ls    lineString    // the line, for values
}

// patternNode is a literal (lit set) or a capture.
type patternNode struct {
	lit  []byte // the literal text; nil for a capture
	name string // the capture's name; "_" does not capture
}

func (n patternNode) isCapture() bool { return n.lit == nil }

func (n patternNode) captures() bool { return n.lit == nil && n.name != "_" }

// NewPattern parses a pattern.
func NewPattern(p string) (*Pattern, error) {
	nodes := parsePattern(p)
	if len(nodes) == 0 {
		// What Loki's grammar says about an empty pattern (or one starting
		// with an invalid byte).
		return nil, errors.New("parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL")
	}
	pat := &Pattern{nodes: nodes}
	for _, n := range nodes {
		if n.captures() {
			pat.names = append(pat.names, n.name)
		}
	}
	if len(pat.names) == 0 {
		return nil, errors.New("at least one capture is required")
	}
	for i := 1; i < len(nodes); i++ {
		if nodes[i-1].isCapture() && nodes[i].isCapture() {
			return nil, fmt.Errorf("found consecutive capture '<%s><%s>': invalid expression", nodes[i-1].name, nodes[i].name)
		}
	}
	for i, name := range pat.names {
		if indexOf(pat.names[:i], name) >= 0 {
			return nil, fmt.Errorf("duplicate capture name (%s): invalid expression", name)
		}
	}
	return pat, nil
}

// parsePattern splits p into nodes, merging adjacent literal characters.
func parsePattern(p string) []patternNode {
	var nodes []patternNode
	var lit []byte
	for i := 0; i < len(p); {
		if name, n := patternCapture(p[i:]); n > 0 {
			if lit != nil {
				nodes = append(nodes, patternNode{lit: lit})
				lit = nil
			}
			nodes = append(nodes, patternNode{name: name})
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		lit = append(lit, p[i:i+size]...)
		i += size
	}
	if lit != nil {
		nodes = append(nodes, patternNode{lit: lit})
	}
	return nodes
}

// patternCapture returns the name of the capture <name> at the start of s
// and its length, or 0.
func patternCapture(s string) (string, int) {
	if len(s) < 3 || s[0] != '<' || !isIdentStart(rune(s[1])) {
		return "", 0
	}
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c == '>':
			return s[1:i], i + 1
		case !isIdentRune(rune(c)):
			return "", 0
		}
	}
	return "", 0
}

// Names returns the names of the captures, in pattern order.
func (p *Pattern) Names() []string { return p.names }

// Extract emits the captures of line; see the type's comment.
func (p *Pattern) Extract(line []byte, emit Emit) {
	if len(line) == 0 {
		return
	}
	p.ls.reset(line)
	defer p.ls.reset(nil)
	nodes := p.nodes
	in := line
	if !nodes[0].isCapture() {
		if !bytes.HasPrefix(in, nodes[0].lit) {
			return
		}
		in = in[len(nodes[0].lit):]
		nodes = nodes[1:]
	}
	k := 0 // index of the next name
	for len(nodes) > 0 {
		capture := nodes[0]
		if len(nodes) == 1 {
			if capture.captures() {
				emit(p.names[k], p.ls.of(in))
			}
			return
		}
		lit := nodes[1].lit
		nodes = nodes[2:]
		i := bytes.Index(in, lit)
		if i == -1 {
			if capture.captures() {
				emit(p.names[k], p.ls.of(in))
			}
			return
		}
		if capture.captures() {
			if !emit(p.names[k], p.ls.of(in[:i])) {
				return
			}
			k++
		}
		in = in[i+len(lit):]
	}
}
