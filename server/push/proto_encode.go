package push

import (
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// EncodeProto appends r as a logproto.PushRequest to dst, uncompressed (HTTP
// clients snappy-compress it, see ReadBody). Empty strings are omitted as
// proto3 does; the entry timestamp is always written, like Loki's encoder.
func EncodeProto(dst []byte, r *Request) []byte {
	total := 0
	for i := range r.Streams {
		total += sizeField(protoStreamSize(&r.Streams[i]))
	}
	dst = slices.Grow(dst, total)
	for i := range r.Streams {
		s := &r.Streams[i]
		dst = protowire.AppendTag(dst, fieldPushStreams, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(protoStreamSize(s)))
		if s.Labels != "" {
			dst = protowire.AppendTag(dst, fieldStreamLabels, protowire.BytesType)
			dst = protowire.AppendString(dst, s.Labels)
		}
		for j := range s.Entries {
			e := &s.Entries[j]
			dst = protowire.AppendTag(dst, fieldStreamEntries, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(protoEntrySize(e)))
			secs, nanos := splitNanos(e.Timestamp)
			dst = protowire.AppendTag(dst, fieldEntryTimestamp, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(protoTimestampSize(secs, nanos)))
			if secs != 0 {
				dst = protowire.AppendTag(dst, fieldTimestampSeconds, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(secs))
			}
			if nanos != 0 {
				dst = protowire.AppendTag(dst, fieldTimestampNanos, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(nanos))
			}
			if e.Line != "" {
				dst = protowire.AppendTag(dst, fieldEntryLine, protowire.BytesType)
				dst = protowire.AppendString(dst, e.Line)
			}
			for _, p := range e.Metadata {
				dst = protowire.AppendTag(dst, fieldEntryMetadata, protowire.BytesType)
				dst = protowire.AppendVarint(dst, uint64(protoPairSize(p)))
				if p.Name != "" {
					dst = protowire.AppendTag(dst, fieldPairName, protowire.BytesType)
					dst = protowire.AppendString(dst, p.Name)
				}
				if p.Value != "" {
					dst = protowire.AppendTag(dst, fieldPairValue, protowire.BytesType)
					dst = protowire.AppendString(dst, p.Value)
				}
			}
		}
	}
	return dst
}

// splitNanos turns unix nanoseconds into a Timestamp's seconds and
// non-negative nanos.
func splitNanos(ns int64) (secs int64, nanos int32) {
	secs, rem := ns/1e9, ns%1e9
	if rem < 0 {
		secs--
		rem += 1e9
	}
	return secs, int32(rem)
}

// sizeField is the size of a length-delimited field of n bytes whose field
// number is below 16, as all of logproto's are: one tag byte, the length, the
// bytes.
func sizeField(n int) int { return 1 + protowire.SizeBytes(n) }

func sizeString(s string) int {
	if s == "" {
		return 0
	}
	return sizeField(len(s))
}

func protoStreamSize(s *Stream) int {
	n := sizeString(s.Labels)
	for j := range s.Entries {
		n += sizeField(protoEntrySize(&s.Entries[j]))
	}
	return n
}

func protoEntrySize(e *Entry) int {
	n := sizeField(protoTimestampSize(splitNanos(e.Timestamp))) + sizeString(e.Line)
	for _, p := range e.Metadata {
		n += sizeField(protoPairSize(p))
	}
	return n
}

func protoTimestampSize(secs int64, nanos int32) int {
	n := 0
	if secs != 0 {
		n += 1 + protowire.SizeVarint(uint64(secs))
	}
	if nanos != 0 {
		n += 1 + protowire.SizeVarint(uint64(nanos))
	}
	return n
}

func protoPairSize(p LabelPair) int { return sizeString(p.Name) + sizeString(p.Value) }
