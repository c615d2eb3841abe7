package extract

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// This file parses the expressions of | json a="x.y[0]" and | logfmt a="x".
// Loki parses them with two small yacc grammars; the parsers here accept
// the same language and fail with the same messages, including which
// message wins when the lexer and the grammar both object (the later one).

// runeReader reads a string rune by rune the way Loki's expression
// scanners do through bufio: a NUL or the end gives 0, an invalid byte
// gives U+FFFD, and only the last rune read can be unread.
type runeReader struct {
	s    string
	pos  int
	last int // size of the last rune read, or -1
}

func (r *runeReader) read() rune {
	if r.pos >= len(r.s) {
		r.last = -1
		return 0
	}
	c, size := utf8.DecodeRuneInString(r.s[r.pos:])
	r.pos += size
	r.last = size
	return c
}

func (r *runeReader) unread() {
	if r.last > 0 {
		r.pos -= r.last
		r.last = -1
	}
}

func isExprSpace(c rune) bool { return c == ' ' || c == '\t' || c == '\n' }

func isIdentStart(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func isIdentRune(c rune) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isDigit(c rune) bool { return c >= '0' && c <= '9' }

// Tokens of the two grammars, named as yacc names them in messages.
type exprToken int

const (
	tokEnd exprToken = iota
	tokDot
	tokLSB
	tokRSB
	tokString
	tokField // an identifier: FIELD in json paths, KEY in logfmt
	tokIndex
)

func (t exprToken) name(logfmt bool) string {
	switch t {
	case tokDot:
		return "DOT"
	case tokLSB:
		return "LSB"
	case tokRSB:
		return "RSB"
	case tokString:
		return "STRING"
	case tokField:
		if logfmt {
			return "KEY"
		}
		return "FIELD"
	case tokIndex:
		return "INDEX"
	}
	return "$end"
}

// exprLexer tokenises both expression languages; logfmt selects the
// logfmt one, which has no brackets, dots or indexes.
type exprLexer struct {
	r      runeReader
	logfmt bool
	err    error  // the last lexer error; the token after it is tokEnd
	str    string // text of the last tokString or tokField
	index  int    // value of the last tokIndex
}

func (l *exprLexer) next() exprToken {
	for {
		c := l.r.read()
		switch {
		case c == 0:
			return tokEnd
		case isExprSpace(c):
			continue
		case !l.logfmt && isDigit(c):
			l.r.unread()
			n, err := l.scanInt()
			if err != nil {
				l.err = err
				return tokEnd
			}
			l.index = n
			return tokIndex
		case !l.logfmt && c == '[':
			return tokLSB
		case !l.logfmt && c == ']':
			return tokRSB
		case !l.logfmt && c == '.':
			return tokDot
		case isIdentStart(c):
			l.r.unread()
			l.str = l.scanIdent()
			return tokField
		case c == '"':
			l.str = l.scanString()
			return tokString
		default:
			l.err = fmt.Errorf("unexpected char %c", c)
			return tokEnd
		}
	}
}

func (l *exprLexer) scanIdent() string {
	start := l.r.pos
	for {
		c := l.r.read()
		if c == 0 || !isIdentRune(c) {
			l.r.unread()
			return l.r.s[start:l.r.pos]
		}
	}
}

// scanString reads up to a closing '"' or, as Loki's scanners do, a ']'
// (both consumed), or the end. There are no escapes; invalid bytes become
// U+FFFD.
func (l *exprLexer) scanString() string {
	var b []byte
	for {
		c := l.r.read()
		if c == 0 || c == '"' || c == ']' {
			return string(b)
		}
		b = utf8.AppendRune(b, c)
	}
}

// scanInt reads an array index, which must end at white space, '.' or ']'.
func (l *exprLexer) scanInt() (int, error) {
	start := l.r.pos
	for {
		c := l.r.read()
		if c == '.' && l.r.pos-1 > start {
			return 0, errors.New("cannot use float as array index")
		}
		if isExprSpace(c) || c == '.' || c == ']' {
			l.r.unread()
			break
		}
		if !isDigit(c) {
			return 0, fmt.Errorf("non-integer value: %c", c)
		}
	}
	return strconv.Atoi(l.r.s[start:l.r.pos])
}

// syntaxError is the message yacc gives for an unexpected token, with the
// tokens the state could shift when yacc lists them.
func syntaxError(got exprToken, logfmt bool, want ...exprToken) error {
	msg := "syntax error: unexpected " + got.name(logfmt)
	for i, t := range want {
		if i == 0 {
			msg += ", expecting "
		} else {
			msg += " or "
		}
		msg += t.name(logfmt)
	}
	return errors.New(msg)
}

// parseJSONPath parses a | json parameter expression: a field, ["key"] or
// [index] first, then any of .field, ["key"] and [index]. It returns the
// path as Loki hands it to its JSON library: keys as they are, indexes as
// "[n]".
func parseJSONPath(expr string) ([]string, error) {
	l := exprLexer{r: runeReader{s: expr, last: -1}}
	var path []string
	tok := l.next()
	// The first element.
	switch tok {
	case tokField:
		path = append(path, l.str)
		tok = l.next()
	case tokLSB:
		var err error
		if path, tok, err = parseBracket(&l, path); err != nil {
			return nil, err
		}
	default:
		return nil, syntaxError(tok, false, tokLSB, tokField)
	}
	for {
		switch tok {
		case tokEnd:
			if l.err != nil {
				return nil, l.err
			}
			return path, nil
		case tokDot:
			if tok = l.next(); tok != tokField {
				return nil, syntaxError(tok, false, tokField)
			}
			path = append(path, l.str)
			tok = l.next()
		case tokLSB:
			var err error
			if path, tok, err = parseBracket(&l, path); err != nil {
				return nil, err
			}
		default:
			return nil, syntaxError(tok, false)
		}
	}
}

// parseBracket parses ["key"] or [index] after its '[' and returns the
// token that follows.
func parseBracket(l *exprLexer, path []string) ([]string, exprToken, error) {
	tok := l.next()
	var elem string
	switch tok {
	case tokString:
		elem = l.str
	case tokIndex:
		elem = "[" + strconv.Itoa(l.index) + "]"
	default:
		return nil, tok, syntaxError(tok, false, tokString, tokIndex)
	}
	if tok = l.next(); tok != tokRSB {
		return nil, tok, syntaxError(tok, false, tokRSB)
	}
	return append(path, elem), l.next(), nil
}

// parseLogfmtKey parses a | logfmt parameter expression: an identifier or
// a quoted string, then any number of quoted strings. It returns the key
// as Loki compares it with the line's keys: the one element, or for more
// than one what fmt.Sprintf("%v", elements...) makes of them (which no key
// can equal).
func parseLogfmtKey(expr string) (string, error) {
	l := exprLexer{r: runeReader{s: expr, last: -1}, logfmt: true}
	var elems []any
	tok := l.next()
	if tok != tokField && tok != tokString {
		return "", syntaxError(tok, true, tokString, tokField)
	}
	elems = append(elems, l.str)
	for {
		switch tok = l.next(); tok {
		case tokEnd:
			if l.err != nil {
				return "", l.err
			}
			if len(elems) == 1 {
				return elems[0].(string), nil
			}
			return fmt.Sprintf("%v", elems...), nil
		case tokString:
			elems = append(elems, l.str)
		default:
			return "", syntaxError(tok, true)
		}
	}
}
