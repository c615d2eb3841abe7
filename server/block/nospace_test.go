package block

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

// limitFile is a temp file on a disk with room for limit bytes: the write
// that crosses the limit writes what fits and fails with ENOSPC.
type limitFile struct {
	f        *os.File
	limit    int64
	written  int64
	syncErr  error
	closeErr error
}

func (lf *limitFile) Write(p []byte) (int, error) {
	room := max(0, lf.limit-lf.written)
	if int64(len(p)) <= room {
		n, err := lf.f.Write(p)
		lf.written += int64(n)
		return n, err
	}
	n, err := lf.f.Write(p[:room])
	lf.written += int64(n)
	if err == nil {
		err = &os.PathError{Op: "write", Path: lf.f.Name(), Err: syscall.ENOSPC}
	}
	return n, err
}

func (lf *limitFile) Sync() error {
	if lf.syncErr != nil {
		return lf.syncErr
	}
	return lf.f.Sync()
}

func (lf *limitFile) Close() error {
	err := lf.f.Close()
	if lf.closeErr != nil {
		return lf.closeErr
	}
	return err
}

// TestWriteFailures: a block whose writing fails (a full disk at various
// offsets, a failed fsync, close or directory fsync) is never visible at
// its path, leaves no temp file, and the error says why. Writing the same
// block again once the disk works gives a readable block.
func TestWriteFailures(t *testing.T) {
	streams := genStreams(8, 5000, 3) // uncompressed, a few MiB: more than bufio's buffer
	size := blockSizeOf(t, streams)
	noSpace := &os.PathError{Op: "sync", Path: "x", Err: syscall.ENOSPC}
	tests := []struct {
		name     string
		file     func(f *os.File) *limitFile
		create   error // createTemp fails
		dirSync  error
		wantIs   error
		addFails bool // AddStream reports the error before Finish
	}{
		{name: "no room for the temp file", create: syscall.ENOSPC, wantIs: syscall.ENOSPC},
		{name: "full after the header", file: func(f *os.File) *limitFile { return &limitFile{f: f, limit: headerSize} },
			wantIs: syscall.ENOSPC, addFails: true},
		{name: "full in the middle of the lines", file: func(f *os.File) *limitFile { return &limitFile{f: f, limit: 1<<20 + 12345} },
			wantIs: syscall.ENOSPC, addFails: true},
		{name: "full at the index and footer", file: func(f *os.File) *limitFile { return &limitFile{f: f, limit: size - 10} },
			wantIs: syscall.ENOSPC},
		{name: "fsync fails", file: func(f *os.File) *limitFile { return &limitFile{f: f, limit: 1 << 40, syncErr: noSpace} },
			wantIs: syscall.ENOSPC},
		{name: "close fails", file: func(f *os.File) *limitFile { return &limitFile{f: f, limit: 1 << 40, closeErr: syscall.EDQUOT} },
			wantIs: syscall.EDQUOT},
		{name: "directory fsync fails after the rename", dirSync: syscall.EIO, wantIs: syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "b.blk")
			defer func(c func(string) (blockFile, error), d func(string) error) { createTemp, syncDir = c, d }(createTemp, syncDir)
			orig := createTemp
			createTemp = func(p string) (blockFile, error) {
				if tt.create != nil {
					return nil, &os.PathError{Op: "open", Path: p, Err: tt.create}
				}
				bf, err := orig(p)
				if err != nil || tt.file == nil {
					return bf, err
				}
				return tt.file(bf.(*os.File)), nil
			}
			if tt.dirSync != nil {
				syncDir = func(string) error { return tt.dirSync }
			}
			err := tryWrite(path, streams, tt.addFails)
			if err == nil {
				t.Fatal("block written on a failing disk")
			}
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("error %v, want errors.Is %v", err, tt.wantIs)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("left behind: %v", ents)
			}
			createTemp, syncDir = orig, SyncDir
			writeBlock(t, path, streams, Options{Codec: CodecNone})
			r, err := Open(path)
			if err != nil {
				t.Fatalf("open the block written after the disk healed: %v", err)
			}
			r.Close()
		})
	}
}

// tryWrite writes streams to a block at path. With addFails, an AddStream
// must report the write error before Finish.
func tryWrite(path string, streams []testStream, addFails bool) error {
	w, err := Create(path, Options{Codec: CodecNone})
	if err != nil {
		return err
	}
	streams = slices.Clone(streams)
	slices.SortFunc(streams, func(a, b testStream) int { return labels.Compare(a.ls, b.ls) })
	for _, s := range streams {
		if err := w.AddStream(s.ls, s.es); err != nil {
			w.Abort()
			return err
		}
	}
	if addFails {
		w.Abort()
		return errors.New("AddStream reported no error on a full disk")
	}
	return w.Finish()
}

// blockSizeOf is the size of the block file holding streams.
func blockSizeOf(t *testing.T, streams []testStream) int64 {
	path := filepath.Join(t.TempDir(), "size.blk")
	writeBlock(t, path, streams, Options{Codec: CodecNone})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
