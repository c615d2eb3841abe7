package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/loam-logs/loam/internal/golden"
	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/wal"
)

// encodePush encodes streams as a cluster node sends them to its peers.
func encodePush(streams []Stream) []byte {
	var req push.Request
	for _, s := range streams {
		ps := push.Stream{Labels: s.Labels.String()}
		for _, e := range s.Entries {
			pe := push.Entry{Timestamp: e.T, Line: string(e.Line)}
			for _, m := range e.Meta {
				pe.Metadata = append(pe.Metadata, push.LabelPair{Name: m.Name, Value: m.Value})
			}
			ps.Entries = append(ps.Entries, pe)
		}
		req.Streams = append(req.Streams, ps)
	}
	return s2.EncodeSnappy(nil, push.EncodeProto(nil, &req))
}

// recordStreams is a push's streams as text, for comparison.
func recordStreams(streams []Stream) []string {
	var out []string
	for _, s := range streams {
		for _, e := range s.Entries {
			out = append(out, fmt.Sprintf("%s %d %q %s", s.Labels, e.T, e.Line, e.Meta))
		}
	}
	return out
}

// TestRecordRoundTrip: both kinds of WAL record give back the push they
// hold.
func TestRecordRoundTrip(t *testing.T) {
	meta := labels.Labels{{Name: "trace_id", Value: "abc"}, {Name: "user", Value: "é \"q\"\n"}}
	cases := map[string][]Stream{
		"one entry":  {{Labels: ls("a"), Entries: entries(1, 1, "a")}},
		"metadata":   {{Labels: ls("a"), Entries: []block.Entry{{T: base, Line: []byte("x"), Meta: meta}, {T: base + 1, Line: []byte("")}}}},
		"escapes":    {{Labels: labels.FromMap(map[string]string{"job": `a"b\c` + "\n", "ns": "日本"}), Entries: entries(3, 7, "b")}},
		"two":        {{Labels: ls("a"), Entries: entries(5, 1000, "a")}, {Labels: ls("b"), Entries: entries(2, 1, "b")}},
		"negative t": {{Labels: ls("a"), Entries: []block.Entry{{T: -5, Line: []byte("before 1970")}}}},
	}
	for name, streams := range cases {
		t.Run(name, func(t *testing.T) {
			want := recordStreams(streams)
			records := map[string][]byte{
				"entries": compressRecord(nil, appendRecord(nil, "tenant-1", streams)),
				"push":    appendPushRecord(nil, "tenant-1", encodePush(streams)),
			}
			for kind, rec := range records {
				tenant, got, err := decodeRecord(rec)
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				if tenant != "tenant-1" || !slices.Equal(recordStreams(got), want) {
					t.Errorf("%s: got %q %q, want %q", kind, tenant, recordStreams(got), want)
				}
			}
		})
	}
}

// TestAppendEncodedReplay: a push appended with its wire encoding is
// replayed from the WAL whole; when the store refuses some of it, the WAL
// holds only what was taken, not the body.
func TestAppendEncodedReplay(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	taken := []Stream{{Labels: ls("a"), Entries: entries(20, 1000, "a")}, {Labels: ls("b"), Entries: entries(3, 1, "b")}}
	if rej, err := s.AppendEncoded("t1", taken, encodePush(taken)); err != nil || len(rej) > 0 {
		t.Fatal(rej, err)
	}
	// "c" is 2 h ahead, so the second push's first entry is refused.
	s.Append("t1", []Stream{{Labels: ls("c"), Entries: []block.Entry{{T: base + int64(2*time.Hour), Line: []byte("new")}}}})
	part := []Stream{{Labels: ls("c"), Entries: []block.Entry{{T: base, Line: []byte("too old")}, {T: base + int64(90*time.Minute), Line: []byte("ok")}}}}
	body := encodePush(part)
	if rej, err := s.AppendEncoded("t1", part, body); err != nil || len(rej) != 1 {
		t.Fatalf("rejected %v, %v; want the entry 2 h behind", rej, err)
	}
	crash(s)
	// The first push's record is its body as it came; the second's, which
	// the store took only in part, is the store's own.
	var records [][]byte
	if _, err := wal.Replay(filepath.Join(dir, "wal"), wal.Options{}, func(p []byte) error {
		records = append(records, bytes.Clone(p))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 || !bytes.Equal(records[0], appendPushRecord(nil, "t1", encodePush(taken))) || records[2][0] != recEntriesS2 {
		t.Fatalf("%d WAL records; want 3: the first push's body as it came, then two of the store's own", len(records))
	}
	s = openTest(t, dir)
	defer s.Close()
	got := selectAll(t, s, SelectParams{End: base + int64(3*time.Hour)})
	var lines []string
	for _, g := range got {
		lines = append(lines, g.stream+" "+g.line)
	}
	slices.Sort(lines)
	if len(lines) != 25 || slices.Contains(lines, "c too old") || !slices.Contains(lines, "c ok") || !slices.Contains(lines, "b b line 2") {
		t.Fatalf("after replay: %d lines %q; want the 23 taken at first, c's new and ok, not too old", len(lines), lines)
	}
}

// FuzzDecodeRecord: no record, however damaged, panics the replay, and
// the records Append writes decode to what was appended.
func FuzzDecodeRecord(f *testing.F) {
	streams := []Stream{{Labels: ls("a"), Entries: []block.Entry{{T: 1, Line: []byte("x"), Meta: labels.Labels{{Name: "k", Value: "v"}}}}}}
	f.Add(compressRecord(nil, appendRecord(nil, "t", streams)))
	f.Add(appendRecord(nil, "t", streams))
	f.Add(appendPushRecord(nil, "t", encodePush(streams)))
	f.Add([]byte{recPushSnappy, 1, 't', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		tenant, streams, err := decodeRecord(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes again to the same push.
		again, got, err := decodeRecord(compressRecord(nil, appendRecord(nil, tenant, streams)))
		if err != nil || again != tenant || !slices.Equal(recordStreams(got), recordStreams(streams)) {
			t.Fatalf("re-encoded record: %v %q %q, want %q %q", err, again, recordStreams(got), tenant, recordStreams(streams))
		}
	})
}

// TestPushRecordFormat: a recPushSnappy record written by the first
// version that wrote them still decodes to the same push. WALs outlive
// binaries: a change to the decoders (this package's or push's) must not
// turn records on disk into records to skip. The record file is written
// only where missing (go test -update), the decoded text is golden.
func TestPushRecordFormat(t *testing.T) {
	const path = "testdata/wal-push-record.bin"
	if _, err := os.Stat(path); os.IsNotExist(err) && golden.Update() {
		streams := []Stream{
			{Labels: labels.FromMap(map[string]string{"app": "api", "ns": "prod", "quote": `say "hi"\n`}), Entries: []block.Entry{
				{T: 1_700_000_000_123_456_789, Line: []byte(`{"level":"info","msg":"GET /v1/order 200"}`)},
				{T: 1_700_000_001_000_000_000, Line: []byte("plain line, ünïcode"), Meta: labels.Labels{{Name: "trace_id", Value: "4bf92f3577b34da6"}}},
			}},
			{Labels: labels.FromMap(map[string]string{"app": "db"}), Entries: []block.Entry{{T: -1, Line: []byte("")}}},
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, appendPushRecord(nil, "tenant-a", encodePush(streams)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tenant, streams, err := decodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/wal-push-record.golden", []byte(strings.Join(append([]string{tenant}, recordStreams(streams)...), "\n")+"\n"))
}
