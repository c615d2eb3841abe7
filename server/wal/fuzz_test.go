package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReplay feeds arbitrary bytes to Replay as a segment file. Replay must
// not panic; it must return exactly the records of the longest valid prefix
// of the file (so every record it returns has a valid checksum), truncate the
// file to that prefix, and find nothing wrong on a second pass.
func FuzzReplay(f *testing.F) {
	valid, ends := encodeSegment([]byte("hello"), []byte{}, bytes.Repeat([]byte{0xab}, 300), []byte("world"))
	f.Add(valid)
	f.Add(valid[:ends[1]+3])
	f.Add(valid[:5])
	f.Add([]byte{})
	h := segmentHeader()
	f.Add(h[:])
	f.Add(append(bytes.Clone(valid), make([]byte, 64)...))
	f.Add(append(h[:], 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
	f.Add(append(h[:], 0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4, 5, 6))

	const maxRecord = 1 << 12 // small, to reach the too-large path
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, segmentName(1))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{MaxRecordSize: maxRecord}
		var got [][]byte
		st, err := Replay(dir, opts, func(p []byte) error {
			if len(p) > maxRecord {
				t.Fatalf("record of %d bytes exceeds max", len(p))
			}
			got = append(got, bytes.Clone(p))
			return nil
		})
		if len(data) >= HeaderSize && string(data[:4]) == Magic && data[4] != Version {
			if !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("version %d: err %v", data[4], err)
			}
			if !bytes.Equal(mustRead(t, path), data) {
				t.Fatal("file of unsupported version modified")
			}
			return
		}
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		after := mustRead(t, path)
		if !bytes.HasPrefix(data, after) {
			t.Fatal("replay changed the file other than by truncation")
		}
		if (st.Corruptions == 0) != (len(after) == len(data)) {
			t.Fatalf("%d corruptions but file cut from %d to %d bytes", st.Corruptions, len(data), len(after))
		}
		if st.Records != len(got) {
			t.Fatalf("stats count %d records, fn saw %d", st.Records, len(got))
		}
		// The surviving file is exactly a header and the returned records,
		// re-encoded (which recomputes their checksums).
		if len(after) == 0 {
			if len(got) != 0 {
				t.Fatalf("%d records from an empty prefix", len(got))
			}
		} else {
			if len(after) < HeaderSize || string(after[:4]) != Magic {
				t.Fatalf("kept %d bytes without a valid header", len(after))
			}
			var enc []byte
			for _, p := range got {
				enc = appendRecord(enc, p)
			}
			if !bytes.Equal(enc, after[HeaderSize:]) {
				t.Fatal("returned records do not re-encode to the kept prefix")
			}
		}
		got2, st2 := replayAll(t, dir, opts)
		if st2.Corruptions != 0 || len(got2) != len(got) {
			t.Fatalf("second replay: %d records, %d corruptions; first had %d records", len(got2), st2.Corruptions, len(got))
		}
	})
}

// FuzzSegmentReader checks the segment parser on in-memory bytes, without the
// file system, so it runs orders of magnitude faster than FuzzReplay: the
// records returned re-encode to exactly the prefix that the reader reports
// as good, and the prefix is the whole input unless a corruption is reported.
func FuzzSegmentReader(f *testing.F) {
	valid, ends := encodeSegment([]byte("hello"), []byte{}, bytes.Repeat([]byte{0xab}, 300), []byte("world"))
	f.Add(valid)
	f.Add(valid[:ends[2]-1])
	f.Add([]byte{})
	h := segmentHeader()
	f.Add(append(h[:], 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxRecord = 1 << 12
		r := &segmentReader{maxRecord: maxRecord}
		var enc []byte
		records, n, goodEnd, cerr, err := r.read(bytes.NewReader(data), int64(len(data)), func(p []byte) error {
			if len(p) > maxRecord {
				t.Fatalf("record of %d bytes", len(p))
			}
			enc = appendRecord(enc, p)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("hard error %v", err)
			}
			return
		}
		if cerr == nil && goodEnd != int64(len(data)) {
			t.Fatalf("no corruption but good prefix %d of %d", goodEnd, len(data))
		}
		if cerr != nil && goodEnd >= int64(len(data)) {
			t.Fatalf("corruption %v at %d of %d", cerr, goodEnd, len(data))
		}
		if goodEnd == 0 {
			if records != 0 {
				t.Fatal("records without a header")
			}
			return
		}
		if !bytes.Equal(enc, data[HeaderSize:goodEnd]) {
			t.Fatal("records do not re-encode to the good prefix")
		}
		if n > int64(len(enc)) || records > len(enc)/RecordHeaderSize {
			t.Fatalf("stats %d records %d bytes", records, n)
		}
	})
}
