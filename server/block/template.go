package block

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// The templated layout (chunk flag bit 3) splits each line into a template
// and its variables, as log parsers like CLP do: a variable is a maximal run
// of [0-9A-Za-z_.:/-] holding at least one digit (numbers, ids, addresses,
// durations, timestamps), the template is the line with each variable
// replaced by 0x01. The frame then holds the distinct templates, one
// template number per line, and the variables column by column (template,
// then slot). Values of one column resemble each other, so zstd finds far
// more to share than in whole lines, where they are interleaved with
// everything else.
//
//	uvarint(templates) {uvarint(len) template}…
//	uvarint(template number)…                       one per line
//	per template, per slot: value '\n' …            one value per line of the template
//
// It is used when no line holds 0x01 or '\n'.

const varMark = 0x01

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c == '_' || c == '.' || c == ':' || c == '/' || c == '-'
}

// tokenize appends the template of line to tmpl and the variables to vars
// (each followed by '\n').
func tokenize(line, tmpl []byte, vars [][]byte) ([]byte, [][]byte) {
	for i := 0; i < len(line); {
		if !isWordByte(line[i]) {
			tmpl = append(tmpl, line[i])
			i++
			continue
		}
		j, digit := i, false
		for j < len(line) && isWordByte(line[j]) {
			if line[j] >= '0' && line[j] <= '9' {
				digit = true
			}
			j++
		}
		if digit {
			tmpl = append(tmpl, varMark)
			vars = append(vars, line[i:j])
		} else {
			tmpl = append(tmpl, line[i:j]...)
		}
		i = j
	}
	return tmpl, vars
}

// templatable reports whether the templated layout can hold es.
func templatable(es []Entry) bool {
	for i := range es {
		if bytes.IndexByte(es[i].Line, '\n') >= 0 || bytes.IndexByte(es[i].Line, varMark) >= 0 {
			return false
		}
	}
	return true
}

// appendTemplated writes the templated layout of es.
func appendTemplated(dst []byte, es []Entry) []byte {
	ids := map[string]int{}
	var templates [][]byte
	lineTmpl := make([]int, len(es))
	// columns[t][s] collects the values of slot s of template t.
	var columns [][][]byte
	var tmpl []byte
	var vars [][]byte
	for i := range es {
		tmpl, vars = tokenize(es[i].Line, tmpl[:0], vars[:0])
		id, ok := ids[string(tmpl)]
		if !ok {
			id = len(templates)
			ids[string(tmpl)] = id
			templates = append(templates, bytes.Clone(tmpl))
			columns = append(columns, make([][]byte, len(vars)))
		}
		lineTmpl[i] = id
		for s, v := range vars {
			columns[id][s] = append(append(columns[id][s], v...), '\n')
		}
	}
	dst = appendUvarint(dst, uint64(len(templates)))
	for _, t := range templates {
		dst = appendBytes(dst, t)
	}
	for _, id := range lineTmpl {
		dst = appendUvarint(dst, uint64(id))
	}
	for _, cols := range columns {
		for _, c := range cols {
			dst = append(dst, c...)
		}
	}
	return dst
}

// tmplFrame is a parsed templated frame: lines can be rebuilt one by one,
// and searched for literal needles without rebuilding them.
type tmplFrame struct {
	tmpls    [][]byte   // templates, varMark for each slot
	region   []byte     // the encoded template list, which tmpls alias
	tOff     []int      // where each template starts in region
	slots    []int32    // slots of each template
	segs     [][][]byte // each template's literal pieces around its slots, split when first needed
	lineTmpl []uint32   // template of each line
	rank     []uint32   // rank of each line among the lines of its template
	counts   []uint32   // lines of each template
	cols     []byte     // the columns and what follows them
	colStart [][]int32  // per template, per slot: the number of its first value
	values   int        // values in the columns

	// Set by index, when lines are rebuilt:
	base []byte  // the columns: every value followed by '\n'
	ends []int32 // where each value ends in base
	rest []byte  // what follows the columns (the metadata)

	idx *columnIndex // set by candidates

	// Memory kept for the next frame.
	starts              []int32
	cand, setOK, litHas []bool
	idxBuf              columnIndex
}

// parseTemplated reads a templated frame of n lines.
func parseTemplated(src []byte, n int) (*tmplFrame, error) {
	f := &tmplFrame{}
	return f, f.parse(src, n)
}

// resize returns s with length n, reusing its array when it is big enough.
func resize[T any](s []T, n int) []T { return slices.Grow(s[:0], n)[:n] }

// parse reads a templated frame of n lines into f, reusing f's memory.
func (f *tmplFrame) parse(src []byte, n int) error {
	bad := func(what string) error { return fmt.Errorf("%w: templated lines: %s", ErrCorrupt, what) }
	nt, src, ok := readUvarint(src)
	if !ok || nt > uint64(len(src)) {
		return bad("template count")
	}
	f.tmpls, f.slots, f.tOff = resize(f.tmpls, int(nt)), resize(f.slots, int(nt)), resize(f.tOff, int(nt))
	f.segs = resize(f.segs, int(nt))
	clear(f.segs)
	f.base, f.ends, f.rest, f.idx = nil, f.ends[:0], nil, nil
	region := src
	for i := range f.tmpls {
		if f.tmpls[i], src, ok = readBytes(src); !ok {
			return bad("template")
		}
		f.tOff[i] = len(region) - len(src) - len(f.tmpls[i])
		f.slots[i] = int32(bytes.Count(f.tmpls[i], []byte{varMark}))
	}
	f.region = region[:len(region)-len(src)]
	f.lineTmpl, f.rank = resize(f.lineTmpl, n), resize(f.rank, n)
	f.counts = resize(f.counts, int(nt))
	clear(f.counts)
	for i := range f.lineTmpl {
		var id uint64
		if id, src, ok = readUvarint(src); !ok || id >= nt {
			return bad("template number")
		}
		f.lineTmpl[i] = uint32(id)
		f.rank[i] = f.counts[id]
		f.counts[id]++
	}
	f.cols = src
	// Value k of the columns is the rank-th of slot s of template t for
	// k = colStart[t][s] + rank.
	f.colStart = resize(f.colStart, int(nt))
	starts := resize(f.starts, 0)
	k := 0
	for t := range f.colStart {
		for range f.slots[t] {
			starts = append(starts, int32(k))
			k += int(f.counts[t])
		}
		f.colStart[t] = starts[len(starts)-int(f.slots[t]):]
	}
	f.starts, f.values = starts, k
	if k > len(src) {
		return bad("more values than bytes")
	}
	return nil
}

// index finds where every value of the columns ends (and so where the
// metadata starts). Columns are laid out template by template, slot by
// slot, each with one value per line of its template, every value ended by
// '\n': value k starts after value k-1. Only rebuilding lines needs this;
// a search does not.
func (f *tmplFrame) index() error {
	if f.base != nil {
		return nil
	}
	f.ends = newlines(f.cols, slices.Grow(f.ends[:0], f.values), f.values)
	if len(f.ends) < f.values {
		return fmt.Errorf("%w: templated lines: column", ErrCorrupt)
	}
	pos := 0
	if f.values > 0 {
		pos = int(f.ends[f.values-1]) + 1
	}
	f.base, f.rest = f.cols[:pos], f.cols[pos:]
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

// value returns value k of the columns.
func (f *tmplFrame) value(k int32) []byte {
	start := int32(0)
	if k > 0 {
		start = f.ends[k-1] + 1
	}
	return f.base[start:f.ends[k]]
}

// pieces returns the literal pieces of template t around its slots.
func (f *tmplFrame) pieces(t uint32) [][]byte {
	if sg := f.segs[t]; sg != nil {
		return sg
	}
	tmpl := f.tmpls[t]
	sg := make([][]byte, 0, f.slots[t]+1)
	for {
		j := bytes.IndexByte(tmpl, varMark)
		if j < 0 {
			sg = append(sg, tmpl)
			break
		}
		sg = append(sg, tmpl[:j])
		tmpl = tmpl[j+1:]
	}
	f.segs[t] = sg
	return sg
}

// appendLine appends line i to dst.
func (f *tmplFrame) appendLine(dst []byte, i int) []byte {
	t, r := f.lineTmpl[i], int32(f.rank[i])
	sg := f.pieces(t)
	dst = append(dst, sg[0]...)
	for s := 1; s < len(sg); s++ {
		dst = append(dst, f.value(f.colStart[t][s-1]+r)...)
		dst = append(dst, sg[s]...)
	}
	return dst
}

// size returns the bytes of every line rebuilt.
func (f *tmplFrame) size() int {
	n := len(f.base) - len(f.ends)
	for _, t := range f.lineTmpl {
		n += len(f.tmpls[t]) - int(f.slots[t])
	}
	return n
}

// decodeTemplated rebuilds the lines of es from the templated layout into
// out (lines alias out) and returns the rest of src (the metadata).
func decodeTemplated(src []byte, es []Entry, out []byte) ([]byte, []byte, error) {
	f, err := parseTemplated(src, len(es))
	if err == nil {
		err = f.index()
	}
	if err != nil {
		return nil, out, err
	}
	out = slices.Grow(out[:0], max(f.size(), 0))
	offs := make([]int, len(es)+1)
	for i := range es {
		out = f.appendLine(out, i)
		offs[i+1] = len(out)
	}
	for i := range es {
		es[i].Line = out[offs[i]:offs[i+1]:offs[i+1]]
		es[i].Meta = nil
	}
	return f.rest, out, nil
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
func wordOnly(b []byte) bool {
	for _, c := range b {
		if !isWordByte(c) {
			return false
		}
	}
	return len(b) > 0
}

// candidates marks the lines that may contain, for every set of needles,
// one of the set's strings. For needles of word bytes only the answer is
// exact (see wordOnly) and found without rebuilding a line: in the
// templates, then in the columns. exact is false when some needle is not
// of word bytes only; lines marked must then be checked whole.
func (f *tmplFrame) candidates(needles Needles) (cand []bool, exact bool) {
	n := len(f.lineTmpl)
	cand = resize(f.cand, n)
	for i := range cand {
		cand[i] = true
	}
	exact = true
	setOK := resize(f.setOK, n)
	litHas := resize(f.litHas, len(f.tmpls))
	f.cand, f.setOK, f.litHas = cand, setOK, litHas
	idx := f.idx // built at the first needle that needs the columns
	for _, set := range needles {
		clear(setOK)
		any := false
		for _, nd := range set {
			if !wordOnly(nd) {
				exact = false
				any = true
				break
			}
			f.searchTemplates(nd, litHas)
			for i, t := range f.lineTmpl {
				if litHas[t] {
					setOK[i] = true
				}
			}
			// Without metadata the columns run to the end of the frame.
			// A hit's value is the number of newlines before it:
			// counted from the previous hit, no value's end is needed.
			k := 0 // values ending before o
			for o := 0; o < len(f.cols); {
				h := bytes.Index(f.cols[o:], nd)
				if h < 0 {
					break
				}
				k += bytes.Count(f.cols[o:o+h], []byte{'\n'})
				if k >= f.values {
					break // past the columns (a corrupt frame)
				}
				if idx == nil {
					idx = f.columnIndex()
					f.idx = idx
				}
				setOK[idx.line(int32(k))] = true
				e := bytes.IndexByte(f.cols[o+h:], '\n') // the end of the hit's value
				if e < 0 {
					break
				}
				o, k = o+h+e+1, k+1
			}
		}
		if any {
			continue // this set may match any line
		}
		for i := range cand {
			cand[i] = cand[i] && setOK[i]
		}
	}
	return cand, exact
}

// columnIndex maps a value of the columns back to its line.
type columnIndex struct {
	first   []int32  // index of the first value of every column, ascending
	colTmpl []uint32 // the template of every column
	order   []int32  // lines grouped by template, each group in rank order
	group   []int32  // where each template's group starts in order
}

func (f *tmplFrame) columnIndex() *columnIndex {
	cols := 0
	for _, n := range f.slots {
		cols += int(n)
	}
	x := &f.idxBuf
	x.group, x.order = resize(x.group, len(f.tmpls)+1), resize(x.order, len(f.lineTmpl))
	x.first, x.colTmpl = slices.Grow(x.first[:0], cols), slices.Grow(x.colTmpl[:0], cols)
	clear(x.group)
	for _, t := range f.lineTmpl {
		x.group[t+1]++
	}
	for t, cols := range f.colStart {
		if x.group[t+1] == 0 {
			continue // no line, no values: keep first strictly ascending
		}
		for _, c := range cols {
			x.first = append(x.first, c)
			x.colTmpl = append(x.colTmpl, uint32(t))
		}
	}
	for t := range f.tmpls {
		x.group[t+1] += x.group[t]
	}
	for i, t := range f.lineTmpl {
		x.order[x.group[t]+int32(f.rank[i])] = int32(i)
	}
	return x
}

// line returns the line whose variable is value k.
func (x *columnIndex) line(k int32) int32 {
	c, found := slices.BinarySearch(x.first, k)
	if !found {
		c--
	}
	t := x.colTmpl[c]
	return x.order[x.group[t]+k-x.first[c]]
}

// searchTemplates sets has[t] for the templates holding needle, searching
// the encoded list in one pass: a hit that runs over a template's end (into
// the next one's length) is no hit.
func (f *tmplFrame) searchTemplates(needle []byte, has []bool) {
	clear(has)
	if len(f.tmpls) == 0 {
		return
	}
	for o := 0; o < len(f.region); {
		h := bytes.Index(f.region[o:], needle)
		if h < 0 {
			return
		}
		at := o + h
		t, _ := slices.BinarySearch(f.tOff, at+1)
		t-- // the last template starting at or before the hit
		if t >= 0 && at+len(needle) <= f.tOff[t]+len(f.tmpls[t]) {
			has[t] = true
			o = f.tOff[t] + len(f.tmpls[t]) // the next template
			continue
		}
		o = at + 1
	}
}
