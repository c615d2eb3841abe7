package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports.
type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Errorf(string, ...any) { r.errors++ }
func (r *recorder) Helper()               {}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "x.golden")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got    string
		errors int
	}{{"a\nb\n", 0}, {"a\nc\n", 1}, {"a\nb\nc\n", 1}, {"", 1}} {
		r := &recorder{TB: t}
		Check(r, path, []byte(c.got))
		if r.errors != c.errors {
			t.Errorf("Check(%q): %d errors, want %d", c.got, r.errors, c.errors)
		}
	}
}
