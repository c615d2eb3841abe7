package wal

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrClosed is returned by methods of a closed WAL.
	ErrClosed = errors.New("wal: closed")
	// ErrRecordTooLarge is returned by Append for a payload longer than
	// Options.MaxRecordSize, and wrapped in a CorruptionError by Replay for a
	// length field above it.
	ErrRecordTooLarge = errors.New("record too large")
	// ErrTornRecord means a record (or a segment header) extends past the
	// end of the file: the tail of a write that never completed.
	ErrTornRecord = errors.New("torn record")
	// ErrChecksum means a record's CRC-32C does not match its contents.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrBadMagic means a segment file does not start with Magic.
	ErrBadMagic = errors.New("bad segment magic")
	// ErrUnsupportedVersion means a segment was written in a format version
	// this code does not read. Replay returns it (wrapped) as a hard error and
	// leaves the file alone: it is not treated as corruption.
	ErrUnsupportedVersion = errors.New("unsupported segment version")
)

// CorruptionError describes a torn or damaged record found by Replay. The
// segment is intact up to Offset (the start of the bad record, or 0 for a bad
// header) and is truncated there.
type CorruptionError struct {
	Segment int   // segment number
	Offset  int64 // byte offset of the first bad byte range in the segment file
	Err     error // ErrTornRecord, ErrChecksum, ErrRecordTooLarge or ErrBadMagic, possibly wrapped
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corrupt segment %d at offset %d: %v", e.Segment, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// IsNoSpace reports whether err comes from a file system that is out of
// space (ENOSPC) or out of the owner's quota (EDQUOT): a condition that
// freeing space ends, unlike a broken disk.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
