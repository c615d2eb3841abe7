package tmpl

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// The functions that return what belongs to the entry being formatted.
// Parse knows them by name; each executor binds them to its own state.
const (
	lineFunc      = "__line__"
	timestampFunc = "__timestamp__"
)

// sprigNames are the sprig functions Loki 3 hands to its templates
// (templateFunctions in Loki's pkg/logql/log/fmt.go). Up to v3.7 Loki took
// b64dec from sprig too; its main branch has its own (base64Decode).
var sprigNames = []string{
	"b64enc",
	"lower", "upper", "title",
	"trunc", "substr",
	"contains", "hasPrefix", "hasSuffix",
	"indent", "nindent",
	"replace", "repeat",
	"trim", "trimAll", "trimSuffix", "trimPrefix",
	"int", "float64",
	"add", "sub", "mul", "div", "mod",
	"addf", "subf", "mulf", "divf",
	"max", "min", "maxf", "minf",
	"ceil", "floor", "round",
	"fromJson",
	"date", "toDate", "now", "unixEpoch",
	"default",
}

// parseFuncs is the function map every template is parsed with. Its
// __line__ and __timestamp__ are stand-ins that only give Parse their names
// and types; executors replace them.
var parseFuncs = buildFuncs()

func buildFuncs() template.FuncMap {
	all := sprig.GenericFuncMap()
	fm := make(template.FuncMap, len(sprigNames)+32)
	for _, name := range sprigNames {
		f, ok := all[name]
		if !ok {
			panic("tmpl: sprig has no function " + name)
		}
		fm[name] = f
	}
	// sprig's number functions, with their arguments converted as Loki's
	// spf13/cast converts them (see numeric.go).
	maps.Copy(fm, numberFuncs(all))
	maps.Copy(fm, template.FuncMap{
		// Loki's first functions, kept for old queries: Go's strings
		// functions, the string first (Replace's last argument is the
		// count, -1 for all).
		"ToLower":    strings.ToLower,
		"ToUpper":    strings.ToUpper,
		"Replace":    strings.Replace,
		"Trim":       strings.Trim,
		"TrimLeft":   strings.TrimLeft,
		"TrimRight":  strings.TrimRight,
		"TrimPrefix": strings.TrimPrefix,
		"TrimSuffix": strings.TrimSuffix,
		"TrimSpace":  strings.TrimSpace,

		"regexReplaceAll":        regexReplaceAll,
		"regexReplaceAllLiteral": regexReplaceAllLiteral,
		"count":                  countMatches,
		"urldecode":              url.QueryUnescape,
		"urlencode":              url.QueryEscape,
		"bytes":                  bytesToFloat,
		"duration":               durationSeconds,
		"duration_seconds":       durationSeconds,
		"unixEpochMillis":        unixEpochMillis,
		"unixEpochNanos":         unixEpochNanos,
		"toDateInZone":           toDateInZone,
		"unixToTime":             unixToTime,
		"alignLeft":              alignLeft,
		"alignRight":             alignRight,
		"b64dec":                 base64Decode,

		lineFunc:      func() string { return "" },
		timestampFunc: func() time.Time { return time.Time{} },
	})
	return fm
}

// FuncNames returns the names of the functions a template can call besides
// text/template's own (and, or, not, len, index, slice, print, printf,
// println, html, js, urlquery, call, eq, ne, lt, le, gt, ge), sorted.
func FuncNames() []string {
	return slices.Sorted(maps.Keys(parseFuncs))
}

// regexReplaceAll replaces the matches of expr in s with repl, in which $1
// and ${name} expand to submatches. An invalid expr is an error.
func regexReplaceAll(expr, s, repl string) (string, error) {
	re, err := cachedRegexp(expr)
	if err != nil {
		return "", err
	}
	return re.ReplaceAllString(s, repl), nil
}

// regexReplaceAllLiteral replaces the matches of expr in s with repl as it
// is, without expanding $.
func regexReplaceAllLiteral(expr, s, repl string) (string, error) {
	re, err := cachedRegexp(expr)
	if err != nil {
		return "", err
	}
	return re.ReplaceAllLiteralString(s, repl), nil
}

// countMatches returns the number of non-overlapping matches of expr in s.
func countMatches(expr, s string) (int, error) {
	re, err := cachedRegexp(expr)
	if err != nil {
		return 0, err
	}
	return len(re.FindAllStringIndex(s, -1)), nil
}

// maxCached bounds each cache below: their keys can come from label values.
const maxCached = 1024

// regexps caches compiled regexps by source. Loki compiles the regexp of
// count and regexReplaceAll* on every call; the cache gives the same
// results without that cost.
var regexps = struct {
	sync.RWMutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

func cachedRegexp(expr string) (*regexp.Regexp, error) {
	regexps.RLock()
	re, ok := regexps.m[expr]
	regexps.RUnlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	regexps.Lock()
	if len(regexps.m) < maxCached {
		// expr may be __line__, which aliases the caller's buffer.
		regexps.m[strings.Clone(expr)] = re
	}
	regexps.Unlock()
	return re, nil
}

// durationSeconds parses a Go duration ("1m30s") into seconds.
func durationSeconds(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}

// unixEpochMillis returns the Unix time of t in milliseconds, in decimal.
func unixEpochMillis(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// unixEpochNanos returns the Unix time of t in nanoseconds, in decimal.
func unixEpochNanos(t time.Time) string {
	return strconv.FormatInt(t.UnixNano(), 10)
}

// toDateInZone parses s with the Go layout in the IANA zone ("UTC",
// "Local", "Europe/Paris"). An unknown zone means UTC, and a string that
// does not parse gives the zero time: neither is an error.
func toDateInZone(layout, zone, s string) time.Time {
	t, _ := time.ParseInLocation(layout, s, location(zone))
	return t
}

// zones caches time.LoadLocation, which reads the zone database on every
// call. Only zones that load are kept.
var zones = struct {
	sync.RWMutex
	m map[string]*time.Location
}{m: map[string]*time.Location{}}

func location(zone string) *time.Location {
	zones.RLock()
	loc, ok := zones.m[zone]
	zones.RUnlock()
	if ok {
		return loc
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.UTC
	}
	zones.Lock()
	if len(zones.m) < maxCached {
		zones.m[strings.Clone(zone)] = loc
	}
	zones.Unlock()
	return loc
}

// unixToTime reads a Unix time whose unit is told by its length: 5
// characters are days, 10 seconds, 13 milliseconds, 16 microseconds, 19
// nanoseconds. The time is in the server's local zone. As in Loki, the
// length counts a sign, and a product beyond int64 wraps.
func unixToTime(epoch string) (time.Time, error) {
	n, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("unable to parse time '%v': %w", epoch, err)
	}
	switch len(epoch) {
	case 5:
		return time.Unix(n*86400, 0), nil
	case 10:
		return time.Unix(n, 0), nil
	case 13:
		return time.Unix(0, n*1_000_000), nil
	case 16:
		return time.Unix(0, n*1_000), nil
	case 19:
		return time.Unix(0, n), nil
	}
	// Loki formats a nil error with %w here; its message ends so.
	return time.Time{}, fmt.Errorf("unable to parse time '%v': %%!w(<nil>)", epoch)
}

// alignLeft returns src cut or right-padded with spaces to count
// characters (runes). A negative count returns src.
func alignLeft(count int, src string) string {
	r := []rune(src)
	switch {
	case count < 0 || count == len(r):
		return src
	case count > len(r):
		return src + strings.Repeat(" ", count-len(r))
	}
	return string(r[:count])
}

// alignRight returns src left-padded with spaces to count characters, or
// its last count characters. A negative count returns src.
func alignRight(count int, src string) string {
	r := []rune(src)
	switch {
	case count < 0 || count == len(r):
		return src
	case count > len(r):
		return strings.Repeat(" ", count-len(r)) + src
	}
	return string(r[len(r)-count:])
}

// base64Decode is b64dec: it decodes standard base64, adding the "="
// padding that input of 2 or 3 characters past a multiple of 4 lacks. Input
// that does not decode returns the decoder's error text as the result, not
// an error. This is Loki's b64dec since its main branch fixed unpadded
// input (May 2026, after v3.7.6); releases up to v3.7.6 use sprig's, which
// returns "illegal base64 data at input byte N" for unpadded input and is
// otherwise the same.
func base64Decode(s string) string {
	switch len(s) % 4 {
	case 2:
		s += "=="
	case 3:
		s += "="
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
