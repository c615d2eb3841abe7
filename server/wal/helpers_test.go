package wal

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// replayAll replays dir and returns copies of the payloads.
func replayAll(t testing.TB, dir string, opts Options) ([][]byte, ReplayStats) {
	t.Helper()
	var got [][]byte
	st, err := Replay(dir, opts, func(p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got, st
}

func openTest(t testing.TB, dir string, opts Options) *WAL {
	t.Helper()
	w, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

func randPayload(r *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func equalRecords(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: got %d bytes %.16x…, want %d bytes %.16x…", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
}

// encodeSegment returns the bytes of a segment file holding payloads, and the
// offset at which each record ends.
func encodeSegment(payloads ...[]byte) ([]byte, []int64) {
	h := segmentHeader()
	b := h[:]
	var ends []int64
	for _, p := range payloads {
		b = appendRecord(b, p)
		ends = append(ends, int64(len(b)))
	}
	return b, ends
}

func writeSegment(t testing.TB, dir string, seq int, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, segmentName(seq))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func newTestBufReader() *bufio.Reader { return bufio.NewReaderSize(nil, 4096) }
