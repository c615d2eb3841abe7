package block

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// The templated layout (chunk flag bit 3) splits each line into a template
// and its variables, as log parsers like CLP do: a variable is a maximal run
// of [0-9A-Za-z_.:/-] holding at least one digit (numbers, ids, addresses,
// durations, timestamps), the template is the line with each variable
// replaced by a mark. A frame then holds the distinct templates, one
// template number per line, and the variables column by column (template,
// then slot). Values of one column resemble each other, so zstd finds far
// more to share than in whole lines, where they are interleaved with
// everything else.
//
// Since version 3 (chunk flag bit 6) each column is of a class, the
// narrowest of classHex, classNum and classWord that holds all its bytes,
// and the columns of each class are a zstd frame of their own, apart from
// the templates (see FORMAT.md). A frame of hex digits alone, or of numbers,
// times and durations, codes each byte in fewer bits than a frame that
// mixes them with words (about 9% fewer bytes on the conformance corpus and
// the bench data set), and a search for a word never decompresses them.
//
// It is used when no line holds '\n' or varMark.

// varMark marks a variable in a template.
const varMark = 0x01

// Variable classes, each a set of bytes; a column belongs to the first class
// that holds every byte of its values.
const (
	classWord  = iota // any word byte
	classNum          // [0-9.:/_-TZnumsh]: addresses, versions, times and dates (ISO 8601's T, Z), durations
	classHex          // [0-9A-Fa-f-]: integers, hashes, UUIDs, request ids
	numClasses        // classHex is tried first, then classNum
)

// classBytes[c][b] says whether class c holds byte b.
var classBytes = func() (t [numClasses][256]bool) {
	for b := 0; b < 256; b++ {
		c := byte(b)
		t[classWord][b] = isWordByte(c)
		t[classNum][b] = c >= '0' && c <= '9' || bytes.IndexByte([]byte(".:/_-TZnumsh"), c) >= 0
		t[classHex][b] = c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-'
	}
	return t
}()

// inClass reports whether every byte of b is of class c.
func inClass(c int, b []byte) bool {
	for _, x := range b {
		if !classBytes[c][x] {
			return false
		}
	}
	return true
}

// classOf returns the class of a column: its values, each ended by '\n'.
func classOf(values []byte) int {
	hex, num := true, true
	for _, b := range values {
		if b == '\n' {
			continue
		}
		hex = hex && classBytes[classHex][b]
		num = num && classBytes[classNum][b]
		if !hex && !num {
			return classWord
		}
	}
	if hex {
		return classHex
	}
	return classNum
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c == '_' || c == '.' || c == ':' || c == '/' || c == '-'
}

// tokenize appends the template of line to tmpl (varMark for each
// variable) and the variables to vars.
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
		for _, b := range es[i].Line {
			if b == '\n' || b == varMark {
				return false
			}
		}
	}
	return true
}

// appendTemplated appends to head the templates of es, then the class of
// each of their slots (a byte each), then one template number per line; and
// to cols[c] the columns of class c, template by template, slot by slot,
// every value followed by '\n'. cols has numClasses elements.
func appendTemplated(head []byte, cols [][]byte, es []Entry) []byte {
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
	classes := make([][]int, len(templates))
	for t, tc := range columns {
		for _, c := range tc {
			classes[t] = append(classes[t], classOf(c))
		}
	}
	head = appendUvarint(head, uint64(len(templates)))
	for _, t := range templates {
		head = appendBytes(head, t)
	}
	// Classes apart from the templates: a reader needs them for every
	// template, and finding them as marks would mean reading every byte.
	for _, tc := range classes {
		for _, c := range tc {
			head = append(head, byte(c))
		}
	}
	for _, id := range lineTmpl {
		head = appendUvarint(head, uint64(id))
	}
	for t, tc := range columns {
		for s, c := range tc {
			cols[classes[t][s]] = append(cols[classes[t][s]], c...)
		}
	}
	return head
}

// Parts of a templated group (version 3), in the order of its directory.
const (
	partHead = 0              // templates and template numbers
	partCols = 1              // partCols+c: the columns of class c
	partMeta = 1 + numClasses // the entries' metadata, with chunkHasMeta
	numParts = partMeta + 1
)

// groupParts returns how many parts a group has: with metadata, or not.
func groupParts(hasMeta bool) int {
	if hasMeta {
		return numParts
	}
	return partMeta
}

// appendGroup appends the templated group of es: the length of each part's
// frame, then the frames (an empty part has none). compress appends the
// frame of a part to its dst. parts is scratch of numParts elements.
func appendGroup(dst []byte, es []Entry, flags byte, parts [][]byte, compress func(dst, src []byte, part int) []byte) []byte {
	for i := range parts {
		parts[i] = parts[i][:0]
	}
	parts[partHead] = appendTemplated(parts[partHead], parts[partCols:partCols+numClasses], es)
	if flags&chunkHasMeta != 0 {
		parts[partMeta] = appendMeta(parts[partMeta], es)
	}
	np := groupParts(flags&chunkHasMeta != 0)
	// Frames go to the end of dst first; the directory, a few bytes, is
	// moved in front of them.
	start := len(dst)
	var lens [numParts]int
	for i := range np {
		if len(parts[i]) > 0 {
			n := len(dst)
			dst = compress(dst, parts[i], i)
			lens[i] = len(dst) - n
		}
	}
	var dir [numParts * binary.MaxVarintLen32]byte
	d := dir[:0]
	for i := range np {
		d = appendUvarint(d, uint64(lens[i]))
	}
	dst = slices.Insert(dst, start, d...)
	return dst
}
