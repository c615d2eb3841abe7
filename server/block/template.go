package block

import (
	"bytes"
	"fmt"
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

// decodeTemplated rebuilds the lines of es from the templated layout into
// out (lines alias out) and returns the rest of src (the metadata).
func decodeTemplated(src []byte, es []Entry, out []byte) ([]byte, []byte, error) {
	bad := func(what string) error { return fmt.Errorf("%w: templated lines: %s", ErrCorrupt, what) }
	nt, src, ok := readUvarint(src)
	if !ok || nt > uint64(len(src)) {
		return nil, out, bad("template count")
	}
	// Each template as its literal pieces around the variable slots.
	segs := make([][][]byte, nt)
	litLen := make([]int, nt)
	tmpls := make([][]byte, nt)
	pieces := 0
	for i := range tmpls {
		if tmpls[i], src, ok = readBytes(src); !ok {
			return nil, out, bad("template")
		}
		pieces += bytes.Count(tmpls[i], []byte{varMark}) + 1
	}
	// One backing array for every template's pieces.
	flat := make([][]byte, 0, pieces)
	for i, tmpl := range tmpls {
		first := len(flat)
		for {
			j := bytes.IndexByte(tmpl, varMark)
			if j < 0 {
				flat = append(flat, tmpl)
				break
			}
			flat = append(flat, tmpl[:j])
			tmpl = tmpl[j+1:]
		}
		segs[i] = flat[first:len(flat):len(flat)]
		litLen[i] = len(tmpls[i]) - (len(segs[i]) - 1)
	}
	lineTmpl := make([]uint32, len(es))
	counts := make([]int, nt)
	for i := range lineTmpl {
		var id uint64
		if id, src, ok = readUvarint(src); !ok || id >= nt {
			return nil, out, bad("template number")
		}
		lineTmpl[i] = uint32(id)
		counts[id]++
	}
	// Columns are laid out template by template, slot by slot, each with
	// one value per line of its template, every value ended by '\n'. One
	// pass finds every value's end; value k then starts after value k-1.
	base := src
	total := 0
	for t := range counts {
		total += counts[t] * (len(segs[t]) - 1)
	}
	ends := make([]int32, 0, total)
	cursors := make([][]int, nt) // next value of each slot
	pos := 0
	for t := range cursors {
		cursors[t] = make([]int, len(segs[t])-1)
		for s := range cursors[t] {
			cursors[t][s] = len(ends)
			for k := 0; k < counts[t]; k++ {
				n := bytes.IndexByte(base[pos:], '\n')
				if n < 0 {
					return nil, out, bad("column")
				}
				pos += n
				ends = append(ends, int32(pos))
				pos++
			}
		}
	}
	src = base[pos:]
	// The lines take the literals of their templates plus the column
	// values (without their newlines).
	size := pos - len(ends)
	for t := range counts {
		size += counts[t] * litLen[t]
	}
	out = slices.Grow(out[:0], max(size, 0))
	offs := make([]int, len(es)+1)
	for i, id := range lineTmpl {
		sg := segs[id]
		out = append(out, sg[0]...)
		cur := cursors[id]
		for s := 1; s < len(sg); s++ {
			k := cur[s-1]
			cur[s-1]++
			start := 0
			if k > 0 {
				start = int(ends[k-1]) + 1
			}
			out = append(out, base[start:ends[k]]...)
			out = append(out, sg[s]...)
		}
		offs[i+1] = len(out)
	}
	for i := range es {
		es[i].Line = out[offs[i]:offs[i+1]:offs[i+1]]
		es[i].Meta = nil
	}
	return src, out, nil
}
