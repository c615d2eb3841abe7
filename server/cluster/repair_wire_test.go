package cluster

import (
	"maps"
	"math"
	"reflect"
	"testing"
)

func TestRepairWireRoundTrip(t *testing.T) {
	ds := map[digestKey]digest{
		{stream: 1, hour: 0}:               {entries: 3, sum: 42},
		{stream: math.MaxUint64, hour: -5}: {entries: 0, sum: math.MaxUint64},
		{stream: 7, hour: 494_000}:         {entries: 1 << 40, sum: 9},
	}
	got, err := decodeDigests(appendDigests(nil, ds))
	if err != nil || !maps.Equal(got, ds) {
		t.Fatalf("digests: %v, %v; want %v", got, err, ds)
	}
	diffs := []diff{
		{stream: 3, labels: `{a="b"}`, hour: 12, ts: []int64{-5, 0, 0, 1 << 62}},
		{stream: 4, hour: -1},
	}
	back, err := decodeDiffs(appendDiffs(nil, diffs))
	if err != nil || !reflect.DeepEqual(back, diffs) {
		t.Fatalf("diffs: %#v, %v; want %#v", back, err, diffs)
	}
}

func TestRepairWireCorrupt(t *testing.T) {
	good := appendDiffs(nil, []diff{{stream: 3, labels: `{a="b"}`, hour: 1, ts: []int64{1, 2}}})
	for i := range len(good) {
		if _, err := decodeDiffs(good[:i]); err == nil {
			t.Errorf("a diffs message cut at %d of %d bytes decoded", i, len(good))
		}
	}
	if _, err := decodeDiffs(append(good, 0)); err == nil {
		t.Error("a diffs message with a trailing byte decoded")
	}
	if _, err := decodeDigests([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Error("a digests message claiming 4G entries in 5 bytes decoded")
	}
}

func FuzzDecodeDigests(f *testing.F) {
	f.Add(appendDigests(nil, map[digestKey]digest{{1, 2}: {3, 4}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := decodeDigests(b)
		if err != nil {
			return
		}
		again, err := decodeDigests(appendDigests(nil, ds))
		if err != nil || !maps.Equal(again, ds) {
			t.Fatalf("re-encoded digests decode to %v, %v; want %v", again, err, ds)
		}
	})
}

func FuzzDecodeDiffs(f *testing.F) {
	f.Add(appendDiffs(nil, []diff{{stream: 3, labels: `{a="b"}`, hour: 1, ts: []int64{1, 2}}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x80, 0x80, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := decodeDiffs(b)
		if err != nil {
			return
		}
		for _, d := range ds {
			for i := 1; i < len(d.ts); i++ {
				if d.ts[i] < d.ts[i-1] {
					t.Fatalf("decoded timestamps descend: %v", d.ts)
				}
			}
		}
	})
}
