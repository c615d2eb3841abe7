package detected

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/bytesize"
)

// The types of a detected field, as Loki names them.
const (
	TypeString   = "string"
	TypeInt      = "int"
	TypeFloat    = "float"
	TypeBoolean  = "boolean"
	TypeDuration = "duration"
	TypeBytes    = "bytes"
)

// TypeOf returns the type Loki gives a field from one of its values: the
// first of int, float, boolean, duration and bytes that the value parses
// as, with Go's parsers (so "1" is an int, "1.5" and "NaN" floats, "t" a
// boolean, "5m" a duration, "10 KiB" a size in bytes); a string otherwise.
func TypeOf(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return TypeInt
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return TypeFloat
	}
	if _, err := strconv.ParseBool(v); err == nil {
		return TypeBoolean
	}
	if _, err := time.ParseDuration(v); err == nil {
		return TypeDuration
	}
	if _, ok := parseBytes(v); ok {
		return TypeBytes
	}
	return TypeString
}

// parseBytes reads a size as Loki does (see package bytesize).
func parseBytes(s string) (uint64, bool) {
	n, err := bytesize.Parse(s)
	return n, err == nil
}

// unitSuffixes are the endings Loki requires of a value before it rewrites
// it as a size: a bare number is left alone.
var unitSuffixes = []string{"b", "kib", "kb", "mib", "mb", "gib", "gb", "tib", "tb", "pib", "pb", "eib", "eb",
	"ki", "k", "mi", "m", "gi", "g", "ti", "t", "pi", "p", "ei", "e"}

// NormalizeBytes returns a value of a field as /detected_field/…/values
// lists it: a size with a unit is rewritten in SI units without a space
// ("2048 KiB" becomes "2.1MB"), so that it can be pasted into a label
// filter; any other value is returned as is.
func NormalizeBytes(v string) string {
	n, ok := parseBytes(v)
	if !ok {
		return v
	}
	lower := strings.ToLower(v)
	for _, u := range unitSuffixes {
		if strings.HasSuffix(lower, u) {
			return formatBytes(n)
		}
	}
	return v
}

// formatBytes prints n in SI units the way Loki's values do: below 10 bytes
// "7B"; else one decimal under 10 of the unit ("1.5kB") and none above
// ("15kB").
func formatBytes(n uint64) string {
	if n < 10 {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	e := math.Floor(math.Log(float64(n)) / math.Log(1000))
	val := math.Floor(float64(n)/math.Pow(1000, e)*10+0.5) / 10
	if val < 10 {
		return fmt.Sprintf("%.1f%s", val, units[int(e)])
	}
	return fmt.Sprintf("%.0f%s", val, units[int(e)])
}
