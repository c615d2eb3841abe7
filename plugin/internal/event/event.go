package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tinylib/msgp/msgp"
)

// Event is one log event of a chunk.
type Event struct {
	Index  int    // position in the chunk, counting group markers, from 0
	Offset int    // byte offset of the event in the chunk
	Time   int64  // unix nanoseconds
	Meta   []byte // v2 metadata map, msgpack; nil for v1 events
	Record []byte // record map, msgpack

	// Bad says why the value at Offset is not a usable event (Time, Meta
	// and Record are then unset); nil for a good event. The caller counts
	// and skips it.
	Bad error
}

// Reader walks the events of a chunk. The zero Reader has no events; Reset
// points it at a chunk. Reuse one Reader to avoid allocating.
type Reader struct {
	chunk []byte
	off   int
	index int
	ev    Event
	err   error
}

// NewReader returns a Reader over chunk.
func NewReader(chunk []byte) *Reader {
	r := &Reader{}
	r.Reset(chunk)
	return r
}

// Reset points r at the start of chunk.
func (r *Reader) Reset(chunk []byte) {
	*r = Reader{chunk: chunk}
}

// Next advances to the next event that is not a group marker and reports
// whether there is one. It returns false at the end of the chunk or when
// the chunk stops being msgpack (see Err).
func (r *Reader) Next() bool {
	for r.err == nil && r.off < len(r.chunk) {
		start := r.off
		b := r.chunk[start:]
		rest, err := msgp.Skip(b)
		if err != nil {
			r.err = &Error{Index: r.index, Offset: start, Err: msgpackError(err)}
			return false
		}
		r.off = start + len(b) - len(rest)
		r.ev = Event{Index: r.index, Offset: start}
		r.index++
		marker, bad := decode(&r.ev, b[:len(b)-len(rest)])
		if marker {
			continue
		}
		r.ev.Bad = bad
		return true
	}
	return false
}

// At returns the current event. It is valid until the next call to Next.
func (r *Reader) At() *Event { return &r.ev }

// Err returns the error that ended iteration, nil at the end of a
// well-formed chunk. It is an *Error.
func (r *Reader) Err() error { return r.err }

// Error is a chunk that is not msgpack from some event on.
type Error struct {
	Index  int // the event, counting from 0
	Offset int // its first byte in the chunk
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("event %d at byte %d: %v", e.Index, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTruncated is wrapped by the Error of a chunk that ends inside a value.
var ErrTruncated = errors.New("truncated msgpack: the chunk ends inside a value")

// Reasons an event is Bad. Compare with errors.Is.
var (
	ErrNotEvent  = errors.New("not an event: want a 2-element array [ts, record] or [[ts, metadata], record]")
	ErrTimestamp = errors.New("bad timestamp")
	ErrMetadata  = errors.New("metadata is not a map")
	ErrRecord    = errors.New("record is not a map")
)

func msgpackError(err error) error {
	if errors.Is(err, msgp.ErrShortBytes) {
		return ErrTruncated
	}
	var p msgp.InvalidPrefixError
	if errors.As(err, &p) {
		return fmt.Errorf("not msgpack: byte 0x%02x starts no msgpack value", byte(p))
	}
	if errors.Is(err, msgp.ErrRecursion) {
		return errors.New("not a log event: msgpack nested too deeply")
	}
	return err
}

// decode fills e from one complete msgpack value v. It reports group
// markers, and why v is not an event.
func decode(e *Event, v []byte) (marker bool, bad error) {
	n, b, err := msgp.ReadArrayHeaderBytes(v)
	if err != nil || n != 2 {
		return false, ErrNotEvent
	}
	ts := b
	if msgp.NextType(b) == msgp.ArrayType {
		n, h, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil || n != 2 {
			return false, fmt.Errorf("%w: the header [ts, metadata] has %d elements", ErrNotEvent, n)
		}
		ts = h
		h, _ = msgp.Skip(h) // complete: v was skipped whole
		meta := h
		h, _ = msgp.Skip(h)
		e.Meta = meta[:len(meta)-len(h)]
		b = h
	} else {
		b, _ = msgp.Skip(b)
	}
	secs, nanos, err := readTime(ts)
	if err != nil {
		return false, err
	}
	if secs == -1 || secs == -2 {
		return true, nil
	}
	if secs < 0 {
		return false, fmt.Errorf("%w: %d seconds is negative (only -1 and -2, group markers, are)", ErrTimestamp, secs)
	}
	if secs > maxSeconds {
		return false, fmt.Errorf("%w: %d seconds is out of range", ErrTimestamp, secs)
	}
	if e.Meta != nil && msgp.NextType(e.Meta) != msgp.MapType {
		e.Meta = nil
		return false, ErrMetadata
	}
	if msgp.NextType(b) != msgp.MapType {
		e.Meta = nil
		return false, fmt.Errorf("%w: it is %s", ErrRecord, msgp.NextType(b))
	}
	e.Time = secs*1e9 + nanos
	e.Record = b
	return false, nil
}

// maxSeconds keeps seconds*1e9+nanos within int64 (year 2262).
const maxSeconds = math.MaxInt64/1_000_000_000 - 1

// readTime reads an event timestamp: the EventTime extension, integer
// seconds, or float seconds.
func readTime(b []byte) (secs, nanos int64, err error) {
	switch t := msgp.NextType(b); t {
	case msgp.ExtensionType:
		// EventTime: fixext8 (0xd7) or ext8 (0xc7) of length 8, type 0.
		var data []byte
		switch {
		case len(b) >= 10 && b[0] == 0xd7 && b[1] == 0:
			data = b[2:10]
		case len(b) >= 11 && b[0] == 0xc7 && b[1] == 8 && b[2] == 0:
			data = b[3:11]
		default:
			return 0, 0, fmt.Errorf("%w: extension is not EventTime (type 0, 8 bytes)", ErrTimestamp)
		}
		secs = int64(int32(binary.BigEndian.Uint32(data)))
		nanos = int64(binary.BigEndian.Uint32(data[4:]))
		if nanos >= 1e9 {
			return 0, 0, fmt.Errorf("%w: %d nanoseconds", ErrTimestamp, nanos)
		}
		return secs, nanos, nil
	case msgp.IntType:
		i, _, err := msgp.ReadInt64Bytes(b)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %v", ErrTimestamp, err)
		}
		return i, 0, nil
	case msgp.UintType:
		u, _, err := msgp.ReadUint64Bytes(b)
		if err != nil || u > math.MaxInt64 {
			return 0, 0, fmt.Errorf("%w: %d seconds is out of range", ErrTimestamp, u)
		}
		return int64(u), 0, nil
	case msgp.Float64Type, msgp.Float32Type:
		f, _, err := msgp.ReadFloat64Bytes(b)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %v", ErrTimestamp, err)
		}
		return splitFloat(f)
	default:
		return 0, 0, fmt.Errorf("%w: %s, want EventTime, integer or float seconds", ErrTimestamp, t)
	}
}

// splitFloat turns float seconds into seconds and nanoseconds, rounding to
// the nearest nanosecond: the fraction f-floor(f) is exact in float64, so
// only the final scaling rounds, and 1.5 stays 1 s 500000000 ns where a
// single f*1e9 conversion could land a nanosecond short.
func splitFloat(f float64) (secs, nanos int64, err error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f >= maxSeconds || f < -2 {
		return 0, 0, fmt.Errorf("%w: %v seconds", ErrTimestamp, f)
	}
	s := math.Floor(f)
	ns := math.Round((f - s) * 1e9)
	secs, nanos = int64(s), int64(ns)
	if nanos >= 1e9 {
		secs++
		nanos -= 1e9
	}
	return secs, nanos, nil
}
