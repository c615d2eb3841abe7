package push

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// A tiny protobuf writer, independent of EncodeProto, to build test bodies.
func pbBytes(num protowire.Number, v ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, bytes.Join(v, nil))
}

func pbStr(num protowire.Number, s string) []byte { return pbBytes(num, []byte(s)) }

func pbVarint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func pbEntry(secs int64, nanos int32, line string, extra ...[]byte) []byte {
	ts := pbBytes(1, pbVarint(1, uint64(secs)), pbVarint(2, uint64(nanos)))
	return pbBytes(2, append([][]byte{ts, pbStr(2, line)}, extra...)...)
}

func pbMeta(name, value string) []byte { return pbBytes(3, pbStr(1, name), pbStr(2, value)) }

// unknown holds one field of every wire type, numbered so as to be unknown
// in every logproto message.
var unknown = cat(
	pbVarint(15, 7),
	protowire.AppendFixed32(protowire.AppendTag(nil, 16, protowire.Fixed32Type), 1),
	protowire.AppendFixed64(protowire.AppendTag(nil, 17, protowire.Fixed64Type), 2),
	pbStr(18, "skip me"),
	protowire.AppendTag(nil, 19, protowire.StartGroupType), pbVarint(1, 1), protowire.AppendTag(nil, 19, protowire.EndGroupType),
)

var protoValidTests = []struct {
	name string
	body []byte
	want []Stream
}{
	{
		name: "one entry",
		body: pbBytes(1, pbStr(1, `{job="a"}`), pbEntry(1700000000, 123456789, "hello")),
		want: []Stream{{Labels: `{job="a"}`, Entries: []Entry{{Timestamp: 1700000000123456789, Line: "hello"}}}},
	},
	{
		name: "metadata, streams, unicode",
		body: cat(
			pbBytes(1, pbStr(1, `{job="a"}`), pbEntry(1, 0, "x", pbMeta("trace_id", "abc"), pbMeta("user", "ü")), pbEntry(2, 5, "héllo 世界")),
			pbBytes(1, pbStr(1, `{job="b"}`), pbEntry(0, 3, "y\x00\xff")),
		),
		want: []Stream{
			{Labels: `{job="a"}`, Entries: []Entry{
				{Timestamp: 1e9, Line: "x", Metadata: []LabelPair{{"trace_id", "abc"}, {"user", "ü"}}},
				{Timestamp: 2e9 + 5, Line: "héllo 世界"},
			}},
			{Labels: `{job="b"}`, Entries: []Entry{{Timestamp: 3, Line: "y\x00\xff"}}},
		},
	},
	{
		name: "unknown fields everywhere and the hash",
		body: cat(unknown, pbBytes(1, unknown, pbVarint(3, 99), pbStr(1, `{a="b"}`),
			pbBytes(2, unknown, pbBytes(1, unknown, pbVarint(1, 2)), pbStr(2, "l"), pbBytes(3, unknown, pbStr(1, "n"), pbStr(2, "v"))),
		), unknown),
		want: []Stream{{Labels: `{a="b"}`, Entries: []Entry{{Timestamp: 2e9, Line: "l", Metadata: []LabelPair{{"n", "v"}}}}}},
	},
	{
		name: "missing fields are zero",
		body: cat(pbBytes(1), pbBytes(1, pbStr(1, "{}"), pbBytes(2), pbBytes(2, pbBytes(1)), pbBytes(2, pbBytes(3)))),
		want: []Stream{{}, {Labels: "{}", Entries: []Entry{{}, {}, {Metadata: []LabelPair{{}}}}}},
	},
	{
		name: "last scalar wins, entries accumulate",
		body: pbBytes(1, pbStr(1, "{a}"), pbEntry(1, 0, "one"), pbStr(1, "{b}"), pbEntry(2, 0, "two")),
		want: []Stream{{Labels: "{b}", Entries: []Entry{{Timestamp: 1e9, Line: "one"}, {Timestamp: 2e9, Line: "two"}}}},
	},
	{
		name: "negative and extreme timestamps",
		body: pbBytes(1, pbEntry(-1, 5, "a"), pbEntry(-9223372036, -854775808, "min"), pbEntry(9223372036, 854775807, "max"), pbEntry(0, -1, "b")),
		want: []Stream{{Entries: []Entry{{Timestamp: -1e9 + 5, Line: "a"}, {Timestamp: math.MinInt64, Line: "min"}, {Timestamp: math.MaxInt64, Line: "max"}, {Timestamp: -1, Line: "b"}}}},
	},
	{
		name: "empty body",
		body: nil,
	},
}

func TestDecodeProto(t *testing.T) {
	for _, tt := range protoValidTests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			if err := DecodeProto(tt.body, &r); err != nil {
				t.Fatal(err)
			}
			checkStreams(t, r.Streams, tt.want)
		})
	}
}

var protoInvalidTests = []struct {
	name string
	body []byte
	want string
}{
	{"truncated length", []byte{0x0a}, "streams[0] at byte 1: unexpected EOF"},
	{"length past the end", []byte{0x0a, 0x05, 0x00}, "streams[0] at byte 1: unexpected EOF"},
	{"field number zero", []byte{0x00}, "push request at byte 0: invalid field number"},
	{"streams as varint", pbVarint(1, 1), "streams[0] at byte 1: field 1 has wire type 0"},
	{"overlong varint", append([]byte{0x10}, bytes.Repeat([]byte{0xff}, 11)...), "push request at byte 1: variable length integer overflow"},
	{"unterminated group", protowire.AppendTag(nil, 9, protowire.StartGroupType), "unexpected EOF"},
	{"bad wire type", []byte{0x17}, "push request at byte 1: cannot parse reserved wire type"},
	{"labels as varint", pbBytes(1, pbVarint(1, 1)), "streams[0] at byte 3: field 1 has wire type 0"},
	{"entry truncated", pbBytes(1, []byte{0x12, 0x09, 0x00}), "streams[0].entries[0] at byte 3: unexpected EOF"},
	{"line as varint", pbBytes(1, pbBytes(2, pbVarint(2, 1))), "streams[0].entries[0] at byte 5: field 2 has wire type 0"},
	{"bad timestamp", pbBytes(1, pbBytes(2, pbBytes(1, []byte{0x08}))), "streams[0].entries[0].timestamp at byte 5: unexpected EOF"},
	{"seconds as bytes", pbBytes(1, pbBytes(2, pbBytes(1, pbStr(1, "x")))), "field 1 has wire type 2"},
	{"timestamp too late", pbBytes(1, pbEntry(1e12, 0, "x")), "1000000000000 seconds is outside the years 1678-2262"},
	{"timestamp overflows with nanos", pbBytes(1, pbEntry(9223372036, 999999999, "x")), "outside the range of int64 nanoseconds"},
	{"bad metadata", pbBytes(1, pbBytes(2, pbBytes(3, []byte{0x0a, 0x05}))), "streams[0].entries[0].structuredMetadata"},
	{"metadata name as fixed32", pbBytes(1, pbBytes(2, pbBytes(3, protowire.AppendFixed32(protowire.AppendTag(nil, 1, protowire.Fixed32Type), 0)))), "field 1 has wire type 5"},
	{"error in a later entry", cat(
		pbBytes(1, pbEntry(1, 0, "a")),
		pbBytes(1, pbEntry(1, 0, "a"), pbEntry(1, 0, "b"), pbBytes(2, []byte{0x12, 0x01})),
	), "streams[1].entries[2] at byte"},
}

func TestDecodeProtoErrors(t *testing.T) {
	for _, tt := range protoInvalidTests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			err := DecodeProto(tt.body, &r)
			checkDecodeError(t, err, "protobuf", tt.want)
		})
	}
}

func TestProtoRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var got Request
	for i := range 2000 {
		in := randomRequest(rng, false)
		body := EncodeProto(nil, in)
		if err := DecodeProto(body, &got); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !sameStreams(got.Streams, in.Streams) {
			t.Fatalf("case %d: round trip differs\n got: %s\nwant: %s", i, dump(got.Streams), dump(in.Streams))
		}
		// Appending to dst must keep what is there.
		prefix := []byte("prefix")
		if body2 := EncodeProto(prefix, in); !bytes.Equal(body2[6:], body) || string(body2[:6]) != "prefix" {
			t.Fatalf("case %d: EncodeProto with a dst prefix differs", i)
		}
	}
}

func TestDecodeProtoReuseDoesNotAllocate(t *testing.T) {
	in := benchRequest(100, 10, 2)
	body := EncodeProto(nil, in)
	var r Request
	if err := DecodeProto(body, &r); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := DecodeProto(body, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("DecodeProto into a reused Request made %v allocations, want 0", allocs)
	}
	checkStreams(t, r.Streams, in.Streams)
}

func TestSplitNanos(t *testing.T) {
	for _, ns := range []int64{0, 1, -1, 1e9, -1e9, -1e9 - 1, 1700000000123456789, math.MinInt64, math.MaxInt64} {
		secs, nanos := splitNanos(ns)
		if nanos < 0 || nanos >= 1e9 {
			t.Errorf("%d: nanos %d out of [0, 1e9)", ns, nanos)
		}
		if back, err := secondsToNanos(secs, nanos); err != nil || back != ns {
			t.Errorf("%d: split to %d s %d ns, back to %d, %v", ns, secs, nanos, back, err)
		}
	}
}
