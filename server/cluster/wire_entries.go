package cluster

import (
	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// streamRefs gives the streams of an answer their numbers as they first
// appear: a reference is 0 followed by the labels for a new stream (which
// takes the next number), or 1 + its number. Not safe for concurrent use.
type streamRefs struct {
	ids  map[string]uint64
	last labels.Labels // the last stream written, and its number
	id   uint64
	key  []byte
}

// append writes the reference of ls.
func (r *streamRefs) append(b []byte, ls labels.Labels) []byte {
	// Runs of one stream are common (an unordered Select, Timestamps):
	// comparing with the last one (whose strings are usually the very same)
	// spares building a key per entry.
	if r.ids != nil && ls.Equal(r.last) {
		return appendUvarint(b, r.id+1)
	}
	if r.ids == nil {
		r.ids = map[string]uint64{}
	}
	r.key = ls.AppendString(r.key[:0])
	id, ok := r.ids[string(r.key)]
	r.last = ls
	if ok {
		r.id = id
		return appendUvarint(b, id+1)
	}
	r.id = uint64(len(r.ids))
	r.ids[string(r.key)] = r.id
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
