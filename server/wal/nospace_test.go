package wal

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rec is the payload of record i of a scenario: about 100 bytes.
func rec(i int) []byte { return fmt.Appendf(nil, "record %03d %090d", i, i) }

const recSize = RecordHeaderSize + 101 // framed size of rec(i)

// TestNoSpace makes appends fail the way a full or failing disk does, at
// chosen points, then heals the disk. Every acknowledged record must be
// replayed, in order, and nothing else except the records whose append
// failed (which may be replayed: a failed append promises nothing); the
// append after the failure must work and be replayed.
func TestNoSpace(t *testing.T) {
	tests := []struct {
		name   string
		policy SyncPolicy
		segSz  int64
		// break sets the disk up so that the next step fails; then step
		// appends (or cuts) and returns the payloads it tried, and the
		// error.
		brk  func(d *faultDisk)
		step func(w *WAL) ([][]byte, error)
		// wantIs: the step's error satisfies errors.Is with it.
		wantIs error
		// noSpace: the step's error satisfies IsNoSpace.
		noSpace bool
		// corruptions Replay reports (a torn tail that is not data).
		corruptions int
		// failedReplayed: whether the failed records come back.
		failedReplayed bool
		// newSegment: the append after the failure goes to a new segment.
		newSegment bool
	}{
		{
			name: "ENOSPC in the middle of a record", policy: SyncAlways,
			brk:    func(d *faultDisk) { d.free = recSize / 2 },
			step:   appendOne(10),
			wantIs: syscall.ENOSPC, noSpace: true,
		},
		{
			name: "EDQUOT in the middle of a record", policy: SyncInterval,
			brk:    func(d *faultDisk) { d.free, d.noSpace = recSize/2, syscall.EDQUOT },
			step:   appendOne(10),
			wantIs: syscall.EDQUOT, noSpace: true,
		},
		{
			name: "ENOSPC at the record header", policy: SyncNever,
			brk:    func(d *faultDisk) { d.free = 3 },
			step:   appendOne(10),
			wantIs: syscall.ENOSPC, noSpace: true,
		},
		{
			name: "ENOSPC in the second record of a batch", policy: SyncAlways,
			brk:    func(d *faultDisk) { d.free = recSize + 20 },
			step:   appendBatch(10, 11),
			wantIs: syscall.ENOSPC, noSpace: true,
		},
		{
			name: "write and truncate fail: torn tail in a retired segment", policy: SyncAlways,
			brk:    func(d *faultDisk) { d.free, d.failTruncate = recSize/2, true },
			step:   appendOne(10),
			wantIs: syscall.ENOSPC, noSpace: true,
			corruptions: 1, newSegment: true,
		},
		{
			name: "fsync fails with ENOSPC", policy: SyncAlways,
			brk:    func(d *faultDisk) { d.failSync = syscall.ENOSPC },
			step:   appendOne(10),
			wantIs: syscall.ENOSPC, noSpace: true,
			failedReplayed: true, newSegment: true,
		},
		{
			name: "fsync fails with EIO", policy: SyncAlways,
			brk:            func(d *faultDisk) { d.failSync = syscall.EIO },
			step:           appendOne(10),
			wantIs:         syscall.EIO,
			failedReplayed: true, newSegment: true,
		},
		{
			name: "segment creation fails at rotation", policy: SyncAlways, segSz: HeaderSize + 3*recSize,
			brk:    func(d *faultDisk) { d.failCreate = syscall.ENOSPC },
			step:   appendOne(10),
			wantIs: syscall.ENOSPC, noSpace: true,
			newSegment: true,
		},
		{
			name: "no room for the header of the next segment", policy: SyncInterval, segSz: HeaderSize + 3*recSize,
			brk:    func(d *faultDisk) { d.free = HeaderSize / 2 },
			step:   appendOne(10),
			wantIs: syscall.ENOSPC, noSpace: true,
			newSegment: true,
		},
		{
			name: "fsync of the new segment fails at rotation", policy: SyncAlways, segSz: HeaderSize + 3*recSize,
			brk:    func(d *faultDisk) { d.failSync = syscall.ENOSPC },
			step:   appendOne(10),
			wantIs: syscall.ENOSPC, noSpace: true,
			newSegment: true,
		},
		{
			name: "Cut finds no room for the next segment", policy: SyncAlways,
			brk: func(d *faultDisk) { d.free = 0 },
			step: func(w *WAL) ([][]byte, error) {
				_, err := w.Cut()
				return nil, err
			},
			wantIs: syscall.ENOSPC, noSpace: true,
			newSegment: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			d := newFaultDisk(1 << 40)
			defer d.install()()
			w := openTest(t, dir, Options{SyncPolicy: tt.policy, SegmentSize: tt.segSz, SyncInterval: time.Hour})
			var acked [][]byte
			for i := range 3 {
				if err := w.Append(rec(i)); err != nil {
					t.Fatalf("append %d: %v", i, err)
				}
				acked = append(acked, rec(i))
			}
			_, before, _ := w.Segments()
			d.set(tt.brk)
			failed, err := tt.step(w)
			if err == nil {
				t.Fatal("step succeeded on a broken disk")
			}
			if !errors.Is(err, tt.wantIs) || IsNoSpace(err) != tt.noSpace {
				t.Fatalf("step error %v: want errors.Is %v, IsNoSpace %v", err, tt.wantIs, tt.noSpace)
			}
			// While the disk stays broken, the step keeps failing cleanly.
			if _, err := tt.step(w); !errors.Is(err, tt.wantIs) {
				t.Fatalf("step again on the broken disk: %v", err)
			}
			d.heal()
			for i := 30; i < 32; i++ {
				if err := w.Append(rec(i)); err != nil {
					t.Fatalf("append %d after the disk healed: %v", i, err)
				}
				acked = append(acked, rec(i))
			}
			_, after, _ := w.Segments()
			if got := after > before; got != tt.newSegment {
				t.Errorf("segments %d → %d: new segment %v, want %v", before, after, got, tt.newSegment)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			got, st := replayAll(t, dir, Options{})
			if tt.failedReplayed && len(got) == len(acked)+len(failed) {
				want := slices.Concat(acked[:3], failed, acked[3:])
				equalRecords(t, got, want)
			} else {
				equalRecords(t, got, acked)
			}
			if st.Corruptions != tt.corruptions {
				t.Errorf("replay found %d corruptions, want %d: %v", st.Corruptions, tt.corruptions, st.CorruptionErrors)
			}
			// A second replay finds a clean log.
			if _, st := replayAll(t, dir, Options{}); st.Corruptions != 0 {
				t.Errorf("second replay: %d corruptions", st.Corruptions)
			}
		})
	}
}

func appendOne(i int) func(w *WAL) ([][]byte, error) {
	return func(w *WAL) ([][]byte, error) { return [][]byte{rec(i)}, w.Append(rec(i)) }
}

func appendBatch(i, j int) func(w *WAL) ([][]byte, error) {
	return func(w *WAL) ([][]byte, error) {
		return [][]byte{rec(i), rec(j)}, w.AppendBatch(rec(i), rec(j))
	}
}

// TestNoSpaceAtOpen: a WAL opened on a full disk serves no appends until
// there is room, then creates its segment and goes on.
func TestNoSpaceAtOpen(t *testing.T) {
	dir := t.TempDir()
	d := newFaultDisk(0)
	defer d.install()()
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open on a full disk: %v", err)
	}
	defer w.Close()
	if err := w.Append(rec(1)); !IsNoSpace(err) {
		t.Fatalf("append on a full disk: %v", err)
	}
	if seqs, _ := listSegments(dir); len(seqs) != 0 {
		t.Fatalf("segments left by failed creations: %v", seqs)
	}
	d.heal()
	if err := w.Append(rec(2)); err != nil {
		t.Fatalf("append after space came back: %v", err)
	}
	w.Close()
	got, _ := replayAll(t, dir, Options{})
	equalRecords(t, got, [][]byte{rec(2)})
}

// TestBackgroundFsyncFailure: under SyncInterval a failed background fsync
// retires the segment; the next append goes to a new one and works.
func TestBackgroundFsyncFailure(t *testing.T) {
	dir := t.TempDir()
	d := newFaultDisk(1 << 40)
	defer d.install()()
	w := openTest(t, dir, Options{SyncPolicy: SyncInterval, SyncInterval: time.Millisecond})
	defer w.Close()
	d.set(func(d *faultDisk) { d.failSync = syscall.ENOSPC })
	if err := w.Append(rec(1)); err != nil { // acknowledged: written, not yet synced
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		retired := w.seg.retired.Load()
		w.mu.Unlock()
		if retired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no background fsync within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	d.heal()
	if err := w.Append(rec(2)); err != nil {
		t.Fatalf("append after a failed background fsync: %v", err)
	}
	if _, last, _ := w.Segments(); last != 2 {
		t.Errorf("current segment %d, want 2", last)
	}
	w.Close()
	got, _ := replayAll(t, dir, Options{})
	equalRecords(t, got, [][]byte{rec(1), rec(2)})
}

// TestNoSpaceConcurrent: appenders under group commit while the disk runs
// full, fsyncs fail and space comes back, over and over. Every append that
// returned nil is replayed, in its writer's order; nothing panics or hangs.
func TestNoSpaceConcurrent(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			d := newFaultDisk(1 << 40)
			defer d.install()()
			w := openTest(t, dir, Options{SyncPolicy: policy, SyncInterval: time.Millisecond, SegmentSize: 16 << 10})
			const writers, perWriter = 4, 300
			acked := make([][]string, writers)
			var wg sync.WaitGroup
			stop := make(chan struct{})
			go func() { // the disk, going bad and healing
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Microsecond):
					}
					d.set(func(d *faultDisk) {
						switch i % 5 {
						case 0:
							d.free = int64(i%7) * 40
						case 1:
							d.failSync = syscall.ENOSPC
						case 2:
							d.failTruncate = i%2 == 0
							d.free = 50
						default:
							d.free, d.failSync, d.failTruncate = 1<<40, nil, false
						}
					})
				}
			}()
			for g := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perWriter {
						p := fmt.Sprintf("w%d.%04d", g, i)
						if err := w.Append([]byte(p)); err == nil {
							acked[g] = append(acked[g], p)
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			d.heal()
			if err := w.Append([]byte("last")); err != nil {
				t.Fatalf("append after healing: %v", err)
			}
			w.Close()
			got, _ := replayAll(t, dir, Options{})
			pos := map[string]int{}
			for i, p := range got {
				if _, dup := pos[string(p)]; dup {
					t.Fatalf("record %q replayed twice", p)
				}
				pos[string(p)] = i
			}
			n := 0
			for g := range writers {
				prev := -1
				for _, p := range acked[g] {
					i, ok := pos[p]
					if !ok {
						t.Fatalf("acknowledged record %q lost (%d replayed)", p, len(got))
					}
					if i < prev {
						t.Fatalf("record %q replayed out of order", p)
					}
					prev = i
				}
				n += len(acked[g])
			}
			if _, ok := pos["last"]; !ok {
				t.Fatal("the append after healing was lost")
			}
			if n == 0 {
				t.Fatal("no append was acknowledged")
			}
			t.Logf("%d of %d appends acknowledged, %d records replayed", n, writers*perWriter, len(got))
		})
	}
}
