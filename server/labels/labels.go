package labels

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Label is one name/value pair.
type Label struct {
	Name, Value string
}

// Labels is a label set sorted by name, with unique names. Build it with New,
// FromMap or Parse so that the order invariant holds.
type Labels []Label

// New returns the label set of ls, sorted by name. It does not check for
// duplicate names; Validate does.
func New(ls ...Label) Labels {
	out := Labels(slices.Clone(ls))
	slices.SortFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FromMap returns the sorted label set of m.
func FromMap(m map[string]string) Labels {
	out := make(Labels, 0, len(m))
	for k, v := range m {
		out = append(out, Label{k, v})
	}
	slices.SortFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Get returns the value of name, or "" when it is absent.
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Has reports whether name is in the set.
func (ls Labels) Has(name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}

// Map returns the set as a map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// String returns the canonical text form, `{a="1", b="2"}`, as Loki prints
// stream labels. It is the stream's identity: equal sets print equally.
func (ls Labels) String() string {
	return string(ls.AppendString(nil))
}

// AppendString appends the canonical text form to dst. A name that is not
// a plain identifier is quoted, as Prometheus 3 prints it, so that the text
// stays unambiguous and Parse reads it back.
func (ls Labels) AppendString(dst []byte) []byte {
	dst = append(dst, '{')
	for i, l := range ls {
		if i > 0 {
			dst = append(dst, ',', ' ')
		}
		if ValidName(l.Name) {
			dst = append(dst, l.Name...)
		} else {
			dst = strconv.AppendQuote(dst, l.Name)
		}
		dst = append(dst, '=')
		dst = strconv.AppendQuote(dst, l.Value)
	}
	return append(dst, '}')
}

// Hash returns a 64-bit hash of the set, stable across processes and
// versions: it is stored on disk.
func (ls Labels) Hash() uint64 {
	var buf [1024]byte
	b := buf[:0]
	for _, l := range ls {
		b = append(b, l.Name...)
		b = append(b, 0xff)
		b = append(b, l.Value...)
		b = append(b, 0xff)
	}
	return xxhash.Sum64(b)
}

// Equal reports whether both sets hold the same pairs.
func (ls Labels) Equal(o Labels) bool {
	return slices.Equal(ls, o)
}

// Compare orders label sets lexicographically by (name, value) pairs.
func Compare(a, b Labels) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// WithoutEmpty drops labels whose value is empty: an empty value means the
// label is absent, as in Prometheus and Loki.
func (ls Labels) WithoutEmpty() Labels {
	for i := range ls {
		if ls[i].Value == "" {
			out := slices.Clone(ls[:i])
			for _, l := range ls[i+1:] {
				if l.Value != "" {
					out = append(out, l)
				}
			}
			return out
		}
	}
	return ls
}

// ValidName reports whether s is a valid label name: [a-zA-Z_][a-zA-Z0-9_]*.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// Validate checks names, values and uniqueness. The set must be sorted.
func (ls Labels) Validate() error {
	if len(ls) == 0 {
		return fmt.Errorf("empty label set: a stream needs at least one label")
	}
	for i, l := range ls {
		if !ValidName(l.Name) {
			return fmt.Errorf("invalid label name %q: names must match [a-zA-Z_][a-zA-Z0-9_]*", l.Name)
		}
		if !utf8.ValidString(l.Value) {
			return fmt.Errorf("invalid value of label %q: not valid UTF-8", l.Name)
		}
		if i > 0 && ls[i-1].Name == l.Name {
			return fmt.Errorf("duplicate label name %q", l.Name)
		}
	}
	return nil
}
