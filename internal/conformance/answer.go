package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Kind says which part of an answer is compared.
type Kind uint8

const (
	KindStatus  Kind = iota + 1 // the server answered other than 200: only the status counts
	KindList                    // labels, label values or series: a sorted list
	KindStreams                 // a log query: entries by stream
	KindSeries                  // a matrix or vector: points by series
	KindScalar                  // a scalar: one point
	KindRaw                     // any other result type: the result as it is
)

// Answer is a response reduced to what must match. Label sets (stream and
// series keys, series list items) are written as Python's json.dumps with
// sorted keys writes them, since that is how the cases were recorded.
type Answer struct {
	Kind       Kind
	Status     int    // KindStatus
	ResultType string // "" for a list
	List       []string
	Streams    map[string][]Entry
	Series     map[string][]Point
	Scalar     Point
	Raw        string // KindRaw: the result as pyDumps writes it
}

// Entry is one log entry: its timestamp in nanoseconds with the shift taken
// off, and its line.
type Entry struct {
	TS   string
	Line string
}

// Point is one sample: its time in seconds with the shift taken off,
// rounded to milliseconds, and its value as the server wrote it.
type Point struct {
	T float64
	V string
}

// Normalize reduces a server's answer (HTTP status and body) to an Answer,
// taking shift off its timestamps. A 200 whose body is not an answer of
// Loki's shape is an error.
func Normalize(status int, body []byte, shift Shift) (Answer, error) {
	if status != 200 {
		return Answer{Kind: KindStatus, Status: status}, nil
	}
	v, err := decodeAny(body)
	if err != nil {
		return Answer{}, fmt.Errorf("answer is not JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Answer{}, errors.New("answer is not a JSON object")
	}
	switch data := obj["data"].(type) {
	case []any:
		return normList(data)
	case map[string]any:
		return normResult(data, shift)
	default:
		return Answer{}, errors.New("answer has no data object or list")
	}
}

func normList(data []any) (Answer, error) {
	a := Answer{Kind: KindList, List: make([]string, 0, len(data))}
	// Series are lists of label sets; labels and label values lists of names.
	_, objects := firstOf(data).(map[string]any)
	for _, d := range data {
		if objects {
			a.List = append(a.List, pyDumpsString(d))
			continue
		}
		s, ok := d.(string)
		if !ok {
			return Answer{}, fmt.Errorf("list item %s is not a string", pyDumpsString(d))
		}
		a.List = append(a.List, s)
	}
	slices.Sort(a.List)
	return a, nil
}

func firstOf(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

func normResult(data map[string]any, shift Shift) (Answer, error) {
	rt, ok := data["resultType"].(string)
	if !ok && data["resultType"] != nil {
		return Answer{}, errors.New("resultType is not a string")
	}
	a := Answer{ResultType: rt}
	res := data["result"]
	var err error
	switch rt {
	case "streams":
		a.Kind = KindStreams
		a.Streams, err = normStreams(res, shift)
	case "matrix", "vector":
		a.Kind = KindSeries
		a.Series, err = normSeries(res, rt == "matrix", shift)
	case "scalar":
		a.Kind = KindScalar
		pair, ok := res.([]any)
		if !ok || len(pair) < 2 {
			return Answer{}, errors.New("scalar result is not [time, value]")
		}
		a.Scalar, err = point(pair[0], pair[1], shift)
	default:
		a.Kind = KindRaw
		a.Raw = pyDumpsString(res)
	}
	return a, err
}

func normStreams(res any, shift Shift) (map[string][]Entry, error) {
	list, ok := res.([]any)
	if !ok {
		return nil, errors.New("streams result is not a list")
	}
	out := map[string][]Entry{}
	for _, s := range list {
		sm, ok := s.(map[string]any)
		if !ok {
			return nil, errors.New("stream is not an object")
		}
		labels, ok := sm["stream"].(map[string]any)
		if !ok {
			return nil, errors.New("stream has no label object")
		}
		vals, ok := sm["values"].([]any)
		if !ok {
			return nil, errors.New("stream has no values list")
		}
		key := pyDumpsString(labels)
		es := out[key]
		for _, v := range vals {
			pair, ok := v.([]any)
			if !ok || len(pair) < 2 {
				return nil, fmt.Errorf("stream %s: value %s is not [ts, line, …]", key, pyDumpsString(v))
			}
			ts, err := nanos(pair[0])
			if err != nil {
				return nil, fmt.Errorf("stream %s: %w", key, err)
			}
			line, ok := pair[1].(string)
			if !ok {
				return nil, fmt.Errorf("stream %s: line %s is not a string", key, pyDumpsString(pair[1]))
			}
			if ts, err = (-shift).add(ts); err != nil {
				return nil, fmt.Errorf("stream %s: %w", key, err)
			}
			es = append(es, Entry{TS: strconv.FormatInt(ts, 10), Line: line})
		}
		out[key] = es // a stream answered twice is one stream, its entries in turn
	}
	return out, nil
}

func normSeries(res any, matrix bool, shift Shift) (map[string][]Point, error) {
	list, ok := res.([]any)
	if !ok {
		return nil, errors.New("series result is not a list")
	}
	out := map[string][]Point{}
	for _, s := range list {
		sm, ok := s.(map[string]any)
		if !ok {
			return nil, errors.New("series is not an object")
		}
		metric, ok := sm["metric"].(map[string]any)
		if !ok {
			return nil, errors.New("series has no metric object")
		}
		var pts []any
		if matrix {
			pts, ok = sm["values"].([]any)
		} else {
			pts, ok = []any{sm["value"]}, sm["value"] != nil
		}
		if !ok {
			return nil, errors.New("series has no values")
		}
		key := pyDumpsString(metric)
		ps := make([]Point, 0, len(pts))
		for _, p := range pts {
			pair, ok := p.([]any)
			if !ok || len(pair) != 2 {
				return nil, fmt.Errorf("series %s: point %s is not [time, value]", key, pyDumpsString(p))
			}
			pt, err := point(pair[0], pair[1], shift)
			if err != nil {
				return nil, fmt.Errorf("series %s: %w", key, err)
			}
			ps = append(ps, pt)
		}
		out[key] = ps // as recorded: a series answered twice keeps its last points
	}
	return out, nil
}

// point turns an answer's [time, value] into a Point.
func point(t, v any, shift Shift) (Point, error) {
	f, err := number(t)
	if err != nil {
		return Point{}, fmt.Errorf("time: %w", err)
	}
	var val string
	switch v := v.(type) {
	case string:
		val = v
	case json.Number:
		val = v.String()
	default:
		return Point{}, fmt.Errorf("value %s is neither a string nor a number", pyDumpsString(v))
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err != nil {
		return Point{}, fmt.Errorf("value %q is not a number", val)
	}
	return Point{T: roundMilli(f - shift.seconds()), V: val}, nil
}

// roundMilli rounds to three decimals as Python's round(f, 3) does:
// correctly, ties to even.
func roundMilli(f float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 3, 64), 64)
	return r
}

// number reads a JSON number, or a string holding one.
func number(v any) (float64, error) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, fmt.Errorf("%s is not a number", pyDumpsString(v))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return f, nil
}

// nanos reads an integer timestamp, a string or a JSON number.
func nanos(v any) (int64, error) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, fmt.Errorf("timestamp %s is not an integer", pyDumpsString(v))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q is not integer nanoseconds", s)
	}
	return n, nil
}

// numEq says whether two sample values are equal: both NaN, or within a
// relative 1e-6 (absolute below 1). An infinity equals only itself.
func numEq(a, b string) bool {
	fa, errA := strconv.ParseFloat(strings.TrimSpace(a), 64)
	fb, errB := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if errA != nil || errB != nil {
		return false
	}
	if math.IsNaN(fa) || math.IsNaN(fb) {
		return math.IsNaN(fa) && math.IsNaN(fb)
	}
	if math.IsInf(fa, 0) || math.IsInf(fb, 0) {
		return fa == fb
	}
	return fa == fb || math.Abs(fa-fb) <= 1e-6*max(1, math.Abs(fa), math.Abs(fb))
}

// decodeAny decodes one JSON value with numbers kept as json.Number.
func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}
