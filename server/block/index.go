package block

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/loam-logs/loam/server/labels"
)

// The index of a version 4 block (FORMAT.md, "Index") is cut into pages:
// the stream table into runs of streams, the postings of each label name
// into runs of values, each page a zstd frame of its own. A directory,
// which the footer points at, says where each page lies and what it starts
// with. A Reader keeps the directory; pages are read when a query needs
// them and kept, decompressed, in the process's index cache
// (IndexCacheBytes). Memory thus follows what queries touch, not the
// streams a block holds.

// pageTarget is the uncompressed size after which a page is cut: a few
// dozen streams of the stream table, small enough that finding one stream
// decompresses little, big enough for zstd to share the labels' text.
const pageTarget = 8 << 10

// pageRef locates one page of the index.
type pageRef struct {
	off   uint64 // in the file (or, for an index rebuilt from an older version, in memory)
	n     uint32 // compressed length
	crc   uint32 // CRC-32C of the compressed bytes
	first uint32 // number of the page's first item: a stream, or a value of the name
}

// nameIndex is the directory of one label name's postings.
type nameIndex struct {
	name   string
	values int
	pages  []pageRef
	firsts []string // the first value of each page
}

// directory is what a Reader keeps of the index.
type directory struct {
	streams int
	spages  []pageRef   // of the stream table
	names   []nameIndex // sorted by name
}

// name returns the postings directory of a label name, or nil.
func (d *directory) name(n string) (int, *nameIndex) {
	i, ok := slices.BinarySearchFunc(d.names, n, func(x nameIndex, n string) int { return strings.Compare(x.name, n) })
	if !ok {
		return -1, nil
	}
	return i, &d.names[i]
}

// size is about what the directory holds in memory.
func (d *directory) size() int64 {
	n := int64(len(d.spages)) * int64(unsafe.Sizeof(pageRef{}))
	for _, ni := range d.names {
		n += int64(len(ni.name)) + int64(len(ni.pages))*(int64(unsafe.Sizeof(pageRef{}))+16)
		for _, f := range ni.firsts {
			n += int64(len(f))
		}
	}
	return n
}

func appendPageRef(dst []byte, p pageRef, prevFirst uint32, prevEnd uint64) []byte {
	dst = appendUvarint(dst, uint64(p.first-prevFirst))
	dst = appendUvarint(dst, p.off-prevEnd)
	dst = appendUvarint(dst, uint64(p.n))
	return binary.LittleEndian.AppendUint32(dst, p.crc)
}

// appendDirectory encodes d; page offsets are coded from the end of the
// page listed before, so that they take a byte or two.
func appendDirectory(dst []byte, d *directory) []byte {
	var end uint64
	dst = appendUvarint(dst, uint64(d.streams))
	dst = appendUvarint(dst, uint64(len(d.spages)))
	prev := uint32(0)
	for _, p := range d.spages {
		dst = appendPageRef(dst, p, prev, end)
		prev, end = p.first, p.off+uint64(p.n)
	}
	dst = appendUvarint(dst, uint64(len(d.names)))
	for _, ni := range d.names {
		dst = appendString(dst, ni.name)
		dst = appendUvarint(dst, uint64(ni.values))
		dst = appendUvarint(dst, uint64(len(ni.pages)))
		prev = 0
		for j, p := range ni.pages {
			dst = appendString(dst, ni.firsts[j])
			dst = appendPageRef(dst, p, prev, end)
			prev, end = p.first, p.off+uint64(p.n)
		}
	}
	return dst
}

// decodeDirectory decodes a directory whose pages must lie in [0, limit).
// Everything a page lookup relies on is checked here: items numbered from
// zero in strictly ascending order, names and first values sorted, pages
// in bounds.
func decodeDirectory(src []byte, limit uint64) (directory, error) {
	bad := func(what string) (directory, error) {
		return directory{}, fmt.Errorf("%w: index directory: %s", ErrCorrupt, what)
	}
	var d directory
	var end uint64
	// readRefs reads the refs of pages of items items.
	readRefs := func(pages []pageRef, items uint64, firsts []string) bool {
		for i := range pages {
			if firsts != nil {
				f, rest, ok := readBytes(src)
				if !ok || i > 0 && firsts[i-1] >= string(f) {
					return false
				}
				firsts[i], src = string(f), rest
			}
			var v [3]uint64
			var ok bool
			for k := range v {
				if v[k], src, ok = readUvarint(src); !ok {
					return false
				}
			}
			if len(src) < 4 || v[0] >= items || v[1] > limit || v[2] > limit {
				return false
			}
			p := pageRef{off: end + v[1], n: uint32(v[2]), crc: binary.LittleEndian.Uint32(src)}
			src = src[4:]
			if i > 0 {
				p.first = pages[i-1].first + uint32(v[0])
				if v[0] == 0 || uint64(p.first) >= items {
					return false
				}
			} else if v[0] != 0 {
				return false
			}
			if p.off+uint64(p.n) > limit {
				return false
			}
			end = p.off + uint64(p.n)
			pages[i] = p
		}
		return true
	}
	streams, src, ok := readUvarint(src)
	if !ok || streams > 1<<31 {
		return bad("stream count")
	}
	d.streams = int(streams)
	np, src, ok := readUvarint(src)
	if !ok || np > uint64(len(src)) || np > streams || (np == 0) != (streams == 0) {
		return bad("stream pages")
	}
	d.spages = make([]pageRef, np)
	if !readRefs(d.spages, streams, nil) {
		return bad("stream page")
	}
	nn, src, ok := readUvarint(src)
	if !ok || nn > uint64(len(src)) {
		return bad("names")
	}
	d.names = make([]nameIndex, nn)
	for i := range d.names {
		ni := &d.names[i]
		var name []byte
		var values, pages uint64
		if name, src, ok = readBytes(src); !ok {
			return bad("name")
		}
		ni.name = string(name)
		if i > 0 && d.names[i-1].name >= ni.name {
			return bad("names out of order")
		}
		if values, src, ok = readUvarint(src); !ok || values > 1<<31 {
			return bad("value count")
		}
		if pages, src, ok = readUvarint(src); !ok || pages > uint64(len(src)) || pages > values || (pages == 0) != (values == 0) {
			return bad("value pages")
		}
		ni.values = int(values)
		ni.pages = make([]pageRef, pages)
		ni.firsts = make([]string, pages)
		if !readRefs(ni.pages, values, ni.firsts) {
			return bad("value page")
		}
	}
	if len(src) != 0 {
		return bad("trailing bytes")
	}
	return d, nil
}

// items returns the number of items of page i of pages, out of total.
func items(pages []pageRef, i, total int) int {
	if i+1 < len(pages) {
		return int(pages[i+1].first - pages[i].first)
	}
	return total - int(pages[i].first)
}

// indexPage is a decompressed page. A page of postings keeps its raw bytes
// and offs[i], where value i starts; a page of the stream table is decoded
// whole: each stream's labels (sharing raw's memory) and chunks. Pages are
// shared by the queries that read them: nothing in them is modified.
type indexPage struct {
	raw  string
	offs []uint32        // of a postings page
	ls   []labels.Labels // of a stream table page
	cs   [][]ChunkMeta   // of a stream table page
}

// item returns value i of a postings page and what follows it.
func (p *indexPage) item(i int) string {
	end := len(p.raw)
	if i+1 < len(p.offs) {
		end = int(p.offs[i+1])
	}
	return p.raw[p.offs[i]:end]
}

func (p *indexPage) size() int64 {
	n := int64(len(p.raw)) + 4*int64(cap(p.offs)) + 64
	if len(p.ls) > 0 {
		ls, cs := p.ls[len(p.ls)-1], p.cs[len(p.cs)-1]
		n += 48*int64(len(p.ls)) + 32*int64(cap(ls[:cap(ls)])) + int64(unsafe.Sizeof(ChunkMeta{}))*int64(cap(cs[:cap(cs)]))
	}
	return n
}

// Sections of the index cache: the stream table, or the postings of the
// name numbered section-sectionNames.
const (
	sectionStreams = 0
	sectionNames   = 1
)

// page returns page i of a section, from the index cache or read and
// decompressed; cache false leaves a page read out of the cache (whole
// scans would push out what queries reuse).
func (r *Reader) page(section int, pages []pageRef, i, total int, cache bool) (*indexPage, error) {
	key := cacheKey{reader: r.id, section: uint32(section), page: uint32(i)}
	if pg := indexCache.get(key); pg != nil {
		return pg, nil
	}
	ref := pages[i]
	buf := make([]byte, ref.n)
	if _, err := r.pages.ReadAt(buf, int64(ref.off)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read index of %s: %w", r.path, err)
	}
	bad := func(what string, args ...any) error {
		return fmt.Errorf("%w: %s: index page %d.%d: %s", ErrCorrupt, r.path, section, i, fmt.Sprintf(what, args...))
	}
	if crc32.Checksum(buf, castagnoli) != ref.crc {
		return nil, bad("checksum mismatch")
	}
	raw, err := zstdDecoder().DecodeAll(buf, nil)
	if err != nil {
		return nil, bad("%v", err)
	}
	pg, err := r.parsePage(raw, section, items(pages, i, total))
	if err != nil {
		return nil, bad("%v", err)
	}
	if cache {
		pg = indexCache.put(key, pg)
	}
	return pg, nil
}

// parsePage reads the n items of a decompressed page of a section, which it
// keeps (raw is not written again: strings share it), and checks them:
// postings must name streams of the block, chunks pass checkChunk. The
// chunks of a stream table page get their offsets made absolute.
func (r *Reader) parsePage(raw []byte, section, n int) (*indexPage, error) {
	if n > len(raw) {
		return nil, fmt.Errorf("%d items in %d bytes", n, len(raw))
	}
	pg := &indexPage{raw: unsafe.String(unsafe.SliceData(raw), len(raw))}
	d := dec{s: pg.raw}
	if section != sectionStreams {
		pg.offs = make([]uint32, n)
		for k := range pg.offs {
			pg.offs[k] = uint32(d.i)
			if d.skipPosting(r.dir.streams); d.bad {
				return nil, fmt.Errorf("item %d", k)
			}
		}
	} else {
		// Decoded into reused scratch, then copied into slices of the
		// right size: a page is decoded again each time a scan needs it
		// out of the cache.
		sc := parseScratch.Get().(*pageScratch)
		defer parseScratch.Put(sc)
		ls, cs, ends := sc.ls[:0], sc.cs[:0], sc.ends[:0]
		prev := 0 // where the labels of the stream before start
		for k := range n {
			start := len(ls)
			ls = d.labels(ls, d.count(2))
			// Streams of a page share most label values: those equal to
			// the stream before's share its strings, which compare at
			// once when a merge breaks ties by labels.
			for j := start; j < len(ls) && prev+j-start < start; j++ {
				if p := &ls[prev+j-start]; p.Name == ls[j].Name {
					ls[j].Name = p.Name
					if p.Value == ls[j].Value {
						ls[j].Value = p.Value
					}
				}
			}
			prev = start
			for range d.count(minChunkEntry) {
				var c ChunkMeta
				if d.chunk(&c); d.bad {
					break
				}
				if err := r.checkChunk(&c); err != nil {
					return nil, fmt.Errorf("item %d: %w", k, err)
				}
				c.TsOff += r.tsBase
				c.FilterOff += r.filterBase
				cs = append(cs, c)
			}
			if d.bad {
				return nil, fmt.Errorf("item %d", k)
			}
			ends = append(ends, [2]int{len(ls), len(cs)})
		}
		pg.ls, pg.cs = make([]labels.Labels, n), make([][]ChunkMeta, n)
		allLs, allCs := slices.Clone(ls), slices.Clone(cs)
		var start [2]int
		for k, end := range ends {
			pg.ls[k] = allLs[start[0]:end[0]:end[0]]
			pg.cs[k] = allCs[start[1]:end[1]:end[1]]
			start = end
		}
		clear(ls) // the scratch must not keep the page's strings alive
		sc.ls, sc.cs, sc.ends = ls[:0], cs[:0], ends[:0]
	}
	if d.i != len(pg.raw) {
		return nil, errors.New("trailing bytes")
	}
	return pg, nil
}

// pageScratch is what parsePage decodes a stream table page into before
// copying it out.
type pageScratch struct {
	ls   labels.Labels
	cs   []ChunkMeta
	ends [][2]int
}

var parseScratch = sync.Pool{New: func() any { return new(pageScratch) }}

// dec reads varints and strings from a page; strings it returns are
// substrings of the page. A read past the end sets bad and returns zeros.
type dec struct {
	s   string
	i   int
	bad bool
}

func (d *dec) uvarint() uint64 {
	var x uint64
	var shift uint
	for k := 0; k < binary.MaxVarintLen64; k++ {
		if d.i >= len(d.s) {
			break
		}
		b := d.s[d.i]
		d.i++
		if b < 0x80 {
			if k == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	d.bad = true
	return 0
}

func (d *dec) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *dec) str() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.s)-d.i) {
		d.bad = true
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

func (d *dec) byte() byte {
	if d.i >= len(d.s) {
		d.bad = true
		return 0
	}
	b := d.s[d.i]
	d.i++
	return b
}

// count reads a count of items of at least min bytes each.
func (d *dec) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i)/uint64(min) {
		d.bad = true
		return 0
	}
	return int(n)
}

// minChunkEntry is the fewest bytes a chunk of the stream table takes: ten
// varints and the flags.
const minChunkEntry = 11

// labels appends the n labels of a stream entry to dst.
func (d *dec) labels(dst labels.Labels, n int) labels.Labels {
	for range n {
		name := d.str()
		dst = append(dst, labels.Label{Name: name, Value: d.str()})
	}
	return dst
}

// chunk reads one chunk of the stream table, its offsets as written.
func (d *dec) chunk(c *ChunkMeta) {
	c.MinT = d.varint()
	span := d.uvarint()
	c.MaxT = c.MinT + int64(span)
	c.Count, c.RawBytes = uint32(d.uvarint()), uint32(d.uvarint())
	c.LinesOff, c.LinesLen = d.uvarint(), uint32(d.uvarint())
	c.TsOff, c.TsLen = d.uvarint(), uint32(d.uvarint())
	c.FilterOff, c.FilterLen = d.uvarint(), uint32(d.uvarint())
	c.Flags = d.byte()
	c.TailCount, c.TailLen, c.TailMinT, c.HeadMaxT = 0, 0, 0, 0
	if c.Flags&chunkTail != 0 {
		c.TailCount, c.TailLen = uint32(d.uvarint()), uint32(d.uvarint())
		c.TailMinT = c.MinT + int64(d.uvarint())
		c.HeadMaxT = c.TailMinT - int64(d.uvarint())
	}
}

func (d *dec) skipPosting(streams int) {
	d.str()
	n := d.count(1)
	var ref uint64
	for k := 0; k < n && !d.bad; k++ {
		ref += d.uvarint()
		if ref >= uint64(streams) {
			d.bad = true
		}
	}
}

// checkChunk verifies what a reader relies on in a chunk of the stream
// table, as written (timestamp and filter offsets relative to the bases).
func (r *Reader) checkChunk(c *ChunkMeta) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s: index: %s", ErrCorrupt, r.path, what) }
	if c.MaxT < c.MinT {
		return bad("chunk ends before it starts")
	}
	if c.Flags&chunkCols != 0 && (r.version < 3 || c.Flags&chunkTmpl == 0 || c.Flags&(chunkS2|chunkRaw) != 0) {
		return bad("column frames in a version 1 or 2 block, or not templated zstd")
	}
	if c.Flags&chunkTail != 0 {
		if r.version < 2 {
			return bad("tail frame in a version 1 block")
		}
		if c.TailCount == 0 || c.TailCount >= c.Count || c.TailLen == 0 || c.TailLen >= c.LinesLen ||
			c.TailMinT < c.MinT || c.TailMinT > c.MaxT || c.HeadMaxT < c.MinT || c.HeadMaxT > c.TailMinT {
			return bad("chunk tail out of range")
		}
	}
	// Offsets and bases are at most the size, far below 2⁶³: no sum
	// overflows.
	size := uint64(r.size)
	inFile := func(off, base uint64, n uint32) bool {
		return off <= size && base <= size && off+base+uint64(n) <= size
	}
	if !inFile(c.LinesOff, 0, c.LinesLen) || !inFile(c.TsOff, r.tsBase, c.TsLen) || !inFile(c.FilterOff, r.filterBase, c.FilterLen) {
		return bad("chunk out of bounds")
	}
	return nil
}

// NumStreams returns the number of streams of the block.
func (r *Reader) NumStreams() int { return r.dir.streams }

// LabelNames returns the sorted label names of the block.
func (r *Reader) LabelNames() []string {
	out := make([]string, len(r.dir.names))
	for i := range r.dir.names {
		out[i] = r.dir.names[i].name
	}
	return out
}

// streamCursor finds stream entries, keeping the page of the last one: a
// walk in stream order reads each page once.
type streamCursor struct {
	r     *Reader
	cache bool
	pi    int        // the page held,
	pg    *indexPage // if not nil
}

// stream returns the labels and chunks of stream i.
func (c *streamCursor) stream(i int) (labels.Labels, []ChunkMeta, error) {
	r := c.r
	if c.pg == nil || i < int(r.dir.spages[c.pi].first) || i >= int(r.dir.spages[c.pi].first)+len(c.pg.ls) {
		pi := sort.Search(len(r.dir.spages), func(k int) bool { return int(r.dir.spages[k].first) > i }) - 1
		pg, err := r.page(sectionStreams, r.dir.spages, pi, r.dir.streams, c.cache)
		if err != nil {
			return nil, nil, err
		}
		c.pi, c.pg = pi, pg
	}
	k := i - int(r.dir.spages[c.pi].first)
	return c.pg.ls[k], c.pg.cs[k], nil
}

// Select calls fn, in stream order, with each stream whose labels satisfy
// every matcher. fn may keep the stream's labels and chunks (shared: not
// to be modified), not the pointer.
// Matchers that cannot match an empty value narrow the candidates through
// the postings; the others are checked against each candidate's labels.
// Select stops at the first error, of its own or of fn.
func (r *Reader) Select(ms []*labels.Matcher, fn func(*StreamMeta) error) error {
	var cand []uint32
	narrowed := false
	for _, m := range ms {
		if m.MatchesEmpty() {
			continue
		}
		refs, err := r.postings(m)
		if err != nil {
			return err
		}
		if !narrowed {
			cand, narrowed = refs, true
		} else {
			cand = intersectRefs(cand, refs)
		}
		if len(cand) == 0 {
			return nil
		}
	}
	// A walk over every stream reads the table once: its pages stay out
	// of the cache unless already there. Candidates found through the
	// postings of every matcher satisfy them all already.
	exact := narrowed && !slices.ContainsFunc(ms, (*labels.Matcher).MatchesEmpty)
	cur := streamCursor{r: r, cache: narrowed}
	var sm StreamMeta
	visit := func(i int) error {
		ls, cs, err := cur.stream(i)
		if err != nil {
			return err
		}
		if !exact && !ls.Matches(ms) {
			return nil
		}
		sm.Labels, sm.Chunks = ls, cs
		return fn(&sm)
	}
	if narrowed {
		for _, i := range cand {
			if err := visit(int(i)); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range r.dir.streams {
		if err := visit(i); err != nil {
			return err
		}
	}
	return nil
}

// postings returns the streams holding a value of m's label that m
// accepts, ascending.
func (r *Reader) postings(m *labels.Matcher) ([]uint32, error) {
	ni, name := r.dir.name(m.Name)
	if name == nil || name.values == 0 {
		return nil, nil
	}
	section := sectionNames + ni
	var out []uint32
	if lits, ok := m.Literals(); ok {
		for _, v := range lits {
			// The last page starting at or before v.
			pi := sort.Search(len(name.firsts), func(k int) bool { return name.firsts[k] > v }) - 1
			if pi < 0 {
				continue
			}
			pg, err := r.page(section, name.pages, pi, name.values, true)
			if err != nil {
				return nil, err
			}
			k := sort.Search(len(pg.offs), func(k int) bool {
				d := dec{s: pg.item(k)}
				return d.str() >= v
			})
			if k == len(pg.offs) {
				continue
			}
			d := dec{s: pg.item(k)}
			if d.str() == v {
				out = d.refs(out)
			}
		}
		if len(lits) > 1 {
			slices.Sort(out) // a stream has one value of a name: no duplicates
		}
		return out, nil
	}
	// Every value must be tested: the pages are read in turn. Postings
	// are a small part of the index; they are cached like any page.
	for pi := range name.pages {
		pg, err := r.page(section, name.pages, pi, name.values, true)
		if err != nil {
			return nil, err
		}
		for k := range pg.offs {
			d := dec{s: pg.item(k)}
			if m.Matches(d.str()) {
				out = d.refs(out)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// refs appends the stream numbers of a posting (after its value), checked
// when the page was parsed.
func (d *dec) refs(dst []uint32) []uint32 {
	n := d.count(1)
	var ref uint32
	for range n {
		ref += uint32(d.uvarint())
		dst = append(dst, ref)
	}
	return dst
}

func intersectRefs(a, b []uint32) []uint32 {
	var out []uint32
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// StreamIter walks the streams of a block in order, reading the stream
// table a page at a time outside the index cache: a whole-block scan
// (compaction, a series query without matchers) would push out the pages
// queries reuse. It is not safe for concurrent use.
type StreamIter struct {
	cur streamCursor
	i   int
	sm  StreamMeta
	err error
}

// Iter returns an iterator over the block's streams.
func (r *Reader) Iter() *StreamIter {
	return &StreamIter{cur: streamCursor{r: r}, i: -1}
}

// Next advances to the next stream.
func (it *StreamIter) Next() bool {
	if it.err != nil || it.i+1 >= it.cur.r.dir.streams {
		return false
	}
	it.i++
	ls, cs, err := it.cur.stream(it.i)
	if err != nil {
		it.err = err
		return false
	}
	it.sm = StreamMeta{Labels: ls, Chunks: cs}
	return true
}

// At returns the current stream; the caller may keep its labels and chunks
// (shared: not to be modified).
func (it *StreamIter) At() *StreamMeta { return &it.sm }

// Err returns the error that ended the walk, if any.
func (it *StreamIter) Err() error { return it.err }

// indexWriter builds the pages and the directory of an index, from streams
// added in label order.
type indexWriter struct {
	region []byte // compressed pages, back to back
	page   []byte // the page being filled
	items  uint32 // in page
	dir    directory
	last   labels.Labels
	post   map[string]map[string][]uint32 // name → value → streams
}

func newIndexWriter() *indexWriter {
	return &indexWriter{post: map[string]map[string][]uint32{}}
}

// add appends a stream to the table; ls must not sort before the stream
// added last. Chunk offsets are written as they are.
func (iw *indexWriter) add(ls labels.Labels, cs []ChunkMeta) error {
	return iw.addEntry(ls, func(page []byte) []byte { return appendStreamEntry(page, ls, cs) })
}

// addEntry appends a stream whose entry enc appends to the page.
func (iw *indexWriter) addEntry(ls labels.Labels, enc func([]byte) []byte) error {
	if iw.dir.streams > 0 && labels.Compare(iw.last, ls) > 0 {
		return fmt.Errorf("stream %s added after %s: streams must be added in label order", ls, iw.last)
	}
	n := uint32(iw.dir.streams)
	iw.page = enc(iw.page)
	iw.items++
	for _, l := range ls {
		vs := iw.post[l.Name]
		if vs == nil {
			vs = map[string][]uint32{}
			iw.post[strings.Clone(l.Name)] = vs
		}
		refs, ok := vs[l.Value]
		if !ok {
			// Keys are copies: a stream's labels may share a page of a
			// source block, which the writer must not keep alive.
			vs[strings.Clone(l.Value)] = []uint32{n}
			continue
		}
		vs[l.Value] = append(refs, n)
	}
	iw.last = ls
	iw.dir.streams++
	if len(iw.page) >= pageTarget {
		iw.dir.spages = append(iw.dir.spages, iw.cut(n+1-iw.items))
	}
	return nil
}

// cut compresses the page being filled into the region, at the fastest
// level: 4% bigger pages than the default level, written a quarter faster,
// by the encoder that merges of a live day use already (each level's
// encoder keeps megabytes).
func (iw *indexWriter) cut(first uint32) pageRef {
	off := len(iw.region)
	iw.region = encoder(LevelFastest).EncodeAll(iw.page, iw.region)
	p := pageRef{off: uint64(off), n: uint32(len(iw.region) - off), first: first}
	p.crc = crc32.Checksum(iw.region[off:], castagnoli)
	iw.page, iw.items = iw.page[:0], 0
	return p
}

// finish writes the postings pages and returns the pages, to be written at
// offset base, and the directory.
func (iw *indexWriter) finish(base uint64) (region, dir []byte) {
	if iw.items > 0 {
		iw.dir.spages = append(iw.dir.spages, iw.cut(uint32(iw.dir.streams)-iw.items))
	}
	names := make([]string, 0, len(iw.post))
	for n := range iw.post {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		vs := iw.post[name]
		values := make([]string, 0, len(vs))
		for v := range vs {
			values = append(values, v)
		}
		slices.Sort(values)
		ni := nameIndex{name: name, values: len(values)}
		first := 0
		for i, v := range values {
			if len(iw.page) == 0 {
				first = i
				ni.firsts = append(ni.firsts, v)
			}
			iw.page = appendString(iw.page, v)
			refs := vs[v]
			iw.page = appendUvarint(iw.page, uint64(len(refs)))
			prev := uint32(0)
			for _, r := range refs {
				iw.page = appendUvarint(iw.page, uint64(r-prev))
				prev = r
			}
			if len(iw.page) >= pageTarget || i == len(values)-1 {
				ni.pages = append(ni.pages, iw.cut(uint32(first)))
			}
		}
		delete(iw.post, name) // its memory can go as the pages are made
		iw.dir.names = append(iw.dir.names, ni)
	}
	for i := range iw.dir.spages {
		iw.dir.spages[i].off += base
	}
	for i := range iw.dir.names {
		for j := range iw.dir.names[i].pages {
			iw.dir.names[i].pages[j].off += base
		}
	}
	return iw.region, appendDirectory(nil, &iw.dir)
}

// appendStreamEntry encodes a stream of the table: its labels, then its
// chunks.
func appendStreamEntry(dst []byte, ls labels.Labels, cs []ChunkMeta) []byte {
	dst = appendUvarint(dst, uint64(len(ls)))
	for _, l := range ls {
		dst = appendString(dst, l.Name)
		dst = appendString(dst, l.Value)
	}
	dst = appendUvarint(dst, uint64(len(cs)))
	for _, c := range cs {
		dst = appendVarint(dst, c.MinT)
		dst = appendUvarint(dst, uint64(c.MaxT-c.MinT))
		dst = appendUvarint(dst, uint64(c.Count))
		dst = appendUvarint(dst, uint64(c.RawBytes))
		dst = appendUvarint(dst, c.LinesOff)
		dst = appendUvarint(dst, uint64(c.LinesLen))
		dst = appendUvarint(dst, c.TsOff)
		dst = appendUvarint(dst, uint64(c.TsLen))
		dst = appendUvarint(dst, c.FilterOff)
		dst = appendUvarint(dst, uint64(c.FilterLen))
		dst = append(dst, c.Flags)
		if c.Flags&chunkTail != 0 {
			dst = appendUvarint(dst, uint64(c.TailCount))
			dst = appendUvarint(dst, uint64(c.TailLen))
			dst = appendUvarint(dst, uint64(c.TailMinT-c.MinT))
			dst = appendUvarint(dst, uint64(c.TailMinT-c.HeadMaxT))
		}
	}
	return dst
}
