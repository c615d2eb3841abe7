package fbtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"
)

// Form is how an event's timestamp and header are written.
type Form int

const (
	// V1EventTime is [EventTime, record]: Fluent Bit 1.x–2.0, and what
	// forward-compatible producers still write.
	V1EventTime Form = iota
	// V1Int is [seconds, record] with integer seconds (legacy forward).
	V1Int
	// V1Float is [seconds, record] with float64 seconds.
	V1Float
	// V2 is [[EventTime, metadata], record]: Fluent Bit ≥ 2.1.
	V2
)

// Group values of Event: a group start or end marker instead of a record.
const (
	GroupStart = -1
	GroupEnd   = -2
)

// Event is one Fluent Bit log event.
type Event struct {
	Time   time.Time
	Meta   map[string]any // v2 metadata; nil writes an empty map
	Record map[string]any
	Form   Form
	Group  int // 0 for a record, GroupStart or GroupEnd for a marker (always v2)

	// Order lists top-level record keys to write first, in this order; the
	// rest follow sorted. Keys absent from Record are skipped.
	Order []string
}

// Chunk returns the events encoded back to back, as one flush receives them.
func Chunk(es ...Event) []byte {
	var b []byte
	for _, e := range es {
		b = Append(b, e)
	}
	return b
}

// Append appends e encoded as Fluent Bit does and returns the extended
// buffer. It panics on a value type it cannot encode: a test bug.
func Append(dst []byte, e Event) []byte {
	dst = appendArrayHeader(dst, 2)
	switch {
	case e.Group != 0:
		dst = appendArrayHeader(dst, 2)
		dst = appendEventTime(dst, uint32(int32(e.Group)), 0)
		dst = appendMap(dst, e.Meta, nil)
	case e.Form == V2:
		dst = appendArrayHeader(dst, 2)
		dst = appendTime(dst, e.Time)
		dst = appendMap(dst, e.Meta, nil)
	case e.Form == V1Int:
		dst = appendInt(dst, e.Time.Unix())
	case e.Form == V1Float:
		dst = appendFloat64(dst, float64(e.Time.UnixNano())/1e9)
	default:
		dst = appendTime(dst, e.Time)
	}
	return appendMap(dst, e.Record, e.Order)
}

func appendTime(dst []byte, t time.Time) []byte {
	return appendEventTime(dst, uint32(t.Unix()), uint32(t.Nanosecond()))
}

// appendEventTime writes the EventTime extension: fixext8, type 0.
func appendEventTime(dst []byte, secs, nanos uint32) []byte {
	dst = append(dst, 0xd7, 0x00)
	dst = binary.BigEndian.AppendUint32(dst, secs)
	return binary.BigEndian.AppendUint32(dst, nanos)
}

// AppendValue appends one msgpack value: nil, bool, every integer and float
// type, string, []byte (bin), time.Time (EventTime), map[string]any,
// map[string]string, []any, []string, or RawMsgpack as is.
func AppendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, 0xc0)
	case bool:
		if v {
			return append(dst, 0xc3)
		}
		return append(dst, 0xc2)
	case int:
		return appendInt(dst, int64(v))
	case int8:
		return appendInt(dst, int64(v))
	case int16:
		return appendInt(dst, int64(v))
	case int32:
		return appendInt(dst, int64(v))
	case int64:
		return appendInt(dst, v)
	case uint:
		return appendUint(dst, uint64(v))
	case uint8:
		return appendUint(dst, uint64(v))
	case uint16:
		return appendUint(dst, uint64(v))
	case uint32:
		return appendUint(dst, uint64(v))
	case uint64:
		return appendUint(dst, v)
	case float32:
		dst = append(dst, 0xca)
		return binary.BigEndian.AppendUint32(dst, math.Float32bits(v))
	case float64:
		return appendFloat64(dst, v)
	case string:
		return appendString(dst, v)
	case []byte:
		return appendBin(dst, v)
	case time.Time:
		return appendTime(dst, v)
	case RawMsgpack:
		return append(dst, v...)
	case map[string]any:
		return appendMap(dst, v, nil)
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return appendMap(dst, m, nil)
	case []any:
		dst = appendArrayHeader(dst, len(v))
		for _, x := range v {
			dst = AppendValue(dst, x)
		}
		return dst
	case []string:
		dst = appendArrayHeader(dst, len(v))
		for _, x := range v {
			dst = appendString(dst, x)
		}
		return dst
	}
	panic(fmt.Sprintf("fbtest: cannot encode %s", reflect.TypeOf(v)))
}

// RawMsgpack is a value already encoded, written as is: for records with
// shapes a map cannot express (non-string keys, duplicate keys, garbage).
type RawMsgpack []byte

func appendMap(dst []byte, m map[string]any, order []string) []byte {
	dst = appendMapHeader(dst, len(m))
	done := make(map[string]bool, len(order))
	for _, k := range order {
		v, ok := m[k]
		if !ok || done[k] {
			continue
		}
		done[k] = true
		dst = appendString(dst, k)
		dst = AppendValue(dst, v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendString(dst, k)
		dst = AppendValue(dst, m[k])
	}
	return dst
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
	}
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
	}
}

func appendString(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

func appendBin(dst []byte, b []byte) []byte {
	n := len(b)
	switch {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

func appendFloat64(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
}

// appendInt writes v in its smallest form, as msgpack-c's pack_int64 does.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(dst, uint64(v))
	}
	switch {
	case v >= -32:
		return append(dst, byte(int8(v)))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(int32(v)))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
	}
}

func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
	}
}
