//go:build !linux

package store

import (
	"errors"
	"fmt"
)

// statDisk is implemented on Linux only; elsewhere the disk gauges stay 0
// and DiskUsage returns an error.
func statDisk(dir string) (used, capacity int64, err error) {
	return 0, 0, fmt.Errorf("statfs %s: %w", dir, errors.ErrUnsupported)
}
