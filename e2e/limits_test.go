package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIngestionLimits: each rate and stream limit of the runtime
// configuration file, hit over HTTP, answers Loki's status (429) and
// message, counts what it refused in loam_discarded_samples_total and
// loam_discarded_bytes_total, stores the rest of the push, and leaves the
// other tenants alone.
func TestIngestionLimits(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runtime.yaml")
	// 0.001 MB/s is 1048 bytes a second; bursts of 2097 bytes.
	err := os.WriteFile(file, []byte(`overrides:
  rate:
    ingestion_rate_mb: 0.001
    ingestion_burst_size_mb: 0.002
  stream:
    per_stream_rate_limit: 1KB
    per_stream_rate_limit_burst: 2KB
  streams:
    max_global_streams_per_user: 2
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	l := startLoam(t, filepath.Join(dir, "data"), "-runtime-config.file", file)

	line := strings.Repeat("x", 1500)
	now := time.Now().UnixNano()
	n := int64(0)
	body := func(streams ...string) []byte {
		var es []entry
		for _, s := range streams {
			n++
			es = append(es, entry{Labels: map[string]string{"app": s}, T: now + n, Line: line})
		}
		return jsonBody(es)
	}
	type step struct {
		tenant  string
		streams []string
		status  int
		msg     string // a part of the answer, for a refusal
	}
	tests := []struct {
		name   string
		steps  []step
		tenant string
		reason string
		lines  float64 // discarded
		stored int     // lines of the tenant a query returns afterwards
	}{
		{"ingestion_rate_mb", []step{
			{"rate", []string{"a"}, http.StatusNoContent, ""},
			{"rate", []string{"a"}, http.StatusTooManyRequests,
				"ingestion rate limit exceeded for user rate (limit: 1048 bytes/sec) while attempting to ingest '1' lines totaling '1500' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased"},
			{"rate", []string{"a", "b", "c"}, http.StatusTooManyRequests, "while attempting to ingest '3' lines totaling '4500' bytes"},
		}, "rate", "rate_limited", 4, 1},
		{"per_stream_rate_limit", []step{
			{"stream", []string{"a"}, http.StatusNoContent, ""},
			{"stream", []string{"a", "b"}, http.StatusTooManyRequests,
				`Per stream rate limit exceeded (limit: 1KB/sec) while attempting to ingest for stream '{app="a"}' totaling 1500B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased`},
		}, "stream", "per_stream_rate_limit", 1, 2},
		{"max_global_streams_per_user", []step{
			{"streams", []string{"a", "b"}, http.StatusNoContent, ""},
			{"streams", []string{"c"}, http.StatusTooManyRequests,
				`maximum active stream limit exceeded when trying to create stream {app="c"}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: 'streams'`},
			{"streams", []string{"a"}, http.StatusNoContent, ""},
		}, "streams", "stream_limit", 1, 3},
		// Another tenant, with the defaults, pushes what each of the
		// limited ones could not.
		{"other tenant", []step{
			{"other", []string{"a", "a", "a", "b", "c", "d"}, http.StatusNoContent, ""},
			{"other", []string{"a", "b", "c", "d", "e"}, http.StatusNoContent, ""},
		}, "other", "", 0, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, s := range tt.steps {
				code, msg := l.pushRaw(t, s.tenant, ctJSON, "", body(s.streams...))
				if code != s.status || !strings.Contains(msg, s.msg) {
					t.Fatalf("step %d: push %v to %s: %d %q, want %d with %q", i, s.streams, s.tenant, code, msg, s.status, s.msg)
				}
			}
			m := l.metrics(t)
			if tt.reason != "" {
				lines, _ := m.value("loam_discarded_samples_total", "tenant", tt.tenant, "reason", tt.reason)
				bytes, _ := m.value("loam_discarded_bytes_total", "tenant", tt.tenant, "reason", tt.reason)
				old, _ := m.value("loam_discarded_lines_total", "tenant", tt.tenant, "reason", tt.reason)
				if lines != tt.lines || bytes != tt.lines*1500 || old != tt.lines {
					t.Errorf("discarded %v lines, %v bytes (loam_discarded_lines_total %v); want %v and %v", lines, bytes, old, tt.lines, tt.lines*1500)
				}
			}
			if v, ok := m.value("loam_discarded_samples_total", "tenant", tt.tenant); tt.reason == "" && ok {
				t.Errorf("tenant %s: %v lines discarded, want none", tt.tenant, v)
			}
			q := url.Values{"query": {`{app=~".+"}`}, "start": {fmt.Sprint(now)}, "end": {fmt.Sprint(now + n + 1)}, "limit": {"100"}}
			if got := l.queryRange(t, tt.tenant, q).count(); got != tt.stored {
				t.Errorf("tenant %s holds %d lines, want %d", tt.tenant, got, tt.stored)
			}
		})
	}
}
