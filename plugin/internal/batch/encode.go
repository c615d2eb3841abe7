package batch

import (
	"github.com/klauspost/compress/s2"
	"github.com/loam-logs/loam/server/push"
)

// encode cuts each tenant's entries into requests and encodes them.
func (b *Builder) encode() []Request {
	limit := b.cfg.BatchSize
	for _, t := range b.active {
		idx := t.entries
		for lo := 0; lo < len(idx); {
			hi, size := lo, 0
			for hi < len(idx) {
				n := len(b.entries[idx[hi]].line)
				if hi > lo && limit > 0 && size+n > limit {
					break
				}
				size += n
				hi++
			}
			b.encodeRequest(t, idx[lo:hi], size)
			lo = hi
		}
	}
	return b.reqs
}

// encodeRequest encodes the entries idx of tenant t (chunk order) as one
// request: grouped by stream, streams in order of first appearance.
func (b *Builder) encodeRequest(t *tenant, idx []int32, size int) {
	b.used = b.used[:0]
	nmeta := 0
	for _, i := range idx {
		e := &b.entries[i]
		s := &t.list[e.stream]
		if s.count == 0 {
			b.used = append(b.used, e.stream)
		}
		s.count++
		nmeta += int(e.metaN)
	}
	var off int32
	for _, si := range b.used {
		s := &t.list[si]
		s.next = off
		off += s.count
	}
	b.pentries = grow(b.pentries, len(idx))
	b.pmeta = grow(b.pmeta, nmeta)[:0]
	for _, i := range idx {
		e := &b.entries[i]
		s := &t.list[e.stream]
		pe := &b.pentries[s.next]
		s.next++
		pe.Timestamp = e.ts
		pe.Line = unsafeString(e.line)
		pe.Metadata = nil
		if e.metaN > 0 {
			m0 := len(b.pmeta)
			for _, m := range b.metas[e.meta0 : e.meta0+e.metaN] {
				b.pmeta = append(b.pmeta, push.LabelPair{Name: m.name, Value: unsafeString(m.value)})
			}
			pe.Metadata = b.pmeta[m0:len(b.pmeta):len(b.pmeta)]
		}
	}
	b.pr.Streams = b.pr.Streams[:0]
	for _, si := range b.used {
		s := &t.list[si]
		start := s.next - s.count
		b.pr.Streams = append(b.pr.Streams, push.Stream{Labels: s.labels, Entries: b.pentries[start:s.next:s.next]})
		s.count, s.next = 0, 0
	}
	b.raw = push.EncodeProto(b.raw[:0], &b.pr)
	clear(b.pr.Streams)
	b.reqs = append(b.reqs, Request{Tenant: t.id, Body: b.compress(b.raw), Records: len(idx), Bytes: size})
}

// compress snappy-encodes raw into the bodies arena. When the arena is
// full a new one is started: bodies already handed out keep the old one.
func (b *Builder) compress(raw []byte) []byte {
	need := s2.MaxEncodedLen(len(raw))
	if cap(b.bodies)-len(b.bodies) < need {
		b.bodies = make([]byte, 0, max(2*cap(b.bodies), need))
	}
	out := s2.EncodeSnappy(b.bodies[len(b.bodies):cap(b.bodies)], raw)
	b.bodies = b.bodies[:len(b.bodies)+len(out)]
	return out[:len(out):len(out)]
}

// grow returns s with length n, reusing its array when it is big enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}
