package logql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// tokenKind is the kind of a lexical token. The lexer tokenises all of LogQL,
// including the constructs the parser does not support yet.
type tokenKind int

const (
	tEOF      tokenKind = iota
	tIdent              // label name, function or stage name: [a-zA-Z_][a-zA-Z0-9_]*
	tKeyword            // and or unless by without bool on ignoring group_left group_right offset
	tString             // "…" with Go escapes, or `…` raw; val is the unquoted value
	tNumber             // 42, 1.5, 1e3, .5
	tDuration           // 5m, 1h30m, 15000ms, 1.5h, 1d
	tBytes              // 10KB, 1.5KiB, 20B
	tFlag               // --strict, --keep-empty (logfmt flags)

	tLBrace   // {
	tRBrace   // }
	tLParen   // (
	tRParen   // )
	tLBracket // [
	tRBracket // ]
	tComma    // ,

	tEq    // =
	tNeq   // !=
	tRe    // =~
	tNre   // !~
	tEqEq  // ==
	tGt    // >
	tGte   // >=
	tLt    // <
	tLte   // <=
	tPipe  // |
	tPipeE // |=
	tPipeR // |~
	tPipeP // |>
	tNotP  // !>

	tAdd // +
	tSub // -
	tMul // *
	tDiv // /
	tMod // %
	tPow // ^
)

var kindNames = [...]string{
	tEOF: "end of input", tIdent: "identifier", tKeyword: "keyword", tString: "string",
	tNumber: "number", tDuration: "duration", tBytes: "bytes", tFlag: "flag",
	tLBrace: "{", tRBrace: "}", tLParen: "(", tRParen: ")", tLBracket: "[", tRBracket: "]",
	tComma: ",", tEq: "=", tNeq: "!=", tRe: "=~", tNre: "!~", tEqEq: "==", tGt: ">",
	tGte: ">=", tLt: "<", tLte: "<=", tPipe: "|", tPipeE: "|=", tPipeR: "|~", tPipeP: "|>",
	tNotP: "!>", tAdd: "+", tSub: "-", tMul: "*", tDiv: "/", tMod: "%", tPow: "^",
}

func (k tokenKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("token(%d)", int(k))
}

// keywords are the reserved words of LogQL that the lexer returns as
// tKeyword, in any case (Loki's lexer lowercases them: BY, Or, OFFSET). Function
// and stage names (rate, sum, json, line_format, …) stay identifiers: the
// parser takes them, in any case too, where the grammar expects them, so they
// remain usable as label names elsewhere.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true,
	"by": true, "without": true, "bool": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true,
	"offset": true,
}

// token is one lexical token.
type token struct {
	kind tokenKind
	pos  int    // byte offset of the first character in the query
	text string // the token as written
	val  string // tString: the unquoted value; tKeyword: the word in lower case

	num   float64       // tNumber
	dur   time.Duration // tDuration
	bytes uint64        // tBytes
}

// word returns a keyword or an identifier in lower case: keywords, function
// and stage names are case-insensitive.
func (t token) word() string {
	if t.kind == tKeyword {
		return t.val
	}
	return strings.ToLower(t.text)
}

// is reports whether the token is the keyword w.
func (t token) is(w string) bool { return t.kind == tKeyword && t.val == w }

// describe names the token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tIdent:
		return "identifier " + t.text
	case tKeyword:
		return "keyword " + t.text
	case tString:
		return "string " + clipQuote(t.val)
	case tNumber, tDuration, tBytes:
		return t.kind.String() + " " + t.text
	case tFlag:
		return "flag " + t.text
	}
	return strconv.Quote(t.text)
}

func clipQuote(s string) string {
	const limit = 40
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > limit-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// lexer splits a query into tokens on demand.
type lexer struct {
	src string
	i   int
}

// next returns the next token, or a *ParseError for text that is no token.
func (l *lexer) next() (token, error) {
	l.skipSpace()
	start := l.i
	if l.i >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.i]
	op := func(k tokenKind, n int) (token, error) {
		l.i += n
		return token{kind: k, pos: start, text: l.src[start:l.i]}, nil
	}
	peek := byte(0)
	if l.i+1 < len(l.src) {
		peek = l.src[l.i+1]
	}
	switch {
	case c == '"' || c == '`':
		return l.lexString()
	case isDigit(c) || (c == '.' && isDigit(peek)):
		return l.lexNumber()
	case isIdentStart(c):
		for l.i < len(l.src) && isIdentChar(l.src[l.i]) {
			l.i++
		}
		text := l.src[start:l.i]
		if lower := strings.ToLower(text); keywords[lower] {
			return token{kind: tKeyword, pos: start, text: text, val: lower}, nil
		}
		return token{kind: tIdent, pos: start, text: text}, nil
	}
	switch c {
	case '{':
		return op(tLBrace, 1)
	case '}':
		return op(tRBrace, 1)
	case '(':
		return op(tLParen, 1)
	case ')':
		return op(tRParen, 1)
	case '[':
		return op(tLBracket, 1)
	case ']':
		return op(tRBracket, 1)
	case ',':
		return op(tComma, 1)
	case '=':
		switch peek {
		case '~':
			return op(tRe, 2)
		case '=':
			return op(tEqEq, 2)
		}
		return op(tEq, 1)
	case '!':
		switch peek {
		case '=':
			return op(tNeq, 2)
		case '~':
			return op(tNre, 2)
		case '>':
			return op(tNotP, 2)
		}
		return token{}, l.errorf(start, "unexpected character '!': expected !=, !~ or !>")
	case '|':
		switch peek {
		case '=':
			return op(tPipeE, 2)
		case '~':
			return op(tPipeR, 2)
		case '>':
			return op(tPipeP, 2)
		}
		return op(tPipe, 1)
	case '>':
		if peek == '=' {
			return op(tGte, 2)
		}
		return op(tGt, 1)
	case '<':
		if peek == '=' {
			return op(tLte, 2)
		}
		return op(tLt, 1)
	case '+':
		return op(tAdd, 1)
	case '-':
		// A logfmt flag: --strict, --keep-empty.
		if peek == '-' && l.i+2 < len(l.src) && isIdentStart(l.src[l.i+2]) {
			l.i += 2
			for l.i < len(l.src) && (isIdentChar(l.src[l.i]) || l.src[l.i] == '-') {
				l.i++
			}
			return token{kind: tFlag, pos: start, text: l.src[start:l.i]}, nil
		}
		return op(tSub, 1)
	case '*':
		return op(tMul, 1)
	case '/':
		return op(tDiv, 1)
	case '%':
		return op(tMod, 1)
	case '^':
		return op(tPow, 1)
	case '\'':
		return token{}, l.errorf(start, "unexpected character '\\'': strings are quoted with \" or `")
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.i:])
	if r == utf8.RuneError {
		return token{}, l.errorf(start, "invalid UTF-8 byte %#x", c)
	}
	return token{}, l.errorf(start, "unexpected character %q", r)
}

// skipSpace skips white space and # comments.
func (l *lexer) skipSpace() {
	for l.i < len(l.src) {
		switch l.src[l.i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			l.i++
		case '#':
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		default:
			return
		}
	}
}

func (l *lexer) lexString() (token, error) {
	start := l.i
	q := l.src[l.i]
	if q == '`' {
		end := strings.IndexByte(l.src[l.i+1:], '`')
		if end < 0 {
			return token{}, l.errorf(start, "unterminated raw string: missing closing `")
		}
		l.i += end + 2
		text := l.src[start:l.i]
		if !utf8.ValidString(text) {
			return token{}, l.errorf(start, "invalid UTF-8 encoding in string %s", clipText(strconv.QuoteToASCII(text)))
		}
		return token{kind: tString, pos: start, text: text, val: text[1 : len(text)-1]}, nil
	}
	j := l.i + 1
	escaped := false
	for ; j < len(l.src); j++ {
		switch l.src[j] {
		case '\\':
			escaped = true
			j++
			continue
		case '\n':
			return token{}, l.errorf(start, "unterminated string: newline before the closing \"")
		case '"':
		default:
			continue
		}
		break
	}
	if j >= len(l.src) {
		return token{}, l.errorf(start, "unterminated string: missing closing \"")
	}
	l.i = j + 1
	text := l.src[start:l.i]
	if !utf8.ValidString(text) {
		return token{}, l.errorf(start, "invalid UTF-8 encoding in string %s", clipText(strconv.QuoteToASCII(text)))
	}
	val := text[1 : len(text)-1]
	if escaped {
		v, err := strconv.Unquote(text)
		if err != nil {
			return token{}, l.errorf(start, "invalid escape sequence in string %s", clipText(text))
		}
		val = v
	}
	return token{kind: tString, pos: start, text: text, val: val}, nil
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// lexNumber reads a number, a duration or a byte size: a run of digits,
// letters, dots and µ that starts with a digit (or a dot and a digit).
func (l *lexer) lexNumber() (token, error) {
	start := l.i
	for l.i < len(l.src) {
		c := l.src[l.i]
		if isIdentChar(c) || c == '.' {
			// An exponent sign: 1e-3, 2.5E+6, 0x1p-3.
			if l.i+2 < len(l.src) && (l.src[l.i+1] == '-' || l.src[l.i+1] == '+') && isDigit(l.src[l.i+2]) &&
				((c == 'e' || c == 'E') && isDecimal(l.src[start:l.i]) || (c == 'p' || c == 'P') && isHex(l.src[start:l.i])) {
				l.i += 2
				continue
			}
			l.i++
			continue
		}
		if strings.HasPrefix(l.src[l.i:], "µ") {
			l.i += len("µ")
			continue
		}
		break
	}
	text := l.src[start:l.i]
	t := token{pos: start, text: text}
	if isDecimal(text) || isExponent(text) {
		f, err := strconv.ParseFloat(text, 64)
		if err == nil {
			t.kind, t.num = tNumber, f
			return t, nil
		}
		// Loki refuses a literal beyond the float64 range.
		return token{}, l.errorf(start, "unable to parse literal %s as a float: value out of range", clipText(text))
	}
	if len(text) > 1 && text[0] == '0' && strings.ContainsRune("xXoO", rune(text[1])) {
		// Loki's scanner reads 0x1f as a number that its float parser
		// then refuses, but for a hexadecimal float (0x1p3).
		if f, err := strconv.ParseFloat(text, 64); err == nil && strings.ContainsAny(text, "pP") {
			t.kind, t.num = tNumber, f
			return t, nil
		}
		return token{}, l.errorf(start, "unable to parse literal %s as a float: only decimal numbers and hexadecimal floats (0x1p3) are allowed", clipText(text))
	}
	if d, ok := parseDuration(text); ok {
		t.kind, t.dur = tDuration, d
		return t, nil
	}
	if b, ok := parseBytes(text); ok {
		t.kind, t.bytes = tBytes, b
		return t, nil
	}
	return token{}, l.errorf(start, "invalid number, duration or byte size %q", clipText(text))
}

// isDecimal reports whether s is digits with at most one dot: 12, 1.5, .5, 5.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case isDigit(s[i]):
			digits++
		case s[i] == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// isHex reports whether s is 0x or 0X and hex digits, maybe with a dot.
func isHex(s string) bool {
	if len(s) < 3 || s[0] != '0' || s[1] != 'x' && s[1] != 'X' {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && c != '.' && (c|0x20 < 'a' || c|0x20 > 'f') {
			return false
		}
	}
	return true
}

// isExponent reports whether s is a decimal with an exponent: 1e3, 2.5E-6.
func isExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i <= 0 || !isDecimal(s[:i]) {
		return false
	}
	e := s[i+1:]
	if e != "" && (e[0] == '+' || e[0] == '-') {
		e = e[1:]
	}
	if e == "" {
		return false
	}
	for j := 0; j < len(e); j++ {
		if !isDigit(e[j]) {
			return false
		}
	}
	return true
}

// parseDuration parses a duration as Loki's lexer does: in Prometheus'
// form (whole numbers of y, w, d, h, m, s and ms, largest unit first: 2d,
// 1h30m, 90s) or, failing that, in Go's (decimal numbers of h, m, s, ms,
// us, µs and ns in any order: 1.5h, 250ms). 1.5d is neither.
func parseDuration(s string) (time.Duration, bool) {
	if d, ok := parsePromDuration(s); ok {
		return d, true
	}
	if s == "" || !isDigit(s[0]) && s[0] != '.' {
		return 0, false // no sign: a lexed number never has one
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// promUnits are the units of a Prometheus duration, in the order they must
// come.
var promUnits = []struct {
	name string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour},
	{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond},
}

// parsePromDuration parses a duration in Prometheus' form, the only one
// Loki accepts for the range of a range aggregation ([5m], [1h30m]).
func parsePromDuration(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var total time.Duration
	next := 0 // index of the smallest unit still allowed
	for s != "" {
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, false
		}
		s = s[i:]
		found := false
		for k := next; k < len(promUnits); k++ {
			u := promUnits[k]
			// "m" must not take the "m" of "ms".
			if !strings.HasPrefix(s, u.name) || u.name == "m" && strings.HasPrefix(s, "ms") {
				continue
			}
			if n > int64(math.MaxInt64/u.d) || total > math.MaxInt64-time.Duration(n)*u.d {
				return 0, false
			}
			total += time.Duration(n) * u.d
			s = s[len(u.name):]
			next, found = k+1, true
			break
		}
		if !found {
			return 0, false
		}
	}
	return total, true
}

// byteScales are the multiples of the units of byte sizes, by first letter.
var byteScales = map[byte]float64{'k': 1, 'K': 1, 'M': 2, 'G': 3, 'T': 4, 'P': 5}

// parseBytes parses a byte size as Loki's lexer reads them: a decimal number
// and a unit B, or k, K, M, G, T, P with an optional i (powers of 1024
// rather than 1000) and an optional B: 20B, 10KB, 10kB, 1.5KiB, 5M, 2Gi.
// Other letters, lower-case b among them, make no byte size (1kb, 20b).
func parseBytes(s string) (uint64, bool) {
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
		i++
	}
	if !isDecimal(s[:i]) {
		return 0, false
	}
	unit := s[i:]
	mul := 1.0
	switch {
	case unit == "B":
	case unit != "" && byteScales[unit[0]] > 0:
		base, rest := 1000.0, unit[1:]
		if strings.HasPrefix(rest, "i") {
			base, rest = 1024, rest[1:]
		}
		if rest != "" && rest != "B" {
			return 0, false
		}
		mul = math.Pow(base, byteScales[unit[0]])
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	v := f * mul
	if v >= math.MaxUint64 {
		return 0, false
	}
	return uint64(v), true
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func (l *lexer) errorf(pos int, format string, args ...any) *ParseError {
	return newParseError(l.src, pos, fmt.Sprintf(format, args...))
}

// lexAll tokenises a whole query, for tests and tools.
func lexAll(q string) ([]token, error) {
	l := &lexer{src: q}
	var out []token
	for {
		t, err := l.next()
		if err != nil {
			return out, err
		}
		out = append(out, t)
		if t.kind == tEOF {
			return out, nil
		}
	}
}

// ParseDuration parses a duration as LogQL writes them: Prometheus' form
// (5m, 1h30m, 2d) or Go's (1.5h, 250ms).
func ParseDuration(s string) (time.Duration, error) {
	d, ok := parseDuration(s)
	if !ok {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}
