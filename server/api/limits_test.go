package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/overrides"
)

// TestPushLimits: a push over a rate or stream limit of its tenant gets
// 429, as in Loki, with Loki's message; a push with invalid content gets
// 400.
func TestPushLimits(t *testing.T) {
	tests := []struct {
		name   string
		set    func(*overrides.Limits)
		push   string // streams, as in a JSON push
		status int
		body   string
	}{
		{"tenant rate", func(l *overrides.Limits) { l.IngestionBurstSizeMB = 0.000001 }, `{"stream":{"app":"a"},"values":[["%d","line"]]}`,
			http.StatusTooManyRequests, "ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '1' lines totaling '4' bytes"},
		{"stream rate", func(l *overrides.Limits) { l.PerStreamRateLimitBurst = 3 }, `{"stream":{"app":"a"},"values":[["%d","line"]]}`,
			http.StatusTooManyRequests, "Per stream rate limit exceeded (limit: 3MB/sec) while attempting to ingest for stream '{app=\"a\"}' totaling 4B"},
		{"streams", func(l *overrides.Limits) { l.MaxGlobalStreamsPerUser = 1 },
			`{"stream":{"app":"a"},"values":[["%[1]d","line"]]},{"stream":{"app":"b"},"values":[["%[1]d","line"]]}`,
			http.StatusTooManyRequests, "maximum active stream limit exceeded when trying to create stream {app=\"b\"}"},
		{"invalid", func(l *overrides.Limits) { l.MaxLineSize = 2 }, `{"stream":{"app":"a"},"values":[["%d","line"]]}`,
			http.StatusBadRequest, `max entry size '2' bytes exceeded for stream '{app="a"}' while adding an entry with length '4' bytes` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, h, _ := newTestServer(t)
			a.Serve(distributor.New(fixedLimits(tt.set), failingAppender{}, nil), nil)
			body := `{"streams":[` + fmt.Sprintf(tt.push, time.Now().UnixNano()) + `]}`
			r := httptest.NewRequest("POST", "/loki/api/v1/push", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
				t.Fatalf("got %d %q, want %d with %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
		})
	}
}
