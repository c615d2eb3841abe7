package push

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/klauspost/compress/snappy"
)

// allUTF8 reports whether every string in ss is valid UTF-8, the condition
// for a JSON round trip to be exact.
func allUTF8(ss []Stream) bool {
	for _, s := range ss {
		valid := utf8.ValidString(s.Labels)
		// Label texts quote names and values, hiding invalid bytes.
		eachLabel(s.Labels, func(name, value string) {
			valid = valid && utf8.ValidString(name) && utf8.ValidString(value)
		})
		if !valid {
			return false
		}
		for _, e := range s.Entries {
			if !utf8.ValidString(e.Line) {
				return false
			}
			for _, p := range e.Metadata {
				if !utf8.ValidString(p.Name) || !utf8.ValidString(p.Value) {
					return false
				}
			}
		}
	}
	return true
}

func FuzzDecodeJSON(f *testing.F) {
	for _, tt := range jsonValidTests {
		f.Add([]byte(tt.body))
	}
	for _, tt := range jsonInvalidTests {
		f.Add([]byte(tt.body))
	}
	f.Add(EncodeJSON(nil, benchRequest(2, 2, 1)))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		var r Request
		err := DecodeJSON(body, &r)
		if !bytes.Equal(body, orig) {
			t.Fatal("DecodeJSON modified its input")
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is %T, not *DecodeError", err, err)
			}
			return
		}
		// What decodes must survive EncodeJSON and decode the same again.
		again := EncodeJSON(nil, &r)
		var r2 Request
		if err := DecodeJSON(again, &r2); err != nil {
			t.Fatalf("re-encoded body does not decode: %v\n%s", err, again)
		}
		if allUTF8(r.Streams) && !sameStreams(r.Streams, r2.Streams) {
			t.Fatalf("JSON round trip differs\n got: %s\nwant: %s", dump(r2.Streams), dump(r.Streams))
		}
		// And through protobuf exactly.
		var r3 Request
		if err := DecodeProto(EncodeProto(nil, &r), &r3); err != nil || !sameStreams(r.Streams, r3.Streams) {
			t.Fatalf("protobuf round trip of a JSON decode failed: %v", err)
		}
	})
}

func FuzzDecodeProto(f *testing.F) {
	for _, tt := range protoValidTests {
		f.Add(tt.body)
	}
	for _, tt := range protoInvalidTests {
		f.Add(tt.body)
	}
	f.Add(EncodeProto(nil, benchRequest(2, 2, 1)))
	f.Fuzz(func(t *testing.T, body []byte) {
		var r Request
		err := DecodeProto(body, &r)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is %T, not *DecodeError", err, err)
			}
			return
		}
		var r2 Request
		if err := DecodeProto(EncodeProto(nil, &r), &r2); err != nil {
			t.Fatalf("re-encoded body does not decode: %v", err)
		}
		if !sameStreams(r.Streams, r2.Streams) {
			t.Fatalf("protobuf round trip differs\n got: %s\nwant: %s", dump(r2.Streams), dump(r.Streams))
		}
		// Anything decoded must be expressible as JSON.
		var r3 Request
		if err := DecodeJSON(EncodeJSON(nil, &r), &r3); err != nil {
			t.Fatalf("EncodeJSON of a protobuf decode does not decode: %v", err)
		}
	})
}

var fuzzEncodings = []string{"", "identity", "gzip", "deflate", "snappy", "br"}

func FuzzReadBody(f *testing.F) {
	js := EncodeJSON(nil, benchRequest(2, 2, 1))
	pb := snappy.Encode(nil, EncodeProto(nil, benchRequest(2, 2, 1)))
	for i, b := range [][]byte{
		js, pb, gzipBytes(f, js), gzipBytes(f, pb), zlibBytes(f, js), flateBytes(f, js),
		snappy.Encode(nil, js), {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}, nil,
	} {
		for e := range fuzzEncodings {
			f.Add(b, uint8(e), i%2 == 0)
		}
	}
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, body []byte, enc uint8, isJSON bool) {
		ct := ctProto
		if isJSON {
			ct = ctJSON
		}
		out, err := ReadBody(bytes.NewReader(body), fuzzEncodings[int(enc)%len(fuzzEncodings)], ct, limit, limit)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupportedEncoding) {
				t.Fatalf("error %v (%T) is none of the documented kinds", err, err)
			}
			return
		}
		if len(out) > limit {
			t.Fatalf("returned %d bytes, over the %d-byte limit", len(out), limit)
		}
	})
}
