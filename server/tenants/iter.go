package tenants

import (
	"container/heap"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// taggedIter is the iterator of one tenant, its streams tagged.
type taggedIter struct {
	it  store.EntryIterator
	tag *tagger
}

func (t *taggedIter) Next() bool { return t.it.Next() }
func (t *taggedIter) Err() error { return t.it.Err() }
func (t *taggedIter) Close() error {
	return t.it.Close()
}
func (t *taggedIter) At() (labels.Labels, block.Entry) {
	ls, e := t.it.At()
	return t.tag.of(ls), e
}

// chainIter reads its iterators one after another.
type chainIter struct {
	its []store.EntryIterator
	i   int
}

func (c *chainIter) Next() bool {
	for c.i < len(c.its) {
		if c.its[c.i].Next() {
			return true
		}
		if c.its[c.i].Err() != nil {
			return false
		}
		c.i++
	}
	return false
}

func (c *chainIter) At() (labels.Labels, block.Entry) { return c.its[c.i].At() }

func (c *chainIter) Err() error {
	if c.i < len(c.its) {
		return c.its[c.i].Err()
	}
	return nil
}

func (c *chainIter) Close() error {
	var first error
	for _, it := range c.its {
		if err := it.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// head is the current entry of one iterator of a merge.
type head struct {
	it store.EntryIterator
	ls labels.Labels
	e  block.Entry
}

// mergeIter merges iterators by time (of its direction), ties by
// labels.Compare of the streams. An entry's line stays valid until the
// next call to Next, as each iterator's own does: only the iterator of
// the entry returned last moves on.
type mergeIter struct {
	all      []store.EntryIterator // for Close
	h        heads
	cur      *head
	started  bool
	err      error
	backward bool
}

func newMergeIter(its []store.EntryIterator, dir store.Direction) *mergeIter {
	return &mergeIter{all: its, backward: dir == store.Backward, h: heads{backward: dir == store.Backward}}
}

func (m *mergeIter) Next() bool {
	if m.err != nil {
		return false
	}
	if !m.started {
		m.started = true
		for _, it := range m.all {
			if !m.advance(&head{it: it}) {
				return false
			}
		}
		heap.Init(&m.h)
	} else if m.cur != nil {
		// The current entry was the heap's least: move its iterator on.
		if m.advanceTop() {
			heap.Fix(&m.h, 0)
		} else if m.err != nil {
			return false
		} else {
			heap.Pop(&m.h)
		}
	}
	if len(m.h.hs) == 0 {
		m.cur = nil
		return false
	}
	m.cur = m.h.hs[0]
	return true
}

// advance reads the first entry of h's iterator and adds h to the heap;
// false when that iterator failed.
func (m *mergeIter) advance(h *head) bool {
	if h.it.Next() {
		h.ls, h.e = h.it.At()
		m.h.hs = append(m.h.hs, h)
		return true
	}
	if err := h.it.Err(); err != nil {
		m.err = err
		return false
	}
	return true
}

// advanceTop moves the least head's iterator on; false when it has no
// more entries (or failed: m.err).
func (m *mergeIter) advanceTop() bool {
	h := m.h.hs[0]
	if h.it.Next() {
		h.ls, h.e = h.it.At()
		return true
	}
	m.err = h.it.Err()
	return false
}

func (m *mergeIter) At() (labels.Labels, block.Entry) { return m.cur.ls, m.cur.e }
func (m *mergeIter) Err() error                       { return m.err }

func (m *mergeIter) Close() error {
	var first error
	for _, it := range m.all {
		if err := it.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// heads is a heap of heads, least first.
type heads struct {
	hs       []*head
	backward bool
}

func (h *heads) Len() int { return len(h.hs) }
func (h *heads) Less(i, j int) bool {
	a, b := h.hs[i], h.hs[j]
	if a.e.T != b.e.T {
		return a.e.T < b.e.T != h.backward
	}
	return labels.Compare(a.ls, b.ls) < 0
}
func (h *heads) Swap(i, j int) { h.hs[i], h.hs[j] = h.hs[j], h.hs[i] }
func (h *heads) Push(x any)    { h.hs = append(h.hs, x.(*head)) }
func (h *heads) Pop() any {
	x := h.hs[len(h.hs)-1]
	h.hs = h.hs[:len(h.hs)-1]
	return x
}
