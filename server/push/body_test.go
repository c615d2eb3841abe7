package push

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zlib"
)

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func flateBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	ctJSON  = "application/json"
	ctProto = "application/x-protobuf"
)

func TestReadBody(t *testing.T) {
	req := benchRequest(3, 4, 1)
	js := EncodeJSON(nil, req)
	pb := EncodeProto(nil, req)
	for _, tt := range []struct {
		name, enc, ct string
		body          []byte
		want          []byte
	}{
		{"json identity", "", ctJSON, js, js},
		{"json identity named", "identity", "Application/JSON; charset=utf-8", js, js},
		{"json gzip", "gzip", ctJSON, gzipBytes(t, js), js},
		{"json x-gzip", "x-gzip", ctJSON, gzipBytes(t, js), js},
		{"json gzip, two members", "gzip", ctJSON, append(gzipBytes(t, js[:10]), gzipBytes(t, js[10:])...), js},
		{"json deflate zlib", "deflate", ctJSON, zlibBytes(t, js), js},
		{"json deflate raw", "deflate", ctJSON, flateBytes(t, js), js},
		{"json snappy", "snappy", ctJSON, snappy.Encode(nil, js), js},
		{"json labelled snappy but plain", "Snappy", ctJSON, js, js},
		{"proto no encoding", "", ctProto, snappy.Encode(nil, pb), pb},
		{"proto no content type", "", "", snappy.Encode(nil, pb), pb},
		{"proto snappy decoded once", "snappy", ctProto, snappy.Encode(nil, pb), pb},
		{"proto gzip then snappy", " GZIP ", ctProto, gzipBytes(t, snappy.Encode(nil, pb)), pb},
		{"proto deflate then snappy", "deflate", ctProto, zlibBytes(t, snappy.Encode(nil, pb)), pb},
		{"empty json", "", ctJSON, nil, []byte{}},
		{"empty proto", "", ctProto, snappy.Encode(nil, nil), []byte{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadBody(iotest.HalfReader(bytes.NewReader(tt.body)), tt.enc, tt.ct, 1<<20, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes %q..., want %d bytes", len(got), got[:min(len(got), 40)], len(tt.want))
			}
			// The result must be the caller's: a later ReadBody must not reuse it.
			saved := bytes.Clone(got)
			if _, err := ReadBody(bytes.NewReader(tt.body), tt.enc, tt.ct, 1<<20, 1<<20); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, saved) {
				t.Fatal("a later ReadBody changed an earlier result")
			}
		})
	}
}

// TestReadBodyRoundTrip goes the whole way, as the server and a client would.
func TestReadBodyRoundTrip(t *testing.T) {
	req := benchRequest(10, 10, 2)
	for _, enc := range []string{"", "gzip", "deflate", "snappy"} {
		for _, asJSON := range []bool{false, true} {
			body, ct := EncodeProto(nil, req), ctProto
			if asJSON {
				body, ct = EncodeJSON(nil, req), ctJSON
			}
			if !asJSON && enc != "snappy" {
				body = snappy.Encode(nil, body)
			}
			switch enc {
			case "gzip":
				body = gzipBytes(t, body)
			case "deflate":
				body = zlibBytes(t, body)
			case "snappy":
				body = snappy.Encode(nil, body)
			}
			data, err := ReadBody(bytes.NewReader(body), enc, ct, 1<<20, 4<<20)
			if err != nil {
				t.Fatalf("%q json=%v: %v", enc, asJSON, err)
			}
			var got Request
			if asJSON {
				err = DecodeJSON(data, &got)
			} else {
				err = DecodeProto(data, &got)
			}
			if err != nil {
				t.Fatalf("%q json=%v: %v", enc, asJSON, err)
			}
			checkStreams(t, got.Streams, req.Streams)

			// Into a buffer: the same bytes, in its memory when it is
			// large enough, whatever it held.
			for _, size := range []int{1 << 20, 16} {
				buf := bytes.Repeat([]byte{0xff}, size)
				into, err := ReadBodyInto(buf, bytes.NewReader(body), enc, ct, 1<<20, 4<<20)
				if err != nil || !bytes.Equal(into, data) {
					t.Fatalf("%q json=%v: ReadBodyInto a buffer of %d: %v, other bytes than ReadBody", enc, asJSON, size, err)
				}
				if reused := &into[0] == &buf[0]; reused != (size >= len(data)) {
					t.Errorf("%q json=%v: a buffer of %d for %d bytes: reused %v", enc, asJSON, size, len(data), reused)
				}
			}
		}
	}
}

func TestReadBodyErrors(t *testing.T) {
	js := []byte(`{"streams":[]}`)
	gz := gzipBytes(t, bytes.Repeat(js, 100))
	for _, tt := range []struct {
		name, enc, ct string
		body          []byte
		compressedMax int64
		max           int64
		is            error  // errors.Is target, or nil for a *DecodeError
		format        string // the *DecodeError's format
		want          string
	}{
		{"unsupported encoding", "br", ctJSON, js, 0, 0, ErrUnsupportedEncoding, "", `unsupported Content-Encoding "br"`},
		{"two encodings", "gzip, snappy", ctJSON, js, 0, 0, ErrUnsupportedEncoding, "", "unsupported"},
		{"compressed too large", "gzip", ctJSON, gz, 10, 0, ErrTooLarge, "", "push body too large: the body exceeds 10 bytes"},
		{"identity too large", "", ctJSON, js, 10, 0, ErrTooLarge, "", "the body exceeds 10 bytes"},
		{"identity over the decompressed limit", "", ctJSON, js, 0, 10, ErrTooLarge, "", "the body exceeds 10 bytes"},
		{"gzip inflates too far", "gzip", ctJSON, gz, 0, 100, ErrTooLarge, "", "the body inflates past 100 bytes"},
		{"snappy states too much", "", ctProto, snappy.Encode(nil, bytes.Repeat(js, 10)), 0, 100, ErrTooLarge, "", "snappy block decodes to 140 bytes, over the 100-byte limit"},
		{"proto inner snappy too large", "gzip", ctProto, gzipBytes(t, snappy.Encode(nil, bytes.Repeat(js, 10))), 0, 100, ErrTooLarge, "", "snappy block decodes to 140 bytes"},
		{"not gzip", "gzip", ctJSON, js, 0, 0, nil, "gzip", "invalid gzip push body: gzip: invalid header"},
		{"truncated gzip", "gzip", ctJSON, gz[:len(gz)-5], 0, 0, nil, "gzip", "unexpected end of compressed data"},
		{"gzip with trailing garbage", "gzip", ctJSON, append(bytes.Clone(gz), "garbage"...), 0, 0, nil, "gzip", "has trailing bytes"},
		{"gzip with long trailing garbage", "gzip", ctJSON, append(bytes.Clone(gz), "garbage garbage"...), 0, 0, nil, "gzip", "invalid header"},
		{"corrupt gzip", "gzip", ctJSON, append(bytes.Clone(gz[:12]), bytes.Repeat([]byte{0xff}, 40)...), 0, 0, nil, "gzip", ""},
		{"empty gzip", "gzip", ctJSON, nil, 0, 0, nil, "gzip", "unexpected end of compressed data"},
		{"corrupt deflate", "deflate", ctJSON, []byte{0xff, 0xff, 0xff}, 0, 0, nil, "deflate", ""},
		{"zlib bad checksum", "deflate", ctJSON, func() []byte { b := zlibBytes(t, js); b[len(b)-1] ^= 1; return b }(), 0, 0, nil, "deflate", "checksum"},
		{"proto not snappy", "", ctProto, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, 0, nil, "snappy", "not a snappy block"},
		{"corrupt snappy", "snappy", ctProto, []byte{0x0a, 0xff, 0xff}, 0, 0, nil, "snappy", "corrupt snappy block"},
		{"json snappy corrupt, not JSON", "snappy", ctJSON, []byte{0x0a, 0xff}, 0, 0, nil, "snappy", "corrupt snappy block"},
		{"gzip of a non-snappy proto", "gzip", ctProto, gzipBytes(t, []byte{0x0a, 0x02, 0x08}), 0, 0, nil, "snappy", "corrupt snappy block"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadBody(bytes.NewReader(tt.body), tt.enc, tt.ct, tt.compressedMax, tt.max)
			if tt.is != nil {
				if !errors.Is(err, tt.is) {
					t.Fatalf("error %v is not %v", err, tt.is)
				}
				var de *DecodeError
				if errors.As(err, &de) {
					t.Fatalf("error %v is also a *DecodeError", err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %q does not contain %q", err, tt.want)
				}
				return
			}
			checkDecodeError(t, err, tt.format, tt.want)
			if errors.Is(err, ErrTooLarge) {
				t.Fatalf("malformed input reported as too large: %v", err)
			}
		})
	}
}

func TestReadBodyReaderError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := ReadBody(io.MultiReader(strings.NewReader("{"), iotest.ErrReader(boom)), "", ctJSON, 0, 0)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

// allocatedBy reports how many bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReadBodyBombs: tiny bodies that would expand enormously are refused
// having allocated about the limit, not the expanded size.
func TestReadBodyBombs(t *testing.T) {
	const limit = 1 << 20
	zeros := make([]byte, 64<<20)
	for _, tt := range []struct {
		name, enc string
		body      []byte
	}{
		{"gzip", "gzip", gzipBytes(t, zeros)},
		{"deflate", "deflate", zlibBytes(t, zeros)},
		{"raw deflate", "deflate", flateBytes(t, zeros)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Logf("%d bytes inflate to %d", len(tt.body), len(zeros))
			var err error
			n := allocatedBy(func() {
				_, err = ReadBody(bytes.NewReader(tt.body), tt.enc, ctJSON, 0, limit)
			})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
			if n > 4*limit {
				t.Fatalf("allocated %d bytes to refuse a body over a %d-byte limit", n, limit)
			}
		})
	}

	// A snappy block whose header claims 4 GiB - 1, followed by almost nothing.
	huge := binary.AppendUvarint(nil, 1<<32-1)
	huge = append(huge, 0x00, 'x')
	for _, enc := range []string{"", "snappy"} {
		var err error
		n := allocatedBy(func() {
			_, err = ReadBody(bytes.NewReader(huge), enc, ctProto, 0, 100<<20)
		})
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "decodes to 4294967295 bytes") {
			t.Fatalf("encoding %q: got %v, want ErrTooLarge", enc, err)
		}
		if n > 1<<20 {
			t.Fatalf("encoding %q: allocated %d bytes to refuse a snappy bomb", enc, n)
		}
	}
	// Without a limit, a claim no snappy block could make is still refused.
	var err error
	n := allocatedBy(func() {
		_, err = ReadBody(bytes.NewReader(huge), "", ctProto, 0, 0)
	})
	checkDecodeError(t, err, "snappy", "more than snappy can encode")
	if n > 1<<20 {
		t.Fatalf("allocated %d bytes to refuse an impossible snappy claim", n)
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                 true,
		"application/json; charset=utf-8":  true,
		" Application/JSON ;charset=UTF-8": true,
		"application/x-protobuf":           false,
		"":                                 false,
		"application/jsonx":                false,
		"text/plain":                       false,
	} {
		if got := IsJSON(ct); got != want {
			t.Errorf("IsJSON(%q) = %v", ct, got)
		}
	}
}

func TestIsZlibHeader(t *testing.T) {
	if !isZlibHeader(zlibBytes(t, []byte("x"))) {
		t.Fatal("zlib stream not recognised")
	}
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		w.Write([]byte(`{"streams":[]}`))
		w.Close()
		if isZlibHeader(buf.Bytes()) {
			t.Fatalf("raw deflate at level %d taken for zlib", level)
		}
	}
}

// TestReadSnappyBody: both forms of a snappy block come back, in the
// buffers given when they are big enough; too big a body or a broken
// block is an error.
func TestReadSnappyBody(t *testing.T) {
	want := bytes.Repeat([]byte("a line of a push "), 100)
	block := snappy.Encode(nil, want)
	raw, buf := make([]byte, 0, 4096), make([]byte, 0, 4096)
	compressed, decoded, err := ReadSnappyBody(raw[:1], buf, bytes.NewReader(block), 0, 0)
	if err != nil || !bytes.Equal(compressed, block) || !bytes.Equal(decoded, want) {
		t.Fatalf("got %d compressed, %d decoded bytes, %v; want %d and %d", len(compressed), len(decoded), err, len(block), len(want))
	}
	if &compressed[0] != &raw[:1][0] || &decoded[0] != &buf[:1][0] {
		t.Error("the buffers given were not used")
	}
	// Random bytes do not compress: half of their block claims a length
	// snappy could encode, and fails in the decoding itself.
	rng := rand.New(rand.NewPCG(5, 6))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	noise = snappy.Encode(nil, noise)
	for _, tt := range []struct {
		name               string
		body               []byte
		maxComp, maxDecomp int64
		wantTooLarge       bool
	}{
		{"compressed too large", block, int64(len(block) - 1), 0, true},
		{"decoded too large", block, 0, int64(len(want) - 1), true},
		{"not snappy", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, 0, false},
		{"truncated", noise[:len(noise)/2], 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadSnappyBody(nil, nil, bytes.NewReader(tt.body), tt.maxComp, tt.maxDecomp)
			if err == nil || errors.Is(err, ErrTooLarge) != tt.wantTooLarge {
				t.Fatalf("got %v, want an error (too large: %v)", err, tt.wantTooLarge)
			}
		})
	}
}
