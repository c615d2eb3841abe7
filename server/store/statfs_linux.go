package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// statDisk returns the bytes used on the file system holding dir and its
// capacity for Loam: used plus what an unprivileged writer may still
// allocate. The blocks ext4 reserves for root are left out, so that
// used == capacity when Loam's writes start failing with ENOSPC and
// used/capacity is what df shows as Use%.
func statDisk(dir string) (used, capacity int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	bs := int64(st.Frsize)
	if bs <= 0 {
		bs = int64(st.Bsize)
	}
	used = int64(st.Blocks-st.Bfree) * bs
	return used, used + int64(st.Bavail)*bs, nil
}
