package batch

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/server/push"
)

// baseConfig is the configuration Parse gives an output with no keys set,
// as far as the mapping reads it.
func baseConfig() *config.Config {
	return &config.Config{
		AutoKubernetesLabels: true,
		RedactWith:           "[REDACTED]",
		BatchSize:            1 << 20,
	}
}

// row is one entry as the server sees it.
type row struct {
	tenant, labels string
	ts             int64
	line           string
	meta           string // name=value,…
}

func (r row) String() string {
	s := fmt.Sprintf("tenant=%q %s ts=%d line=%q", r.tenant, r.labels, r.ts, r.line)
	if r.meta != "" {
		s += " meta=" + r.meta
	}
	return s
}

// decodeRequest decodes a request body as the server does — ReadBody with
// no Content-Encoding and the protobuf Content-Type, then DecodeProto — and
// checks that re-encoding the decoded request gives the same bytes.
func decodeRequest(t testing.TB, r Request) *push.Request {
	t.Helper()
	raw, err := push.ReadBody(bytes.NewReader(r.Body), "", "application/x-protobuf", 0, 0)
	if err != nil {
		t.Fatalf("ReadBody: %v", err)
	}
	var pr push.Request
	if err := push.DecodeProto(raw, &pr); err != nil {
		t.Fatalf("DecodeProto: %v", err)
	}
	if again := push.EncodeProto(nil, &pr); !bytes.Equal(again, raw) {
		t.Fatalf("body is not EncodeProto's encoding of what it decodes to")
	}
	if n, err := s2.DecodedLen(r.Body); err != nil || n != len(raw) {
		t.Fatalf("not a snappy block: %v", err)
	}
	return &pr
}

// rows flattens a Result as the server would store it, checking the
// per-request counts on the way.
func rows(t testing.TB, res Result) []row {
	t.Helper()
	var out []row
	total := 0
	for _, r := range res.Requests {
		pr := decodeRequest(t, r)
		n, size := 0, 0
		for _, s := range pr.Streams {
			for _, e := range s.Entries {
				var meta []string
				for _, m := range e.Metadata {
					meta = append(meta, m.Name+"="+m.Value)
				}
				out = append(out, row{r.Tenant, s.Labels, e.Timestamp, e.Line, strings.Join(meta, ",")})
				n++
				size += len(e.Line)
			}
		}
		if n != r.Records || size != r.Bytes {
			t.Errorf("request says %d records / %d bytes, body holds %d / %d", r.Records, r.Bytes, n, size)
		}
		total += n
	}
	if total != res.Records {
		t.Errorf("Result.Records = %d, bodies hold %d", res.Records, total)
	}
	return out
}
