package push

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
)

// benchRequest builds streams×perStream entries with ~200-byte lines and
// meta structured-metadata pairs on every entry.
func benchRequest(streams, perStream, meta int) *Request {
	r := &Request{}
	ts := int64(1700000000000000000)
	for i := range streams {
		s := Stream{Labels: fmt.Sprintf(`{app="app-%d", env="prod", namespace="ns-%d", pod="pod-%d-7c9f8d6b5-x2k4q"}`, i%17, i%5, i)}
		for j := range perStream {
			ts += 1234567
			line := fmt.Sprintf(`ts=2023-11-14T22:13:20.%09dZ level=info caller=server.go:%d msg="request served" method=GET path=/api/v1/items/%d status=200 duration=%dms user_agent="curl/8.4.0" bytes=%d`, j, i, j*7, j%300, i*j)
			line += strings.Repeat("x", max(0, 200-len(line)))
			e := Entry{Timestamp: ts, Line: line[:200]}
			for k := range meta {
				e.Metadata = append(e.Metadata, LabelPair{Name: fmt.Sprintf("meta_%d", k), Value: fmt.Sprintf("%016x", ts+int64(k))})
			}
			s.Entries = append(s.Entries, e)
		}
		r.Streams = append(r.Streams, s)
	}
	return r
}

var benchShapes = []struct {
	name string
	meta int
}{{"plain", 0}, {"metadata", 2}}

func BenchmarkDecodeProto(b *testing.B) {
	for _, shape := range benchShapes {
		b.Run(shape.name, func(b *testing.B) {
			body := EncodeProto(nil, benchRequest(100, 10, shape.meta))
			var r Request
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := DecodeProto(body, &r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/entry")
		})
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	for _, shape := range benchShapes {
		b.Run(shape.name, func(b *testing.B) {
			body := EncodeJSON(nil, benchRequest(100, 10, shape.meta))
			var r Request
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := DecodeJSON(body, &r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/entry")
		})
	}
}

// BenchmarkReadBodyDecodeProto is the server's whole path for a Promtail push:
// read the snappy-compressed body, decode it, decode the protobuf.
func BenchmarkReadBodyDecodeProto(b *testing.B) {
	body := snappy.Encode(nil, EncodeProto(nil, benchRequest(100, 10, 0)))
	var r Request
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		data, err := ReadBody(bytes.NewReader(body), "", "application/x-protobuf", 10<<20, 100<<20)
		if err != nil {
			b.Fatal(err)
		}
		if err := DecodeProto(data, &r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/entry")
}

func BenchmarkEncodeProto(b *testing.B) {
	req := benchRequest(100, 10, 0)
	buf := EncodeProto(nil, req)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeProto(buf[:0], req)
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	req := benchRequest(100, 10, 0)
	buf := EncodeJSON(nil, req)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeJSON(buf[:0], req)
	}
}

// BenchmarkReadBodyGzip compares ReadBody, which pools decompressors and
// buffers, with the plain gzip.NewReader + io.ReadAll it replaces.
func BenchmarkReadBodyGzip(b *testing.B) {
	js := EncodeJSON(nil, benchRequest(10, 10, 0)) // a typical ~25 KB push
	body := gzipBytes(b, js)
	b.Run("ReadBody", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadBody(bytes.NewReader(body), "gzip", ctJSON, 10<<20, 100<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("naive", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		for b.Loop() {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadAll(io.LimitReader(zr, 100<<20)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
