package bytesize

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"42", 42, ""},
		{"13KB", 13000, ""},
		{"1.5KiB", 1536, ""},
		{"1.3MiB", 1363148, ""},
		{"476B", 476, ""},
		{"3 kB", 3000, ""},
		{"1,024", 1024, ""},
		{"2k", 2000, ""},
		{"1Gi", 1 << 30, ""},
		{"", 0, "invalid syntax"},
		{"KB", 0, "invalid syntax"},
		{"12 parsecs", 0, "unhandled size name: parsecs"},
		{"20EiB", 0, "too large"},
	} {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q) = %d, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"13KB", "1,5 mib", "٣kb", "1e400", "-1k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { Parse(s) })
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {9, "9 B"}, {10, "10 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {1024, "1.0 kB"},
		{12345, "12 kB"}, {70500, "70 kB"}, {1234000, "1.2 MB"}, {1048576, "1.0 MB"},
		{1625292, "1.6 MB"}, {1 << 30, "1.1 GB"}, {99999, "100 kB"},
	} {
		if got := Format(c.n); got != c.want {
			t.Errorf("Format(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
