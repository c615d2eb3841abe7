package store

import (
	"container/heap"
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/ngram"
)

// Direction orders the entries of a Select.
type Direction int

const (
	Forward  Direction = iota // oldest first
	Backward                  // newest first
)

// SelectParams asks for the entries of one tenant's streams matching every
// matcher, with Start <= ts < End.
type SelectParams struct {
	Tenant     string
	Matchers   []*labels.Matcher
	Start, End int64
	Direction  Direction
	// Needles lets Select skip chunks that cannot hold a matching line:
	// every matching line contains, for each inner set, one of its strings.
	Needles [][]string
	// NeedlesExact says that a line matches the query's line filters if
	// and only if it holds the needles, so that Timestamps may count
	// matches without rebuilding lines.
	NeedlesExact bool
	// Stats, when set, is filled with what the query cost.
	Stats *Stats

	// Unordered lets the iterator return the streams one after another,
	// each in time order (of Direction), instead of merging them by time:
	// metric queries need no order across streams, and skip the merge. The
	// streams come in labels.Compare order, so that the answers of several
	// replicas can be merged a stream at a time (package fanout).
	Unordered bool
	// NoLines asks for timestamps only: entries may come with a nil Line
	// (and no metadata) when a chunk's lines need not be read. Exact
	// duplicates are still dropped where sources of a stream overlap.
	NoLines bool
	// Shards > 1 selects only the streams whose label hash is Shard modulo
	// Shards, so that a query can read in parallel.
	Shard, Shards int
	// Streams, when set, reads only the streams it keeps: a cluster reads
	// each stream from some of the replicas that hold it.
	Streams StreamFilter
	// LineFilter is the LogQL text of the line filters that Timestamps'
	// keep applies (|= "a" != "b"), empty for none: a reader that cannot
	// receive the closure (another node) compiles keep from it. The store
	// itself ignores it.
	LineFilter string
}

// StreamFilter chooses streams for a Select. Keep is called from the
// Select's goroutine, once or more per stream, and must answer the same
// for the same stream.
type StreamFilter interface {
	Keep(tenant string, ls labels.Labels) bool
}

// EntryIterator walks entries across streams in time order, entries of
// equal time in labels.Compare order of their streams. It is not
// goroutine-safe. Close it when done: it holds the blocks it reads, which
// a compaction that replaces them meanwhile deletes only once they are
// released.
type EntryIterator interface {
	Next() bool
	// At returns the current entry and its stream's labels. The entry's line
	// and metadata are valid only until the next call to Next.
	At() (labels.Labels, block.Entry)
	Err() error
	Close() error
}

// source is one ordered run of a stream's entries: a head snapshot or a
// block chunk, not yet decoded.
type source struct {
	minT, maxT int64
	mem        []block.Entry    // head entries in range, sorted
	r          *block.Reader    // or a chunk of a block,
	c          *block.ChunkMeta //
	part       block.Part       // all of it, or its head or tail frame
	// second marks the part of a chunk opened after its other part: the
	// chunk was counted as downloaded then.
	second bool
}

// Select returns an iterator over the entries asked for.
func (s *Store) Select(ctx context.Context, p SelectParams) (EntryIterator, error) {
	if p.Stats == nil {
		p.Stats = &Stats{}
	}
	p.Stats.Selects.Add(1)
	byStream := map[string]*streamIter{}
	lineNeedles := toNeedles(p.Needles) // shared by the streams, read only
	vis := s.visibility(p.Tenant, p.Start, p.End)
	var kb []byte
	get := func(ls labels.Labels) *streamIter {
		kb = appendOrderKey(kb[:0], ls)
		it := byStream[string(kb)]
		if it == nil {
			key := string(kb)
			tombs := vis.tombstones(ls)
			it = &streamIter{ls: ls, key: key, dir: p.Direction, start: vis.from(key, ls), end: p.End, stats: p.Stats, m: s.m,
				needles: lineNeedles, noLines: p.NoLines && !readsLines(tombs), tombs: tombs}
			byStream[key] = it
		}
		return it
	}
	inShard := func(ls labels.Labels) bool {
		return (p.Shards <= 1 || ls.Hash()%uint64(p.Shards) == uint64(p.Shard)) &&
			(p.Streams == nil || p.Streams.Keep(p.Tenant, ls))
	}
	t0 := time.Now()
	heads, parts, blocks := s.sources(p.Tenant, p.Start, p.End)
	indexTime := since(t0)
	if len(heads) > 0 {
		p.Stats.HeadReached.Store(1)
	}
	var headChunks int64
	for _, h := range heads {
		h.forEachStream(p.Tenant, func(ms *memStream) {
			if !ms.ls.Matches(p.Matchers) || !inShard(ms.ls) {
				return
			}
			snap := ms.snapshot()
			if snap.minT >= p.End || snap.maxT < p.Start {
				return
			}
			es := snap.entries(vis.from(ms.ls.String(), ms.ls), p.End)
			if len(es) == 0 {
				return
			}
			it := get(ms.ls)
			it.pending = append(it.pending, source{minT: es[0].T, maxT: es[len(es)-1].T, mem: es})
			headChunks++
		})
	}
	p.Stats.HeadChunks.Add(headChunks)
	t0 = time.Now()
	needles := make([][]ngram.Needle, len(p.Needles))
	for i, set := range p.Needles {
		for _, n := range set {
			needles[i] = append(needles[i], ngram.NewNeedle(n))
		}
	}
	var fbuf []byte
	var refs, tested, filtered, filterTime int64
	for _, b := range parts {
		if err := ctx.Err(); err != nil {
			blocks.release()
			return nil, err
		}
		err := b.Select(p.Matchers, func(sm *block.StreamMeta) error {
			if !inShard(sm.Labels) {
				return nil
			}
			var it *streamIter
			from := vis.from(sm.Labels.String(), sm.Labels)
			for ci := range sm.Chunks {
				c := &sm.Chunks[ci]
				if !c.Overlaps(from, p.End-1) {
					continue
				}
				if it == nil {
					// Made before the filter: a stream whose chunks are
					// all filtered out was still matched.
					it = get(sm.Labels)
				}
				refs++
				if len(needles) > 0 && c.FilterLen > 0 {
					tested++
					f0 := time.Now()
					f, err := b.Filter(c, fbuf)
					if err != nil {
						return err
					}
					fbuf = f
					may := mayContainAll(f, needles)
					filterTime += since(f0)
					if !may {
						filtered++
						s.m.chunksSkipped.WithLabelValues("filter").Inc()
						continue
					}
				}
				if p.Unordered || !c.HasTail() {
					it.pending = append(it.pending, source{minT: c.MinT, maxT: c.MaxT, r: b, c: c})
					continue
				}
				// In time order, the head and the tail frame are opened
				// apart: a backward read that stops within the newest
				// lines never decodes the head.
				head, tail := c.HeadMaxT >= p.Start, c.TailMinT < p.End
				if head {
					it.pending = append(it.pending, source{minT: c.MinT, maxT: c.HeadMaxT, r: b, c: c, part: block.PartHead,
						second: tail && p.Direction == Backward})
				}
				if tail {
					it.pending = append(it.pending, source{minT: c.TailMinT, maxT: c.MaxT, r: b, c: c, part: block.PartTail,
						second: head && p.Direction == Forward})
				}
			}
			return nil
		})
		if err != nil {
			blocks.release()
			return nil, err
		}
	}
	p.Stats.IndexTime.Add(indexTime + since(t0))
	p.Stats.FilterTime.Add(filterTime)
	p.Stats.ChunksRef.Add(refs)
	p.Stats.ChunksTested.Add(tested)
	p.Stats.ChunksFiltered.Add(filtered)
	p.Stats.Streams.Add(int64(len(byStream)))
	for key, it := range byStream {
		if len(it.pending) == 0 {
			delete(byStream, key)
		}
	}
	if p.Unordered {
		c := &concatIter{blocks: blocks}
		for _, it := range byStream {
			it.sortPending()
			c.its = append(c.its, it)
		}
		// In label order, so that replicas' answers merge stream by stream.
		slices.SortFunc(c.its, func(a, b *streamIter) int { return strings.Compare(a.key, b.key) })
		return c, nil
	}
	m := &mergeIter{dir: p.Direction, blocks: blocks}
	for _, it := range byStream {
		it.sortPending()
		m.its = append(m.its, it)
	}
	m.init()
	return m, nil
}

// concatIter returns the streams one after another.
type concatIter struct {
	its    []*streamIter
	cur    *streamIter
	err    error
	blocks *readSet // released by Close
}

func (c *concatIter) Next() bool {
	for c.err == nil {
		if c.cur == nil {
			if len(c.its) == 0 {
				return false
			}
			c.cur, c.its[0], c.its = c.its[0], nil, c.its[1:]
		}
		if c.cur.next() {
			return true
		}
		c.err = c.cur.err
		c.cur.release()
		c.cur = nil
	}
	return false
}

func (c *concatIter) At() (labels.Labels, block.Entry) { return c.cur.ls, c.cur.cur }
func (c *concatIter) Err() error                       { return c.err }

// Close flushes the counts of the streams not exhausted and releases the
// blocks.
func (c *concatIter) Close() error {
	if c.cur != nil {
		c.cur.flush()
	}
	for _, it := range c.its {
		if it != nil {
			it.flush()
		}
	}
	c.its, c.cur = nil, nil
	c.blocks.release()
	return nil
}

func mayContainAll(f ngram.Filter, needles [][]ngram.Needle) bool {
	for _, set := range needles {
		any := false
		for _, n := range set {
			if f.MayContain(n) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return true
}

// toNeedles converts SelectParams.Needles for block.Reader.ReadChunkPart.
func toNeedles(sets [][]string) block.Needles {
	if len(sets) == 0 {
		return nil
	}
	out := make(block.Needles, len(sets))
	for i, set := range sets {
		for _, n := range set {
			out[i] = append(out[i], []byte(n))
		}
	}
	return out
}

// AppendOrderKey appends to dst the key of ls that orders streams in a
// merge: keys compare (bytes.Compare) as labels.Compare compares the label
// sets, and equal keys are equal labels. Other packages merging iterators
// of several stores break ties by it (package fanout).
func AppendOrderKey(dst []byte, ls labels.Labels) []byte { return appendOrderKey(dst, ls) }

// appendOrderKey appends to dst a key of ls that sorts as labels.Compare
// sorts label sets: each name and value in turn, a NUL escaped as 0x00
// 0xff, each ended by 0x00 0x01, which sorts before anything that could
// follow. One comparison of keys breaks a tie between streams in a merge,
// where comparing labels would compare their strings one by one.
func appendOrderKey(dst []byte, ls labels.Labels) []byte {
	str := func(s string) {
		for {
			i := strings.IndexByte(s, 0)
			if i < 0 {
				break
			}
			dst = append(dst, s[:i]...)
			dst = append(dst, 0, 0xff)
			s = s[i+1:]
		}
		dst = append(dst, s...)
		dst = append(dst, 0, 1)
	}
	for _, l := range ls {
		str(l.Name)
		str(l.Value)
	}
	return dst
}

// sources returns the heads and the blocks that may hold data of tenant in
// [start, end). The blocks are acquired (handle.go): the caller reads them
// until it calls release on the set, once, and no longer.
func (s *Store) sources(tenant string, start, end int64) ([]*head, []*block.Reader, *readSet) {
	s.mu.RLock()
	heads := s.allHeadsLocked()
	first, last := dayOf(start), dayOf(end-1)
	var hs []*blockHandle
	for day, p := range s.parts[tenant] {
		if day < first || day > last {
			continue
		}
		for _, b := range p.blocks {
			if b.meta.MinT < end && b.meta.MaxT >= start {
				b.acquire()
				hs = append(hs, b)
			}
		}
	}
	s.mu.RUnlock()
	set := &readSet{hs: hs[:0]}
	bs := make([]*block.Reader, 0, len(hs))
	for _, h := range hs {
		r, err := h.reader()
		if err != nil {
			// A block that cannot be read must not fail every query of
			// its day; it is reported and counted.
			s.log.Error("skipping unreadable block", "path", h.filePath(), "err", err)
			s.m.unreadableBlocks.Inc()
			h.release()
			continue
		}
		bs = append(bs, r)
		set.hs = append(set.hs, h)
	}
	return heads, bs, set
}

// streamIter merges the sources of one stream lazily, in direction order,
// dropping exact duplicates (same timestamp and line) that a replayed WAL or
// a replica may have stored twice.
type streamIter struct {
	ls         labels.Labels
	key        string // appendOrderKey(ls): a merge breaks ties in time by it
	dir        Direction
	start, end int64
	stats      *Stats
	m          *Metrics
	needles    block.Needles // as in SelectParams: chunk lines without them are skipped
	noLines    bool          // as in SelectParams
	tombs      []Tombstone   // deletions covering the stream: their entries are skipped
	started    bool          // next was called: cur is the stream's place in a merge
	hasCur     bool          // that call found an entry
	times      []int64       // timestamps-only decode buffer

	pending []source  // not yet opened, in opening order
	open    []*cursor // heap
	cur     block.Entry
	err     error

	lastT     int64
	lastLines [][]byte // lines already returned at lastT

	// curHead says cur came from the head. The counts are added to stats
	// by flush, not once per entry.
	curHead            bool
	headSent           int64
	headDups, blockDup int64
}

// flush adds the stream's counts to the query's Stats.
func (it *streamIter) flush() {
	it.stats.HeadSent.Add(it.headSent)
	it.stats.HeadDuplicates.Add(it.headDups)
	it.stats.Duplicates.Add(it.blockDup)
	it.headSent, it.headDups, it.blockDup = 0, 0, 0
}

type cursor struct {
	es   []block.Entry
	i    int  // next entry, counting from the direction's start
	head bool // es are head entries
	// times says es are timestamps alone (NoLines) of a chunk no other
	// source overlaps: entries of one time are distinct lines, not copies.
	times bool
}

func (c *cursor) at(dir Direction) *block.Entry {
	if dir == Forward {
		return &c.es[c.i]
	}
	return &c.es[len(c.es)-1-c.i]
}

func (it *streamIter) sortPending() {
	if it.dir == Forward {
		slices.SortFunc(it.pending, func(a, b source) int { return cmpInt(a.minT, b.minT) })
	} else {
		slices.SortFunc(it.pending, func(a, b source) int { return cmpInt(b.maxT, a.maxT) })
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// before reports whether timestamp a comes before b in the direction.
func (it *streamIter) before(a, b int64) bool {
	if it.dir == Forward {
		return a < b
	}
	return a > b
}

func (it *streamIter) Len() int { return len(it.open) }
func (it *streamIter) Less(i, j int) bool {
	return it.before(it.open[i].at(it.dir).T, it.open[j].at(it.dir).T)
}
func (it *streamIter) Swap(i, j int) { it.open[i], it.open[j] = it.open[j], it.open[i] }
func (it *streamIter) Push(x any)    { it.open = append(it.open, x.(*cursor)) }
func (it *streamIter) Pop() any {
	c := it.open[len(it.open)-1]
	it.open = it.open[:len(it.open)-1]
	return c
}

// openNext decodes the next pending source and adds it to the heap.
func (it *streamIter) openNext() error {
	src := it.pending[0]
	it.pending = it.pending[1:]
	if src.mem != nil {
		es := src.mem
		bytes, meta := sizes(es)
		it.stats.HeadBatches.Add(1)
		it.stats.HeadLines.Add(int64(len(es)))
		it.stats.HeadBytes.Add(bytes + meta)
		it.stats.HeadMetaBytes.Add(meta)
		heap.Push(it, &cursor{es: es, head: true})
		return nil
	}
	t0 := time.Now()
	var es []block.Entry
	if it.noLines && !src.c.HasMeta() && it.alone(src) {
		// Timestamps only: no other source of the stream overlaps this
		// chunk, so it holds no duplicate to find by line.
		var err error
		if it.times, err = src.r.ReadTimestamps(src.c, it.times[:0]); err != nil {
			return err
		}
		if k := len(it.times) - int(src.c.TailCount); src.part == block.PartHead && k >= 0 {
			it.times = it.times[:k]
		} else if src.part == block.PartTail && k >= 0 {
			it.times = it.times[k:]
		}
		it.countRead(src, int64(src.c.TsLen))
		it.m.chunksRead.Inc()
		it.stats.Lines.Add(int64(len(it.times)))
		lo, _ := slices.BinarySearch(it.times, it.start)
		hi, _ := slices.BinarySearch(it.times, it.end)
		es = make([]block.Entry, hi-lo)
		for i, t := range it.times[lo:hi] {
			es[i].T = t
		}
		it.stats.ReadTime.Add(since(t0))
		if len(es) > 0 {
			heap.Push(it, &cursor{es: es, times: true})
		}
		return nil
	}
	d := chunkDataPool.Get().(*block.ChunkData)
	ok, err := src.r.ReadChunkPart(src.c, d, src.part, it.needles)
	if err != nil {
		return err
	}
	it.countRead(src, int64(src.c.TsLen)+partLen(src))
	bytes, meta := sizes(d.Entries)
	lines := int64(len(d.Entries))
	if it.needles != nil {
		// Every line of the part was searched, but only those that hold
		// the needles were rebuilt.
		lines, bytes = partFigures(src)
	}
	it.stats.Lines.Add(lines)
	it.stats.Bytes.Add(bytes + meta)
	it.stats.MetaBytes.Add(meta)
	if !ok || len(d.Entries) == 0 {
		// Nothing refers to d's buffers: the next chunk may use them.
		chunkDataPool.Put(d)
	}
	if !ok {
		// The text lacks a needle: no line of the chunk can match.
		it.stats.ReadTime.Add(since(t0))
		it.stats.ChunksNoMatch.Add(1)
		it.m.chunksSkipped.WithLabelValues("text").Inc()
		return nil
	}
	it.m.chunksRead.Inc()
	es = d.Entries
	lo, _ := slices.BinarySearchFunc(es, it.start, func(e block.Entry, t int64) int { return cmpInt(e.T, t) })
	hi, _ := slices.BinarySearchFunc(es, it.end, func(e block.Entry, t int64) int { return cmpInt(e.T, t) })
	es = es[lo:hi]
	it.stats.ReadTime.Add(since(t0))
	if len(es) > 0 {
		heap.Push(it, &cursor{es: es})
	}
	return nil
}

// countRead counts the read of a chunk part of compressed bytes n in the
// query's Stats.
func (it *streamIter) countRead(src source, n int64) {
	if !src.second {
		it.stats.ChunksDownloaded.Add(1)
	}
	it.stats.CompressedBytes.Add(n)
}

// partFigures returns the entries of the chunk part a source reads and
// their line bytes. A chunk records its raw bytes as a whole: a part's are
// shared out in proportion to its entries.
func partFigures(src source) (lines, bytes int64) {
	c := src.c
	switch {
	case !c.HasTail() || src.part == block.PartAll:
		return int64(c.Count), int64(c.RawBytes)
	case src.part == block.PartTail:
		lines = int64(c.TailCount)
	default:
		lines = int64(c.Count - c.TailCount)
	}
	if c.Count == 0 {
		return 0, 0
	}
	return lines, int64(c.RawBytes) * lines / int64(c.Count)
}

// partLen is the compressed length of the lines frames a source reads.
func partLen(src source) int64 {
	switch {
	case !src.c.HasTail() || src.part == block.PartAll:
		return int64(src.c.LinesLen)
	case src.part == block.PartTail:
		return int64(src.c.TailLen)
	}
	return int64(src.c.LinesLen - src.c.TailLen)
}

// chunkDataPool keeps the buffers of chunks that yielded no entry (a
// needle search mostly reads such chunks), so that reading the next one
// allocates nothing. Buffers that entries alias are never put back.
var chunkDataPool = sync.Pool{New: func() any { return new(block.ChunkData) }}

// release drops the references to decoded chunks of an exhausted stream.
func (it *streamIter) release() {
	it.flush()
	it.open, it.pending, it.lastLines, it.times = nil, nil, nil, nil
	it.cur = block.Entry{}
}

// alone reports whether src overlaps no other source of the stream, open
// or pending.
func (it *streamIter) alone(src source) bool {
	for _, p := range it.pending {
		if p.minT <= src.maxT && p.maxT >= src.minT {
			return false
		}
	}
	for _, c := range it.open {
		first, last := c.es[0].T, c.es[len(c.es)-1].T
		if first <= src.maxT && last >= src.minT {
			return false
		}
	}
	return true
}

// next advances to the stream's next distinct entry.
func (it *streamIter) next() bool {
	for {
		for len(it.pending) > 0 {
			p := it.pending[0]
			key := p.minT
			if it.dir == Backward {
				key = p.maxT
			}
			if len(it.open) > 0 && it.before(it.open[0].at(it.dir).T, key) {
				break
			}
			if err := it.openNext(); err != nil {
				it.err = err
				return false
			}
		}
		if len(it.open) == 0 {
			return false
		}
		c := it.open[0]
		e := *c.at(it.dir)
		c.i++
		if c.i == len(c.es) {
			heap.Pop(it)
		} else {
			heap.Fix(it, 0)
		}
		if c.times {
			// No line to compare, and no other source to copy it.
			it.lastT, it.lastLines = e.T, it.lastLines[:0]
		} else if e.T == it.lastT && len(it.lastLines) > 0 {
			dup := false
			for _, l := range it.lastLines {
				if string(l) == string(e.Line) {
					dup = true
					break
				}
			}
			if dup {
				if c.head {
					it.headDups++
				} else {
					it.blockDup++
				}
				continue
			}
		} else {
			it.lastT = e.T
			it.lastLines = it.lastLines[:0]
		}
		it.lastLines = append(it.lastLines, e.Line)
		if it.hidden(e) {
			continue
		}
		it.cur, it.curHead = e, c.head
		if c.head {
			it.headSent++
		}
		return true
	}
}

// mergeIter merges streams by time; ties are broken by labels so that the
// order is deterministic.
type mergeIter struct {
	dir    Direction
	its    []*streamIter
	h      []*streamIter
	cur    *streamIter
	err    error
	batch  []*streamIter // streams being opened together
	blocks *readSet      // released by Close
}

// The heap holds streams not yet opened next to streams with a current
// entry. An unopened stream stands at the bound of its first source (its
// newest time going backward, its oldest going forward): no entry of it
// can come earlier. It is opened only when it reaches the top, so a query
// for the newest lines of many streams decodes the chunks of the streams
// that hold them, not the newest chunk of every stream.

func (m *mergeIter) init() {
	m.batch = make([]*streamIter, 0, 2*runtime.GOMAXPROCS(0))
	for _, it := range m.its {
		if len(it.pending) > 0 {
			m.h = append(m.h, it)
		}
	}
	heap.Init(m)
}

// key is where the stream stands in the merge.
func (m *mergeIter) key(it *streamIter) int64 {
	if it.started {
		return it.cur.T
	}
	if m.dir == Forward {
		return it.pending[0].minT
	}
	return it.pending[0].maxT
}

func (m *mergeIter) Len() int { return len(m.h) }
func (m *mergeIter) Less(i, j int) bool {
	a, b := m.h[i], m.h[j]
	ka, kb := m.key(a), m.key(b)
	if ka != kb {
		if m.dir == Forward {
			return ka < kb
		}
		return ka > kb
	}
	// An unopened stream first: it may hold an entry at this very time.
	if a.started != b.started {
		return !a.started
	}
	return a.key < b.key // as labels.Compare(a.ls, b.ls) < 0
}
func (m *mergeIter) Swap(i, j int) { m.h[i], m.h[j] = m.h[j], m.h[i] }
func (m *mergeIter) Push(x any)    { m.h = append(m.h, x.(*streamIter)) }
func (m *mergeIter) Pop() any {
	it := m.h[len(m.h)-1]
	m.h = m.h[:len(m.h)-1]
	return it
}

func (m *mergeIter) Next() bool {
	if m.err != nil {
		return false
	}
	if m.cur != nil {
		// Advance the stream returned last time.
		if m.cur.next() {
			heap.Push(m, m.cur)
		} else if m.cur.err != nil {
			m.err = m.cur.err
			return false
		} else {
			m.cur.release()
		}
		m.cur = nil
	}
	for len(m.h) > 0 {
		if m.h[0].started {
			m.cur = heap.Pop(m).(*streamIter)
			return true
		}
		// Open the unopened streams at the top, a few at once on all
		// CPUs: their first entries take their places.
		batch := m.batch[:0]
		for len(m.h) > 0 && !m.h[0].started && len(batch) < cap(m.batch) {
			batch = append(batch, heap.Pop(m).(*streamIter))
		}
		m.batch = batch
		openAll(batch)
		for _, it := range batch {
			switch {
			case it.err != nil:
				m.err = it.err
				return false
			case it.hasCur:
				heap.Push(m, it)
			default:
				it.release()
			}
		}
	}
	return false
}

// openAll starts the streams, in parallel when there are several.
func openAll(its []*streamIter) {
	start := func(it *streamIter) {
		it.started = true
		it.hasCur = it.next()
	}
	if len(its) == 1 {
		start(its[0])
		return
	}
	var wg sync.WaitGroup
	for _, it := range its {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start(it)
		}()
	}
	wg.Wait()
}

func (m *mergeIter) At() (labels.Labels, block.Entry) { return m.cur.ls, m.cur.cur }
func (m *mergeIter) Err() error                       { return m.err }

// Close flushes the counts of every stream and releases the blocks.
func (m *mergeIter) Close() error {
	for _, it := range m.its {
		it.flush()
	}
	m.h, m.its, m.cur = nil, nil, nil
	m.blocks.release()
	return nil
}
