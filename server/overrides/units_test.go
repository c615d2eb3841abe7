package overrides

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		str  string // String of the result
	}{
		{"336h", 336 * time.Hour, "2w"},
		{"14d", 14 * 24 * time.Hour, "2w"},
		{"1w", 7 * 24 * time.Hour, "1w"},
		{"72h", 72 * time.Hour, "3d"},
		{"721h", 721 * time.Hour, "30d1h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"0", 0, "0s"},
		{"0s", 0, "0s"},
		{"1y", 365 * 24 * time.Hour, "1y"},
		{"250ms", 250 * time.Millisecond, "250ms"},
		// Go's forms, as the flags took them before.
		{"1.5h", 90 * time.Minute, "1h30m"},
		{"168h0m0s", 168 * time.Hour, "1w"},
		{"1.5us", 1500 * time.Nanosecond, "1.5µs"},
		{"-1h", -time.Hour, "-1h"},
	}
	for _, tt := range tests {
		d, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if time.Duration(d) != tt.want || d.String() != tt.str {
			t.Errorf("ParseDuration(%q) = %v printed %q, want %v printed %q", tt.in, time.Duration(d), d.String(), tt.want, tt.str)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("%q printed as %q reads back as %v, %v", tt.in, d.String(), time.Duration(back), err)
		}
	}
	for _, bad := range []string{"", "14", "h", "abc", "1m1d", "3 days", "1d-1h"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, time.Duration(d))
		} else if !strings.Contains(err.Error(), "72h, 14d") {
			t.Errorf("ParseDuration(%q) error %q does not say what is expected", bad, err)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		str  string
	}{
		{"256KB", 256 << 10, "256KB"},
		{"256kb", 256 << 10, "256KB"},
		{"256KiB", 256 << 10, "256KB"},
		{"1MB", 1 << 20, "1MB"},
		{"1536KB", 1536 << 10, "1536KB"},
		{"100", 100, "100B"},
		{"1000 B", 1000, "1000B"},
		{"0", 0, "0B"},
		{"2g", 2 << 30, "2GB"},
		{"1024", 1024, "1KB"},
	}
	for _, tt := range tests {
		b, err := ParseByteSize(tt.in)
		if err != nil || b != tt.want || b.String() != tt.str {
			t.Errorf("ParseByteSize(%q) = %d (%q), %v; want %d (%q)", tt.in, b, b.String(), err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "KB", "1.5MB", "-1", "10XB", "9999999PB", "99999999999999999999"} {
		if b, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", bad, b)
		}
	}
}

func TestUnitsYAML(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
		B ByteSize `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("d: 14d\nb: 256KB\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.D != Duration(14*24*time.Hour) || v.B != 256<<10 {
		t.Fatalf("got %+v", v)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "d: 2w\nb: 256KB\n" {
		t.Fatalf("Marshal = %q, %v", out, err)
	}
	for _, bad := range []string{"d: [1h]\n", "d: soon\n", "b: {a: 1}\n", "b: lots\n"} {
		err := yaml.Unmarshal([]byte(bad), &v)
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Unmarshal(%q) = %v, want an error naming line 1", bad, err)
		}
	}
}
