package cluster

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// benchPush is a push as pushbench sends it: 100 streams of 10 JSON lines
// of about 160 bytes each.
func benchPush() []store.Stream {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]store.Stream, 100)
	for i := range out {
		out[i].Labels = labels.FromMap(map[string]string{"cluster": "lab", "namespace": fmt.Sprintf("ns-%d", i%20),
			"pod": fmt.Sprintf("app-%d-%04d", i%50, i), "container": fmt.Sprintf("c%d", i%3), "job": "bench"})
		for j := range 10 {
			out[i].Entries = append(out[i].Entries, block.Entry{T: 1_700_000_000_000_000_000 + int64(j),
				Line: fmt.Appendf(nil, `{"level":"info","msg":"GET served","path":"/v1/order/%d","status":200,"duration":"%.1fms","request_id":"%016x%016x","user":%d}`,
					r.IntN(10000), r.Float64()*900, r.Uint64(), r.Uint64(), r.IntN(500))})
		}
	}
	return out
}

// BenchmarkReplicateAppend is the replication's own cost of a push to three
// nodes with replication factor 3: encoding, the HTTP calls and the peers'
// decoding, with stores that keep nothing.
func BenchmarkReplicateAppend(b *testing.B) {
	rep, _, nodes := testCluster(b, 3, 3, []byte("s3cret"))
	nop := appenderFunc(func(string, []store.Stream) ([]store.Rejected, error) { return nil, nil })
	for _, nd := range nodes {
		nd.app = nop
	}
	rep.local = nop
	streams := benchPush()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rep.Append("t1", streams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePush(b *testing.B) {
	streams := benchPush()
	which := make([]int, len(streams))
	for i := range which {
		which[i] = i
	}
	b.ReportAllocs()
	for b.Loop() {
		encodePush(streams, labelTexts(streams), which)
	}
}
