package block

import (
	"bytes"
	"fmt"
	"unsafe"
)

// Blocks of versions 1 to 3 hold their index as one zstd frame: the stream
// table, then the postings. Its stream entries are laid out as those of a
// version 4 page, with absolute offsets. openLegacy decodes the frame once
// and copies the entries into version 4 pages kept in memory (the postings
// are rebuilt from the labels), so that an old block is read as a new one
// and costs its compressed pages, not a decoded table, while it is open.

func (r *Reader) openLegacy(index []byte) error {
	raw, err := zstdDecoder().DecodeAll(index, nil)
	if err != nil {
		return fmt.Errorf("%w: index: %v", ErrCorrupt, err)
	}
	d := dec{s: unsafe.String(unsafe.SliceData(raw), len(raw))}
	n := d.count(2)
	iw := newIndexWriter()
	var c ChunkMeta
	for i := 0; i < n && !d.bad; i++ {
		start := d.i
		ls := d.labels(nil, d.count(2))
		for k := d.count(minChunkEntry); k > 0 && !d.bad; k-- {
			d.chunk(&c)
		}
		if d.bad {
			break
		}
		entry := raw[start:d.i]
		if err := iw.addEntry(ls, func(page []byte) []byte { return append(page, entry...) }); err != nil {
			return fmt.Errorf("%w: index: %v", ErrCorrupt, err)
		}
	}
	if d.bad {
		return fmt.Errorf("%w: index: stream table", ErrCorrupt)
	}
	region, dir := iw.finish(0)
	if r.dir, err = decodeDirectory(dir, uint64(len(region))); err != nil {
		return err
	}
	region = bytes.Clone(region) // without the slack of its growth
	r.pages = bytes.NewReader(region)
	r.heldBytes = int64(len(region))
	return nil
}
