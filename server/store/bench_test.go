package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

// benchStreams builds pushes like pushbench's: 100 streams of 10 lines of
// ~160-byte JSON, out of 1,000 streams.
func benchPush(r *rand.Rand, first int, t int64) []Stream {
	out := make([]Stream, 100)
	for i := range out {
		id := (first + i) % 1000
		ls := labels.FromMap(map[string]string{"cluster": "lab", "namespace": fmt.Sprintf("ns-%d", id%20),
			"pod": fmt.Sprintf("app-%d-%04d", id%50, id), "container": fmt.Sprintf("c%d", id%3), "job": "bench"})
		es := make([]block.Entry, 10)
		for j := range es {
			t += 1000
			es[j] = block.Entry{T: t, Line: fmt.Appendf(nil, `{"level":"info","msg":"request served","path":"/v1/users/%d","status":200,"duration":"%.1fms","request_id":"%016x%016x"}`,
				r.IntN(10000), r.Float64()*900, r.Uint64(), r.Uint64())}
		}
		out[i] = Stream{Labels: ls, Entries: es}
	}
	return out
}

// BenchmarkAppend measures the write path per line: WAL record (S2), WAL
// write (no fsync), head append, and the flushes into blocks it triggers.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 1))
	pushes := make([][]Stream, 50)
	now := time.Now().UnixNano()
	for i := range pushes {
		pushes[i] = benchPush(r, i*100, now+int64(i)*1_000_000)
	}
	b.ReportAllocs()
	b.ResetTimer()
	lines := 0
	for i := 0; b.Loop(); i++ {
		p := pushes[i%len(pushes)]
		for j := range p {
			for k := range p[j].Entries {
				p[j].Entries[k].T += 10_000_000 // stay in order, avoid duplicates
			}
		}
		if _, err := s.Append("bench", p); err != nil {
			b.Fatal(err)
		}
		lines += 1000
	}
	s.Flush(context.Background())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(lines), "ns/line")
}

// BenchmarkSelect measures the read path per entry, on 1,000 streams of
// benchPush lines: half in blocks, half in the head. merge reads every
// entry in time order (a log query without limit), concat stream by stream
// (a metric query), count asks Timestamps to count lines holding a needle.
func BenchmarkSelect(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 3))
	t0 := time.Now().Add(-time.Hour).UnixNano()
	for i := 0; i < 200; i++ {
		if i == 100 {
			if err := s.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.Append("t1", benchPush(r, i*100, t0+int64(i)*100_000)); err != nil {
			b.Fatal(err)
		}
	}
	ms := []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "job", "bench")}
	lo, hi := t0, t0+int64(time.Hour)
	read := func(b *testing.B, p SelectParams) {
		n := 0
		for b.Loop() {
			it, err := s.Select(context.Background(), p)
			if err != nil {
				b.Fatal(err)
			}
			n = 0
			for it.Next() {
				n++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
			it.Close()
		}
		if n == 0 {
			b.Fatal("no entries")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
	}
	b.Run("merge", func(b *testing.B) {
		read(b, SelectParams{Tenant: "t1", Matchers: ms, Start: lo, End: hi})
	})
	b.Run("concat", func(b *testing.B) {
		read(b, SelectParams{Tenant: "t1", Matchers: ms, Start: lo, End: hi, Unordered: true})
	})
	b.Run("count", func(b *testing.B) {
		p := SelectParams{Tenant: "t1", Matchers: ms, Start: lo, End: hi, Needles: [][]string{{`"status":200`}}}
		keep := func(l []byte) bool { return bytes.Contains(l, []byte(`"status":200`)) }
		for b.Loop() {
			n := 0
			if err := s.Timestamps(context.Background(), p, keep, func(_, _ labels.Labels, ts []int64) { n += len(ts) }); err != nil || n == 0 {
				b.Fatal(err, n)
			}
		}
	})
}
