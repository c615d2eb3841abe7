package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// badRequest is an error answered with 400 and its message.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func errBad(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// maxResolution bounds the points of one series of a range query: Loki's
// fixed limit, checked on every endpoint that takes a step.
const maxResolution = 11000

func errStepTooSmall() error {
	return errBad("exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter")
}

// parseTime reads a timestamp as Loki does: a number with a dot is float
// seconds; an integer of at most ten digits is seconds, a longer one
// nanoseconds; anything else RFC3339(Nano).
func parseTime(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if strings.Contains(v, ".") {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			s, frac := math.Modf(f)
			frac = math.Round(frac*1000) / 1000
			return time.Unix(int64(s), int64(frac*float64(time.Second))), nil
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, errBad("invalid %s %q: use nanoseconds, seconds (with or without a fraction) or RFC3339", name, v)
		}
		return t, nil
	}
	if len(strings.TrimLeft(v, "-")) <= 10 {
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, n), nil
}

// timeRange reads start and end; end defaults to now and start to an hour
// before end.
func timeRange(r *http.Request, now time.Time) (start, end time.Time, err error) {
	end, err = parseTime("end", r.Form.Get("end"), now)
	if err != nil {
		return
	}
	start, err = parseTime("start", r.Form.Get("start"), end.Add(-time.Hour))
	if err != nil {
		return
	}
	if end.Before(start) {
		err = errBad("end timestamp must not be before start time")
	}
	return
}

// parseStep reads the step of a range query as Loki does: a number of seconds (float),
// or a duration in Prometheus' form (30s, 1m30s, 500ms, 1h, 2d, 1w, 1y).
func parseStep(v string) (time.Duration, error) {
	bad := errBad("invalid step %q: use a duration (30s, 5m, 1h) or a number of seconds", v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		ns := f * float64(time.Second)
		if math.IsNaN(ns) || ns >= math.MaxInt64 || ns <= math.MinInt64 {
			return 0, bad
		}
		return time.Duration(ns), nil
	}
	units := []struct {
		name string
		d    time.Duration
	}{
		// "ms" before "m", so that the longer unit is tried first.
		{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour},
		{"h", time.Hour}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second},
	}
	if v == "" {
		return 0, bad
	}
	var total time.Duration
	for rest := v; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, bad
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, bad
		}
		rest = rest[i:]
		found := false
		for _, u := range units {
			if len(rest) >= len(u.name) && rest[:len(u.name)] == u.name {
				if n > int64(math.MaxInt64/u.d) || total > math.MaxInt64-time.Duration(n)*u.d {
					return 0, bad
				}
				total += time.Duration(n) * u.d
				rest = rest[len(u.name):]
				found = true
				break
			}
		}
		if !found {
			return 0, bad
		}
	}
	return total, nil
}
