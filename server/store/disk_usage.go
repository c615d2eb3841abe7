package store

import "golang.org/x/sys/unix"

// diskUsage returns the bytes used and the size of the filesystem holding
// dir, as df counts them (blocks reserved for root count as used).
func diskUsage(dir string) (used, capacity int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := int64(st.Bsize)
	return (int64(st.Blocks) - int64(st.Bfree)) * bs, int64(st.Blocks) * bs, nil
}
