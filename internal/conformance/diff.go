package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Diff describes the first way got differs from want, or returns "" when
// they match: the status when either is not 200, then the result type,
// then the list, the set of streams and each stream's entries in order, or
// the set of series and each one's points (times exactly, values within a
// relative 1e-6, NaN equal to NaN), or the scalar.
func Diff(want, got Answer) string {
	if want.Kind == KindStatus || got.Kind == KindStatus {
		if want.Kind == got.Kind && want.Status == got.Status {
			return ""
		}
		return fmt.Sprintf("status %d, expected %d", statusOf(got), statusOf(want))
	}
	if want.ResultType != got.ResultType {
		return fmt.Sprintf("resultType %q, expected %q", got.ResultType, want.ResultType)
	}
	if want.Kind != got.Kind {
		return fmt.Sprintf("answer of kind %s, expected %s", got.Kind, want.Kind)
	}
	switch want.Kind {
	case KindList:
		if slices.Equal(want.List, got.List) {
			return ""
		}
		missing, unexpected := setDiff(want.List, got.List)
		if len(missing) == 0 && len(unexpected) == 0 {
			return fmt.Sprintf("%d items, expected %d (duplicates)", len(got.List), len(want.List))
		}
		return fmt.Sprintf("missing %s unexpected %s", clip(missing, 3), clip(unexpected, 3))
	case KindStreams:
		return diffStreams(want.Streams, got.Streams)
	case KindSeries:
		return diffSeries(want.Series, got.Series)
	case KindScalar:
		a, b := want.Scalar, got.Scalar
		if a.T == b.T && numEq(a.V, b.V) {
			return ""
		}
		return fmt.Sprintf("scalar %s, expected %s", b, a)
	default:
		if want.Raw == got.Raw {
			return ""
		}
		return "results differ"
	}
}

func diffStreams(want, got map[string][]Entry) string {
	if d := diffKeys("stream", want, got); d != "" {
		return d
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		e, g := want[k], got[k]
		if slices.Equal(e, g) {
			continue
		}
		for i := range min(len(e), len(g)) {
			if e[i] != g[i] {
				return fmt.Sprintf("stream %s: entry %d is %s, expected %s", k, i, g[i], e[i])
			}
		}
		return fmt.Sprintf("stream %s: %d entries, expected %d", k, len(g), len(e))
	}
	return ""
}

func diffSeries(want, got map[string][]Point) string {
	if d := diffKeys("series", want, got); d != "" {
		return d
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		e, g := want[k], got[k]
		if len(e) != len(g) {
			return fmt.Sprintf("series %s: %d points, expected %d", k, len(g), len(e))
		}
		for i := range e {
			if e[i].T != g[i].T || !numEq(e[i].V, g[i].V) {
				return fmt.Sprintf("series %s: point %s, expected %s", k, g[i], e[i])
			}
		}
	}
	return ""
}

// diffKeys compares the label sets of two answers.
func diffKeys[V any](what string, want, got map[string]V) string {
	missing, unexpected := setDiff(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)))
	if len(missing) == 0 && len(unexpected) == 0 {
		return ""
	}
	return fmt.Sprintf("%s sets differ: missing %s unexpected %s", what, clip(missing, 2), clip(unexpected, 2))
}

// setDiff returns the distinct items of want not in got and of got not in
// want, sorted.
func setDiff(want, got []string) (missing, unexpected []string) {
	in := func(l []string) map[string]bool {
		m := make(map[string]bool, len(l))
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for s := range w {
		if !g[s] {
			missing = append(missing, s)
		}
	}
	for s := range g {
		if !w[s] {
			unexpected = append(unexpected, s)
		}
	}
	slices.Sort(missing)
	slices.Sort(unexpected)
	return missing, unexpected
}

// clip writes at most n items of l, quoted.
func clip(l []string, n int) string {
	q := make([]string, 0, min(len(l), n))
	for _, s := range l[:min(len(l), n)] {
		q = append(q, fmt.Sprintf("%q", s))
	}
	more := ""
	if len(l) > n {
		more = fmt.Sprintf(" and %d more", len(l)-n)
	}
	return "[" + strings.Join(q, ", ") + more + "]"
}

func statusOf(a Answer) int {
	if a.Kind == KindStatus {
		return a.Status
	}
	return 200
}

func (e Entry) String() string { return fmt.Sprintf("[%s %q]", e.TS, e.Line) }

func (p Point) String() string {
	return "(" + strconv.FormatFloat(p.T, 'f', -1, 64) + ", " + p.V + ")"
}

func (k Kind) String() string {
	switch k {
	case KindStatus:
		return "status"
	case KindList:
		return "list"
	case KindStreams:
		return "streams"
	case KindSeries:
		return "series"
	case KindScalar:
		return "scalar"
	case KindRaw:
		return "raw"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}
