package detected

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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

// byteUnits are the units of a size Loki recognises (those of
// go-humanize's ParseBytes), lower case; "" is bytes.
var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1e15, "pi": 1 << 50, "pib": 1 << 50,
	"e": 1e18, "eb": 1e18, "ei": 1 << 60, "eib": 1 << 60,
}

// parseBytes reads a size as Loki does: a number (digits, '.', and ','
// as a thousands separator) then, after optional spaces, a unit of
// byteUnits in any case.
func parseBytes(s string) (uint64, bool) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == ',') {
		i++
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s[:i], ",", ""), 64)
	if err != nil {
		return 0, false
	}
	m, ok := byteUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, false
	}
	f *= m
	if f >= math.MaxUint64 {
		return 0, false
	}
	return uint64(f), true
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
