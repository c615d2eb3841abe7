package store

import (
	"sync"

	"github.com/loam-logs/loam/server/block"
)

// blockHandle is a block on disk whose index is read on first use: a
// restart costs a footer read per block, and memory holds the indexes of
// the blocks that queries touched, not of the whole retention.
type blockHandle struct {
	path  string
	level int
	meta  block.Meta

	once sync.Once
	r    *block.Reader
	err  error
}

func newHandle(path string, meta block.Meta) *blockHandle {
	return &blockHandle{path: path, level: blockLevel(path), meta: meta}
}

// handleOf wraps a block that is already open.
func handleOf(r *block.Reader) *blockHandle {
	h := newHandle(r.Path(), block.Meta{Size: r.Size(), MinT: r.MinT(), MaxT: r.MaxT()})
	h.once.Do(func() { h.r = r })
	return h
}

// reader opens the block's index, once.
func (h *blockHandle) reader() (*block.Reader, error) {
	h.once.Do(func() { h.r, h.err = block.Open(h.path) })
	return h.r, h.err
}

// close releases the file if it was opened.
func (h *blockHandle) close() {
	h.once.Do(func() {})
	if h.r != nil {
		h.r.Close()
	}
}
