package fanout

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Select merges the replicas' iterators into one, in the order asked for,
// each entry once (see the package comment). The replicas are opened, and
// their first entries read, in parallel; the iterator then reads them from
// the caller's goroutine. Like every EntryIterator it is not
// goroutine-safe, and must be closed.
func (f *Fanout) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	ask, acc, err := f.start()
	if err != nil {
		return nil, err
	}
	m := &mergeIter{ctx: ctx, acc: acc, fwd: p.Direction == store.Forward, unordered: p.Unordered, noLines: p.NoLines}
	cs := make([]*cursor, len(ask))
	errs := make([]error, len(ask))
	open := func(j int) {
		it, err := f.rs[ask[j]].Reader.Select(ctx, f.params(ask[j], p))
		if err != nil {
			errs[j] = err
			return
		}
		c := &cursor{i: ask[j], it: it}
		errs[j] = m.advance(c)
		cs[j] = c
	}
	if len(ask) == 1 {
		open(0)
	} else {
		var wg sync.WaitGroup
		for j := range ask {
			wg.Go(func() { open(j) })
		}
		wg.Wait()
	}
	var failed error
	for j, c := range cs {
		switch {
		case errs[j] != nil:
			if c != nil {
				c.it.Close()
			}
			if failed == nil {
				failed = acc.fail(ctx, ask[j], errs[j])
			}
		case c.ok:
			m.cs = append(m.cs, c)
		default:
			c.it.Close()
		}
	}
	if failed != nil {
		m.Close()
		return nil, failed
	}
	return m, nil
}

// cursor is one replica's iterator in a merge.
type cursor struct {
	i        int // the replica
	it       store.EntryIterator
	ls       labels.Labels
	key      []byte // unordered: store.AppendOrderKey of ls
	spare    []byte // the key being made
	e        block.Entry
	ok       bool // e is an entry
	started  bool // e was set once: the order is checked from then on
	consumed bool // e was returned or dropped: advance before looking again
	n        int  // entries of the current group seen (NoLines)
}

// mergeIter merges cursors. Entries are grouped by (stream, timestamp):
// a group's entries are consecutive in every replica's order, so they are
// consecutive in the merge too, and de-duplication only looks within the
// current group.
//
// Streams are told apart by their labels: in time order, consecutive
// entries of an iterator are mostly of other streams, and labels are
// compared only between entries of equal time; unordered, streams change
// seldom, and each cursor keeps its stream's order key, which compares
// faster.
type mergeIter struct {
	ctx       context.Context
	acc       *account
	fwd       bool
	unordered bool
	noLines   bool
	cs        []*cursor // with an entry, or consumed and to be advanced
	cur       *cursor   // the entry returned
	err       error
	closed    bool

	// The current group.
	gT   int64
	gLs  labels.Labels // its stream
	gKey []byte        // unordered: its stream's key
	gSet bool
	// gN is the most entries any replica had in the group so far: with
	// NoLines, the group's entries returned.
	gN int
	// gMulti says that replicas were seen to hold different lines in the
	// group: from then on the lines returned are remembered in gLines
	// (copies, in gBuf), since a replica may hold them in another order.
	gMulti bool
	gLines [][2]int
	gBuf   []byte
}

// advance moves c to its next entry and checks that it keeps to the
// order; an error ends the replica's part in the merge.
func (m *mergeIter) advance(c *cursor) error {
	c.consumed = false
	if !c.it.Next() {
		c.ok = false
		return c.it.Err()
	}
	ls, e := c.it.At()
	if !c.started {
		c.ls, c.e, c.ok, c.started = ls, e, true, true
		if m.unordered {
			c.key = store.AppendOrderKey(c.key, ls)
		}
		return nil
	}
	earlier := e.T != c.e.T && (e.T < c.e.T) == m.fwd
	bad := false
	if m.unordered {
		cmp := 0 // the new stream against the last, in label order
		if !sameSlice(ls, c.ls) && !ls.Equal(c.ls) {
			c.spare = store.AppendOrderKey(c.spare[:0], ls)
			cmp = bytes.Compare(c.spare, c.key)
		}
		bad = cmp < 0 || cmp == 0 && earlier
		if cmp > 0 {
			c.key, c.spare = c.spare, c.key
		}
	} else {
		bad = earlier || e.T == c.e.T && compareStreams(ls, c.ls) < 0
	}
	if bad {
		c.ok = false
		return fmt.Errorf("answer out of order: %s at %d came after %s at %d", ls, e.T, c.ls, c.e.T)
	}
	c.ls, c.e, c.ok = ls, e, true
	return nil
}

// sameSlice reports whether a and b are the same labels slice, as an
// iterator hands out for every entry of a stream.
func sameSlice(a, b labels.Labels) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// compareStreams is labels.Compare, quick for a slice against itself.
func compareStreams(a, b labels.Labels) int {
	if sameSlice(a, b) {
		return 0
	}
	return labels.Compare(a, b)
}

// less orders two cursors' entries: by time in the direction, then by
// stream; unordered, by stream, then by time.
func (m *mergeIter) less(a, b *cursor) bool {
	if m.unordered {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c < 0
		}
		return a.e.T != b.e.T && (a.e.T < b.e.T) == m.fwd
	}
	if a.e.T != b.e.T {
		return (a.e.T < b.e.T) == m.fwd
	}
	return compareStreams(a.ls, b.ls) < 0
}

func (m *mergeIter) inGroup(c *cursor) bool {
	if !m.gSet || c.e.T != m.gT {
		return false
	}
	if m.unordered {
		return bytes.Equal(c.key, m.gKey)
	}
	return sameSlice(c.ls, m.gLs) || c.ls.Equal(m.gLs)
}

func (m *mergeIter) newGroup(c *cursor) {
	m.gT, m.gLs, m.gSet = c.e.T, c.ls, true
	if m.unordered {
		m.gKey = append(m.gKey[:0], c.key...)
	}
	m.gN, m.gMulti, m.gLines, m.gBuf = 0, false, m.gLines[:0], m.gBuf[:0]
	for _, o := range m.cs {
		o.n = 0
	}
}

func (m *mergeIter) remembered(line []byte) bool {
	for _, r := range m.gLines {
		if bytes.Equal(m.gBuf[r[0]:r[1]], line) {
			return true
		}
	}
	return false
}

func (m *mergeIter) Next() bool {
	m.cur = nil
	if m.err != nil || m.closed {
		return false
	}
	for {
		for j := 0; j < len(m.cs); {
			c := m.cs[j]
			if c.consumed {
				if err := m.advance(c); err != nil {
					if err := m.acc.fail(m.ctx, c.i, err); err != nil {
						m.err = err
						return false
					}
				}
				if !c.ok {
					c.it.Close()
					m.cs[j] = m.cs[len(m.cs)-1]
					m.cs = m.cs[:len(m.cs)-1]
					continue
				}
			}
			j++
		}
		if len(m.cs) == 0 {
			return false
		}
		c := m.cs[0]
		for _, o := range m.cs[1:] {
			if m.less(o, c) {
				c = o
			}
		}
		if !m.inGroup(c) {
			m.newGroup(c)
		}
		c.consumed = true
		if m.noLines {
			// Lines may be missing: the group holds as many entries as
			// the replica that has the most of them.
			if c.n++; c.n <= m.gN {
				continue
			}
			m.gN = c.n
			m.cur = c
			return true
		}
		if m.gMulti && m.remembered(c.e.Line) {
			continue
		}
		for _, o := range m.cs {
			if o == c || o.consumed || !m.inGroup(o) {
				continue
			}
			if bytes.Equal(o.e.Line, c.e.Line) {
				o.consumed = true // the same entry: dropped
			} else {
				m.gMulti = true
			}
		}
		if m.gMulti {
			start := len(m.gBuf)
			m.gBuf = append(m.gBuf, c.e.Line...)
			m.gLines = append(m.gLines, [2]int{start, len(m.gBuf)})
		}
		m.cur = c
		return true
	}
}

func (m *mergeIter) At() (labels.Labels, block.Entry) { return m.cur.ls, m.cur.e }
func (m *mergeIter) Err() error                       { return m.err }

// Close closes the replicas' iterators still open.
func (m *mergeIter) Close() error {
	if !m.closed {
		m.closed = true
		for _, c := range m.cs {
			c.it.Close()
		}
		m.cs, m.cur = nil, nil
	}
	return nil
}
