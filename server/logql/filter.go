package logql

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LineMatcher is a compiled line filter. Match runs for every line the
// storage engine reads: it allocates nothing and is safe for concurrent use.
type LineMatcher interface {
	Match(line []byte) bool
}

// Compile builds the matcher of the filter:
//
//   - |= keeps a line that contains any of the values (bytes.Contains); an
//     empty value matches every line.
//   - != keeps a line that contains none of the values.
//   - |~ keeps a line in which any of the Go RE2 regexps has a match. Like
//     Loki's, the regexps are unanchored and "." matches a newline too.
//   - !~ keeps a line in which none has a match.
//   - |> keeps a line that matches any of the patterns; !> one that matches
//     none. A pattern is literal text with <_> wildcards, each matching one
//     byte or more, anchored at both ends of the line: "<_> level=error <_>"
//     keeps a line with " level=error " neither at its start nor at its end,
//     "GET <_>" a line that starts with "GET ". Named captures (<name>) are
//     for the pattern parser stage, not for line filters.
func (f *LineFilter) Compile() (LineMatcher, error) {
	var alts []LineMatcher
	op := f.Op.positive()
	for i, v := range f.Values {
		var m LineMatcher
		switch {
		case f.IsIP(i):
			if op != LineContains {
				return nil, fmt.Errorf("ip: invalid operation: ip() takes |= or !=, not %s", f.Op)
			}
			r, err := ParseIPRange(v)
			if err != nil {
				return nil, err
			}
			m = ipMatcher{r}
		case op == LineContains:
			if v == "" {
				m = matchAll{}
			} else {
				m = &containsMatcher{[]byte(v)}
			}
		case op == LineMatch:
			var err error
			if m, err = compileRegexp(v); err != nil {
				return nil, err
			}
		case op == LinePattern:
			pm, err := parsePattern(v)
			if err != nil {
				return nil, fmt.Errorf("invalid pattern %s: %w", clipQuote(v), err)
			}
			m = pm
		default:
			return nil, fmt.Errorf("unknown line filter operator %d", f.Op)
		}
		alts = append(alts, m)
	}
	m := anyOf(alts)
	if f.Op.Negated() {
		return negate(m), nil
	}
	return m, nil
}

// CompileFilters builds one matcher that keeps a line when every filter
// keeps it.
func CompileFilters(filters []*LineFilter) (LineMatcher, error) {
	var ms []LineMatcher
	for _, f := range filters {
		m, err := f.Compile()
		if err != nil {
			return nil, err
		}
		switch m.(type) {
		case matchAll:
			continue
		case matchNone:
			return matchNone{}, nil
		}
		ms = append(ms, m)
	}
	switch len(ms) {
	case 0:
		return matchAll{}, nil
	case 1:
		return ms[0], nil
	}
	return allMatcher(ms), nil
}

// anyOf returns a matcher that matches when any of ms does. No alternatives
// (a filter without values) match nothing.
func anyOf(ms []LineMatcher) LineMatcher {
	var out []LineMatcher
	var lits [][]byte
	for _, m := range ms {
		switch m := m.(type) {
		case matchAll:
			return matchAll{}
		case matchNone:
			continue
		case *containsMatcher:
			lits = append(lits, m.needle)
			continue
		case *containsAnyMatcher:
			lits = append(lits, m.needles...)
			continue
		}
		out = append(out, m)
	}
	switch len(lits) {
	case 0:
	case 1:
		out = append([]LineMatcher{&containsMatcher{lits[0]}}, out...)
	default:
		out = append([]LineMatcher{&containsAnyMatcher{lits}}, out...)
	}
	switch len(out) {
	case 0:
		return matchNone{}
	case 1:
		return out[0]
	}
	return anyMatcher(out)
}

func negate(m LineMatcher) LineMatcher {
	switch m := m.(type) {
	case matchAll:
		return matchNone{}
	case matchNone:
		return matchAll{}
	case notMatcher:
		return m.m
	}
	return notMatcher{m}
}

type matchAll struct{}

func (matchAll) Match([]byte) bool { return true }

type matchNone struct{}

func (matchNone) Match([]byte) bool { return false }

type containsMatcher struct{ needle []byte }

func (m *containsMatcher) Match(line []byte) bool { return bytes.Contains(line, m.needle) }

type containsAnyMatcher struct{ needles [][]byte }

func (m *containsAnyMatcher) Match(line []byte) bool {
	for _, n := range m.needles {
		if bytes.Contains(line, n) {
			return true
		}
	}
	return false
}

type notMatcher struct{ m LineMatcher }

func (m notMatcher) Match(line []byte) bool { return !m.m.Match(line) }

type anyMatcher []LineMatcher

func (ms anyMatcher) Match(line []byte) bool {
	for _, m := range ms {
		if m.Match(line) {
			return true
		}
	}
	return false
}

type allMatcher []LineMatcher

func (ms allMatcher) Match(line []byte) bool {
	for _, m := range ms {
		if !m.Match(line) {
			return false
		}
	}
	return true
}

type regexpMatcher struct{ re *regexp.Regexp }

func (m *regexpMatcher) Match(line []byte) bool { return m.re.Match(line) }

// foldContainsMatcher matches a line that contains needle under ASCII case
// folding, as a (?i) regexp of ASCII text does. Some ASCII letters also fold
// to non-ASCII runes (k to the Kelvin sign, s to the long s): when the needle
// has such letters, a line without an ASCII match but with one of those runes
// goes to the regexp.
type foldContainsMatcher struct {
	needle       []byte // lower case
	first, upper byte   // the first byte of needle, in both cases
	special      [][]byte
	fallback     *regexp.Regexp
}

func (m *foldContainsMatcher) Match(line []byte) bool {
	if m.matchASCII(line) {
		return true
	}
	for _, s := range m.special {
		if bytes.Contains(line, s) {
			return m.fallback.Match(line)
		}
	}
	return false
}

func (m *foldContainsMatcher) matchASCII(line []byte) bool {
	n := len(m.needle)
	for i := 0; i+n <= len(line); {
		// Find the next candidate start with the fast IndexByte.
		j := indexEither(line[i:len(line)-n+1], m.first, m.upper)
		if j < 0 {
			return false
		}
		i += j
		if equalFoldASCII(line[i+1:i+n], m.needle[1:]) {
			return true
		}
		i++
	}
	return false
}

func indexEither(b []byte, x, y byte) int {
	if x == y {
		return bytes.IndexByte(b, x)
	}
	i := bytes.IndexByte(b, x)
	if i < 0 {
		return bytes.IndexByte(b, y)
	}
	if j := bytes.IndexByte(b[:i], y); j >= 0 {
		return j
	}
	return i
}

// equalFoldASCII compares b with the lower-case lower under ASCII folding.
func equalFoldASCII(b, lower []byte) bool {
	for i, c := range lower {
		d := b[i]
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if d != c {
			return false
		}
	}
	return true
}

// orderedMatcher matches a line that contains the needles in order, without
// overlap: the regexp a.*b.*c with a "." that matches newlines. The leftmost
// occurrence of each needle leaves the most room for the next.
type orderedMatcher struct{ needles [][]byte }

func (m *orderedMatcher) Match(line []byte) bool {
	for _, n := range m.needles {
		j := bytes.Index(line, n)
		if j < 0 {
			return false
		}
		line = line[j+len(n):]
	}
	return true
}

// compileRegexp compiles a line filter regexp, replacing it by substring
// searches in the common cases: a literal, possibly case-insensitive, an
// alternation of literals, literals separated by .*, all possibly
// surrounded by .*.
func compileRegexp(expr string) (LineMatcher, error) {
	// Validate on its own first: "(?s)" + expr must not change its meaning.
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("invalid regexp %s: %w", clipQuote(expr), err)
	}
	re, err := regexp.Compile("(?s)" + expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regexp %s: %w", clipQuote(expr), err)
	}
	if m := simpleRegexp(expr); m != nil {
		return m, nil
	}
	return &regexpMatcher{re}, nil
}

// simpleRegexp returns a faster equivalent of the unanchored (?s) regexp, or
// nil.
func simpleRegexp(expr string) LineMatcher {
	re, err := syntax.Parse(expr, syntax.Perl|syntax.DotNL)
	if err != nil {
		return nil
	}
	re = stripDotStars(re.Simplify())
	switch re.Op {
	case syntax.OpEmptyMatch:
		return matchAll{}
	case syntax.OpLiteral:
		return literalMatcher(re)
	case syntax.OpAlternate:
		var ms []LineMatcher
		for _, sub := range re.Sub {
			if sub.Op != syntax.OpLiteral {
				return nil
			}
			m := literalMatcher(sub)
			if m == nil {
				return nil
			}
			ms = append(ms, m)
		}
		return anyOf(ms)
	case syntax.OpConcat:
		// lit .* lit .* lit
		var needles [][]byte
		var cur []byte
		for _, sub := range flattenConcat(re, nil) {
			if isDotStar(sub) {
				if len(cur) > 0 {
					needles = append(needles, cur)
					cur = nil
				}
				continue
			}
			if sub.Op != syntax.OpLiteral {
				return nil
			}
			s, ok := plainLiteral(sub)
			if !ok {
				return nil
			}
			cur = append(cur, s...)
		}
		if len(cur) > 0 {
			needles = append(needles, cur)
		}
		switch len(needles) {
		case 0:
			return matchAll{}
		case 1:
			return &containsMatcher{needles[0]}
		}
		return &orderedMatcher{needles}
	}
	return nil
}

func isDotStar(r *syntax.Regexp) bool {
	return r.Op == syntax.OpStar && r.Sub[0].Op == syntax.OpAnyChar
}

// stripDotStars drops the leading and trailing (?s).* of a concatenation:
// they do not change whether an unanchored regexp has a match.
func stripDotStars(re *syntax.Regexp) *syntax.Regexp {
	if isDotStar(re) {
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}
	}
	if re.Op != syntax.OpConcat {
		return re
	}
	subs := re.Sub
	for len(subs) > 0 && isDotStar(subs[0]) {
		subs = subs[1:]
	}
	for len(subs) > 0 && isDotStar(subs[len(subs)-1]) {
		subs = subs[:len(subs)-1]
	}
	switch len(subs) {
	case 0:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}
	case 1:
		return subs[0]
	}
	return &syntax.Regexp{Op: syntax.OpConcat, Sub: subs, Flags: re.Flags}
}

// literalMatcher returns a substring matcher for a literal node, or nil when
// a substring search would not be equivalent.
func literalMatcher(re *syntax.Regexp) LineMatcher {
	if re.Flags&syntax.FoldCase == 0 {
		s, ok := plainLiteral(re)
		if !ok {
			return nil
		}
		if s == "" {
			return matchAll{}
		}
		return &containsMatcher{[]byte(s)}
	}
	if len(re.Rune) == 0 {
		return matchAll{}
	}
	m := &foldContainsMatcher{}
	for _, r := range re.Rune {
		if r >= utf8.RuneSelf {
			return nil
		}
		lower := unicode.ToLower(r)
		m.needle = append(m.needle, byte(lower))
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f >= utf8.RuneSelf {
				m.special = append(m.special, []byte(string(f)))
			}
		}
	}
	m.first, m.upper = m.needle[0], byte(unicode.ToUpper(rune(m.needle[0])))
	if len(m.special) > 0 {
		fb, err := regexp.Compile("(?s)" + re.String())
		if err != nil {
			return nil
		}
		m.fallback = fb
	}
	return m
}

// patternMatcher matches Loki's line-filter patterns: literal text with <_>
// wildcards, anchored at both ends of the line. A wildcard matches one byte
// or more.
type patternMatcher struct {
	// lits are the literals between the wildcards. The pattern is
	// lits[0] <_> lits[1] <_> … lits[n-1], where the first and the last may
	// be empty (the pattern starts or ends with a wildcard); a pattern
	// without wildcards is the single literal lits[0].
	lits [][]byte
}

var (
	errNamedCapture       = errors.New("named captures are not allowed in a line filter pattern; use <_>")
	errConsecutiveCapture = errors.New("consecutive <_> wildcards must be separated by literal text")
)

// parsePattern parses a line-filter pattern. "<_>" is a wildcard; "<name>"
// with a valid identifier is a named capture, which only the pattern parser
// stage allows; any other "<" is literal text.
func parsePattern(p string) (*patternMatcher, error) {
	var lits [][]byte
	var cur []byte
	i := 0
	prevWildcard := false
	for i < len(p) {
		if p[i] == '<' {
			if name, n := captureAt(p[i:]); n > 0 {
				if name != "_" {
					return nil, fmt.Errorf("%w: found <%s>", errNamedCapture, name)
				}
				if prevWildcard {
					return nil, errConsecutiveCapture
				}
				lits = append(lits, cur)
				cur = nil
				i += n
				prevWildcard = true
				continue
			}
		}
		cur = append(cur, p[i])
		i++
		prevWildcard = false
	}
	lits = append(lits, cur)
	return &patternMatcher{lits: lits}, nil
}

// captureAt returns the name and length of the capture <name> at the start
// of s, or 0.
func captureAt(s string) (string, int) {
	end := strings.IndexByte(s, '>')
	if end < 2 {
		return "", 0
	}
	name := s[1:end]
	if !isIdentStart(name[0]) {
		return "", 0
	}
	for j := 1; j < len(name); j++ {
		if !isIdentChar(name[j]) {
			return "", 0
		}
	}
	return name, end + 1
}

func (m *patternMatcher) Match(line []byte) bool {
	lits := m.lits
	if len(lits) == 1 {
		return bytes.Equal(line, lits[0])
	}
	first, last := lits[0], lits[len(lits)-1]
	if !bytes.HasPrefix(line, first) {
		return false
	}
	off := len(first)
	// Each middle literal follows a wildcard: find its first occurrence at
	// least one byte on. The leftmost occurrence leaves the most room for
	// the rest, so no backtracking is needed.
	for _, lit := range lits[1 : len(lits)-1] {
		start := off + 1
		if start > len(line) {
			return false
		}
		j := bytes.Index(line[start:], lit)
		if j < 0 {
			return false
		}
		off = start + j + len(lit)
	}
	// The last literal (empty when the pattern ends with <_>) follows a
	// wildcard and ends the line.
	return len(line)-len(last) >= off+1 && bytes.HasSuffix(line, last)
}

// Needles returns the literal substrings every line the query keeps must
// contain, for the storage engine's per-chunk substring filter. Each inner
// slice is an OR-set (a matching line contains at least one of its strings);
// the outer list is an AND. The needles come from |= filters, from |~
// regexps whose every match contains a literal (|~ "error.*timeout" gives
// [["error"] ["timeout"]]; case-insensitive parts give nothing) and from the
// literal text of |> patterns. Negated filters give nothing.
//
// Only the filters before the first stage that rewrites the line count (see
// PreFilters).
func (e *LogSelectorExpr) Needles() [][]string {
	var out [][]string
	add := func(set []string) {
		for _, prev := range out {
			if equalSets(prev, set) {
				return
			}
		}
		out = append(out, set)
	}
	for _, s := range e.Pipeline {
		if rewritesLine(s) {
			break
		}
		f, ok := s.(*LineFilter)
		// An ip("…") alternative has no literal: its or-set gives none.
		if !ok || f.HasIP() || f.Op.Negated() {
			continue
		}
		switch f.Op {
		case LineContains:
			if set := orSet(f.Values); set != nil {
				add(set)
			}
		case LineMatch, LinePattern:
			var reqs [][][]string
			for _, v := range f.Values {
				var r [][]string
				if f.Op == LineMatch {
					r = regexpNeedles(v)
				} else {
					r = patternNeedles(v)
				}
				reqs = append(reqs, r)
			}
			if len(reqs) == 1 {
				for _, set := range reqs[0] {
					add(set)
				}
			} else if set := unionOfBest(reqs); set != nil {
				add(set)
			}
		}
	}
	return prune(out)
}

// prune drops the OR-sets that another implies: {"err"} when {"error"} is
// there too, since every line containing "error" contains "err".
func prune(sets [][]string) [][]string {
	implies := func(b, a []string) bool { // every string of b contains one of a
		for _, x := range b {
			found := false
			for _, y := range a {
				if strings.Contains(x, y) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	var out [][]string
	for i, a := range sets {
		redundant := false
		for j, b := range sets {
			// Of two sets implying each other, keep the first.
			if i != j && implies(b, a) && (!implies(a, b) || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, a)
		}
	}
	return out
}

// orSet returns the distinct values, or nil when one is empty (an empty
// needle is no constraint).
func orSet(vals []string) []string {
	var set []string
	for _, v := range vals {
		if v == "" {
			return nil
		}
		if !contains(set, v) {
			set = append(set, v)
		}
	}
	return set
}

// unionOfBest combines alternatives, each an AND of OR-sets: a line matching
// the alternation contains a string of the best OR-set of some alternative.
func unionOfBest(alts [][][]string) []string {
	var set []string
	for _, reqs := range alts {
		if len(reqs) == 0 {
			return nil
		}
		best := reqs[0]
		for _, r := range reqs[1:] {
			if shortest(r) > shortest(best) {
				best = r
			}
		}
		for _, s := range best {
			if !contains(set, s) {
				set = append(set, s)
			}
		}
	}
	return set
}

func shortest(set []string) int {
	n := -1
	for _, s := range set {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

func contains(set []string, s string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, s := range a {
		if !contains(b, s) {
			return false
		}
	}
	return true
}

// NeedlesExact reports whether the pipeline is line filters `|= "a" or "b"`
// only, so that a line passes it if and only if it holds Needles: the
// store may then count matches without reading whole lines.
func (e *LogSelectorExpr) NeedlesExact() bool {
	for _, s := range e.Pipeline {
		f, ok := s.(*LineFilter)
		if !ok || f.HasIP() || f.Op != LineContains || orSet(f.Values) == nil {
			return false
		}
	}
	return len(e.Pipeline) > 0
}

// patternNeedles returns the non-empty literals of a pattern.
func patternNeedles(p string) [][]string {
	m, err := parsePattern(p)
	if err != nil {
		return nil
	}
	var out [][]string
	for _, lit := range m.lits {
		if len(lit) > 0 {
			out = append(out, []string{string(lit)})
		}
	}
	return out
}

// regexpNeedles returns the literals every match of the regexp contains, as
// an AND of OR-sets.
func regexpNeedles(expr string) [][]string {
	re, err := syntax.Parse(expr, syntax.Perl|syntax.DotNL)
	if err != nil {
		return nil
	}
	return requiredLiterals(re.Simplify())
}

// requiredLiterals walks the regexp. It may return less than is required,
// never more: every match of re contains a string of each returned set.
func requiredLiterals(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		if s, ok := plainLiteral(re); ok && s != "" {
			return [][]string{{s}}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		// Adjacent literals join into one longer needle.
		var out [][]string
		var run strings.Builder
		flush := func() {
			if run.Len() > 0 {
				out = append(out, []string{run.String()})
				run.Reset()
			}
		}
		for _, sub := range flattenConcat(re, nil) {
			if sub.Op == syntax.OpLiteral {
				if s, ok := plainLiteral(sub); ok {
					run.WriteString(s)
					continue
				}
			}
			if sub.Op == syntax.OpPlus && sub.Sub[0].Op == syntax.OpLiteral {
				// x+ ends the run with its first x and starts the next
				// run with its last: a x+ b contains "ax" and "xb".
				if s, ok := plainLiteral(sub.Sub[0]); ok && s != "" {
					run.WriteString(s)
					flush()
					run.WriteString(s)
					continue
				}
			}
			flush()
			out = append(out, requiredLiterals(sub)...)
		}
		flush()
		return out
	case syntax.OpAlternate:
		alts := make([][][]string, len(re.Sub))
		for i, sub := range re.Sub {
			alts[i] = requiredLiterals(sub)
		}
		if set := unionOfBest(alts); set != nil {
			return [][]string{set}
		}
	}
	return nil
}

// flattenConcat appends the parts of a concatenation, nested ones included.
func flattenConcat(re *syntax.Regexp, out []*syntax.Regexp) []*syntax.Regexp {
	for _, sub := range re.Sub {
		if sub.Op == syntax.OpConcat {
			out = flattenConcat(sub, out)
		} else {
			out = append(out, sub)
		}
	}
	return out
}

// plainLiteral returns the text of a case-sensitive literal whose runes the
// regexp engine matches byte for byte.
func plainLiteral(re *syntax.Regexp) (string, bool) {
	if re.Flags&syntax.FoldCase != 0 {
		return "", false
	}
	s := string(re.Rune)
	if strings.ContainsRune(s, utf8.RuneError) {
		return "", false
	}
	return s, true
}
