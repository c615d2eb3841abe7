package cluster

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// countingWriter counts the bytes of the answers.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.ResponseWriter.Write(p)
}

func (w countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// benchFixture is a store of 4 streams of n entries each, half in a
// block, and a Remote reading it whose answers' bytes are counted.
func benchFixture(b *testing.B, n int) (*store.Store, *Remote, *atomic.Int64) {
	s := openStore(b)
	fill(b, s, n)
	var sent atomic.Int64
	h := NewReadServer(store.Local{Store: s}, ServerOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(countingWriter{w, &sent}, r)
	}))
	b.Cleanup(srv.Close)
	return s, NewRemote("peer", srv.URL, nil, nil), &sent
}

// BenchmarkSelect reads every entry, directly and through a Remote:
// entries/s, and bytes/entry on the wire.
func BenchmarkSelect(b *testing.B) {
	s, r, sent := benchFixture(b, 100_000)
	p := store.SelectParams{Tenant: "t1", Matchers: mustMatchers(b, `{env=~".+"}`), Start: t0, End: t0 + int64(time.Hour)}
	for _, c := range []struct {
		name string
		r    selecter
		p    store.SelectParams
	}{
		{"direct", s, p},
		{"remote", r, p},
		{"direct-unordered", s, func() store.SelectParams { q := p; q.Unordered = true; return q }()},
		{"remote-unordered", r, func() store.SelectParams { q := p; q.Unordered = true; return q }()},
	} {
		b.Run(c.name, func(b *testing.B) {
			sent.Store(0)
			var n int64
			t1 := time.Now()
			for b.Loop() {
				it, err := c.r.Select(context.Background(), c.p)
				if err != nil {
					b.Fatal(err)
				}
				for it.Next() {
					n++
				}
				if err := it.Err(); err != nil {
					b.Fatal(err)
				}
				it.Close()
			}
			b.ReportMetric(float64(n)/time.Since(t1).Seconds(), "entries/s")
			if sent.Load() > 0 {
				b.ReportMetric(float64(sent.Load())/float64(n), "B/entry")
			}
		})
	}
}

// BenchmarkTimestamps counts entries with and without a line filter,
// directly and through a Remote, with and without line hashes:
// timestamps/s.
func BenchmarkTimestamps(b *testing.B) {
	s, r, sent := benchFixture(b, 100_000)
	for _, filter := range []string{"", `|= "error"`} {
		keep, _ := compileKeep(filter)
		p := store.SelectParams{Tenant: "t1", Matchers: mustMatchers(b, `{env=~".+"}`), Start: t0, End: t0 + int64(time.Hour), LineFilter: filter}
		name := "all"
		if filter != "" {
			name = "filtered"
		}
		for _, c := range []struct {
			name string
			run  func(fn func(ts []int64)) error
		}{
			{"direct", func(fn func([]int64)) error {
				return s.Timestamps(context.Background(), p, keep, func(_, _ labels.Labels, ts []int64) { fn(ts) })
			}},
			{"remote", func(fn func([]int64)) error {
				return r.Timestamps(context.Background(), p, keep, func(_, _ labels.Labels, ts []int64) { fn(ts) })
			}},
			{"remote-hashed", func(fn func([]int64)) error {
				return r.HashedTimestamps(context.Background(), p, keep, func(_, _ labels.Labels, ts []int64, _ []uint64) { fn(ts) })
			}},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				sent.Store(0)
				var n int64
				t1 := time.Now()
				for b.Loop() {
					if err := c.run(func(ts []int64) { n += int64(len(ts)) }); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/time.Since(t1).Seconds(), "timestamps/s")
				if sent.Load() > 0 {
					b.ReportMetric(float64(sent.Load())/float64(n), "B/timestamp")
				}
			})
		}
	}
}
