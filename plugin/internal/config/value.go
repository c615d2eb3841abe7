package config

import (
	"errors"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
)

// The scalar readers below return an error whose text is only the reason
// ("not a duration (want …)"); Parse adds the key and the value.

// parseBool reads a boolean as Fluent Bit's own keys do (on/off, true/false,
// yes/no), plus 1/0.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, errors.New("not a boolean (want on/off, true/false, yes/no or 1/0)")
}

// maxSeconds keeps a number of seconds inside time.Duration's range.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// parseDuration reads a Go duration ("1m30s", "500ms") or a plain number of
// seconds ("5", "0.5"), the form Fluent Bit users write elsewhere. Negative
// values are refused here; whether 0 is allowed is the caller's business.
func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= maxSeconds {
			return 0, errors.New("out of range (want e.g. 10s, 500ms or a number of seconds)")
		}
		d = time.Duration(f * float64(time.Second))
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, errors.New("not a duration (want e.g. 10s, 500ms or a number of seconds)")
		}
	}
	if d < 0 {
		return 0, errors.New("negative duration (want e.g. 10s)")
	}
	return d, nil
}

// sizeUnits follows Fluent Bit's unit sizes, where K, M and G (with or without
// B) are powers of 1000 as in storage.total_limit_size, and adds the binary
// Ki, Mi, Gi (with or without B) for those who mean powers of 1024.
var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
}

// maxSize bounds sizes so they fit an int on 32-bit platforms too; no push
// request should come near it.
const maxSize = math.MaxInt32

// parseSize reads a byte size: a number, optionally with a fraction, then an
// optional unit (case-insensitive, spaces allowed between): "1048576",
// "512k", "1M", "1MiB", "1.5 MB". The result is truncated to whole bytes.
func parseSize(s string) (int, error) {
	n := 0
	for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '.') {
		n++
	}
	const want = "(want bytes such as 1048576, 512k, 1M or 1MiB)"
	f, err := strconv.ParseFloat(s[:n], 64)
	if err != nil || n == 0 {
		return 0, errors.New("not a size " + want)
	}
	m, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[n:]))]
	if !ok {
		return 0, errors.New("unknown unit " + want)
	}
	f *= m
	if f > maxSize {
		return 0, errors.New("too large (want at most 2GiB)")
	}
	return int(f), nil
}

// minMatchLen returns the fewest bytes re can match. A pattern that can
// match the empty string would insert RedactWith between characters
// instead of masking anything.
func minMatchLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(string(re.Rune))
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minMatchLen(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min <= 0 {
			return 0
		}
		return re.Min * minMatchLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += minMatchLen(s)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, s := range re.Sub {
			if m := minMatchLen(s); n < 0 || m < n {
				n = m
			}
		}
		return max(n, 0)
	}
	// Star, Quest, empty match, anchors, word boundaries, no match.
	return 0
}

// compileRedact compiles the Redact expression and refuses one that can
// match nothing at all (an empty match).
func compileRedact(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, errors.New("not an RE2 regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	tree, err := syntax.Parse(s, syntax.Perl)
	if err != nil { // compiled above, so this cannot happen
		return nil, err
	}
	if minMatchLen(tree.Simplify()) == 0 {
		return nil, errors.New("can match the empty string, which would mask nothing (e.g. use x+ rather than x*)")
	}
	return re, nil
}

// compileWhole compiles a pattern that must match a whole name, as
// ExcludeNamespaces and RedactNamespaces do: "kube-.*" means every namespace
// starting with kube-, not every namespace containing it.
func compileWhole(s string) (*regexp.Regexp, error) {
	if _, err := syntax.Parse(s, syntax.Perl); err != nil {
		return nil, errors.New("not an RE2 regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return regexp.Compile(`^(?:` + s + `)$`)
}

// splitPatterns splits a comma-separated list of regular expressions. A
// comma inside (), [] or {} or after a backslash belongs to the pattern, so
// "a{1,3}" stays whole. Empty entries (a trailing comma) are dropped.
func splitPatterns(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = appendTrimmed(out, s[start:i])
				start = i + 1
			}
		}
	}
	return appendTrimmed(out, s[start:])
}

func appendTrimmed(out []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		out = append(out, s)
	}
	return out
}

// validTenant reports whether s is a tenant ID Loki (and Loam) accept in
// X-Scope-OrgID: at most 150 bytes of letters, digits and !-_.*'(), and
// not "." or "..".
func validTenant(s string) bool {
	if s == "" || len(s) > 150 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!-_.*'()", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
