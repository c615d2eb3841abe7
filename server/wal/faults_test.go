package wal

import (
	"os"
	"sync"
	"syscall"
)

// faultDisk imitates a file system for the segment files created while it
// is installed (see install): a byte budget shared by all of them, which a
// write that would exceed it fills partly before failing with noSpace, and
// switches that make fsync, truncate or create fail.
type faultDisk struct {
	mu           sync.Mutex
	free         int64 // bytes writes may still add
	noSpace      error // syscall.ENOSPC or syscall.EDQUOT
	failSync     error // Sync fails with this while set
	failTruncate bool
	failCreate   error
	syncFailures int // Sync calls that failed
}

func newFaultDisk(free int64) *faultDisk {
	return &faultDisk{free: free, noSpace: syscall.ENOSPC}
}

// install makes new segments use d until the returned function is called.
func (d *faultDisk) install() (restore func()) {
	old := createFile
	createFile = func(path string) (segmentFile, error) {
		d.mu.Lock()
		cerr := d.failCreate
		d.mu.Unlock()
		if cerr != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: cerr}
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		return &faultFile{d: d, f: f}, nil
	}
	return func() { createFile = old }
}

// set changes the disk under its lock.
func (d *faultDisk) set(fn func(d *faultDisk)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fn(d)
}

// heal gives the disk plenty of room and makes every operation work.
func (d *faultDisk) heal() {
	d.set(func(d *faultDisk) {
		d.free, d.failSync, d.failTruncate, d.failCreate = 1<<40, nil, false, nil
	})
}

type faultFile struct {
	d    *faultDisk
	f    *os.File
	size int64
}

func (ff *faultFile) WriteAt(p []byte, off int64) (int, error) {
	d := ff.d
	d.mu.Lock()
	defer d.mu.Unlock()
	want, fail := p, false
	if grow := off + int64(len(p)) - ff.size; grow > d.free {
		want, fail = p[:max(0, int64(len(p))-(grow-d.free))], true
	}
	n, err := ff.f.WriteAt(want, off)
	if end := off + int64(n); end > ff.size {
		d.free -= end - ff.size
		ff.size = end
	}
	if err == nil && fail {
		err = &os.PathError{Op: "write", Path: ff.f.Name(), Err: d.noSpace}
	}
	return n, err
}

func (ff *faultFile) Truncate(size int64) error {
	d := ff.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failTruncate {
		return &os.PathError{Op: "truncate", Path: ff.f.Name(), Err: syscall.EIO}
	}
	if err := ff.f.Truncate(size); err != nil {
		return err
	}
	if size < ff.size {
		d.free += ff.size - size
	}
	ff.size = size
	return nil
}

func (ff *faultFile) Sync() error {
	d := ff.d
	d.mu.Lock()
	err := d.failSync
	if err != nil {
		d.syncFailures++
	}
	d.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "sync", Path: ff.f.Name(), Err: err}
	}
	return ff.f.Sync()
}

func (ff *faultFile) Close() error { return ff.f.Close() }
