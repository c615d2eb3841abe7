package tmpl

import (
	"github.com/loam-logs/loam/server/bytesize"
)

// bytesToFloat is the bytes function: it reads a size such as "3 kB",
// "1.5KiB", "1,024" or "42" and returns the whole number of bytes as a
// float64, by go-humanize's rules as Loki has them (package bytesize).
func bytesToFloat(s string) (float64, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, err
	}
	return float64(n), nil
}
