package wal

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
)

// Defaults applied by Open and Replay to zero-valued Options fields.
const (
	DefaultSegmentSize   int64 = 64 << 20 // 64 MiB
	DefaultMaxRecordSize       = 64 << 20 // 64 MiB
	DefaultSyncInterval        = 100 * time.Millisecond
)

// SyncPolicy says when appended records are fsynced to stable storage.
//
// Whatever the policy, Append returns only after the record has been written
// to the segment file (a write(2) that completed), so a crash of the process
// alone (SIGKILL, panic, OOM kill) never loses an acknowledged record: the
// data is in the kernel's page cache. The policy only matters for power loss
// or a kernel crash.
type SyncPolicy int

const (
	// SyncAlways fsyncs before Append returns. Concurrent appenders share one
	// fsync (group commit): an fsync started after a record was written covers
	// it and every other record written before it. Nothing acknowledged is
	// lost on power loss. This is the zero value and the default.
	SyncAlways SyncPolicy = iota
	// SyncInterval fsyncs in the background every Options.SyncInterval
	// (and at segment rotation and Close). Power loss can lose what was
	// acknowledged during the last interval.
	SyncInterval
	// SyncNever leaves flushing to the kernel: only segment headers, the
	// directory and, on Close, the current segment are fsynced; a segment
	// closed by rotation is not. Power loss can lose anything the kernel had
	// not written back.
	SyncNever
)

// String returns "always", "interval" or "never".
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// ParseSyncPolicy parses "always", "interval" or "never" (case-insensitive).
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "always":
		return SyncAlways, nil
	case "interval":
		return SyncInterval, nil
	case "never":
		return SyncNever, nil
	}
	return 0, fmt.Errorf("wal: unknown sync policy %q (want always, interval or never)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (p SyncPolicy) MarshalText() ([]byte, error) {
	if p < SyncAlways || p > SyncNever {
		return nil, fmt.Errorf("wal: invalid sync policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, so the policy can be
// read from configuration files.
func (p *SyncPolicy) UnmarshalText(b []byte) error {
	v, err := ParseSyncPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Options configure Open and Replay. The zero value is usable.
type Options struct {
	// SegmentSize is the size at which a new segment is started
	// (default 64 MiB). A record is never split: a segment holding at least
	// one record is closed before a record that would make it exceed
	// SegmentSize, and a record larger than SegmentSize gets a segment of its
	// own.
	SegmentSize int64
	// SyncPolicy says when records are fsynced (default SyncAlways).
	SyncPolicy SyncPolicy
	// SyncInterval is the background fsync period under SyncInterval
	// (default 100ms).
	SyncInterval time.Duration
	// MaxRecordSize bounds a payload's length (default 64 MiB). Append
	// rejects larger payloads; Replay treats a larger length field as
	// corruption, so a damaged length never allocates more than this.
	MaxRecordSize int
	// Logger receives replay corruption warnings and open/close events
	// (default: discard).
	Logger *slog.Logger
	// Metrics, if not nil, is updated by the WAL and by Replay.
	Metrics *Metrics
}

func (o Options) withDefaults() (Options, error) {
	if o.SegmentSize < 0 {
		return o, fmt.Errorf("wal: negative segment size %d", o.SegmentSize)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SyncPolicy < SyncAlways || o.SyncPolicy > SyncNever {
		return o, fmt.Errorf("wal: invalid sync policy %d", int(o.SyncPolicy))
	}
	if o.SyncInterval < 0 {
		return o, fmt.Errorf("wal: negative sync interval %v", o.SyncInterval)
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.MaxRecordSize < 0 || int64(o.MaxRecordSize) > math.MaxUint32 {
		return o, fmt.Errorf("wal: max record size %d out of range", o.MaxRecordSize)
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
