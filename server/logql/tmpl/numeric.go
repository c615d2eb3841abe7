package tmpl

import (
	"encoding/json"
	"reflect"
	"strconv"
	"text/template"
)

// sprig's number functions convert each argument with spf13/cast. Loki 3.7
// links cast v1.10.0; this module resolves an older cast (v1.7.0), and the
// two differ on a string with a fraction: v1.10.0 reads "2.5" as the integer
// 2, v1.7.0 as 0 (it only drops a fraction of zeros, "2.0"). v1.10.0 also
// converts named number types (time.Month, time.Duration) that v1.7.0
// reads as 0. So each argument is first put in a form on which both
// versions agree, and sprig does the rest:
//
//   - intArg, for the integer functions, turns a string into the int64
//     v1.10.0 reads from it;
//   - both turn a value of a named basic type into the plain value.
//
// Strings read as floats the same way in both versions, so floatArg leaves
// them alone.

// numberFuncs returns sprig's number functions wrapped so that their
// arguments go through intArg or floatArg first. A wrapper has the
// signature of the sprig function it wraps, so argument-count and type
// errors read the same.
func numberFuncs(s template.FuncMap) template.FuncMap {
	toInt := s["int"].(func(any) int)
	toFloat := s["float64"].(func(any) float64)
	add := s["add"].(func(...any) int64)
	sub := s["sub"].(func(any, any) int64)
	div := s["div"].(func(any, any) int64)
	mod := s["mod"].(func(any, any) int64)
	mul := s["mul"].(func(any, ...any) int64)
	maxi := s["max"].(func(any, ...any) int64)
	mini := s["min"].(func(any, ...any) int64)
	addf := s["addf"].(func(...any) float64)
	subf := s["subf"].(func(any, ...any) float64)
	mulf := s["mulf"].(func(any, ...any) float64)
	divf := s["divf"].(func(any, ...any) float64)
	maxf := s["maxf"].(func(any, ...any) float64)
	minf := s["minf"].(func(any, ...any) float64)
	ceil := s["ceil"].(func(any) float64)
	floor := s["floor"].(func(any) float64)
	round := s["round"].(func(any, int, ...float64) float64)

	// The variadic arguments are a slice text/template builds for the
	// call, so converting them in place is safe.
	ints := func(vs []any) []any {
		for i, v := range vs {
			vs[i] = intArg(v)
		}
		return vs
	}
	floats := func(vs []any) []any {
		for i, v := range vs {
			vs[i] = floatArg(v)
		}
		return vs
	}
	return template.FuncMap{
		"int":     func(v any) int { return toInt(intArg(v)) },
		"float64": func(v any) float64 { return toFloat(floatArg(v)) },
		"add":     func(vs ...any) int64 { return add(ints(vs)...) },
		"sub":     func(a, b any) int64 { return sub(intArg(a), intArg(b)) },
		"div":     func(a, b any) int64 { return div(intArg(a), intArg(b)) },
		"mod":     func(a, b any) int64 { return mod(intArg(a), intArg(b)) },
		"mul":     func(a any, vs ...any) int64 { return mul(intArg(a), ints(vs)...) },
		"max":     func(a any, vs ...any) int64 { return maxi(intArg(a), ints(vs)...) },
		"min":     func(a any, vs ...any) int64 { return mini(intArg(a), ints(vs)...) },
		"addf":    func(vs ...any) float64 { return addf(floats(vs)...) },
		"subf":    func(a any, vs ...any) float64 { return subf(floatArg(a), floats(vs)...) },
		"mulf":    func(a any, vs ...any) float64 { return mulf(floatArg(a), floats(vs)...) },
		"divf":    func(a any, vs ...any) float64 { return divf(floatArg(a), floats(vs)...) },
		"maxf":    func(a any, vs ...any) float64 { return maxf(floatArg(a), floats(vs)...) },
		"minf":    func(a any, vs ...any) float64 { return minf(floatArg(a), floats(vs)...) },
		"ceil":    func(a any) float64 { return ceil(floatArg(a)) },
		"floor":   func(a any) float64 { return floor(floatArg(a)) },
		"round": func(a any, p int, on ...float64) float64 {
			return round(floatArg(a), p, on...)
		},
	}
}

// intArg returns v as cast v1.10.0's ToInt64 would see it.
func intArg(v any) any {
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return v
	case string:
		return parseIntString(x)
	case json.Number:
		return parseIntString(string(x))
	}
	v = plain(v)
	if s, ok := v.(string); ok {
		return parseIntString(s)
	}
	return v
}

// floatArg returns v as cast v1.10.0's ToFloat64 would see it.
func floatArg(v any) any {
	switch v.(type) {
	case nil, bool, string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return v
	}
	return plain(v)
}

// plain dereferences pointers and turns a value of a named type whose kind
// is a basic one (time.Month, time.Duration, a named string) into a value
// of the basic type. Other values are returned as they are.
func plain(v any) any {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint()
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.Invalid:
		return nil
	}
	return rv.Interface()
}

// parseIntString reads s as cast v1.10.0 does for an integer: "" is 0; a
// decimal fraction is dropped ("2.5" is 2, ".5" is 0); the rest goes to
// strconv.ParseInt with base 0, so "0x1f" is 31, "010" is 8 and "1_000" is
// 1000. What does not parse is 0.
func parseIntString(s string) int64 {
	n, err := strconv.ParseInt(dropFraction(s), 0, 0)
	if err != nil {
		return 0
	}
	return n
}

// dropFraction cuts the fraction of a string that is an optional sign,
// decimal digits, a '.' and decimal digits, keeping a digit: "2.5" is "2",
// "-.5" is "-0", "." is "0". Any other string is returned as it is.
func dropFraction(s string) string {
	dot := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case (c == '+' || c == '-') && i == 0:
		case c == '.' && dot < 0:
			dot = i
		default:
			return s
		}
	}
	if dot < 0 {
		return s
	}
	switch ip := s[:dot]; ip {
	case "", "+", "-":
		return ip + "0"
	default:
		return ip
	}
}
