package batch

import (
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

// FuzzStreamKey checks appendStreamKey against the canonical printer.
func FuzzStreamKey(f *testing.F) {
	for _, v := range []string{"", "plain", `q"uote`, `back\slash`, "tab\there", "naïve", "\xff", "~ !", "\x7f"} {
		f.Add("app", v, "zz", "x")
	}
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		ls := labels.New(labels.Label{Name: n1, Value: v1}, labels.Label{Name: n2, Value: v2})
		if got, want := string(appendStreamKey(nil, ls)), ls.String(); got != want {
			t.Fatalf("appendStreamKey = %s, want %s", got, want)
		}
	})
}
