package push

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of Loki's logproto messages.
const (
	fieldPushStreams = 1 // PushRequest.streams: repeated StreamAdapter

	fieldStreamLabels  = 1 // StreamAdapter.labels: string
	fieldStreamEntries = 2 // StreamAdapter.entries: repeated EntryAdapter
	// StreamAdapter.hash = 3 is ignored: the server hashes canonical labels.

	fieldEntryTimestamp = 1 // EntryAdapter.timestamp: google.protobuf.Timestamp
	fieldEntryLine      = 2 // EntryAdapter.line: string
	fieldEntryMetadata  = 3 // EntryAdapter.structuredMetadata: repeated LabelPairAdapter

	fieldTimestampSeconds = 1 // Timestamp.seconds: int64
	fieldTimestampNanos   = 2 // Timestamp.nanos: int32

	fieldPairName  = 1 // LabelPairAdapter.name: string
	fieldPairValue = 2 // LabelPairAdapter.value: string
)

// DecodeProto decodes a logproto.PushRequest (already decompressed) into r,
// replacing its contents. Unknown fields are skipped; malformed input is
// reported as a *DecodeError, never a panic.
//
// Strings in r alias body: body must not be modified while r (or any string
// taken from it) is in use. When r is reused, decoding allocates nothing once
// its slices have grown to the size of the requests it sees.
func DecodeProto(body []byte, r *Request) error {
	r.Reset()
	b := body
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protoError(body, b, "push request", wireError(n))
		}
		b = b[n:]
		if num != fieldPushStreams {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return protoError(body, b, "push request", wireError(n))
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return protoError(body, b, streamWhere(len(r.Streams)), wireTypeError(num, typ))
		}
		msg, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protoError(body, b, streamWhere(len(r.Streams)), wireError(n))
		}
		if err := r.decodeProtoStream(body, msg); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// decodeProtoStream decodes one StreamAdapter and appends it to r.
func (r *Request) decodeProtoStream(body, b []byte) error {
	si := len(r.Streams)
	start := len(r.entries)
	var labels string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protoError(body, b, streamWhere(si), wireError(n))
		}
		b = b[n:]
		switch {
		case num == fieldStreamLabels && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protoError(body, b, streamWhere(si)+".labels", wireError(n))
			}
			labels = bytesToString(v)
			b = b[n:]
		case num == fieldStreamEntries && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protoError(body, b, entryWhere(si, len(r.entries)-start), wireError(n))
			}
			if err := r.decodeProtoEntry(body, v, si, len(r.entries)-start); err != nil {
				return err
			}
			b = b[n:]
		case num == fieldStreamLabels || num == fieldStreamEntries:
			return protoError(body, b, streamWhere(si), wireTypeError(num, typ))
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return protoError(body, b, streamWhere(si), wireError(n))
			}
			b = b[n:]
		}
	}
	s := r.addStream()
	s.Labels = labels
	s.Entries = r.entriesFrom(start)
	return nil
}

// decodeProtoEntry decodes one EntryAdapter into a new arena entry.
func (r *Request) decodeProtoEntry(body, b []byte, si, ei int) error {
	e := r.addEntry()
	metaStart := len(r.meta)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protoError(body, b, entryWhere(si, ei), wireError(n))
		}
		b = b[n:]
		if num >= fieldEntryTimestamp && num <= fieldEntryMetadata {
			if typ != protowire.BytesType {
				return protoError(body, b, entryWhere(si, ei), wireTypeError(num, typ))
			}
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protoError(body, b, entryWhere(si, ei), wireError(n))
			}
			switch num {
			case fieldEntryTimestamp:
				ts, err := decodeProtoTimestamp(v)
				if err != nil {
					return protoError(body, b, entryWhere(si, ei)+".timestamp", err)
				}
				e.Timestamp = ts
			case fieldEntryLine:
				e.Line = bytesToString(v)
			case fieldEntryMetadata:
				name, value, err := decodeProtoPair(v)
				if err != nil {
					return protoError(body, b, entryWhere(si, ei)+".structuredMetadata", err)
				}
				r.meta = append(r.meta, LabelPair{Name: name, Value: value})
			}
			b = b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return protoError(body, b, entryWhere(si, ei), wireError(n))
		}
		b = b[n:]
	}
	e.Metadata = r.metaFrom(metaStart)
	return nil
}

// decodeProtoTimestamp decodes a google.protobuf.Timestamp into unix
// nanoseconds, rejecting instants int64 nanoseconds cannot hold.
func decodeProtoTimestamp(b []byte) (int64, error) {
	var secs int64
	var nanos int32
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, wireError(n)
		}
		b = b[n:]
		if (num == fieldTimestampSeconds || num == fieldTimestampNanos) && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, wireError(n)
			}
			if num == fieldTimestampSeconds {
				secs = int64(v)
			} else {
				nanos = int32(v)
			}
			b = b[n:]
			continue
		}
		if num == fieldTimestampSeconds || num == fieldTimestampNanos {
			return 0, wireTypeError(num, typ)
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0, wireError(n)
		}
		b = b[n:]
	}
	return secondsToNanos(secs, nanos)
}

// secondsToNanos combines a Timestamp's parts, refusing to overflow.
func secondsToNanos(secs int64, nanos int32) (int64, error) {
	const maxSecs = math.MaxInt64 / int64(1e9) // 9223372036
	s, n := secs, int64(nanos)
	// Give both parts the same sign so that the extremes, whose seconds
	// alone overflow, still combine.
	if s < 0 && n > 0 {
		s, n = s+1, n-1e9
	} else if s > 0 && n < 0 {
		s, n = s-1, n+1e9
	}
	if s > maxSecs || s < -maxSecs {
		return 0, fmt.Errorf("%d seconds is outside the years 1678-2262 that int64 nanoseconds can hold", secs)
	}
	base := s * 1e9
	ns := base + n
	if (n > 0 && ns < base) || (n < 0 && ns > base) {
		return 0, fmt.Errorf("%d seconds %d nanoseconds is outside the range of int64 nanoseconds", secs, nanos)
	}
	return ns, nil
}

// decodeProtoPair decodes a LabelPairAdapter.
func decodeProtoPair(b []byte) (name, value string, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", "", wireError(n)
		}
		b = b[n:]
		if (num == fieldPairName || num == fieldPairValue) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", "", wireError(n)
			}
			if num == fieldPairName {
				name = bytesToString(v)
			} else {
				value = bytesToString(v)
			}
			b = b[n:]
			continue
		}
		if num == fieldPairName || num == fieldPairValue {
			return "", "", wireTypeError(num, typ)
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return "", "", wireError(n)
		}
		b = b[n:]
	}
	return name, value, nil
}

// streamWhere and entryWhere name a place in the request the way a JSON path
// would, so indexes visibly count from 0.
func streamWhere(si int) string { return fmt.Sprintf("streams[%d]", si) }

func entryWhere(si, ei int) string { return fmt.Sprintf("streams[%d].entries[%d]", si, ei) }

// wireError is protowire's error for code n, minus the "proto:" prefix and
// the non-breaking space protobuf-go puts there to deter matching on it.
func wireError(n int) error {
	msg := strings.ReplaceAll(protowire.ParseError(n).Error(), "\u00a0", " ")
	return errors.New(strings.TrimPrefix(msg, "proto: "))
}

func wireTypeError(num protowire.Number, typ protowire.Type) error {
	return fmt.Errorf("field %d has wire type %d, not the one logproto.PushRequest uses", num, typ)
}

// protoError wraps err with where it happened. rest is the unread part of the
// message being walked; as a subslice of body it shares body's end of
// capacity, which gives the byte offset.
func protoError(body, rest []byte, where string, err error) error {
	return &DecodeError{
		Format: "protobuf",
		Err:    fmt.Errorf("%s at byte %d: %w", where, cap(body)-cap(rest), err),
	}
}
