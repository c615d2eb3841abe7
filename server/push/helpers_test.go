package push

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// sameStreams reports whether two decoded requests hold the same streams;
// nil and empty Streams are equal, the arenas are not compared.
func sameStreams(a, b []Stream) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func checkStreams(t *testing.T, got, want []Stream) {
	t.Helper()
	if !sameStreams(got, want) {
		t.Fatalf("streams differ\n got: %s\nwant: %s", dump(got), dump(want))
	}
}

func dump(ss []Stream) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "\n  %q:", s.Labels)
		if s.Entries == nil {
			b.WriteString(" nil")
		}
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "\n    %d %q %#v", e.Timestamp, e.Line, e.Metadata)
		}
	}
	return b.String()
}

// checkDecodeError asserts err is a *DecodeError of format containing want.
func checkDecodeError(t *testing.T, err error, format, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %q is %T, want *DecodeError", err, err)
	}
	if de.Format != format {
		t.Errorf("error %q has format %q, want %q", err, de.Format, format)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// labelText formats pairs the way DecodeJSON builds Stream.Labels.
func labelText(pairs ...string) string {
	b := []byte{'{'}
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendLabelName(b, pairs[i])
		b = append(b, '=')
		b = strconv.AppendQuote(b, pairs[i+1])
	}
	return string(append(b, '}'))
}

// randomRequest builds a request with varied content. With utf8Only, every
// string is valid UTF-8 (what JSON can carry) and Labels are in DecodeJSON's
// form, so JSON round trips are exact.
func randomRequest(rng *rand.Rand, utf8Only bool) *Request {
	r := &Request{}
	for range rng.IntN(5) {
		s := Stream{}
		var pairs []string
		for k := range rng.IntN(4) {
			pairs = append(pairs, fmt.Sprintf("l%d_%s", k, randomName(rng)), randomString(rng, utf8Only))
		}
		if utf8Only || rng.IntN(2) == 0 {
			s.Labels = labelText(pairs...)
		} else {
			s.Labels = randomString(rng, false)
		}
		for range rng.IntN(6) {
			e := Entry{Timestamp: rng.Int64() - rng.Int64()/2, Line: randomString(rng, utf8Only)}
			for range rng.IntN(3) {
				e.Metadata = append(e.Metadata, LabelPair{Name: randomName(rng), Value: randomString(rng, utf8Only)})
			}
			s.Entries = append(s.Entries, e)
		}
		r.Streams = append(r.Streams, s)
	}
	return r
}

func randomName(rng *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyz_0123456789"
	b := make([]byte, 1+rng.IntN(8))
	for i := range b {
		b[i] = chars[rng.IntN(26)]
	}
	return string(b)
}

// randomString mixes ASCII, escapes, control characters, multi-byte runes and,
// unless utf8Only, invalid bytes.
func randomString(rng *rand.Rand, utf8Only bool) string {
	pieces := []string{"a", "level=info", " ", `"`, `\`, "/", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "世界", "😀", "\u2028", "{", "}", "=", ","}
	var b strings.Builder
	for range rng.IntN(12) {
		if !utf8Only && rng.IntN(10) == 0 {
			b.WriteByte(byte(0x80 + rng.IntN(0x80)))
			continue
		}
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	s := b.String()
	if utf8Only && !utf8.ValidString(s) {
		panic("bad generator")
	}
	return s
}
