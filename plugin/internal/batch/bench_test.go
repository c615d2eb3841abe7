package batch

import (
	"fmt"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/loam-logs/loam/plugin/internal/config"
)

// benchChunk is a chunk as Fluent Bit flushes it from a busy node: about
// 2 MB of CRI container records enriched by the kubernetes filter, 1 KB
// lines, from 100 containers (20 namespaces × 5 pods).
func benchChunk(lineSize int) (chunk []byte, records int) {
	for i := 0; len(chunk) < 2<<20; i++ {
		ns := fmt.Sprintf("team-%02d", i%20)
		pod := fmt.Sprintf("api-7d4b9c8f5d-%05d", (i/20)%5)
		e := fbtest.Container{
			Time: fbtest.BaseTime.Add(time.Duration(i) * time.Microsecond),
			Node: "ip-10-0-12-34.eu-west-1.compute.internal", Namespace: ns, Pod: pod, Name: "api",
			Line: fbtest.Line(i, lineSize),
		}.CRI()
		chunk = fbtest.Append(chunk, e)
		records++
	}
	return chunk, records
}

// BenchmarkBuild measures flush-to-wire: msgpack chunk in, snappy protobuf
// bodies out. records/s is per core (run with -cpu 1); allocs/record is
// amortised over a steady flow of chunks through one Builder.
func BenchmarkBuild(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  func(*config.Config)
	}{
		{"raw", nil},
		{"json", func(c *config.Config) { c.LineFormat = config.LineJSON }},
		{"key_value", func(c *config.Config) { c.LineFormat = config.LineKeyValue }},
		{"redact", func(c *config.Config) { c.Redact = []*regexp.Regexp{regexp.MustCompile(`password=\S+`)} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := baseConfig()
			if bc.cfg != nil {
				bc.cfg(cfg)
			}
			chunk, n := benchChunk(1024)
			builder, err := NewBuilder(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			var res Result
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				res, err = builder.Build(chunk, "kube.var.log.containers.x.log")
				if err != nil || res.Records != n {
					b.Fatalf("%d records, %v", res.Records, err)
				}
			}
			runtime.ReadMemStats(&after)
			records := float64(n) * float64(b.N)
			b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/records, "allocs/record")
			b.ReportMetric(float64(n), "records/chunk")
			b.ReportMetric(float64(len(res.Requests)), "requests/chunk")
		})
	}
}
