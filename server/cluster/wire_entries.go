package cluster

import (
	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// streamRefs gives the streams of an answer their numbers as they first
// appear: a reference is 0 followed by the labels for a new stream (which
// takes the next number), or 1 + its number. Not safe for concurrent use.
//
// The labels handed to it must not change while the answer is written,
// as the store's do not: a stream is first looked up by the address of
// its labels, and by their text only when that is new.
type streamRefs struct {
	byText map[string]uint64
	byAddr map[labelsAddr]uint64
	last   labels.Labels // the last stream written, and its number
	id     uint64
	key    []byte
}

// labelsAddr identifies a label slice by its array and length.
type labelsAddr struct {
	p *labels.Label
	n int
}

// append writes the reference of ls.
func (r *streamRefs) append(b []byte, ls labels.Labels) []byte {
	// Runs of one stream are common (an unordered Select, Timestamps):
	// comparing with the last one (whose strings are usually the very same)
	// spares even a map lookup.
	if r.byText != nil && ls.Equal(r.last) {
		return appendUvarint(b, r.id+1)
	}
	if r.byText == nil {
		r.byText, r.byAddr = map[string]uint64{}, map[labelsAddr]uint64{}
	}
	var addr labelsAddr
	if len(ls) > 0 {
		addr = labelsAddr{&ls[0], len(ls)}
		if id, ok := r.byAddr[addr]; ok {
			r.last, r.id = ls, id
			return appendUvarint(b, id+1)
		}
	}
	r.key = ls.AppendString(r.key[:0])
	id, ok := r.byText[string(r.key)]
	if !ok {
		id = uint64(len(r.byText))
		r.byText[string(r.key)] = id
	}
	if addr.p != nil {
		r.byAddr[addr] = id
	}
	r.last, r.id = ls, id
	if ok {
		return appendUvarint(b, id+1)
	}
	b = appendUvarint(b, 0)
	return appendLabels(b, ls)
}

// streamTable is the reading side of streamRefs.
type streamTable struct {
	streams []labels.Labels
}

// ref reads a reference.
func (t *streamTable) ref(d *decoder) labels.Labels {
	r := d.uvarint()
	if d.err != nil {
		return nil
	}
	if r == 0 {
		ls := d.labels()
		if d.err == nil {
			t.streams = append(t.streams, ls)
		}
		return ls
	}
	if r > uint64(len(t.streams)) {
		d.fail("reference to an unknown stream")
		return nil
	}
	return t.streams[r-1]
}

// entryEncoder appends entries to an entries frame: per entry a stream
// reference, the timestamp as a zigzag delta from the previous entry of
// the frame, the line and the structured metadata.
type entryEncoder struct {
	refs  streamRefs
	prevT int64
}

// start is called for each new frame: deltas restart from 0.
func (e *entryEncoder) start() { e.prevT = 0 }

func (e *entryEncoder) append(b []byte, ls labels.Labels, ent *block.Entry) []byte {
	b = e.refs.append(b, ls)
	b = appendVarint(b, ent.T-e.prevT)
	e.prevT = ent.T
	b = appendBytes(b, ent.Line)
	return appendLabels(b, ent.Meta)
}

// entryDecoder reads the entries of frames one at a time.
type entryDecoder struct {
	table streamTable
	d     decoder
	prevT int64
}

// reset starts a frame.
func (e *entryDecoder) reset(payload []byte) {
	e.d = decoder{b: payload}
	e.prevT = 0
}

// more reports whether the frame holds another entry.
func (e *entryDecoder) more() bool { return e.d.more() }

// next decodes an entry into ent; its line aliases the frame.
func (e *entryDecoder) next(ent *block.Entry) labels.Labels {
	d := &e.d
	ls := e.table.ref(d)
	e.prevT += d.varint()
	ent.T = e.prevT
	ent.Line = d.bytes()
	ent.Meta = d.labels()
	return ls
}
