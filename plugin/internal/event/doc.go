// Package event iterates over the log events of a Fluent Bit chunk — the
// msgpack buffer a Go output plugin's flush receives — without allocating.
//
// A chunk is msgpack values back to back, each an event:
//
//	v1: [ts, record]
//	v2: [[ts, metadata], record]
//
// ts is the EventTime extension (fixext8, type 0: big-endian uint32 seconds,
// uint32 nanoseconds), or, in older forms, integer or float seconds. As in
// Fluent Bit's own decoder (flb_log_event_decoder.c), EventTime seconds are
// read as a signed 32-bit number: seconds -1 and -2 are group start and end
// markers (Fluent Bit ≥ 4 wraps OpenTelemetry and processor output in
// groups, and its encoder writes the marker times through the same EventTime
// path). Markers are skipped, whether their ts is the ext or a plain
// negative integer.
//
// Errors come in two kinds. A value that is well-formed msgpack but not an
// event (not a 2-element array, a timestamp of the wrong type or out of
// range, a record that is not a map) is reported on the Event (Event.Bad)
// and iteration goes on: the next event is still found. Bytes that are not
// msgpack at all (truncated, an unused prefix byte) end the iteration with
// Reader.Err, since no later event can be located; the error names the event
// index and byte offset.
//
// Event memory (Meta, Record) aliases the chunk. It must not be used after
// the chunk is released (Fluent Bit frees it when the flush returns).
//
// The package imports only the msgpack primitives of github.com/tinylib/msgp.
package event
