package block

import (
	"bytes"
	"testing"
)

func TestFinder(t *testing.T) {
	text := []byte(`{"level":"info","msg":"timeout cache","path":"/v1/timeout/7"} tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttimeout`)
	for _, needle := range []string{"timeout", "t", "tt", "GET", "\"", "out\"", "timeoutx", "e", "7\"}", "eout"} {
		f := newFinder([]byte(needle))
		for o := range text {
			if got, want := f.index(text[o:]), bytes.Index(text[o:], []byte(needle)); got != want {
				t.Fatalf("%q in %q: %d, want %d", needle, text[o:], got, want)
			}
		}
	}
}

func FuzzFinder(f *testing.F) {
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"), []byte("ab"))
	f.Add([]byte(`"msg":"timeout cache","path":"/v1/timeout/7"`), []byte("timeout"))
	f.Fuzz(func(t *testing.T, s, needle []byte) {
		fd := newFinder(needle)
		if got, want := fd.index(s), bytes.Index(s, needle); got != want {
			t.Fatalf("%q in %q: %d, want %d", needle, s, got, want)
		}
		if len(needle) > 0 {
			if got, want := fd.indexPair(s), bytes.Index(s, needle); got != want {
				t.Fatalf("pair: %q in %q: %d, want %d", needle, s, got, want)
			}
		}
	})
}
