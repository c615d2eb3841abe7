package block

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// tmplFrame is a parsed templated frame (or group of frames): lines can be
// rebuilt one by one, and searched for literal needles without rebuilding
// them. Its memory is reused by the next frame parsed into it.
type tmplFrame struct {
	tmpls    [][]byte   // templates, a mark for each slot
	region   []byte     // the encoded template list, which tmpls alias
	tOff     []int      // where each template starts in region
	slots    [][]colRef // each template's slots
	segs     [][][]byte // each template's literal pieces around its slots, split when first needed
	lineTmpl []uint32   // template of each line
	rank     []uint32   // rank of each line among the lines of its template
	counts   []uint32   // lines of each template
	cols     [numClasses]column

	single  bool   // a frame of version 1 or 2, not a group
	meta    []byte // compressed metadata frame (groups with metadata)
	hasMeta bool
	rest    []byte // what follows the columns of a single frame (its metadata), set by prepare

	idx     [numClasses]*columnIndex // per class, built at its first hit
	grouped bool                     // group is set, by hits

	// Memory kept for the next frame.
	head, metaBuf       []byte
	refs                []colRef
	slotStart           []int32
	cand, setOK, litHas []bool
	keep                []int32
	offs                []int
	idxBuf              [numClasses]columnIndex
	group               []int32
	hit                 []bool
}

// colRef is a slot of a template: the class of its column and the number,
// within the class, of its first value.
type colRef struct {
	first int32
	class uint8
}

// column is the values of one class: every value followed by '\n'.
type column struct {
	src    []byte // compressed frame, until loaded (groups)
	text   []byte // the values, once loaded
	buf    []byte // memory for text
	values int    // values in the column
	loaded bool
	unread bool    // its frame was not read from the file
	ends   []int32 // where each value ends in text, set by index
	index  bool
}

func (c *column) reset(src []byte, loaded bool) {
	c.src, c.text, c.values, c.loaded, c.unread, c.ends, c.index = src, nil, 0, loaded, false, c.ends[:0], false
}

// resize returns s with length n, reusing its array when it is big enough.
func resize[T any](s []T, n int) []T { return slices.Grow(s[:0], n)[:n] }

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: templated lines: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// parseSingle reads a templated frame of n lines of version 1 or 2: the
// templates, the numbers, the columns (all of classWord, marked varMark)
// and, with hasMeta, the metadata, in one decompressed text.
func (f *tmplFrame) parseSingle(text []byte, n int, hasMeta bool) error {
	f.hasMeta, f.single, f.meta, f.rest = hasMeta, true, nil, nil
	rest, err := f.parseHead(text, n, false)
	if err != nil {
		return err
	}
	for c := range f.cols {
		f.cols[c].reset(nil, true)
	}
	f.cols[classWord].text = rest
	return f.countValues(len(rest))
}

// group is the frames of a templated group (version 3), of which those
// not read are nil.
type group struct {
	frames [numParts][]byte
	lens   [numParts]int
}

// readGroupDir reads the directory at the start of a templated group of np
// parts and size bytes: the length of each part's frame. It returns the
// directory's own length.
func readGroupDir(src []byte, np, size int) (group, int, error) {
	var g group
	rest := src
	for i := range np {
		n, r, ok := readUvarint(rest)
		if !ok || n > uint64(size) {
			return g, 0, corruptf("group directory")
		}
		g.lens[i], rest = int(n), r
	}
	dl := len(src) - len(rest)
	if g.total() != size-dl || g.lens[partHead] == 0 {
		return g, 0, corruptf("group of %d bytes, directory says %d", size-dl, g.total())
	}
	return g, dl, nil
}

func (g *group) total() int {
	n := 0
	for _, l := range g.lens {
		n += l
	}
	return n
}

// slice sets the frames of parts up to want from frames, the group's bytes
// after the directory (as far as want's frame).
func (g *group) slice(frames []byte, want int) {
	for i, l := range g.lens {
		if i > want || l > len(frames) {
			break
		}
		g.frames[i], frames = frames[:l:l], frames[l:]
	}
}

// parseGroup reads a templated group of n lines (version 3): it
// decompresses the head frame; column frames are decompressed when a
// search or a rebuild needs them.
func (f *tmplFrame) parseGroup(g group, n int, hasMeta bool) error {
	f.hasMeta, f.single, f.meta, f.rest = hasMeta, false, nil, nil
	var err error
	if f.head, err = zstdDecoder().DecodeAll(g.frames[partHead], f.head[:0]); err != nil {
		return corruptf("head frame: %v", err)
	}
	rest, err := f.parseHead(f.head, n, true)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return corruptf("%d bytes after the template numbers", len(rest))
	}
	for c := range f.cols {
		col := &f.cols[c]
		col.reset(g.frames[partCols+c], false)
		col.unread = col.src == nil && g.lens[partCols+c] > 0
	}
	f.meta = g.frames[partMeta]
	return f.countValues(-1)
}

// parseGroupBytes is parseGroup of a group read whole.
func (f *tmplFrame) parseGroupBytes(b []byte, n int, hasMeta bool) error {
	g, dl, err := readGroupDir(b, groupParts(hasMeta), len(b))
	if err != nil {
		return err
	}
	g.slice(b[dl:], numParts)
	return f.parseGroup(g, n, hasMeta)
}

// parseHead reads the template list, the slots' classes (version 3; before,
// every slot is of classWord) and the template numbers of n lines, and
// returns what follows them.
func (f *tmplFrame) parseHead(src []byte, n int, classes bool) ([]byte, error) {
	nt, src, ok := readUvarint(src)
	if !ok || nt > uint64(len(src)) {
		return nil, corruptf("template count")
	}
	f.tmpls, f.slots, f.tOff = resize(f.tmpls, int(nt)), resize(f.slots, int(nt)), resize(f.tOff, int(nt))
	f.segs = resize(f.segs, int(nt))
	clear(f.segs)
	f.idx, f.grouped = [numClasses]*columnIndex{}, false
	refs := f.refs[:0]
	region := src
	starts := resize(f.slotStart, int(nt)+1)
	for i := range f.tmpls {
		if f.tmpls[i], src, ok = readBytes(src); !ok {
			return nil, corruptf("template")
		}
		f.tOff[i] = len(region) - len(src) - len(f.tmpls[i])
		starts[i] = int32(len(refs))
		k := bytes.Count(f.tmpls[i], []byte{varMark})
		refs = slices.Grow(refs, k)[:len(refs)+k]
	}
	starts[nt] = int32(len(refs))
	f.region = region[:len(region)-len(src)]
	if classes {
		if len(src) < len(refs) {
			return nil, corruptf("slot classes")
		}
		for i, c := range src[:len(refs)] {
			if c >= numClasses {
				return nil, corruptf("slot class %d", c)
			}
			refs[i] = colRef{class: c}
		}
		src = src[len(refs):]
	} else {
		clear(refs)
	}
	// slots alias refs only once it stops growing.
	for i := range f.slots {
		f.slots[i] = refs[starts[i]:starts[i+1]:starts[i+1]]
	}
	f.slotStart = starts
	f.refs = refs
	f.lineTmpl, f.rank = resize(f.lineTmpl, n), resize(f.rank, n)
	f.counts = resize(f.counts, int(nt))
	clear(f.counts)
	lineTmpl, rank, counts := f.lineTmpl, f.rank, f.counts
	for i := range lineTmpl {
		// Numbers below 128, or 16384, in one or two bytes: most of them.
		var id uint64
		switch {
		case len(src) > 0 && src[0] < 0x80:
			id, src = uint64(src[0]), src[1:]
		case len(src) > 1 && src[1] < 0x80:
			id, src = uint64(src[0]&0x7f)|uint64(src[1])<<7, src[2:]
		default:
			if id, src, ok = readUvarint(src); !ok {
				return nil, corruptf("template number")
			}
		}
		if id >= nt {
			return nil, corruptf("template number")
		}
		lineTmpl[i] = uint32(id)
		rank[i] = counts[id]
		counts[id]++
	}
	return src, nil
}

// countValues numbers the values of each class: the slot s of template t
// starts at value slots[t][s].first of its class, template by template,
// slot by slot. limit, when not negative, bounds the values of a single
// frame (each takes at least its newline).
func (f *tmplFrame) countValues(limit int) error {
	var next [numClasses]int
	for t, slots := range f.slots {
		for s := range slots {
			c := slots[s].class
			slots[s].first = int32(next[c])
			next[c] += int(f.counts[t])
			if next[c] > 1<<31-1 {
				return corruptf("too many values")
			}
		}
	}
	total := 0
	for c := range f.cols {
		f.cols[c].values = next[c]
		total += next[c]
	}
	if limit >= 0 && total > limit {
		return corruptf("more values than bytes")
	}
	return nil
}

// load decompresses the column frame of class c, once.
func (f *tmplFrame) load(c int) error {
	col := &f.cols[c]
	if col.loaded {
		return nil
	}
	if col.unread {
		return fmt.Errorf("column frame of class %d not read", c) // a bug, not a corrupt block
	}
	col.loaded = true
	if len(col.src) > 0 {
		var err error
		if col.buf, err = zstdDecoder().DecodeAll(col.src, col.buf[:0]); err != nil {
			return corruptf("column frame: %v", err)
		}
		col.text = col.buf
	}
	if col.values > len(col.text) {
		return corruptf("%d values in a column frame of %d bytes", col.values, len(col.text))
	}
	return nil
}

// prepare loads and indexes every column, for rebuilding lines.
func (f *tmplFrame) prepare() error {
	for c := range f.cols {
		if err := f.load(c); err != nil {
			return err
		}
		col := &f.cols[c]
		if col.index {
			continue
		}
		col.ends = newlines(col.text, slices.Grow(col.ends[:0], col.values), col.values)
		if len(col.ends) < col.values {
			return corruptf("column")
		}
		col.index = true
		end := 0
		if col.values > 0 {
			end = int(col.ends[col.values-1]) + 1
		}
		extra := col.text[end:]
		col.text = col.text[:end]
		switch {
		case f.single && c == classWord:
			f.rest = extra // a single frame's metadata
		case len(extra) > 0:
			return corruptf("%d bytes after a column's values", len(extra))
		}
	}
	return nil
}

// newlines appends the offsets of the first n newlines of b to dst. Values
// are a few bytes long, so it looks at eight bytes a step rather than
// calling IndexByte per value.
func newlines(b []byte, dst []int32, n int) []int32 {
	const lo7, nl = 0x7f7f7f7f7f7f7f7f, 0x0a0a0a0a0a0a0a0a
	i := 0
	for ; i+8 <= len(b) && len(dst) < n; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ nl // newline bytes are now zero
		// The high bit of each zero byte, exactly (no borrow across bytes).
		z := ^((x&lo7 + lo7) | x | lo7)
		for z != 0 && len(dst) < n {
			dst = append(dst, int32(i+bits.TrailingZeros64(z)/8))
			z &= z - 1
		}
	}
	for ; i < len(b) && len(dst) < n; i++ {
		if b[i] == '\n' {
			dst = append(dst, int32(i))
		}
	}
	return dst
}

// value returns value k of class c (after prepare).
func (f *tmplFrame) value(c uint8, k int32) []byte {
	col := &f.cols[c]
	start := int32(0)
	if k > 0 {
		start = col.ends[k-1] + 1
	}
	return col.text[start:col.ends[k]]
}

// pieces returns the literal pieces of template t around its slots.
func (f *tmplFrame) pieces(t uint32) [][]byte {
	if sg := f.segs[t]; sg != nil {
		return sg
	}
	tmpl := f.tmpls[t]
	sg := make([][]byte, 0, len(f.slots[t])+1)
	start := 0
	for i, b := range tmpl {
		if b == varMark {
			sg = append(sg, tmpl[start:i])
			start = i + 1
		}
	}
	sg = append(sg, tmpl[start:])
	f.segs[t] = sg
	return sg
}

// appendLine appends line i to dst (after prepare).
func (f *tmplFrame) appendLine(dst []byte, i int) []byte {
	t, r := f.lineTmpl[i], int32(f.rank[i])
	sg := f.pieces(t)
	dst = append(dst, sg[0]...)
	for s, ref := range f.slots[t] {
		dst = append(dst, f.value(ref.class, ref.first+r)...)
		dst = append(dst, sg[s+1]...)
	}
	return dst
}

// size returns the bytes of every line rebuilt (after prepare).
func (f *tmplFrame) size() int {
	n := 0
	for c := range f.cols {
		n += len(f.cols[c].text) - f.cols[c].values
	}
	for _, t := range f.lineTmpl {
		n += len(f.tmpls[t]) - len(f.slots[t])
	}
	return n
}

// metadata returns the frame's metadata, one record per line.
func (f *tmplFrame) metadata() ([]byte, error) {
	if f.single {
		return f.rest, nil // prepare found it
	}
	if f.meta == nil {
		return nil, fmt.Errorf("metadata frame not read") // a bug, not a corrupt block
	}
	var err error
	if f.metaBuf, err = zstdDecoder().DecodeAll(f.meta, f.metaBuf[:0]); err != nil {
		return nil, corruptf("metadata frame: %v", err)
	}
	return f.metaBuf, nil
}

// appendEntries appends to dst the entries (timestamps times) whose lines
// hold needles, all of them when needles is nil. Lines are rebuilt into
// *lines, which they alias.
func (f *tmplFrame) appendEntries(times []int64, needles Needles, lines *[]byte, dst []Entry) ([]Entry, error) {
	var cand []bool
	exact := true
	if needles != nil {
		var err error
		if cand, exact, err = f.candidates(needles); err != nil {
			return dst, err
		}
		if !slices.Contains(cand, true) {
			return dst, nil
		}
	}
	if err := f.prepare(); err != nil {
		return dst, err
	}
	out := (*lines)[:0]
	if needles == nil {
		out = slices.Grow(out, max(f.size(), 0))
	}
	keep, offs := f.keep[:0], f.offs[:0]
	for i := range times {
		if cand != nil && !cand[i] {
			continue
		}
		start := len(out)
		out = f.appendLine(out, i)
		if !exact && !needles.Match(out[start:]) {
			out = out[:start]
			continue
		}
		keep, offs = append(keep, int32(i)), append(offs, start)
	}
	offs = append(offs, len(out))
	*lines, f.keep, f.offs = out, keep, offs
	first := len(dst)
	for j, i := range keep {
		dst = append(dst, Entry{T: times[i], Line: out[offs[j]:offs[j+1]:offs[j+1]]})
	}
	if !f.hasMeta || len(keep) == 0 {
		return dst, nil
	}
	meta, err := f.metadata()
	if err != nil {
		return dst[:first], err
	}
	if needles == nil {
		keep = nil // every line
	}
	return dst, decodeMetaOf(meta, len(times), keep, dst[first:])
}

// allWordOnly reports whether every needle is of word bytes only, so that
// candidates answers exactly.
func allWordOnly(needles Needles) bool {
	for _, set := range needles {
		for _, n := range set {
			if !wordOnly(n) {
				return false
			}
		}
	}
	return true
}

// wordOnly reports whether every byte of b is a word byte. Such a needle
// can only occur within a literal piece or within one variable: a variable
// is a maximal run of word bytes, so the bytes on either side of it are
// not word bytes, and a match cannot cross into it.
func wordOnly(b []byte) bool { return len(b) > 0 && inClass(classWord, b) }

// candidates marks the lines that may contain, for every set of needles,
// one of the set's strings. For needles of word bytes only the answer is
// exact (see wordOnly) and found without rebuilding a line: in the
// templates, then in the columns whose class holds every byte of the
// needle (the others are not even decompressed). exact is false when some
// needle is not of word bytes only; lines marked must then be checked
// whole.
func (f *tmplFrame) candidates(needles Needles) (cand []bool, exact bool, err error) {
	n := len(f.lineTmpl)
	cand = resize(f.cand, n)
	for i := range cand {
		cand[i] = true
	}
	exact = true
	setOK := resize(f.setOK, n)
	litHas := resize(f.litHas, len(f.tmpls))
	f.cand, f.setOK, f.litHas = cand, setOK, litHas
	for _, set := range needles {
		clear(setOK)
		any := false
		for _, nd := range set {
			if !wordOnly(nd) {
				exact = false
				any = true
				break
			}
			fd := newFinder(nd)
			f.searchTemplates(fd, litHas)
			// Lines whose value holds nd, by place in template order.
			var hit []bool
			for c := range f.cols {
				if f.cols[c].values == 0 || !inClass(c, nd) {
					continue
				}
				if err := f.load(c); err != nil {
					return nil, false, err
				}
				if hit == nil {
					hit = f.hits()
				}
				f.searchColumn(uint8(c), fd, hit)
			}
			if hit == nil {
				for i, t := range f.lineTmpl {
					setOK[i] = setOK[i] || litHas[t]
				}
				continue
			}
			for i, t := range f.lineTmpl {
				setOK[i] = setOK[i] || litHas[t] || hit[f.group[t]+int32(f.rank[i])]
			}
		}
		if any {
			continue // this set may match any line
		}
		for i := range cand {
			cand[i] = cand[i] && setOK[i]
		}
	}
	return cand, exact, nil
}

// hits returns a cleared hit array: a line's place in it is its rank among
// the lines of its template, after the lines of the templates before.
func (f *tmplFrame) hits() []bool {
	if !f.grouped {
		f.group = resize(f.group, len(f.counts))
		at := int32(0)
		for t, n := range f.counts {
			f.group[t], at = at, at+int32(n)
		}
		f.grouped = true
	}
	f.hit = resize(f.hit, len(f.lineTmpl))
	clear(f.hit)
	return f.hit
}

// searchColumn sets hit[g] for the place g (see hits) of each line whose
// value of class c holds needle. A hit's value is the number of newlines
// before it, counted from the previous hit: no value's end is needed.
func (f *tmplFrame) searchColumn(c uint8, needle finder, hit []bool) {
	text, values := f.cols[c].text, f.cols[c].values
	k := 0 // values ending before o
	for o := 0; o < len(text); {
		h := needle.index(text[o:])
		if h < 0 {
			return
		}
		k += bytes.Count(text[o:o+h], []byte{'\n'})
		if k >= values {
			return // past the values: a single frame's metadata, or corrupt
		}
		if f.idx[c] == nil {
			f.idx[c] = f.columnIndex(c)
		}
		t, r := f.idx[c].at(int32(k))
		hit[f.group[t]+r] = true
		e := bytes.IndexByte(text[o+h:], '\n') // the end of the hit's value
		if e < 0 {
			return
		}
		o, k = o+h+e+1, k+1
	}
}

// columnIndex maps a value of one class back to its template and rank.
type columnIndex struct {
	first   []int32  // the first value of every column of the class, ascending
	colTmpl []uint32 // the template of every column
}

func (f *tmplFrame) columnIndex(c uint8) *columnIndex {
	x := &f.idxBuf[c]
	x.first, x.colTmpl = x.first[:0], x.colTmpl[:0]
	for t, slots := range f.slots {
		if f.counts[t] == 0 {
			continue // no line, no values: keep first strictly ascending
		}
		for _, s := range slots {
			if s.class == c {
				x.first = append(x.first, s.first)
				x.colTmpl = append(x.colTmpl, uint32(t))
			}
		}
	}
	return x
}

// at returns the template and rank of the line whose variable is value k.
func (x *columnIndex) at(k int32) (uint32, int32) {
	i, found := slices.BinarySearch(x.first, k)
	if !found {
		i--
	}
	return x.colTmpl[i], k - x.first[i]
}

// searchTemplates sets has[t] for the templates holding needle, searching
// the encoded list in one pass: a hit that runs over a template's end (into
// the next one's length) is no hit.
func (f *tmplFrame) searchTemplates(needle finder, has []bool) {
	clear(has)
	if len(f.tmpls) == 0 {
		return
	}
	for o := 0; o < len(f.region); {
		h := needle.index(f.region[o:])
		if h < 0 {
			return
		}
		at := o + h
		t, _ := slices.BinarySearch(f.tOff, at+1)
		t-- // the last template starting at or before the hit
		if t >= 0 && at+len(needle.needle) <= f.tOff[t]+len(f.tmpls[t]) {
			has[t] = true
			o = f.tOff[t] + len(f.tmpls[t]) // the next template
			continue
		}
		o = at + 1
	}
}
