package block

import "golang.org/x/sys/unix"

// Prefetch asks the kernel to start reading chunk c's timestamps and the
// first lines bytes of its lines region (the directory, the head and, most
// often, the word columns of a group), so that a query reading chunk after
// chunk finds the next one in the page cache instead of waiting for the
// disk. It is only a hint: errors are ignored.
func (r *Reader) Prefetch(c *ChunkMeta, lines uint32) {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.Fadvise(int(fd), int64(c.TsOff), int64(c.TsLen), unix.FADV_WILLNEED)
		unix.Fadvise(int(fd), int64(c.LinesOff), int64(min(lines, c.LinesLen)), unix.FADV_WILLNEED)
	})
}
