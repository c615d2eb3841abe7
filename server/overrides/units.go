package overrides

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as Prometheus and Loki write the
// durations of their limits: "336h", "14d", "2w", "1h30m", "0". Go's own
// forms ("1.5h", "168h0m0s") are accepted too, so that values written for
// the flags of earlier versions keep working. It prints in Prometheus's
// form ("2w", "30d1h"), or in Go's when that has no whole number of
// milliseconds ("1.5µs"), so that what is printed reads back the same.
type Duration time.Duration

// ParseDuration reads a Duration.
func ParseDuration(s string) (Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return Duration(d), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return Duration(d), nil
	}
	return 0, fmt.Errorf("invalid duration %q: write a number and a unit (ms, s, m, h, d, w, y), as 72h, 14d or 1h30m", s)
}

func (d Duration) String() string {
	if time.Duration(d)%time.Millisecond != 0 {
		return time.Duration(d).String()
	}
	return model.Duration(d).String()
}

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration (72h, 14d) is expected here", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a number of bytes written as Loki writes max_line_size: a
// whole number with an optional unit, "256KB", "1MB", "100" (bytes). The
// units are powers of 1024 whether written KB or KiB, and case does not
// matter. It prints as Loki does: in the largest unit that divides it
// ("256KB", "1000B").
type ByteSize int64

// byteUnits are the accepted units, lower-cased.
var byteUnits = map[string]int64{
	"": 1, "b": 1, "byte": 1, "bytes": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
	"p": 1 << 50, "pb": 1 << 50, "pib": 1 << 50,
}

var errByteSize = errors.New("write a whole number of bytes with an optional unit (B, KB, MB, GB, TB, PB), as 256KB")

// ParseByteSize reads a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: %w", s, errByteSize)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	mult, ok := byteUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: %w", s, errByteSize)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(n * mult), nil
}

func (b ByteSize) String() string {
	if b == 0 {
		return "0B"
	}
	for _, u := range []struct {
		name string
		n    ByteSize
	}{{"PB", 1 << 50}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size (256KB, 1000) is expected here", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }
