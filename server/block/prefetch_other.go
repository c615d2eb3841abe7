//go:build !linux

package block

// Prefetch does nothing where posix_fadvise is not at hand: reads then
// wait for the disk as they come.
func (r *Reader) Prefetch(c *ChunkMeta, lines uint32) {}
