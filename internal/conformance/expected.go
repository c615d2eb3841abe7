package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// UnmarshalJSON reads an answer in the normalized form the cases file
// records: {"status": N}; {"list": […]}; or a resultType with one of
// "streams" (label set → [[ts, line], …]), "series" (label set →
// [[t, value], …]), "scalar" ([t, value]) or "raw".
func (a *Answer) UnmarshalJSON(b []byte) error {
	v, err := decodeAny(b)
	if err != nil {
		return err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("expected answer is not an object")
	}
	*a = Answer{}
	for k := range obj {
		switch k {
		case "status", "resultType", "list", "streams", "series", "scalar", "raw":
		default:
			return fmt.Errorf("expected answer has an unknown key %q", k)
		}
	}
	if st, ok := obj["status"]; ok {
		if len(obj) != 1 {
			return errors.New(`expected answer has "status" and more`)
		}
		n, ok := st.(json.Number)
		code, err := n.Int64()
		if !ok || err != nil || code < 100 || code > 599 || code == 200 {
			return fmt.Errorf("expected status %s is not an HTTP status other than 200", pyDumpsString(st))
		}
		a.Kind, a.Status = KindStatus, int(code)
		return nil
	}
	if rt, ok := obj["resultType"]; ok {
		if a.ResultType, ok = rt.(string); !ok {
			return errors.New("expected resultType is not a string")
		}
	}
	if len(obj) != 2 && !(len(obj) == 1 && obj["list"] != nil) {
		return errors.New("expected answer needs a resultType and one of streams, series, scalar, raw; or a list alone")
	}
	switch {
	case obj["list"] != nil:
		if len(obj) != 1 {
			return errors.New("expected list comes alone")
		}
		return a.expectList(obj["list"])
	case obj["streams"] != nil:
		return a.expectStreams(obj["streams"])
	case obj["series"] != nil:
		return a.expectSeries(obj["series"])
	case obj["scalar"] != nil:
		return a.expectScalar(obj["scalar"])
	default:
		raw, ok := obj["raw"]
		if !ok {
			return errors.New("expected answer has no list, streams, series, scalar or raw")
		}
		if slices.Contains([]string{"streams", "matrix", "vector", "scalar"}, a.ResultType) {
			return fmt.Errorf("expected %s answer given raw", a.ResultType)
		}
		a.Kind, a.Raw = KindRaw, pyDumpsString(raw)
		return nil
	}
}

func (a *Answer) expectList(v any) error {
	l, ok := v.([]any)
	if !ok {
		return errors.New("expected list is not a list")
	}
	a.Kind, a.List = KindList, make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return errors.New("expected list holds a non-string")
		}
		a.List = append(a.List, s)
	}
	slices.Sort(a.List)
	return nil
}

func (a *Answer) expectStreams(v any) error {
	if a.ResultType != "streams" {
		return fmt.Errorf("expected streams under resultType %q", a.ResultType)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("expected streams is not an object")
	}
	a.Kind, a.Streams = KindStreams, make(map[string][]Entry, len(m))
	for key, vals := range m {
		l, ok := vals.([]any)
		if !ok {
			return fmt.Errorf("expected stream %s is not a list", key)
		}
		es := make([]Entry, 0, len(l))
		for _, e := range l {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return fmt.Errorf("expected stream %s: entry is not [ts, line]", key)
			}
			ts, ok1 := pair[0].(string)
			line, ok2 := pair[1].(string)
			if !ok1 || !ok2 || !isDigits(strings.TrimPrefix(ts, "-")) {
				return fmt.Errorf("expected stream %s: entry is not [\"<ns>\", \"line\"]", key)
			}
			es = append(es, Entry{TS: ts, Line: line})
		}
		a.Streams[key] = es
	}
	return nil
}

func (a *Answer) expectSeries(v any) error {
	if a.ResultType != "matrix" && a.ResultType != "vector" {
		return fmt.Errorf("expected series under resultType %q", a.ResultType)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("expected series is not an object")
	}
	a.Kind, a.Series = KindSeries, make(map[string][]Point, len(m))
	for key, pts := range m {
		l, ok := pts.([]any)
		if !ok {
			return fmt.Errorf("expected series %s is not a list", key)
		}
		ps := make([]Point, 0, len(l))
		for _, p := range l {
			pt, err := expectPoint(p)
			if err != nil {
				return fmt.Errorf("expected series %s: %w", key, err)
			}
			ps = append(ps, pt)
		}
		a.Series[key] = ps
	}
	return nil
}

func (a *Answer) expectScalar(v any) error {
	if a.ResultType != "scalar" {
		return fmt.Errorf("expected scalar under resultType %q", a.ResultType)
	}
	pt, err := expectPoint(v)
	if err != nil {
		return fmt.Errorf("expected scalar: %w", err)
	}
	a.Kind, a.Scalar = KindScalar, pt
	return nil
}

// expectPoint reads a recorded [t, value]: t is already shifted back and
// rounded.
func expectPoint(v any) (Point, error) {
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return Point{}, errors.New("point is not [time, value]")
	}
	if _, ok := pair[0].(json.Number); !ok {
		return Point{}, errors.New("point time is not a number")
	}
	return point(pair[0], pair[1], 0)
}
