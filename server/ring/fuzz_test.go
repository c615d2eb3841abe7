package ring

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// FuzzDecodeDesc: any bytes a peer sends are refused with an error or
// decode to a valid ring state that survives re-encoding, never a panic.
func FuzzDecodeDesc(f *testing.F) {
	f.Add(AppendDesc(nil, sampleDesc()))
	f.Add(AppendDesc(nil, Desc{}))
	f.Add(encodeMember(sampleDesc()["loam-1"]))
	rng := rand.New(rand.NewPCG(7, 8))
	for range 8 {
		f.Add(AppendDesc(nil, randomDesc(rng)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDesc(b)
		if err != nil {
			return
		}
		again := AppendDesc(nil, d)
		if len(again) > len(b) {
			t.Fatalf("%x re-encodes longer, as %x", b, again)
		}
		d2, err := DecodeDesc(again)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("re-encoding does not decode alike: %v", err)
		}
		for name, m := range d {
			if name != m.Name || !m.State.Valid() {
				t.Fatalf("decoded an invalid member %v", m)
			}
		}
	})
}
