package block

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/loam-logs/loam/server/labels"
)

// Entry is one log line of a stream.
type Entry struct {
	T    int64         // unix nanoseconds
	Line []byte        // the line; readers alias a decoded buffer
	Meta labels.Labels // structured metadata, nil when none
}

// ChunkMeta locates one chunk of a stream inside a block file.
type ChunkMeta struct {
	MinT, MaxT int64  // first and last timestamp, inclusive
	Count      uint32 // entries
	RawBytes   uint32 // sum of line lengths, before compression
	LinesOff   uint64 // zstd frame of the lines (and metadata)
	LinesLen   uint32
	TsOff      uint64 // timestamp column
	TsLen      uint32
	FilterOff  uint64 // n-gram filter
	FilterLen  uint32
	Flags      byte // chunkHasMeta, …

	// With chunkTail, the lines region holds two frames: the first
	// Count-TailCount entries, then the last TailCount entries in the
	// final TailLen bytes. HeadMaxT and TailMinT are the parts' time
	// bounds.
	TailCount, TailLen uint32
	HeadMaxT, TailMinT int64
}

const (
	chunkHasMeta = 1 << 0 // entries carry structured metadata
	chunkS2      = 1 << 1 // the lines frame is S2, not zstd
	chunkLF      = 1 << 2 // lines are separated by '\n', without a length column
	chunkTmpl    = 1 << 3 // lines are split into templates and variable columns
	chunkRaw     = 1 << 4 // the lines frame is stored uncompressed
	chunkTail    = 1 << 5 // the newest lines are in a second, small frame (format version 2)
	chunkCols    = 1 << 6 // templated lines are a group of frames: head, columns by class (version 3)
)

// minTemplatedLines: below this, templates cost more than they save.
const minTemplatedLines = 32

// HasMeta reports whether entries of the chunk carry structured metadata.
func (c *ChunkMeta) HasMeta() bool { return c.Flags&chunkHasMeta != 0 }

// HasTail reports whether the newest entries of the chunk can be read
// without the rest (see ReadChunkPart).
func (c *ChunkMeta) HasTail() bool { return c.Flags&chunkTail != 0 }

// Overlaps reports whether the chunk may hold entries in [start, end].
func (c *ChunkMeta) Overlaps(start, end int64) bool { return c.MinT <= end && c.MaxT >= start }

// ErrCorrupt is wrapped by every error about bytes that do not decode.
var ErrCorrupt = errors.New("corrupt block")

// linesLayout chooses how a chunk's lines are laid out in its frame and
// returns the flags that say so. When no line holds a newline, the lines are
// joined by '\n' (chunkLF): zstd spends almost nothing on a separator it can
// predict, while a column of lengths costs about a byte a line. Otherwise the
// lengths come first, keeping the text contiguous. The metadata of each
// entry follows when any entry has some (chunkHasMeta).
func linesLayout(es []Entry, hasMeta, templated bool) byte {
	var flags byte
	if hasMeta {
		flags |= chunkHasMeta
	}
	if templated && len(es) >= minTemplatedLines && templatable(es) {
		return flags | chunkTmpl | chunkCols
	}
	for i := range es {
		if bytes.IndexByte(es[i].Line, '\n') >= 0 {
			return flags
		}
	}
	return flags | chunkLF
}

// appendLinesPayload appends the uncompressed content of a lines frame
// holding es in the layout of flags (from linesLayout over es, or over a
// chunk of which es is a part), templated lines excepted (appendGroup).
func appendLinesPayload(dst []byte, es []Entry, flags byte) []byte {
	switch {
	case flags&chunkLF != 0:
		for i := range es {
			dst = append(dst, es[i].Line...)
			dst = append(dst, '\n')
		}
	default:
		for i := range es {
			dst = appendUvarint(dst, uint64(len(es[i].Line)))
		}
		for i := range es {
			dst = append(dst, es[i].Line...)
		}
	}
	if flags&chunkHasMeta != 0 {
		dst = appendMeta(dst, es)
	}
	return dst
}

func appendMeta(dst []byte, es []Entry) []byte {
	for i := range es {
		dst = appendUvarint(dst, uint64(len(es[i].Meta)))
		for _, l := range es[i].Meta {
			dst = appendString(dst, l.Name)
			dst = appendString(dst, l.Value)
		}
	}
	return dst
}

// decodeLinesPayload fills Line (and Meta) of the entries from a decompressed
// lines frame that is not templated. Lines alias src.
func decodeLinesPayload(src []byte, es []Entry, flags byte) error {
	hasMeta := flags&chunkHasMeta != 0
	if flags&chunkLF != 0 {
		p := src
		for i := range es {
			n := bytes.IndexByte(p, '\n')
			if n < 0 {
				return fmt.Errorf("%w: %d lines in a frame of %d", ErrCorrupt, i, len(es))
			}
			es[i].Line = p[:n:n]
			es[i].Meta = nil
			p = p[n+1:]
		}
		if !hasMeta {
			return nil
		}
		return decodeMeta(p, es)
	}
	// First pass: lengths, to find where the text starts.
	p := src
	total := uint64(0)
	for i := range es {
		l, rest, ok := readUvarint(p)
		if !ok {
			return fmt.Errorf("%w: line length %d", ErrCorrupt, i)
		}
		p = rest
		total += l
		es[i].Meta = nil
	}
	if total > uint64(len(p)) {
		return fmt.Errorf("%w: lines frame shorter than its lengths", ErrCorrupt)
	}
	text := p
	meta := p[total:]
	p = src
	off := uint64(0)
	for i := range es {
		l, rest, _ := readUvarint(p)
		p = rest
		es[i].Line = text[off : off+l : off+l]
		off += l
	}
	if !hasMeta {
		return nil
	}
	return decodeMeta(meta, es)
}

// decodeMeta reads each entry's metadata.
func decodeMeta(meta []byte, es []Entry) error { return decodeMetaOf(meta, len(es), nil, es) }

// decodeMetaOf reads the metadata records of n entries and sets es[j].Meta
// to record keep[j] (ascending), or to record j when keep is nil.
func decodeMetaOf(meta []byte, n int, keep []int32, es []Entry) error {
	j := 0
	for i := 0; i < n; i++ {
		want := keep == nil || j < len(keep) && keep[j] == int32(i)
		pairs, rest, ok := readUvarint(meta)
		if !ok || pairs > uint64(len(rest)) {
			return fmt.Errorf("%w: metadata of entry %d", ErrCorrupt, i)
		}
		meta = rest
		var ls labels.Labels
		if want && pairs > 0 {
			ls = make(labels.Labels, pairs)
		}
		for k := range pairs {
			name, rest, ok1 := readBytes(meta)
			value, rest2, ok2 := readBytes(rest)
			if !ok1 || !ok2 {
				return fmt.Errorf("%w: metadata of entry %d", ErrCorrupt, i)
			}
			meta = rest2
			if ls != nil {
				ls[k] = labels.Label{Name: string(name), Value: string(value)}
			}
		}
		if want {
			es[j].Meta = ls
			j++
		}
	}
	return nil
}

// Needles are literal substrings a query's lines must hold: for every set,
// one of the set's strings (an AND of ORs, as logql's Needles gives them).
type Needles [][][]byte

// Match reports whether text holds, for every set, one of its strings.
func (n Needles) Match(text []byte) bool {
	for _, set := range n {
		found := false
		for _, s := range set {
			if bytes.Contains(text, s) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
