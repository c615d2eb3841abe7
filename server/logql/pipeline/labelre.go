package pipeline

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A label filter's regexp (| path=~"/v1.*") is not matched the way a stream
// selector's is. Loki first tries to replace the regexp with tests of
// literals, and the tests it builds for a concatenation look for a
// substring, not the whole value: path=~"/v1.*" keeps "/x/v1", and
// status=~"5|503", which Go's regexp simplifies to 5(?:|03), keeps "250".
// Answers must match Loki's, so labelRegexp builds the same tests; only a
// regexp Loki cannot replace is matched as a whole, anchored.

// valueTest reports whether a label's value passes.
type valueTest func(v string) bool

// labelRegexp compiles the test of name=~re (negated for !~).
func labelRegexp(re string, negated bool) (valueTest, error) {
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, err
	}
	r = r.Simplify()
	t, ok := simplifyLabel(r)
	if !ok {
		full, err := regexp.Compile("^(?:" + r.String() + ")$")
		if err != nil {
			return nil, err
		}
		t = full.MatchString
	}
	if negated {
		return func(v string) bool { return !t(v) }, nil
	}
	return t, nil
}

func foldCase(r *syntax.Regexp) bool { return r.Flags&syntax.FoldCase != 0 }

// clearCapture replaces capture groups by what they hold.
func clearCapture(rs ...*syntax.Regexp) {
	for _, r := range rs {
		if r.Op == syntax.OpCapture {
			*r = *r.Sub[0]
		}
	}
}

// simplifyLabel is Loki's simplification of a label regexp: a literal
// is tested for equality, an alternation leg by leg, a concatenation for a
// substring.
func simplifyLabel(r *syntax.Regexp) (valueTest, bool) {
	switch r.Op {
	case syntax.OpAlternate:
		clearCapture(r.Sub...)
		var tests []valueTest
		for _, sub := range r.Sub {
			t, ok := simplifyLabel(sub)
			if !ok {
				return nil, false
			}
			tests = append(tests, t)
		}
		return anyTest(tests), true
	case syntax.OpConcat:
		return simplifyConcat(r, "")
	case syntax.OpCapture:
		clearCapture(r)
		return simplifyLabel(r)
	case syntax.OpLiteral:
		return equalTest(string(r.Rune), foldCase(r)), true
	case syntax.OpStar:
		if r.Sub[0].Op == syntax.OpAnyCharNotNL {
			return func(string) bool { return true }, true
		}
	case syntax.OpPlus:
		if len(r.Sub) == 1 && r.Sub[0].Op == syntax.OpAnyCharNotNL {
			return func(v string) bool { return v != "" }, true
		}
	case syntax.OpEmptyMatch:
		return func(string) bool { return true }, true
	}
	return nil, false
}

// simplifyConcat handles a concatenation of at most three parts: one
// literal, .* around it, and alternations after it, each leg appended to
// the literal. Every test it builds is a substring test.
func simplifyConcat(r *syntax.Regexp, base string) (valueTest, bool) {
	clearCapture(r.Sub...)
	var subs []*syntax.Regexp
	for _, sub := range r.Sub {
		if sub.Op != syntax.OpEmptyMatch {
			subs = append(subs, sub)
		}
	}
	if len(subs) > 3 {
		return nil, false
	}
	var tests []valueTest
	literals := 0
	hasBase := base != ""
	fold := false
	for _, sub := range subs {
		switch {
		case sub.Op == syntax.OpLiteral:
			if literals != 0 {
				return nil, false
			}
			literals++
			base += string(sub.Rune)
			hasBase = true
			fold = foldCase(sub)
		case sub.Op == syntax.OpAlternate && hasBase:
			ts, ok := simplifyConcatAlternate(sub, base, fold)
			if !ok {
				return nil, false
			}
			tests = append(tests, ts...)
		case sub.Op == syntax.OpStar && sub.Sub[0].Op == syntax.OpAnyCharNotNL:
		default:
			return nil, false
		}
	}
	if len(tests) > 0 {
		return anyTest(tests), true
	}
	if hasBase {
		return containsTest(base, fold), true
	}
	return nil, false
}

// simplifyConcatAlternate appends each leg of an alternation to literal:
// b(ar|uzz|) tests for "bar", "buzz" or "b".
func simplifyConcatAlternate(r *syntax.Regexp, literal string, fold bool) ([]valueTest, bool) {
	var tests []valueTest
	for _, alt := range r.Sub {
		if !fold && foldCase(alt) {
			return nil, false
		}
		switch alt.Op {
		case syntax.OpEmptyMatch:
			tests = append(tests, containsTest(literal, fold))
		case syntax.OpLiteral:
			tests = append(tests, containsTest(literal+string(alt.Rune), fold))
		case syntax.OpConcat:
			t, ok := simplifyConcat(alt, literal)
			if !ok {
				return nil, false
			}
			tests = append(tests, t)
		case syntax.OpStar:
			if alt.Sub[0].Op != syntax.OpAnyCharNotNL {
				return nil, false
			}
			tests = append(tests, containsTest(literal, fold))
		default:
			return nil, false
		}
	}
	return tests, len(tests) > 0
}

func anyTest(tests []valueTest) valueTest {
	if len(tests) == 1 {
		return tests[0]
	}
	return func(v string) bool {
		for _, t := range tests {
			if t(v) {
				return true
			}
		}
		return false
	}
}

func equalTest(lit string, fold bool) valueTest {
	if !fold {
		return func(v string) bool { return v == lit }
	}
	lower := strings.ToLower(lit)
	// As Loki: equal byte lengths, then a case-insensitive comparison.
	return func(v string) bool { return len(v) == len(lower) && containsLower(v, lower) }
}

func containsTest(lit string, fold bool) valueTest {
	if !fold {
		return func(v string) bool { return strings.Contains(v, lit) }
	}
	lower := strings.ToLower(lit)
	return func(v string) bool { return containsLower(v, lower) }
}

// containsLower reports whether lower, in lower case, is in s ignoring
// case: s is lowered rune by rune (invalid bytes as they are).
func containsLower(s, lower string) bool {
	if lower == "" {
		return true
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(s[i])
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		i += n
	}
	return strings.Contains(b.String(), lower)
}
