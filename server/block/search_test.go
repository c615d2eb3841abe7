package block

import (
	"bytes"
	"testing"
)

func TestFinder(t *testing.T) {
	text := []byte(`{"level":"info","msg":"timeout cache","path":"/v1/timeout/7"} tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttimeout`)
	for _, needle := range []string{"timeout", "t", "tt", "GET", "\"", "out\"", "timeoutx", "e", "7\"}", "eout"} {
		for o := range text {
			f := newFinder([]byte(needle))
			if got, want := f.index(text[o:]), bytes.Index(text[o:], []byte(needle)); got != want {
				t.Fatalf("%q in %q: %d, want %d", needle, text[o:], got, want)
			}
		}
	}
}

func FuzzFinder(f *testing.F) {
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"), []byte("ab"))
	f.Add([]byte(`"msg":"timeout cache","path":"/v1/timeout/7"`), []byte("timeout"))
	f.Add([]byte(`mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmtimeoutmmmmmmmmmmmmmmmtimeout`), []byte("timeout"))
	f.Fuzz(func(t *testing.T, s, needle []byte) {
		// One finder through the text, as the searches use it.
		fd := newFinder(needle)
		for o := 0; o <= len(s); o++ {
			got, want := fd.index(s[o:]), bytes.Index(s[o:], needle)
			if got != want {
				t.Fatalf("%q in %q at %d (pair %v): %d, want %d", needle, s, o, fd.pair, got, want)
			}
			if got < 0 {
				break
			}
			o += got
		}
		if len(needle) > 0 {
			if got, want := fd.indexPair(s), bytes.Index(s, needle); got != want {
				t.Fatalf("pair: %q in %q: %d, want %d", needle, s, got, want)
			}
		}
	})
}
