package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Segment file format; FORMAT.md beside this file is the specification.
const (
	// Magic is the first four bytes of every segment file.
	Magic = "LWAL"
	// Version is the segment format version written after Magic.
	Version = 1

	// HeaderSize is the size of the segment header: Magic, Version, and
	// three reserved zero bytes.
	HeaderSize = 8
	// RecordHeaderSize is the size of a record's framing before its payload:
	// length uint32 LE, then CRC-32C uint32 LE.
	RecordHeaderSize = 8

	segmentNameWidth = 8
	maxSegmentNumber = 99_999_999
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segmentHeader returns the 8-byte header of a segment file.
func segmentHeader() [HeaderSize]byte {
	var h [HeaderSize]byte
	copy(h[:4], Magic)
	h[4] = Version
	return h
}

// recordCRC is the checksum stored in a record: CRC-32C (Castagnoli) over the
// four length bytes followed by the payload. Covering the length means a
// zero-filled region (which a file system can leave at the end of a file
// after power loss) does not parse as a run of valid empty records, and a
// damaged length is caught even when the bytes it points at look plausible.
func recordCRC(lenBytes []byte, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(lenBytes, castagnoli), castagnoli, payload)
}

// appendRecord appends the framed record for payload to dst.
func appendRecord(dst, payload []byte) []byte {
	var h [RecordHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], recordCRC(h[0:4], payload))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// segmentName returns the fixed-width file name of segment n.
func segmentName(n int) string {
	return fmt.Sprintf("%0*d", segmentNameWidth, n)
}

// parseSegmentName returns the number of a segment file name, or false if
// name is not exactly segmentNameWidth decimal digits.
func parseSegmentName(name string) (int, bool) {
	if len(name) != segmentNameWidth {
		return 0, false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(name)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

// listSegments returns the numbers of the segment files in dir, ascending.
// Other files are ignored. A missing dir is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func listSegments(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []int
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if n, ok := parseSegmentName(e.Name()); ok {
			seqs = append(seqs, n)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// syncDir fsyncs a directory so that file creations and removals in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// segmentFile is the part of *os.File a segment uses. Tests substitute
// files that fail like a full or broken disk.
type segmentFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// createFile creates a new segment file; it must not exist yet. Tests
// replace it to inject failures.
var createFile = func(path string) (segmentFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// segment is an open segment file being appended to.
//
// size is guarded by the WAL's mutex (only appenders touch it). mu guards
// closed, err and syncErr and serializes fsync against close, so a
// group-commit fsync running outside the WAL's mutex never races with
// rotation closing the file. failErr and failedAfter are guarded by the
// WAL's smu.
type segment struct {
	seq    int
	f      segmentFile
	size   int64
	onSync func(time.Duration) // records fsync latency; never nil

	// retired is set when the segment must take no more records: a failed
	// write could not be cut off, or an fsync failed. The next append
	// starts a new segment, so no acknowledged record ever follows a torn
	// or unsynced one in the same file.
	retired atomic.Bool

	mu      sync.Mutex
	closed  bool
	err     error // result of the final fsync/close
	syncErr error // first failed fsync: the file is never fsynced again

	// failErr is the fsync failure that made the records of this segment
	// after ticket failedAfter non-durable (set once, see WAL.failSegment).
	failErr     error
	failedAfter uint64
}

// createSegment creates segment seq in dir, writes its header, and makes the
// file and its directory entry durable. On failure nothing is left behind.
func createSegment(dir string, seq int, onSync func(time.Duration)) (*segment, error) {
	if seq > maxSegmentNumber {
		return nil, fmt.Errorf("segment number %d exceeds %d", seq, maxSegmentNumber)
	}
	path := filepath.Join(dir, segmentName(seq))
	f, err := createFile(path)
	if err != nil {
		return nil, err
	}
	s := &segment{seq: seq, f: f, onSync: onSync}
	fail := func(err error) (*segment, error) {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	h := segmentHeader()
	if _, err := f.WriteAt(h[:], 0); err != nil {
		return fail(err)
	}
	s.size = HeaderSize
	if err := s.fsync(); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *segment) fsync() error {
	start := time.Now()
	err := s.f.Sync()
	s.onSync(time.Since(start))
	return err
}

// sync makes everything written to the segment durable. On a closed segment
// it returns the result of the fsync done when it was closed. After a
// failed fsync it returns that error without trying again: the kernel may
// have dropped the dirty pages and marked them clean, so a second fsync
// could succeed without the data being on disk.
func (s *segment) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	if s.syncErr != nil {
		return s.syncErr
	}
	if err := s.fsync(); err != nil {
		s.syncErr = err
		s.retired.Store(true)
		return err
	}
	return nil
}

// close closes the file, fsyncing it first if doSync. A segment whose fsync
// failed earlier is not fsynced again and returns that failure. It is
// idempotent.
func (s *segment) close(doSync bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	err := s.syncErr
	if err == nil && doSync {
		if err = s.fsync(); err != nil {
			s.syncErr = err
		}
	}
	if cerr := s.f.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	s.closed = true
	s.retired.Store(true)
	s.err = err
	return err
}
