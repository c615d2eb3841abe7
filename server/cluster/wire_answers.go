package cluster

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Timestamps frames: a flags byte, then groups of one stream's timestamps.

// Flags of a timestamps frame. tsHashes: each group's timestamps are
// followed by the 64-bit hashes of their lines. tsWidths: each group says
// how its timestamps after the first are written (tsVarint or tsFixed32),
// so that a long run of close timestamps decodes without a varint each.
const (
	tsHashes = 1
	tsWidths = 2
)

// Widths of a group's timestamps after the first, in a tsWidths frame.
// tsFixed32Esc is written only to callers that ask for it (ts_escapes):
// timestamps of a stream often come in bursts with seconds between them,
// and one gap of 4.3 s would make a whole group varints.
const (
	tsVarint     = 0 // zigzag varint deltas
	tsFixed32    = 4 // deltas, each 0 <= d < 2^32, uint32 little-endian
	tsFixed32Esc = 5 // deltas as uint32 little-endian; tsEscape, then a zigzag varint delta, for any other
)

// tsEscape marks a delta of a tsFixed32Esc group that follows as a varint.
const tsEscape = 1<<32 - 1

// tsEncoder appends groups to a timestamps frame: a stream reference, the
// group's structured metadata, a count, the timestamps as zigzag deltas
// from the previous one of the frame, and the line hashes when asked for.
// With widths, a group's deltas after the first are fixed 32-bit numbers
// when they all fit.
type tsEncoder struct {
	refs    streamRefs
	prevT   int64
	hashes  bool
	widths  bool
	escapes bool // with widths: tsFixed32Esc groups
}

// start begins a frame's payload.
func (e *tsEncoder) start(b []byte) []byte {
	e.prevT = 0
	var flags byte
	if e.hashes {
		flags |= tsHashes
	}
	if e.widths {
		flags |= tsWidths
	}
	return append(b, flags)
}

// append writes a group; hs holds a hash per timestamp when the encoder
// writes hashes, and is ignored otherwise.
func (e *tsEncoder) append(b []byte, ls, meta labels.Labels, ts []int64, hs []uint64) []byte {
	b = e.refs.append(b, ls)
	b = appendLabels(b, meta)
	b = appendUvarint(b, uint64(len(ts)))
	if e.widths && len(ts) > 0 {
		b = appendVarint(b, ts[0]-e.prevT)
		fixed := true
		for i := 1; i < len(ts); i++ {
			if d := ts[i] - ts[i-1]; d < 0 || d >= 1<<32 {
				fixed = false
				break
			}
		}
		if !fixed && e.escapes {
			b = append(b, tsFixed32Esc)
			for i := 1; i < len(ts); i++ {
				if d := ts[i] - ts[i-1]; d >= 0 && d < tsEscape {
					b = binary.LittleEndian.AppendUint32(b, uint32(d))
				} else {
					b = binary.LittleEndian.AppendUint32(b, tsEscape)
					b = appendVarint(b, d)
				}
			}
		} else if fixed {
			b = append(b, tsFixed32)
			for i := 1; i < len(ts); i++ {
				b = binary.LittleEndian.AppendUint32(b, uint32(ts[i]-ts[i-1]))
			}
		} else {
			b = append(b, tsVarint)
			for i := 1; i < len(ts); i++ {
				b = appendVarint(b, ts[i]-ts[i-1])
			}
		}
		e.prevT = ts[len(ts)-1]
	} else {
		for _, t := range ts {
			b = appendVarint(b, t-e.prevT)
			e.prevT = t
		}
	}
	if e.hashes {
		for _, h := range hs {
			b = binary.LittleEndian.AppendUint64(b, h)
		}
	}
	return b
}

// tsDecoder reads timestamps frames.
type tsDecoder struct {
	table streamTable
	ts    []int64
	hs    []uint64
}

// frame calls fn for each group of a frame. ts and hs are reused once fn
// returns; hs is nil in a frame without hashes.
func (e *tsDecoder) frame(payload []byte, fn func(ls, meta labels.Labels, ts []int64, hs []uint64)) error {
	d := decoder{b: payload}
	flags := d.byte()
	if flags&^(tsHashes|tsWidths) != 0 {
		d.fail(fmt.Sprintf("unknown timestamps flags %#x", flags))
	}
	var prev int64
	for d.more() {
		ls := e.table.ref(&d)
		meta := d.labels()
		n := d.count(1)
		if n == 0 && d.err == nil {
			d.fail("empty timestamps group")
		}
		e.ts = e.ts[:0]
		switch {
		case d.err != nil:
		case flags&tsWidths == 0:
			for range n {
				prev += d.varint()
				e.ts = append(e.ts, prev)
			}
		default:
			prev += d.varint()
			e.ts = append(e.ts, prev)
			switch w := d.byte(); w {
			case tsVarint:
				for range n - 1 {
					prev += d.varint()
					e.ts = append(e.ts, prev)
				}
			case tsFixed32:
				if len(d.b) < 4*(n-1) {
					d.fail("short payload")
					break
				}
				for i := range n - 1 {
					prev += int64(binary.LittleEndian.Uint32(d.b[4*i:]))
					e.ts = append(e.ts, prev)
				}
				d.b = d.b[4*(n-1):]
			case tsFixed32Esc:
				for range n - 1 {
					if len(d.b) < 4 {
						d.fail("short payload")
						break
					}
					v := binary.LittleEndian.Uint32(d.b) // inline: the hot loop of a count's read
					d.b = d.b[4:]
					if v == tsEscape {
						prev += d.varint()
					} else {
						prev += int64(v)
					}
					e.ts = append(e.ts, prev)
				}
			default:
				d.fail(fmt.Sprintf("unknown timestamps width %d", w))
			}
		}
		var hs []uint64
		if flags&tsHashes != 0 {
			e.hs = e.hs[:0]
			for range n {
				e.hs = append(e.hs, d.fixed64())
			}
			hs = e.hs
		}
		if d.err != nil {
			break
		}
		fn(ls, meta, e.ts, hs)
	}
	return d.end()
}

// Series frames: label sets, one after another.
func appendSeries(b []byte, ls labels.Labels) []byte { return appendLabels(b, ls) }

func decodeSeries(payload []byte, fn func(labels.Labels)) error {
	d := decoder{b: payload}
	for d.more() {
		ls := d.labels()
		if d.err != nil {
			break
		}
		fn(ls)
	}
	return d.end()
}

// Strings frames: label names or values, one after another.
func decodeStrings(payload []byte, dst []string) ([]string, error) {
	d := decoder{b: payload}
	for d.more() {
		s := d.string()
		if d.err != nil {
			break
		}
		dst = append(dst, s)
	}
	return dst, d.end()
}

// Figures frames: per group a stream reference, a count of buckets and
// each bucket's entries, bytes and chunks (zigzag varints).
type figuresEncoder struct{ refs streamRefs }

func (e *figuresEncoder) append(b []byte, ls labels.Labels, figs []store.Figures) []byte {
	b = e.refs.append(b, ls)
	b = appendUvarint(b, uint64(len(figs)))
	for _, f := range figs {
		b = appendVarint(b, f.Entries)
		b = appendVarint(b, f.Bytes)
		b = appendVarint(b, f.Chunks)
	}
	return b
}

type figuresDecoder struct {
	table streamTable
	figs  []store.Figures
}

// frame calls fn for each group; figs is reused once fn returns.
func (e *figuresDecoder) frame(payload []byte, fn func(ls labels.Labels, figs []store.Figures)) error {
	d := decoder{b: payload}
	for d.more() {
		ls := e.table.ref(&d)
		n := d.count(3)
		e.figs = e.figs[:0]
		for range n {
			e.figs = append(e.figs, store.Figures{Entries: d.varint(), Bytes: d.varint(), Chunks: d.varint()})
		}
		if d.err != nil {
			break
		}
		fn(ls, e.figs)
	}
	return d.end()
}

// Drops frames: the total a tail dropped so far, then per drop a stream
// reference and the timestamp as a zigzag delta from the previous one.
type dropsEncoder struct{ refs streamRefs }

func (e *dropsEncoder) append(b []byte, total int64, drops []store.TailDrop) []byte {
	b = appendUvarint(b, uint64(total))
	var prev int64
	for _, dr := range drops {
		b = e.refs.append(b, dr.Labels)
		b = appendVarint(b, dr.T-prev)
		prev = dr.T
	}
	return b
}

type dropsDecoder struct{ table streamTable }

func (e *dropsDecoder) frame(payload []byte, dst []store.TailDrop) (int64, []store.TailDrop, error) {
	d := decoder{b: payload}
	total := d.uvarint()
	var prev int64
	for d.more() {
		ls := e.table.ref(&d)
		prev += d.varint()
		if d.err != nil {
			break
		}
		dst = append(dst, store.TailDrop{Labels: ls, T: prev})
	}
	if total > 1<<62 {
		d.fail("drop count out of range")
	}
	return int64(total), dst, d.end()
}

// End frames: the statistics of the read, a count then each figure of
// statFields as a zigzag varint. A reader takes the figures it knows, so
// that figures added later at the end do not break older nodes.
func appendEnd(b []byte, st *store.Stats) []byte {
	fs := statFields(st)
	b = appendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = appendVarint(b, f.Load())
	}
	return b
}

// decodeEnd adds the statistics of an end frame to st (which may be nil).
func decodeEnd(payload []byte, st *store.Stats) error {
	d := decoder{b: payload}
	n := d.count(1)
	var dummy store.Stats
	if st == nil {
		st = &dummy
	}
	fs := statFields(st)
	for i := range n {
		v := d.varint()
		if d.err != nil || i >= len(fs) {
			continue
		}
		if fs[i] == &st.HeadReached {
			// A flag, not a sum.
			if v > 0 {
				st.HeadReached.Store(1)
			}
			continue
		}
		fs[i].Add(v)
	}
	return d.end()
}

// statFields lists the figures of a Stats in their order on the wire.
// Append new ones at the end; TestStatFieldsComplete checks that none is
// left out.
func statFields(s *store.Stats) []*atomic.Int64 {
	return []*atomic.Int64{
		&s.HeadReached, &s.HeadChunks, &s.HeadBatches, &s.HeadLines, &s.HeadBytes,
		&s.HeadMetaBytes, &s.HeadSent, &s.HeadDuplicates, &s.HeadPostFilter,
		&s.ChunksRef, &s.ChunksTested, &s.ChunksFiltered, &s.ChunksDownloaded,
		&s.ChunksNoMatch, &s.CompressedBytes,
		&s.Lines, &s.Bytes, &s.MetaBytes, &s.Duplicates, &s.PostFilter,
		&s.IndexTime, &s.FilterTime, &s.ReadTime,
		&s.Streams, &s.Selects,
	}
}

// Error frames: an HTTP status and a message.
func appendError(b []byte, status int, msg string) []byte {
	b = appendUvarint(b, uint64(status))
	return appendString(b, msg)
}

func decodeError(payload []byte) (int, string, error) {
	d := decoder{b: payload}
	status := d.uvarint()
	msg := d.string()
	if status < 100 || status > 599 {
		d.fail("bad status")
	}
	return int(status), msg, d.end()
}
