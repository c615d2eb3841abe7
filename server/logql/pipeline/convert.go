package pipeline

import (
	"strconv"
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
