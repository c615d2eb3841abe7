package push

import (
	"errors"
	"unsafe"
)

// Entry is one log line.
type Entry struct {
	Timestamp int64       // unix nanoseconds
	Line      string      //
	Metadata  []LabelPair // structured metadata, in received order; nil when none
}

// LabelPair is one name/value pair of structured metadata.
type LabelPair struct{ Name, Value string }

// Stream is a label set in Loki's text form (`{a="b", c="d"}`, unparsed) and
// its entries.
type Stream struct {
	Labels  string
	Entries []Entry
}

// Request is one push request. The decoders fill it; reuse it (Reset, or just
// decode into it again) to avoid allocating per entry.
type Request struct {
	Streams []Stream

	// Decoders carve every stream's Entries and every entry's Metadata out of
	// these two arenas, so a reused Request reaches zero allocations whatever
	// the shape of the next request.
	entries []Entry
	meta    []LabelPair
}

// Reset empties r but keeps its capacity for reuse. It also drops references
// to the previous body so that a pooled Request does not pin it in memory.
func (r *Request) Reset() {
	for i := range r.Streams {
		r.Streams[i] = Stream{}
	}
	r.Streams = r.Streams[:0]
	clear(r.entries)
	r.entries = r.entries[:0]
	clear(r.meta)
	r.meta = r.meta[:0]
}

// addStream appends an empty stream to r and returns it. The pointer is only
// valid until the next addStream.
func (r *Request) addStream() *Stream {
	if len(r.Streams) < cap(r.Streams) {
		r.Streams = r.Streams[:len(r.Streams)+1]
	} else {
		r.Streams = append(r.Streams, Stream{})
	}
	return &r.Streams[len(r.Streams)-1]
}

// addEntry appends a zeroed entry to the entry arena and returns it. The
// pointer is only valid until the next addEntry.
func (r *Request) addEntry() *Entry {
	if len(r.entries) < cap(r.entries) {
		r.entries = r.entries[:len(r.entries)+1]
	} else {
		r.entries = append(r.entries, Entry{})
	}
	return &r.entries[len(r.entries)-1]
}

// entriesFrom returns the arena entries appended since start, with capacity
// capped so that a caller appending to one stream cannot overwrite the next.
func (r *Request) entriesFrom(start int) []Entry {
	if start == len(r.entries) {
		return nil
	}
	return r.entries[start:len(r.entries):len(r.entries)]
}

// metaFrom is entriesFrom for the metadata arena.
func (r *Request) metaFrom(start int) []LabelPair {
	if start == len(r.meta) {
		return nil
	}
	return r.meta[start:len(r.meta):len(r.meta)]
}

// ErrTooLarge is wrapped by ReadBody's error when a body, compressed or
// decompressed, exceeds its limit. The HTTP layer answers 413.
var ErrTooLarge = errors.New("push body too large")

// ErrUnsupportedEncoding is wrapped by ReadBody's error for a Content-Encoding
// it cannot undo. The HTTP layer answers 415.
var ErrUnsupportedEncoding = errors.New("unsupported Content-Encoding")

// DecodeError reports a malformed push body. The HTTP layer answers 400 and
// can show Error() to the client as is.
type DecodeError struct {
	Format string // "json", "protobuf", "gzip", "deflate" or "snappy"
	Err    error
}

func (e *DecodeError) Error() string {
	return "invalid " + e.Format + " push body: " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// bytesToString returns a string sharing b's memory; b must not change while
// the string is in use.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
