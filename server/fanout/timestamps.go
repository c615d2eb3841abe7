package fanout

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Timestamps calls fn with the timestamps of the entries of the union of
// the replicas (see the package comment for how it is counted): without
// keep, each timestamp of a stream as many times as the replica holding it
// most often has it; with keep, each (timestamp, line hash) of a stream
// once (with Config.Disjoint, as without keep, of the kept entries). The replicas are read in parallel, each by a goroutine that copies
// what it gets into batches; the merge calls fn from the caller's
// goroutine, one stream's calls consecutive, streams in label order.
func (f *Fanout) Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	ask, acc, err := f.start()
	if err != nil {
		return err
	}
	switch len(ask) {
	case 0:
		return nil
	case 1:
		// Nothing to merge: the replica's answer is the union's.
		if err := f.rs[ask[0]].Reader.Timestamps(ctx, f.params(ask[0], p), keep, fn); err != nil {
			return acc.fail(ctx, ask[0], err)
		}
		return nil
	}
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	hashed := keep != nil && !f.cfg.Disjoint
	m := &tsMerge{ctx: ctx, acc: acc, hashed: hashed, fn: fn}
	for _, i := range ask {
		src := &tsSource{i: i, ch: make(chan *tsBatch, 4), free: make(chan *tsBatch, 6)}
		m.cs = append(m.cs, &tsCursor{src: src})
		r := f.rs[i].Reader
		ps := f.params(i, p)
		wg.Go(func() { src.produce(pctx, r, ps, keep, hashed) })
	}
	err = m.run()
	cancel()
	wg.Wait()
	return err
}

// tsBatchSize is how many timestamps a batch holds at most.
const tsBatchSize = 2048

// tsBatch is a copy of what one replica handed over for one stream.
type tsBatch struct {
	ls     labels.Labels   // shared by the stream's batches; not modified
	key    []byte          // store.AppendOrderKey(ls); shared likewise
	ts     []int64         // ascending
	hashes []uint64        // with keep: the lines' hashes
	metas  []labels.Labels // nil, or each entry's metadata
}

// tsSource is one replica's answer as it comes: its goroutine sends
// batches on ch, which it closes when done, err set before.
type tsSource struct {
	i    int // the replica
	ch   chan *tsBatch
	free chan *tsBatch // batches taken, for reuse
	err  error
}

// produce reads replica r into batches, checking the order contract.
func (s *tsSource) produce(ctx context.Context, r Reader, p store.SelectParams, keep func([]byte) bool, hashed bool) {
	defer close(s.ch)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		cur     *tsBatch
		ls      labels.Labels
		key     []byte
		lastT   int64
		started bool
		bad     error
	)
	send := func() {
		if cur != nil && len(cur.ts) > 0 {
			select {
			case s.ch <- cur:
			case <-ctx.Done():
			}
		}
		cur = nil
	}
	emit := func(in, meta labels.Labels, ts []int64, hashes []uint64) {
		if bad != nil || ctx.Err() != nil || len(ts) == 0 {
			return
		}
		if !started || !in.Equal(ls) {
			k := store.AppendOrderKey(nil, in)
			if started && bytes.Compare(k, key) <= 0 {
				bad = fmt.Errorf("answer out of order: stream %s came after %s", in, ls)
				cancel()
				return
			}
			send()
			ls, key, lastT, started = cloneLabels(in), k, math.MinInt64, true
		}
		for _, t := range ts {
			if t < lastT {
				bad = fmt.Errorf("answer out of order: %s at %d came after %d", ls, t, lastT)
				cancel()
				return
			}
			lastT = t
		}
		if cur == nil {
			select {
			case cur = <-s.free:
				cur.ts, cur.hashes, cur.metas = cur.ts[:0], cur.hashes[:0], nil
			default:
				cur = &tsBatch{ts: make([]int64, 0, tsBatchSize)}
			}
			cur.ls, cur.key = ls, key
		}
		if len(meta) > 0 && cur.metas == nil {
			cur.metas = make([]labels.Labels, len(cur.ts), cap(cur.ts))
		}
		cur.ts = append(cur.ts, ts...)
		cur.hashes = append(cur.hashes, hashes...)
		if cur.metas != nil {
			var mc labels.Labels
			if len(meta) > 0 {
				mc = cloneLabels(meta)
			}
			for range ts {
				cur.metas = append(cur.metas, mc)
			}
		}
		if len(cur.ts) >= tsBatchSize {
			send()
		}
	}
	var err error
	if !hashed {
		err = r.Timestamps(ctx, p, keep, func(ls, meta labels.Labels, ts []int64) { emit(ls, meta, ts, nil) })
	} else if h, ok := r.(HashedTimestamper); ok {
		err = h.HashedTimestamps(ctx, p, keep, emit)
	} else {
		err = HashTimestamps(ctx, r, p, keep, emit)
	}
	switch {
	case bad != nil:
		s.err = bad
	case err != nil:
		s.err = err
	default:
		send()
	}
}

// tsCursor is the merge's place in one replica's answer.
type tsCursor struct {
	src *tsSource
	b   *tsBatch // nil when the answer is over
	k   int      // next entry of b
}

// tsMerge merges the replicas' batches.
type tsMerge struct {
	ctx    context.Context
	acc    *account
	hashed bool
	fn     func(ls, meta labels.Labels, ts []int64)
	cs     []*tsCursor

	out   []int64 // timestamps without metadata, to hand over
	group []*tsCursor
	one   [1]int64
	// A step's run of each cursor in the group.
	runN      []int
	runMetas  [][]labels.Labels
	runHashes [][]uint64
	union     []hashed
}

// hashed is an entry of a step's union, with keep.
type hashed struct {
	h    uint64
	meta labels.Labels
}

// next moves c to its answer's next batch; at the end, c.b is nil. A
// replica that failed counts as missing; the error is the read's when it
// misses too many.
func (m *tsMerge) next(c *tsCursor) error {
	if c.b != nil {
		select {
		case c.src.free <- c.b:
		default:
		}
	}
	c.b, c.k = nil, 0
	b, ok := <-c.src.ch
	if ok {
		c.b = b
		return nil
	}
	if c.src.err != nil {
		return m.acc.fail(m.ctx, c.src.i, c.src.err)
	}
	return nil
}

func (m *tsMerge) run() error {
	for _, c := range m.cs {
		if err := m.next(c); err != nil {
			return err
		}
	}
	for {
		live := m.cs[:0]
		for _, c := range m.cs {
			if c.b != nil {
				live = append(live, c)
			}
		}
		m.cs = live
		if len(m.cs) == 0 {
			return nil
		}
		if err := m.ctx.Err(); err != nil {
			return err
		}
		first := m.cs[0].b
		for _, c := range m.cs[1:] {
			if bytes.Compare(c.b.key, first.key) < 0 {
				first = c.b
			}
		}
		ls, key := first.ls, first.key
		m.group = m.group[:0]
		for _, c := range m.cs {
			if bytes.Equal(c.b.key, key) {
				m.group = append(m.group, c)
			}
		}
		if err := m.stream(ls, key); err != nil {
			return err
		}
	}
}

// in reports whether c is still in the stream of key.
func in(c *tsCursor, key []byte) bool { return c.b != nil && bytes.Equal(c.b.key, key) }

// advance moves c by n entries within its batch, to the next batch at its
// end.
func (m *tsMerge) advance(c *tsCursor, n int) error {
	if c.k += n; c.k == len(c.b.ts) {
		return m.next(c)
	}
	return nil
}

// stream merges the group's answers for one stream.
func (m *tsMerge) stream(ls labels.Labels, key []byte) error {
	g := m.group
	for {
		live := g[:0]
		for _, c := range g {
			if in(c, key) {
				live = append(live, c)
			}
		}
		g = live
		var err error
		switch {
		case len(g) == 0:
			m.flush(ls)
			return nil
		case len(g) == 1:
			err = m.only(ls, g[0])
		default:
			if n := m.common(g); n > 0 {
				m.out = append(m.out, g[0].b.ts[g[0].k:g[0].k+n]...)
				for _, c := range g {
					if err = m.advance(c, n); err != nil {
						break
					}
				}
			} else {
				err = m.step(ls, key, g)
			}
		}
		if err != nil {
			return err
		}
		if len(m.out) >= tsBatchSize {
			m.flush(ls)
		}
	}
}

// only hands over the rest of c's current batch: no other replica holds
// more of the stream.
func (m *tsMerge) only(ls labels.Labels, c *tsCursor) error {
	b := c.b
	if b.metas == nil {
		m.out = append(m.out, b.ts[c.k:]...)
	} else {
		for j := c.k; j < len(b.ts); j++ {
			m.emit(ls, b.metas[j], b.ts[j])
		}
	}
	return m.advance(c, len(b.ts)-c.k)
}

// common returns the length of the longest run of entries without
// metadata that every cursor of g has next, equal: those entries are in
// every replica, as many times each, and are taken once. (Equal counts
// plus whatever each replica holds beyond: the most of those is the
// union's.)
func (m *tsMerge) common(g []*tsCursor) int {
	a := g[0]
	if a.b.metas != nil {
		return 0
	}
	n := len(a.b.ts) - a.k
	for _, c := range g[1:] {
		if c.b.metas != nil {
			return 0
		}
		n = min(n, len(c.b.ts)-c.k)
	}
	ats := a.b.ts[a.k : a.k+n]
	for _, c := range g[1:] {
		cts := c.b.ts[c.k : c.k+n]
		j := 0
		for j < n && ats[j] == cts[j] {
			j++
		}
		if m.hashed {
			ah, ch := a.b.hashes[a.k:a.k+j], c.b.hashes[c.k:c.k+j]
			k := 0
			for k < j && ah[k] == ch[k] {
				k++
			}
			j = k
		}
		if n = j; n == 0 {
			return 0
		}
		ats = ats[:n]
	}
	return n
}

// step merges the entries of the earliest timestamp of the stream in g:
// each cursor's run of them (which may go on into its next batch) is
// gathered, and the union's entries handed over.
func (m *tsMerge) step(ls labels.Labels, key []byte, g []*tsCursor) error {
	t := int64(math.MaxInt64)
	for _, c := range g {
		t = min(t, c.b.ts[c.k])
	}
	m.runN = m.runN[:0]
	for len(m.runMetas) < len(g) {
		m.runMetas = append(m.runMetas, nil)
		m.runHashes = append(m.runHashes, nil)
	}
	for ci, c := range g {
		n := 0
		metas, hashes := m.runMetas[ci][:0], m.runHashes[ci][:0]
		for in(c, key) && c.b.ts[c.k] == t {
			var meta labels.Labels
			if c.b.metas != nil {
				meta = c.b.metas[c.k]
			}
			metas = append(metas, meta)
			if m.hashed {
				hashes = append(hashes, c.b.hashes[c.k])
			}
			n++
			if err := m.advance(c, 1); err != nil {
				return err
			}
		}
		m.runN = append(m.runN, n)
		m.runMetas[ci], m.runHashes[ci] = metas, hashes
	}
	if !m.hashed {
		// The most any replica has.
		best := 0
		for ci, n := range m.runN {
			if n > m.runN[best] {
				best = ci
			}
		}
		for _, meta := range m.runMetas[best] {
			m.emit(ls, meta, t)
		}
		return nil
	}
	// Each line once.
	m.union = m.union[:0]
	for ci := range g {
		for j, h := range m.runHashes[ci] {
			dup := false
			for _, u := range m.union {
				if u.h == h {
					dup = true
					break
				}
			}
			if !dup {
				m.union = append(m.union, hashed{h, m.runMetas[ci][j]})
			}
		}
	}
	for _, u := range m.union {
		m.emit(ls, u.meta, t)
	}
	return nil
}

// emit hands over one entry: with the others without metadata, or alone.
func (m *tsMerge) emit(ls, meta labels.Labels, t int64) {
	if len(meta) == 0 {
		m.out = append(m.out, t)
		return
	}
	m.flush(ls)
	m.one[0] = t
	m.fn(ls, meta, m.one[:])
}

func (m *tsMerge) flush(ls labels.Labels) {
	if len(m.out) > 0 {
		m.fn(ls, nil, m.out)
		m.out = m.out[:0]
	}
}
