package labels

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// MatchType is the operator of a label matcher.
type MatchType int

const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~
	MatchNotRegexp                  // !~
)

func (t MatchType) String() string {
	return [...]string{"=", "!=", "=~", "!~"}[t]
}

// Matcher matches the value of one label. A missing label has the value "",
// as in Prometheus and Loki: {a!="x"} selects streams without a.
type Matcher struct {
	Type  MatchType
	Name  string
	Value string

	re *regexp.Regexp // anchored, for the regexp types
	// For a regexp that is a plain alternation of literals (a|b|c), the
	// literals: a map lookup beats the regexp engine.
	set map[string]struct{}
}

// NewMatcher builds a matcher; regexps are anchored at both ends.
func NewMatcher(t MatchType, name, value string) (*Matcher, error) {
	m := &Matcher{Type: t, Name: name, Value: value}
	if t == MatchRegexp || t == MatchNotRegexp {
		// Parse the expression alone first: a stray ')' in it would
		// otherwise close the anchoring group below and leave the rest of
		// the expression unanchored (^(?s:a)|(b)$).
		if _, err := syntax.Parse(value, syntax.Perl); err != nil {
			return nil, fmt.Errorf("invalid regexp %q for label %s: %v", value, name, err)
		}
		re, err := regexp.Compile("^(?s:" + value + ")$")
		if err != nil {
			return nil, fmt.Errorf("invalid regexp %q for label %s: %v", value, name, err)
		}
		m.re = re
		m.set = literalSet(value)
	}
	return m, nil
}

// MustMatcher is NewMatcher for tests and constants; it panics on error.
func MustMatcher(t MatchType, name, value string) *Matcher {
	m, err := NewMatcher(t, name, value)
	if err != nil {
		panic(err)
	}
	return m
}

// Matches reports whether the label value v satisfies the matcher.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.matchRe(v)
	default:
		return !m.matchRe(v)
	}
}

func (m *Matcher) matchRe(v string) bool {
	if m.set != nil {
		_, ok := m.set[v]
		return ok
	}
	return m.re.MatchString(v)
}

// Literals returns the values the matcher accepts when they are a known
// few: the value of =, the alternatives of a =~ that is an alternation of
// literals (a|b|c). Other matchers accept values that only testing each one
// finds: ok is false. The slice is the caller's.
func (m *Matcher) Literals() (values []string, ok bool) {
	switch {
	case m.Type == MatchEqual:
		return []string{m.Value}, true
	case m.Type == MatchRegexp && m.set != nil:
		values = make([]string, 0, len(m.set))
		for v := range m.set {
			values = append(values, v)
		}
		return values, true
	}
	return nil, false
}

// MatchesEmpty reports whether a stream lacking the label is selected.
func (m *Matcher) MatchesEmpty() bool { return m.Matches("") }

func (m *Matcher) String() string {
	return fmt.Sprintf("%s%s%q", m.Name, m.Type, m.Value)
}

// literalSet returns the alternatives of a regexp made only of literal
// alternatives, or nil.
func literalSet(expr string) map[string]struct{} {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var alts []*syntax.Regexp
	switch re.Op {
	case syntax.OpLiteral:
		alts = []*syntax.Regexp{re}
	case syntax.OpAlternate:
		alts = re.Sub
	default:
		return nil
	}
	set := make(map[string]struct{}, len(alts))
	for _, a := range alts {
		if a.Op != syntax.OpLiteral || a.Flags&syntax.FoldCase != 0 {
			return nil
		}
		// The regexp engine reads an invalid byte of the value as U+FFFD,
		// and never matches a rune that UTF-8 cannot encode: leave such
		// literals to it.
		for _, r := range a.Rune {
			if r == utf8.RuneError || !utf8.ValidRune(r) {
				return nil
			}
		}
		set[string(a.Rune)] = struct{}{}
	}
	return set
}

// Matches reports whether ls satisfies every matcher.
func (ls Labels) Matches(ms []*Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// MatchersString prints matchers as a selector, `{a="1", b=~"x"}`.
func MatchersString(ms []*Matcher) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.String())
	}
	b.WriteByte('}')
	return b.String()
}
