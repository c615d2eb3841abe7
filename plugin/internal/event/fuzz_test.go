package event

import (
	"testing"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/tinylib/msgp/msgp"
)

// FuzzReader checks that no input panics, that events come in order inside
// the chunk, and that every good event's record is one whole msgpack map.
func FuzzReader(f *testing.F) {
	f.Add(fbtest.Chunk(fbtest.CRIKubernetes("n", "ns", "p", "c", `{"a":1}`, true)))
	f.Add(fbtest.Chunk(fbtest.Journal("h", "u.service", "m", 3), fbtest.Kernel("h", "k")))
	f.Add(fbtest.Chunk(fbtest.Event{Group: fbtest.GroupStart}, fbtest.Event{Form: fbtest.V2, Record: map[string]any{"x": 1.5}}, fbtest.Event{Group: fbtest.GroupEnd}))
	f.Add(fbtest.Chunk(fbtest.Event{Form: fbtest.V1Float, Record: map[string]any{}}, fbtest.Event{Form: fbtest.V1Int, Record: map[string]any{}}))
	f.Add([]byte{0x92, 0xcb, 0x41, 0xd9, 0xf5, 0x3e, 0x69, 0xa2, 0x4b, 0x5e, 0x80})
	f.Add([]byte{0xc1})
	f.Fuzz(func(t *testing.T, chunk []byte) {
		var r Reader
		r.Reset(chunk)
		last := -1
		for r.Next() {
			e := r.At()
			if e.Offset <= last || e.Offset >= len(chunk) {
				t.Fatalf("event %d at offset %d after %d in %d bytes", e.Index, e.Offset, last, len(chunk))
			}
			last = e.Offset
			if e.Bad != nil {
				continue
			}
			if e.Time < 0 {
				t.Fatalf("negative time %d", e.Time)
			}
			rest, err := msgp.Skip(e.Record)
			if err != nil || len(rest) != 0 || msgp.NextType(e.Record) != msgp.MapType {
				t.Fatalf("record is not one map: %x", e.Record)
			}
		}
	})
}
