package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// tornFixture is a directory with an intact segment 1 and segment 2 holding
// payloads2, whose bytes the test damages.
type tornFixture struct {
	payloads1, payloads2 [][]byte
	seg1, seg2           []byte
	ends2                []int64 // end offset of each record in seg2
}

func newTornFixture() tornFixture {
	r := rand.New(rand.NewPCG(7, 7))
	var fx tornFixture
	fx.payloads1 = [][]byte{randPayload(r, 10), randPayload(r, 300)}
	fx.payloads2 = [][]byte{randPayload(r, 5), {}, randPayload(r, 40), randPayload(r, 1), randPayload(r, 17)}
	fx.seg1, _ = encodeSegment(fx.payloads1...)
	fx.seg2, fx.ends2 = encodeSegment(fx.payloads2...)
	return fx
}

// expectPrefix replays dir and checks that it returns segment 1 and the first
// k records of segment 2, with the given number of corruptions, that segment
// 2 was cut to wantSize, and that a second replay is clean and identical.
func (fx tornFixture) expectPrefix(t *testing.T, dir string, k int, corruptions int, wantSize int64) []*CorruptionError {
	t.Helper()
	want := append(append([][]byte{}, fx.payloads1...), fx.payloads2[:k]...)
	got, st := replayAll(t, dir, Options{})
	equalRecords(t, got, want)
	if st.Corruptions != corruptions || len(st.CorruptionErrors) != corruptions {
		t.Fatalf("stats %+v, want %d corruptions", st, corruptions)
	}
	ces := st.CorruptionErrors
	if size := fileSize(t, filepath.Join(dir, segmentName(2))); size != wantSize {
		t.Fatalf("segment 2 is %d bytes after replay, want %d", size, wantSize)
	}
	got, st = replayAll(t, dir, Options{})
	equalRecords(t, got, want)
	if st.Corruptions != 0 {
		t.Fatalf("second replay: %d corruptions", st.Corruptions)
	}
	return ces
}

// intactPrefix returns how many records of seg2 end at or before n bytes.
func (fx tornFixture) intactPrefix(n int64) (k int, end int64) {
	end = HeaderSize
	for k < len(fx.ends2) && fx.ends2[k] <= n {
		end = fx.ends2[k]
		k++
	}
	return k, end
}

func TestReplayTornTail(t *testing.T) {
	fx := newTornFixture()
	for n := 0; n <= len(fx.seg2); n++ {
		dir := t.TempDir()
		writeSegment(t, dir, 1, fx.seg1)
		writeSegment(t, dir, 2, fx.seg2[:n])
		k, end := fx.intactPrefix(int64(n))
		corruptions := 1
		switch {
		case n == 0:
			corruptions, end = 0, 0
		case n < HeaderSize:
			end = 0
		case end == int64(n):
			corruptions = 0
		}
		ces := fx.expectPrefix(t, dir, k, corruptions, end)
		if corruptions == 1 {
			ce := ces[0]
			if ce.Segment != 2 || ce.Offset != end || !errors.Is(ce, ErrTornRecord) {
				t.Fatalf("truncated to %d: %v", n, ce)
			}
		}
	}
}

func TestReplayFlippedByte(t *testing.T) {
	fx := newTornFixture()
	for pos := 0; pos < len(fx.seg2); pos++ {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			data := bytes.Clone(fx.seg2)
			data[pos] ^= mask
			dir := t.TempDir()
			writeSegment(t, dir, 1, fx.seg1)
			writeSegment(t, dir, 2, data)
			switch {
			case pos < 4: // magic
				fx.expectPrefix(t, dir, 0, 1, 0)
			case pos == 4: // version
				if _, err := Replay(dir, Options{}, func([]byte) error { return nil }); !errors.Is(err, ErrUnsupportedVersion) {
					t.Fatalf("version %d: %v", data[4], err)
				}
				if !bytes.Equal(mustRead(t, filepath.Join(dir, segmentName(2))), data) {
					t.Fatal("segment with unsupported version was modified")
				}
			case pos < HeaderSize: // reserved
				fx.expectPrefix(t, dir, len(fx.payloads2), 0, int64(len(data)))
			default:
				// The record holding pos and everything after it are lost.
				k, end := fx.intactPrefix(int64(pos))
				ces := fx.expectPrefix(t, dir, k, 1, end)
				if ces[0].Offset != end {
					t.Fatalf("flip at %d: corruption reported at %d, want %d", pos, ces[0].Offset, end)
				}
			}
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplayCorruptMiddleSegment(t *testing.T) {
	dir := t.TempDir()
	s1, _ := encodeSegment([]byte("a"), []byte("b"))
	s2, ends := encodeSegment([]byte("c"), []byte("d"), []byte("e"))
	s3, _ := encodeSegment([]byte("f"), []byte("g"))
	s2[ends[0]+RecordHeaderSize] ^= 0x40 // payload of "d"
	writeSegment(t, dir, 1, s1)
	writeSegment(t, dir, 2, s2)
	writeSegment(t, dir, 3, s3)
	got, st := replayAll(t, dir, Options{})
	if s := string(bytes.Join(got, nil)); s != "abcfg" {
		t.Fatalf("replayed %q", s)
	}
	if st.Corruptions != 1 || st.Segments != 3 || !errors.Is(st.CorruptionErrors[0], ErrChecksum) || st.CorruptionErrors[0].Segment != 2 {
		t.Fatalf("stats %+v %v", st, st.CorruptionErrors)
	}
}

func TestReplayZeroFilledTail(t *testing.T) {
	dir := t.TempDir()
	s, ends := encodeSegment([]byte("a"), []byte(""), []byte("c"))
	path := writeSegment(t, dir, 1, append(s, make([]byte, 4096)...))
	got, st := replayAll(t, dir, Options{})
	if len(got) != 3 || st.Corruptions != 1 || !errors.Is(st.CorruptionErrors[0], ErrChecksum) {
		t.Fatalf("replayed %q, stats %+v", got, st)
	}
	if fileSize(t, path) != ends[2] {
		t.Fatal("zero tail not truncated")
	}
}

func TestReplayGiantLength(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length uint32
		want   error
	}{
		{"above max", 0xFFFFFFF0, ErrRecordTooLarge},
		{"below max but past EOF", DefaultMaxRecordSize, ErrTornRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := encodeSegment([]byte("ok"))
			var rh [RecordHeaderSize]byte
			binary.LittleEndian.PutUint32(rh[0:4], tc.length)
			s = append(append(s, rh[:]...), make([]byte, 100)...)
			writeSegment(t, dir, 1, s)

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			got, st := replayAll(t, dir, Options{})
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Fatalf("replay allocated %d bytes", alloc)
			}
			if len(got) != 1 || st.Corruptions != 1 || !errors.Is(st.CorruptionErrors[0], tc.want) {
				t.Fatalf("replayed %q, stats %+v %v", got, st, st.CorruptionErrors)
			}
		})
	}
}

func TestReplayEdgeCases(t *testing.T) {
	t.Run("missing dir", func(t *testing.T) {
		got, st := replayAll(t, filepath.Join(t.TempDir(), "nope"), Options{})
		if len(got) != 0 || st.Segments != 0 {
			t.Fatal(got, st)
		}
	})
	t.Run("empty and header-only segments, foreign files", func(t *testing.T) {
		dir := t.TempDir()
		writeSegment(t, dir, 1, nil)
		h := segmentHeader()
		writeSegment(t, dir, 2, h[:])
		s, _ := encodeSegment([]byte("x"))
		writeSegment(t, dir, 5, s) // gap is tolerated
		os.WriteFile(filepath.Join(dir, "00000003.tmp"), []byte("junk"), 0o644)
		os.Mkdir(filepath.Join(dir, "00000004"), 0o755)
		got, st := replayAll(t, dir, Options{})
		if len(got) != 1 || st.Segments != 3 || st.Corruptions != 0 {
			t.Fatal(got, st)
		}
	})
	t.Run("callback error", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := encodeSegment([]byte("x"), []byte("y"))
		writeSegment(t, dir, 1, s)
		boom := errors.New("boom")
		n := 0
		st, err := Replay(dir, Options{}, func([]byte) error {
			n++
			if n == 2 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || st.Records != 1 {
			t.Fatal(err, st)
		}
		if fileSize(t, filepath.Join(dir, segmentName(1))) != int64(len(s)) {
			t.Fatal("callback error truncated the segment")
		}
	})
	t.Run("payload buffer bounded by max record", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := encodeSegment(make([]byte, 200))
		writeSegment(t, dir, 1, s)
		got, st := replayAll(t, dir, Options{MaxRecordSize: 100})
		if len(got) != 0 || st.Corruptions != 1 || !errors.Is(st.CorruptionErrors[0], ErrRecordTooLarge) {
			t.Fatal(got, st)
		}
	})
}

func TestCorruptionErrorUnwraps(t *testing.T) {
	var err error = &CorruptionError{Segment: 3, Offset: 42, Err: ErrChecksum}
	if !errors.Is(err, ErrChecksum) {
		t.Fatal("does not unwrap")
	}
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Segment != 3 {
		t.Fatal("errors.As")
	}
	if got := err.Error(); got != "wal: corrupt segment 3 at offset 42: checksum mismatch" {
		t.Fatal(got)
	}
}
