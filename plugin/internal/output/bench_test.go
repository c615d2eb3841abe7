package output

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/loam-logs/loam/plugin/internal/batch"
)

// discard accepts every request without sending it: the plugin's own cost.
type discard struct{}

func (discard) Send(context.Context, batch.Request) error { return nil }

// BenchmarkFlush measures flush-to-wire for 1 KB container records in
// chunks of 1000 (about what Fluent Bit's tail input hands over): decoding,
// mapping, encoding, snappy, and either the HTTP round trip to a local
// server ("http") or nothing ("discard").
func BenchmarkFlush(b *testing.B) {
	const perChunk = 1000
	var chunk []byte
	for i := range perChunk {
		e := fbtest.CRIKubernetes("node-1", "shop", "cart-7c9f8d6b5-x2k4q", "cart", fbtest.Line(i, 1024), false)
		e.Time = fbtest.BaseTime.Add(time.Duration(i) * time.Microsecond)
		chunk = fbtest.Append(chunk, e)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	for _, mode := range []string{"discard", "http"} {
		b.Run(mode, func(b *testing.B) {
			cfg := testConfig(mustURL(b, srv.URL+"/loki/api/v1/push"))
			in, err := New(&cfg, "loam.0")
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			if mode == "discard" {
				in.send = discard{}
			}
			tag := fbtest.Tag("shop", "cart-7c9f8d6b5-x2k4q", "cart")
			ctx := context.Background()
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				if st := in.Flush(ctx, chunk, tag); st != OK {
					b.Fatalf("Flush = %v", st)
				}
			}
			b.ReportMetric(float64(b.N*perChunk)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(testing.AllocsPerRun(5, func() { in.Flush(ctx, chunk, tag) }))/perChunk, "allocs/record")
		})
	}
}
