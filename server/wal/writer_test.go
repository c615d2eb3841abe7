package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestParseSyncPolicy(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		got, err := ParseSyncPolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParseSyncPolicy(%q) = %v, %v", p.String(), got, err)
		}
		var q SyncPolicy
		b, _ := p.MarshalText()
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("text round trip of %v: %v, %v", p, q, err)
		}
	}
	if p, err := ParseSyncPolicy(" Interval "); err != nil || p != SyncInterval {
		t.Errorf("ParseSyncPolicy is not case-insensitive: %v %v", p, err)
	}
	if _, err := ParseSyncPolicy("sometimes"); err == nil {
		t.Error("ParseSyncPolicy(sometimes) succeeded")
	}
	if _, err := Open(t.TempDir(), Options{SyncPolicy: 7}); err == nil {
		t.Error("Open with invalid policy succeeded")
	}
}

func TestSegmentNames(t *testing.T) {
	if got := segmentName(3); got != "00000003" {
		t.Fatalf("segmentName(3) = %q", got)
	}
	for name, want := range map[string]int{"00000001": 1, "12345678": 12345678, "00000000": 0, "0000001": 0, "000000001": 0, "0000000a": 0, "00000001.tmp": 0} {
		got, ok := parseSegmentName(name)
		if got != want || ok != (want != 0) {
			t.Errorf("parseSegmentName(%q) = %d, %v", name, got, ok)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: 16 << 10, SyncPolicy: policy, SyncInterval: time.Millisecond}
			w := openTest(t, dir, opts)
			r := rand.New(rand.NewPCG(1, uint64(policy)))
			var want [][]byte
			for len(want) < 1500 {
				n := r.IntN(1500)
				if r.IntN(50) == 0 {
					n = 20 << 10 // bigger than a segment
				}
				if r.IntN(5) == 0 {
					batch := [][]byte{randPayload(r, r.IntN(1500)), randPayload(r, r.IntN(100)), {}}
					if err := w.AppendBatch(batch...); err != nil {
						t.Fatal(err)
					}
					want = append(want, batch...)
					continue
				}
				p := randPayload(r, n)
				if err := w.Append(p); err != nil {
					t.Fatal(err)
				}
				want = append(want, p)
			}
			first, last, err := w.Segments()
			if err != nil {
				t.Fatal(err)
			}
			if first != 1 || last < 10 {
				t.Fatalf("Segments() = %d, %d; want 1 and many", first, last)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// No segment exceeds SegmentSize unless it holds a single record.
			seqs, _ := listSegments(dir)
			for _, seq := range seqs {
				data, _ := os.ReadFile(filepath.Join(dir, segmentName(seq)))
				if int64(len(data)) > opts.SegmentSize {
					var n int
					(&segmentReader{maxRecord: DefaultMaxRecordSize, br: newTestBufReader()}).replay(filepath.Join(dir, segmentName(seq)), func([]byte) error { n++; return nil })
					if n != 1 {
						t.Errorf("segment %d is %d bytes with %d records", seq, len(data), n)
					}
				}
			}
			got, st := replayAll(t, dir, Options{})
			equalRecords(t, got, want)
			var bytesWant int64
			for _, p := range want {
				bytesWant += int64(len(p))
			}
			if st.Corruptions != 0 || st.Records != len(want) || st.Bytes != bytesWant || st.Segments != last {
				t.Fatalf("stats %+v, want %d records %d bytes %d segments", st, len(want), bytesWant, last)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, Options{MaxRecordSize: 100})
	if err := w.Append(make([]byte, 101)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("oversized append: %v", err)
	}
	if err := w.Append(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := w.AppendBatch(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := w.Cut(); !errors.Is(err, ErrClosed) {
		t.Fatalf("cut after close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	got, _ := replayAll(t, dir, Options{MaxRecordSize: 100})
	equalRecords(t, got, [][]byte{make([]byte, 100)})
}

// segmentRecords returns the records of one segment file.
func segmentRecords(t *testing.T, dir string, seq int) []string {
	t.Helper()
	var out []string
	r := &segmentReader{maxRecord: DefaultMaxRecordSize, br: newTestBufReader()}
	_, _, _, cerr, err := r.replay(filepath.Join(dir, segmentName(seq)), func(p []byte) error {
		out = append(out, string(p))
		return nil
	})
	if err != nil || cerr != nil {
		t.Fatalf("segment %d: %v %v", seq, err, cerr)
	}
	return out
}

func TestCutTruncate(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, Options{})
	for _, s := range []string{"a", "b"} {
		if err := w.Append([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := w.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("Cut returned %d, want 2", n)
	}
	// Cutting an empty segment keeps it.
	if n2, err := w.Cut(); err != nil || n2 != n {
		t.Fatalf("second Cut = %d, %v; want %d", n2, err, n)
	}
	if err := w.Append([]byte("c")); err != nil {
		t.Fatal(err)
	}
	if first, last, err := w.Segments(); err != nil || first != 1 || last != 2 {
		t.Fatalf("Segments() = %d, %d, %v", first, last, err)
	}
	if got := segmentRecords(t, dir, 1); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("segment 1 holds %q", got)
	}
	n3, err := w.Cut()
	if err != nil || n3 != 3 {
		t.Fatalf("third Cut = %d, %v", n3, err)
	}
	if err := w.Append([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if err := w.Truncate(n3 + 1); err == nil {
		t.Fatal("Truncate beyond the current segment succeeded")
	}
	if err := w.Truncate(n); err != nil {
		t.Fatal(err)
	}
	if first, last, err := w.Segments(); err != nil || first != 2 || last != 3 {
		t.Fatalf("after Truncate(%d): Segments() = %d, %d, %v", n, first, last, err)
	}
	if err := w.Truncate(n); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := w.Truncate(n3); err != nil {
		t.Fatal(err)
	}
	// Segment 3 alone is left, holding "d".
	if b, err := w.DiskBytes(); err != nil || b != HeaderSize+RecordHeaderSize+1 {
		t.Fatalf("DiskBytes() = %d, %v; want %d", b, err, HeaderSize+RecordHeaderSize+1)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, st := replayAll(t, dir, Options{})
	equalRecords(t, got, [][]byte{[]byte("d")})
	if st.Segments != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A reopened WAL continues the numbering after the remaining segments.
	w = openTest(t, dir, Options{})
	if first, last, err := w.Segments(); err != nil || first != 3 || last != 4 {
		t.Fatalf("reopened: Segments() = %d, %d, %v", first, last, err)
	}
	w.Close()
}

func TestOpenAfterCrashStartsNewSegment(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, Options{})
	for i := range 10 {
		if err := w.Append(fmt.Appendf(nil, "r%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// "Crash": no Close; leave a torn record at the end of segment 1.
	path := filepath.Join(dir, segmentName(1))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := appendRecord(nil, []byte("never acknowledged"))
	f.Write(torn[:len(torn)-3])
	f.Close()
	size := fileSize(t, path)

	w2 := openTest(t, dir, Options{})
	if _, last, _ := w2.Segments(); last != 2 {
		t.Fatalf("reopened WAL writes to segment %d, want 2", last)
	}
	if err := w2.Append([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, path); got != size {
		t.Fatalf("old segment changed size: %d -> %d", size, got)
	}
	w2.Close()
	w.Close()

	got, st := replayAll(t, dir, Options{})
	if len(got) != 11 || string(got[9]) != "r9" || string(got[10]) != "after" || st.Corruptions != 1 {
		t.Fatalf("replayed %q, stats %+v", got, st)
	}
	if fileSize(t, path) != size-int64(len(torn)-3) {
		t.Fatalf("torn tail not truncated")
	}
}

func TestConcurrentSyncAlways(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, Options{SegmentSize: 64 << 10, SyncPolicy: SyncAlways})
	const goroutines, perG = 16, 200
	var wg sync.WaitGroup
	var stop atomic.Bool
	// Cut and Truncate-nothing concurrently with the appenders.
	cutDone := make(chan struct{})
	go func() {
		defer close(cutDone)
		for !stop.Load() {
			if _, err := w.Cut(); err != nil {
				t.Error(err)
				return
			}
			if _, _, err := w.Segments(); err != nil {
				t.Error(err)
				return
			}
			if err := w.Truncate(1); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := range perG {
				p := fmt.Appendf(nil, "%02d:%05d:", g, i)
				p = append(p, bytes.Repeat([]byte{byte(g)}, r.IntN(2000))...)
				var err error
				if i%10 == 0 {
					err = w.AppendBatch(p, []byte(fmt.Sprintf("%02d:batch", g)))
				} else {
					err = w.Append(p)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	<-cutDone
	fsyncs := w.fsyncs.Load()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, st := replayAll(t, dir, Options{})
	next := make([]int, goroutines)
	for _, p := range got {
		var g, i int
		if n, _ := fmt.Sscanf(string(p), "%02d:%05d:", &g, &i); n == 2 {
			if i != next[g] {
				t.Fatalf("goroutine %d: record %d after %d", g, i, next[g]-1)
			}
			next[g]++
		}
	}
	for g, n := range next {
		if n != perG {
			t.Fatalf("goroutine %d: %d records replayed, want %d", g, n, perG)
		}
	}
	if st.Corruptions != 0 {
		t.Fatalf("stats %+v", st)
	}
	appends := goroutines * perG
	t.Logf("%d appends, %d fsyncs (group commit), %d segments", appends, fsyncs, st.Segments)
}

func TestSyncIntervalSyncsInBackground(t *testing.T) {
	w := openTest(t, t.TempDir(), Options{SyncPolicy: SyncInterval, SyncInterval: 5 * time.Millisecond})
	defer w.Close()
	base := w.fsyncs.Load()
	if err := w.Append([]byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.fsyncs.Load() == base {
		if time.Now().After(deadline) {
			t.Fatal("no background fsync")
		}
		time.Sleep(time.Millisecond)
	}
	w.smu.Lock()
	synced := w.synced
	w.smu.Unlock()
	if synced != 1 {
		t.Fatalf("synced = %d", synced)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	if m2 := NewMetrics(reg); m2.BytesWritten != m.BytesWritten {
		t.Fatal("second NewMetrics on one registry did not reuse the collectors")
	}
	dir := t.TempDir()
	w := openTest(t, dir, Options{Metrics: m})
	w.Append([]byte("hello"))
	w.AppendBatch([]byte("a"), []byte("b"))
	w.Cut()
	w.Close()
	path := filepath.Join(dir, segmentName(2))
	os.WriteFile(path, []byte("LWAL\x01\x00\x00\x00garbage!"), 0o644)
	if _, err := Replay(dir, Options{Metrics: m}, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		mt := mf.GetMetric()[0]
		switch {
		case mt.GetCounter() != nil:
			values[mf.GetName()] = mt.GetCounter().GetValue()
		case mt.GetGauge() != nil:
			values[mf.GetName()] = mt.GetGauge().GetValue()
		case mt.GetHistogram() != nil:
			values[mf.GetName()] = float64(mt.GetHistogram().GetSampleCount())
		}
	}
	want := map[string]float64{
		"loam_wal_bytes_written_total":   3*RecordHeaderSize + 7,
		"loam_wal_records_written_total": 3,
		"loam_wal_segments":              2,
		"loam_wal_corruptions_total":     1,
	}
	for name, v := range want {
		if values[name] != v {
			t.Errorf("%s = %v, want %v", name, values[name], v)
		}
	}
	if values["loam_wal_fsync_duration_seconds"] < 3 {
		t.Errorf("fsync histogram has %v samples", values["loam_wal_fsync_duration_seconds"])
	}
	if _, ok := values["loam_wal_replay_duration_seconds"]; !ok {
		t.Error("no replay duration")
	}
	// A nil *Metrics is a no-op.
	var nilM *Metrics
	nilM.addWritten(1, 1)
	nilM.observeFsync(time.Second)
	nilM.setSegments(1)
	nilM.addSegments(1)
	nilM.replayed(time.Second)
	nilM.corruption()
	NewMetrics(nil).addWritten(1, 1)
}
