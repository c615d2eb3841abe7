package record

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/tinylib/msgp/msgp"

	"github.com/loam-logs/loam/server/push"
)

// StringBytes returns the payload of a str or bin value without copying;
// ok is false for other types.
func StringBytes(v []byte) (s []byte, ok bool) {
	if len(v) > 0 && v[0]&0xe0 == 0xa0 {
		n := int(v[0] & 0x1f)
		if len(v) < 1+n {
			return nil, false
		}
		return v[1 : 1+n], true
	}
	var err error
	switch msgp.NextType(v) {
	case msgp.StrType:
		s, _, err = msgp.ReadStringZC(v)
	case msgp.BinType:
		s, _, err = msgp.ReadBytesZC(v)
	default:
		return nil, false
	}
	return s, err == nil
}

// AppendText appends the value v as text (see the package doc): what a
// label value or a line made of one field is.
func AppendText(dst, v []byte) ([]byte, error) {
	if s, ok := StringBytes(v); ok {
		return append(dst, s...), nil
	}
	switch msgp.NextType(v) {
	case msgp.Float64Type, msgp.Float32Type:
		f, _, err := msgp.ReadFloat64Bytes(v)
		if err != nil {
			return dst, valueError(err)
		}
		switch {
		case math.IsNaN(f):
			return append(dst, "NaN"...), nil
		case math.IsInf(f, 1):
			return append(dst, "+Inf"...), nil
		case math.IsInf(f, -1):
			return append(dst, "-Inf"...), nil
		}
	}
	dst, _, err := appendJSON(dst, v, nil)
	return dst, err
}

// AppendJSON appends the record map rec as one JSON object, leaving out
// the keys at the paths of remove (nil: none). A path ending inside a nested
// map removes only that nested key.
func AppendJSON(dst, rec []byte, remove *Paths) ([]byte, error) {
	if msgp.NextType(rec) != msgp.MapType {
		return dst, ErrNotMap
	}
	dst, _, err := appendJSON(dst, rec, root(remove))
	return dst, err
}

func root(p *Paths) *node {
	if p == nil {
		return nil
	}
	return &p.root
}

// appendJSON appends one value as JSON and returns what follows it; rm is
// the removal subtree that applies to it when it is a map.
func appendJSON(dst, b []byte, rm *node) ([]byte, []byte, error) {
	if len(b) == 0 {
		return dst, b, errTruncated
	}
	if b[0]&0xe0 == 0xa0 {
		n := int(b[0] & 0x1f)
		if len(b) < 1+n {
			return dst, b, errTruncated
		}
		return appendJSONString(dst, b[1:1+n]), b[1+n:], nil
	}
	var err error
	switch msgp.NextType(b) {
	case msgp.StrType:
		var s []byte
		s, b, err = msgp.ReadStringZC(b)
		dst = appendJSONString(dst, s)
	case msgp.BinType:
		var s []byte
		s, b, err = msgp.ReadBytesZC(b)
		dst = appendJSONString(dst, s)
	case msgp.IntType:
		var i int64
		i, b, err = msgp.ReadInt64Bytes(b)
		dst = strconv.AppendInt(dst, i, 10)
	case msgp.UintType:
		var u uint64
		u, b, err = msgp.ReadUint64Bytes(b)
		dst = strconv.AppendUint(dst, u, 10)
	case msgp.Float32Type:
		var f float32
		f, b, err = msgp.ReadFloat32Bytes(b)
		dst = appendFloat(dst, float64(f), 32)
	case msgp.Float64Type:
		var f float64
		f, b, err = msgp.ReadFloat64Bytes(b)
		dst = appendFloat(dst, f, 64)
	case msgp.BoolType:
		var v bool
		v, b, err = msgp.ReadBoolBytes(b)
		dst = strconv.AppendBool(dst, v)
	case msgp.NilType:
		b, err = msgp.ReadNilBytes(b)
		dst = append(dst, "null"...)
	case msgp.MapType:
		return appendJSONMap(dst, b, rm)
	case msgp.ArrayType:
		var n uint32
		n, b, err = msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return dst, b, valueError(err)
		}
		dst = append(dst, '[')
		for i := uint32(0); i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, b, err = appendJSON(dst, b, nil); err != nil {
				return dst, b, err
			}
		}
		return append(dst, ']'), b, nil
	default:
		return appendExt(dst, b)
	}
	return dst, b, valueError(err)
}

// nextKey reads the key of the next pair of a map at b: its text (a key of
// another type than string as its text), the removals under it, and the
// value that follows. A pair that rm removes is skipped: removed is true
// and rest follows its value.
func nextKey(b []byte, rm *node) (key []byte, sub *node, rest []byte, removed bool, err error) {
	key, ok, rest, err := readKey(b)
	if err != nil {
		return nil, nil, b, false, err
	}
	if !ok {
		key, err = AppendText(nil, b[:len(b)-len(rest)])
		return key, nil, rest, false, err
	}
	if sub = rm.find(key); sub != nil && sub.slot >= 0 {
		rest, err = msgp.Skip(rest)
		return nil, nil, rest, true, valueError(err)
	}
	return key, sub, rest, false, nil
}

func appendJSONMap(dst, b []byte, rm *node) ([]byte, []byte, error) {
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return dst, b, valueError(err)
	}
	dst = append(dst, '{')
	first := true
	for ; n > 0; n-- {
		key, sub, rest, removed, err := nextKey(b, rm)
		if err != nil {
			return dst, b, err
		}
		if removed {
			b = rest
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, key)
		dst = append(dst, ':')
		if dst, b, err = appendJSON(dst, rest, sub); err != nil {
			return dst, b, err
		}
	}
	return append(dst, '}'), b, nil
}

// appendExt renders an extension: EventTime and the msgpack timestamp as
// RFC 3339 strings, anything else as null.
func appendExt(dst, b []byte) ([]byte, []byte, error) {
	if len(b) >= 10 && b[0] == 0xd7 && b[1] == 0 {
		secs := int64(int32(binary.BigEndian.Uint32(b[2:])))
		nanos := int64(binary.BigEndian.Uint32(b[6:]))
		dst = append(dst, '"')
		dst = time.Unix(secs, nanos).UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"'), b[10:], nil
	}
	if msgp.NextType(b) == msgp.TimeType {
		if t, rest, err := msgp.ReadTimeBytes(b); err == nil {
			dst = append(dst, '"')
			dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
			return append(dst, '"'), rest, nil
		}
	}
	rest, err := msgp.Skip(b)
	if err != nil {
		return dst, b, valueError(err)
	}
	return append(dst, "null"...), rest, nil
}

// appendFloat writes f as JSON does: shortest round-trip digits, exponent
// form only for very small or large magnitudes; non-finite as null.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 → 1e-7: drop the exponent's leading zero.
		if n := len(dst) - start; n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// appendJSONString appends s as a JSON string (see push.AppendJSONString).
func appendJSONString(dst, s []byte) []byte {
	return push.AppendJSONString(dst, unsafe.String(unsafe.SliceData(s), len(s)))
}

// AppendKeyValue appends the record map rec as logfmt key=value pairs (see
// the package doc), leaving out the keys at the paths of remove.
func AppendKeyValue(dst, rec []byte, remove *Paths) ([]byte, error) {
	if msgp.NextType(rec) != msgp.MapType {
		return dst, ErrNotMap
	}
	var prefix [64]byte
	dst, _, err := appendKV(dst, len(dst), rec, root(remove), prefix[:0])
	return dst, err
}

// appendKV appends the pairs of the map at b, keys prefixed by prefix;
// start is where the line began, to know whether a separator is due.
func appendKV(dst []byte, start int, b []byte, rm *node, prefix []byte) ([]byte, []byte, error) {
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return dst, b, valueError(err)
	}
	for ; n > 0; n-- {
		key, sub, rest, removed, err := nextKey(b, rm)
		if err != nil {
			return dst, b, err
		}
		if removed {
			b = rest
			continue
		}
		full := appendKey(prefix, key)
		if msgp.NextType(rest) == msgp.MapType {
			if dst, b, err = appendKV(dst, start, rest, sub, append(full, '.')); err != nil {
				return dst, b, err
			}
			continue
		}
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		dst = append(dst, full...)
		dst = append(dst, '=')
		if s, isStr := StringBytes(rest); isStr {
			dst = appendLogfmtValue(dst, s)
			b, err = msgp.Skip(rest)
			if err != nil {
				return dst, b, valueError(err)
			}
			continue
		}
		mark := len(dst)
		if dst, b, err = appendJSON(dst, rest, nil); err != nil {
			return dst, b, err
		}
		if needsQuote(dst[mark:]) {
			// An array or a JSON-escaped string inside one: quote the text.
			text := append([]byte(nil), dst[mark:]...)
			dst = appendLogfmtValue(dst[:mark], text)
		}
	}
	return dst, b, nil
}

// appendKey appends key to prefix with the bytes logfmt keys cannot hold
// replaced by '_'.
func appendKey(prefix, key []byte) []byte {
	if len(key) == 0 {
		return append(prefix, '_')
	}
	for _, c := range key {
		if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
			c = '_'
		}
		prefix = append(prefix, c)
	}
	return prefix
}

func needsQuote(s []byte) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return true
		}
		i += size
	}
	return false
}

func appendLogfmtValue(dst, s []byte) []byte {
	if !needsQuote(s) {
		return append(dst, s...)
	}
	return appendJSONString(dst, s)
}

// AppendSingle appends the text of the record's only value when, leaving
// out the keys at remove's paths, exactly one key is left (Loki's
// DropSingleKey); ok is false otherwise and dst is unchanged.
func AppendSingle(dst, rec []byte, remove *Paths) (out []byte, ok bool, err error) {
	n, b, err := msgp.ReadMapHeaderBytes(rec)
	if err != nil {
		return dst, false, mapError(err)
	}
	rm := root(remove)
	var val []byte
	var valRm *node
	kept := 0
	for ; n > 0; n-- {
		key, isStr, rest, err := readKey(b)
		if err != nil {
			return dst, false, err
		}
		var sub *node
		if isStr {
			sub = rm.find(key)
		}
		if b, err = msgp.Skip(rest); err != nil {
			return dst, false, valueError(err)
		}
		if sub != nil && sub.slot >= 0 {
			continue
		}
		kept++
		val, valRm = rest[:len(rest)-len(b)], sub
	}
	if kept != 1 {
		return dst, false, nil
	}
	if msgp.NextType(val) == msgp.MapType {
		dst, _, err = appendJSON(dst, val, valRm)
		return dst, err == nil, err
	}
	dst, err = AppendText(dst, val)
	return dst, err == nil, err
}
