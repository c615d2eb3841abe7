package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// readBufferSize is the read-ahead buffer of Replay.
const readBufferSize = 1 << 20

// ReplayStats summarises a Replay.
type ReplayStats struct {
	Segments    int           // segment files read
	Records     int           // intact records passed to fn
	Bytes       int64         // payload bytes passed to fn
	Corruptions int           // torn or corrupt records found (at most one per segment)
	Duration    time.Duration // wall time of the replay
	// CorruptionErrors describes each corruption, in segment order.
	CorruptionErrors []*CorruptionError
}

// Replay reads every segment in dir in order and calls fn for each intact
// record. The payload slice passed to fn is only valid during the call: Replay
// reuses its buffer, so fn must copy whatever it keeps.
//
// A torn or corrupt record (bad length, short read, checksum mismatch) ends
// its segment: the file is truncated at the end of the last good record (so
// the next start is clean), the event is logged with segment and offset and
// counted in ReplayStats and Metrics, and replay continues with the next
// segment. An empty (zero-length) segment file is not corruption.
//
// Replay returns an error, with the stats so far, if a file cannot be read
// or truncated, if a segment has an unsupported format version, or if fn
// returns an error (wrapped, so errors.Is finds it). A missing dir replays
// nothing and is not an error. Replay must not run on a directory that an
// open WAL is writing to.
func Replay(dir string, opts Options, fn func(payload []byte) error) (stats ReplayStats, err error) {
	start := time.Now()
	defer func() {
		stats.Duration = time.Since(start)
		opts.Metrics.replayed(stats.Duration)
	}()
	opts, err = opts.withDefaults()
	if err != nil {
		return stats, err
	}
	seqs, err := listSegments(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return stats, nil
	}
	if err != nil {
		return stats, fmt.Errorf("wal: list segments: %w", err)
	}
	r := &segmentReader{maxRecord: opts.MaxRecordSize, br: bufio.NewReaderSize(nil, readBufferSize)}
	for i, seq := range seqs {
		if i > 0 && seq != seqs[i-1]+1 {
			opts.Logger.Warn("wal segment numbers are not contiguous", "dir", dir, "after", seqs[i-1], "next", seq)
		}
		path := filepath.Join(dir, segmentName(seq))
		records, bytes, goodEnd, cerr, err := r.replay(path, fn)
		stats.Segments++
		stats.Records += records
		stats.Bytes += bytes
		if err != nil {
			return stats, fmt.Errorf("wal: replay segment %d: %w", seq, err)
		}
		if cerr == nil {
			continue
		}
		ce := &CorruptionError{Segment: seq, Offset: goodEnd, Err: cerr}
		stats.Corruptions++
		stats.CorruptionErrors = append(stats.CorruptionErrors, ce)
		opts.Metrics.corruption()
		opts.Logger.Warn("wal: corrupt or torn record; truncating segment",
			"dir", dir, "segment", seq, "offset", goodEnd, "err", cerr, "records_kept", records)
		if err := truncateFile(path, goodEnd); err != nil {
			return stats, fmt.Errorf("wal: truncate segment %d at %d: %w", seq, goodEnd, err)
		}
	}
	return stats, nil
}

// segmentReader holds the buffers reused across the segments of a Replay.
type segmentReader struct {
	maxRecord int
	br        *bufio.Reader
	payload   []byte
}

// replay reads one segment file, calling fn for each intact record. It
// returns the records and payload bytes delivered, the offset just past the
// last good record (or 0 if the header is bad), and either the corruption
// that ended the segment (cerr) or a hard error (err).
func (r *segmentReader) replay(path string, fn func([]byte) error) (records int, bytes, goodEnd int64, cerr, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, 0, nil, err
	}
	r.br.Reset(f)
	return r.read(r.br, fi.Size(), fn)
}

// read parses a segment of size bytes from br. See replay for the results.
func (r *segmentReader) read(br io.Reader, size int64, fn func([]byte) error) (records int, bytes, goodEnd int64, cerr, err error) {
	if size == 0 {
		// A crash between creating the file and writing its header, or a
		// segment truncated to nothing by an earlier replay.
		return 0, 0, 0, nil, nil
	}
	if size < HeaderSize {
		return 0, 0, 0, fmt.Errorf("%w: segment header is %d of %d bytes", ErrTornRecord, size, HeaderSize), nil
	}
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, 0, 0, nil, err
	}
	if string(hdr[:4]) != Magic {
		return 0, 0, 0, fmt.Errorf("%w %q", ErrBadMagic, hdr[:4]), nil
	}
	if hdr[4] != Version {
		return 0, 0, 0, nil, fmt.Errorf("%w %d (this build reads %d)", ErrUnsupportedVersion, hdr[4], Version)
	}

	off := int64(HeaderSize)
	var rh [RecordHeaderSize]byte
	for off < size {
		if size-off < RecordHeaderSize {
			return records, bytes, off, fmt.Errorf("%w: record header is %d of %d bytes", ErrTornRecord, size-off, RecordHeaderSize), nil
		}
		if _, err := io.ReadFull(br, rh[:]); err != nil {
			return records, bytes, off, nil, err
		}
		n := binary.LittleEndian.Uint32(rh[0:4])
		sum := binary.LittleEndian.Uint32(rh[4:8])
		// Check the length against both bounds before allocating for it.
		if uint64(n) > uint64(r.maxRecord) {
			return records, bytes, off, fmt.Errorf("%w: length %d exceeds max %d", ErrRecordTooLarge, n, r.maxRecord), nil
		}
		if int64(n) > size-off-RecordHeaderSize {
			return records, bytes, off, fmt.Errorf("%w: length %d but %d bytes left in file", ErrTornRecord, n, size-off-RecordHeaderSize), nil
		}
		if cap(r.payload) < int(n) {
			r.payload = make([]byte, n)
		}
		p := r.payload[:n]
		if _, err := io.ReadFull(br, p); err != nil {
			return records, bytes, off, nil, err
		}
		if got := recordCRC(rh[0:4], p); got != sum {
			return records, bytes, off, fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, sum, got), nil
		}
		if err := fn(p); err != nil {
			return records, bytes, off, nil, fmt.Errorf("offset %d: %w", off, err)
		}
		records++
		bytes += int64(n)
		off += RecordHeaderSize + int64(n)
	}
	return records, bytes, off, nil, nil
}

// truncateFile cuts path to size bytes and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
