package wal

import (
	"fmt"
	"testing"
	"time"
)

// reportFsync adds the mean fsync latency and fsyncs per append to a
// benchmark's output.
func reportFsync(b *testing.B, w *WAL) {
	n := w.fsyncs.Load()
	if n > 0 {
		b.ReportMetric(float64(w.fsyncNanos.Load())/float64(n)/1e3, "µs/fsync")
	}
	b.ReportMetric(float64(n)/float64(b.N), "fsyncs/op")
}

// BenchmarkAppend measures one appender at a time for each payload size and
// SyncPolicy (with the default 64 MiB segments, fsynced at rotation).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1 << 10, 200 << 10} {
		for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
			b.Run(fmt.Sprintf("%dKB/%v", size>>10, policy), func(b *testing.B) {
				w, err := Open(b.TempDir(), Options{SyncPolicy: policy})
				if err != nil {
					b.Fatal(err)
				}
				p := make([]byte, size)
				for i := range p {
					p[i] = byte(i * 7)
				}
				b.SetBytes(int64(size))
				base := w.fsyncs.Load()
				w.fsyncs.Add(-base)
				w.fsyncNanos.Store(0)
				b.ResetTimer()
				for b.Loop() {
					if err := w.Append(p); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				reportFsync(b, w)
				w.Close()
			})
		}
	}
}

// BenchmarkAppendParallel measures concurrent appenders (64 goroutines on
// GOMAXPROCS=2 via SetParallelism), where SyncAlways shares each fsync among
// the appenders queued behind it.
func BenchmarkAppendParallel(b *testing.B) {
	for _, size := range []int{1 << 10, 200 << 10} {
		for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
			b.Run(fmt.Sprintf("%dKB/%v", size>>10, policy), func(b *testing.B) {
				w, err := Open(b.TempDir(), Options{SyncPolicy: policy, SyncInterval: 100 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				p := make([]byte, size)
				b.SetBytes(int64(size))
				w.fsyncs.Store(0)
				w.fsyncNanos.Store(0)
				b.SetParallelism(32)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := w.Append(p); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				reportFsync(b, w)
				w.Close()
			})
		}
	}
}
