package conformance

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// CorpusStart is where the recorded corpus begins (2026-11-01T00:00:00Z);
// it covers one hour from there.
var CorpusStart = time.Unix(1793491200, 0).UTC()

// Shift is how far the corpus is moved forward in time: a whole number of
// hours, in nanoseconds.
type Shift int64

// AutoShift is the shift that makes the corpus end 5 to 65 minutes before
// now, or 0 when now is too early for that.
func AutoShift(now time.Time) Shift {
	h := (now.Unix() - 300 - 3600 - CorpusStart.Unix()) / 3600
	return ShiftHours(max(0, h))
}

// ShiftHours is a shift of h hours.
func ShiftHours(h int64) Shift { return Shift(h * int64(time.Hour)) }

// Hours is the shift in hours.
func (s Shift) Hours() int64 { return int64(s) / int64(time.Hour) }

// param shifts the value of a start, end or time parameter: integer
// nanoseconds or an RFC 3339 time. Other parameters are returned as they are.
func (s Shift) param(name, v string) (string, error) {
	if s == 0 || name != "start" && name != "end" && name != "time" {
		return v, nil
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%s=%q: %w", name, v, err)
		}
		m, err := s.add(n)
		if err != nil {
			return "", fmt.Errorf("%s=%q: %w", name, v, err)
		}
		return strconv.FormatInt(m, 10), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return "", fmt.Errorf("%s=%q is neither integer nanoseconds nor an RFC 3339 time", name, v)
	}
	return t.Add(time.Duration(s)).UTC().Format(time.RFC3339Nano), nil
}

// add moves a nanosecond timestamp by s.
func (s Shift) add(ns int64) (int64, error) {
	if s > 0 && ns > math.MaxInt64-int64(s) || s < 0 && ns < math.MinInt64-int64(s) {
		return 0, fmt.Errorf("timestamp %d shifted by %dh is out of range", ns, s.Hours())
	}
	return ns + int64(s), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// seconds is the shift in seconds, as answers' float timestamps carry it.
func (s Shift) seconds() float64 { return float64(s) / 1e9 }
