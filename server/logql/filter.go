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
//     none. See the pattern syntax at parsePattern.
func (f *LineFilter) Compile() (LineMatcher, error) {
	if f.IP {
		return nil, fmt.Errorf("the ip() line filter %s: %w", f.Op, ErrNotSupported)
	}
	var alts []LineMatcher
	switch f.Op.positive() {
	case LineContains:
		var needles [][]byte
		for _, v := range f.Values {
			if v == "" {
				needles = nil
				alts = []LineMatcher{matchAll{}}
				break
			}
			needles = append(needles, []byte(v))
		}
		switch len(needles) {
		case 0:
		case 1:
			alts = []LineMatcher{&containsMatcher{needles[0]}}
		default:
			alts = []LineMatcher{&containsAnyMatcher{needles}}
		}
	case LineMatch:
		for _, v := range f.Values {
			m, err := compileRegexp(v)
			if err != nil {
				return nil, err
			}
			alts = append(alts, m)
		}
	case LinePattern:
		for _, v := range f.Values {
			m, err := parsePattern(v)
			if err != nil {
				return nil, fmt.Errorf("invalid pattern %s: %w", clipQuote(v), err)
			}
			alts = append(alts, m)
		}
	default:
		return nil, fmt.Errorf("unknown line filter operator %d", f.Op)
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
// folding. needle is lower case and every rune of it folds only to ASCII
// letters, so that the result equals the (?i) regexp's.
type foldContainsMatcher struct {
	needle       []byte
	first, upper byte // the first byte of needle, in both cases
}

func (m *foldContainsMatcher) Match(line []byte) bool {
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

// compileRegexp compiles a line filter regexp, replacing it by a substring
// search when it is a plain literal (possibly case-insensitive, possibly
// surrounded by .*), the common case.
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
	}
	return nil
}

// stripDotStars drops the leading and trailing (?s).* of a concatenation:
// they do not change whether an unanchored regexp has a match.
func stripDotStars(re *syntax.Regexp) *syntax.Regexp {
	isDotStar := func(r *syntax.Regexp) bool {
		return r.Op == syntax.OpStar && r.Sub[0].Op == syntax.OpAnyChar
	}
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
	return re
}

// literalMatcher returns a substring matcher for a literal node, or nil when
// a substring search would not be equivalent.
func literalMatcher(re *syntax.Regexp) LineMatcher {
	s := string(re.Rune)
	// The regexp engine reads invalid UTF-8 as U+FFFD; bytes.Contains would
	// not.
	if strings.ContainsRune(s, utf8.RuneError) {
		return nil
	}
	if re.Flags&syntax.FoldCase == 0 {
		if s == "" {
			return matchAll{}
		}
		return &containsMatcher{[]byte(s)}
	}
	lower := make([]byte, 0, len(s))
	for _, r := range re.Rune {
		if !asciiFoldOnly(r) {
			return nil
		}
		lower = append(lower, byte(unicode.ToLower(r)))
	}
	if len(lower) == 0 {
		return matchAll{}
	}
	return &foldContainsMatcher{needle: lower, first: lower[0], upper: byte(unicode.ToUpper(rune(lower[0])))}
}

// asciiFoldOnly reports whether r and every rune it case-folds to are ASCII
// (k folds to the Kelvin sign and s to the long s, so they are not).
func asciiFoldOnly(r rune) bool {
	if r >= utf8.RuneSelf {
		return false
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= utf8.RuneSelf {
			return false
		}
	}
	return true
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
// Only the filters before the first stage that is not a line filter count,
// since a later stage may rewrite the line.
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
		f, ok := s.(*LineFilter)
		if !ok {
			break
		}
		if f.IP || f.Op.Negated() {
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
