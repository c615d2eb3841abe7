package pipeline

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parseFloat parses a label value as a number.
func parseFloat(v string) (float64, error) { return strconv.ParseFloat(v, 64) }

// parseDurationSeconds parses a label value as a Go duration ("1.5s",
// "250ms", "1h2m") and returns seconds.
func parseDurationSeconds(v string) (float64, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}

// byteUnits are the units of ParseBytes: decimal (k, kB, MB, …) and binary
// (Ki, KiB, MiB, …), case-insensitive; no unit means bytes.
var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
	"t": 1e12, "tb": 1e12, "p": 1e15, "pb": 1e15, "e": 1e18, "eb": 1e18,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
	"ti": 1 << 40, "tib": 1 << 40, "pi": 1 << 50, "pib": 1 << 50, "ei": 1 << 60, "eib": 1 << 60,
}

// ParseBytes parses a human byte size such as "13KB", "1.3MiB", "476B" or
// "42 kB" (commas in the number allowed), as Loki's bytes() conversions and
// byte label filters read them.
func ParseBytes(s string) (uint64, error) {
	i := 0
	comma := false
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == ',') {
		if s[i] == ',' {
			comma = true
		}
		i++
	}
	num := s[:i]
	if comma {
		num = strings.ReplaceAll(num, ",", "")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	m, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unhandled size name: %v", unit)
	}
	f *= m
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("too large: %v", s)
	}
	return uint64(f), nil
}

func parseAddr(v string) (netip.Addr, error) { return netip.ParseAddr(strings.TrimSpace(v)) }
