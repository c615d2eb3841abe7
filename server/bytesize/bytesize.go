// Package bytesize reads human byte sizes ("13KB", "1.5 MiB", "1,024") the
// way Loki does through go-humanize v1.0.1's ParseBytes: in unwrap bytes(),
// byte label filters, the bytes template function and field detection.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// units are the known units, lower-cased, with and without the final "b":
// SI (k = 1000) and IEC (ki = 1024) multiples; no unit means bytes.
var units = map[string]uint64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1e15, "pi": 1 << 50, "pib": 1 << 50,
	"e": 1e18, "eb": 1e18, "ei": 1 << 60, "eib": 1 << 60,
}

// Parse returns the whole number of bytes s stands for. The rules, and the
// error texts (which reach __error_details__), are go-humanize's:
//
//   - the number is the leading run of digits, '.' and ',' (commas are
//     dropped), read with strconv.ParseFloat;
//   - the rest, trimmed of spaces and lower-cased, must be a known unit;
//   - the product is truncated, and 2^64 or more is "too large".
//
// go-humanize counts the number in runes but cuts the string at that many
// bytes; only a non-ASCII digit tells the difference, and then both fail.
// The same cut is kept so that the error texts match.
func Parse(s string) (uint64, error) {
	n, comma := 0, false
	for _, r := range s {
		if !unicode.IsDigit(r) && r != '.' && r != ',' {
			break
		}
		comma = comma || r == ','
		n++
	}
	num := s[:n]
	if comma {
		num = strings.ReplaceAll(num, ",", "")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	unit := strings.ToLower(strings.TrimSpace(s[n:]))
	m, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("unhandled size name: %v", unit)
	}
	f *= float64(m)
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("too large: %v", s)
	}
	return uint64(f), nil
}

// siUnits are go-humanize's units for Bytes, powers of 1000.
var siUnits = []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}

// Format prints n as go-humanize v1.0.1's Bytes does: in the largest SI
// unit that keeps the number at least 1, rounded to one decimal under 10
// and to a whole number from 10 (1.2 MB, 12 kB, 512 B).
func Format(n uint64) string {
	if n < 10 {
		return fmt.Sprintf("%d B", n)
	}
	e := math.Floor(math.Log(float64(n)) / math.Log(1000))
	v := math.Floor(float64(n)/math.Pow(1000, e)*10+0.5) / 10
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, siUnits[int(e)])
	}
	return fmt.Sprintf("%.0f %s", v, siUnits[int(e)])
}
