package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/store"
)

// failingAppender refuses every append with err.
type failingAppender struct{ err error }

func (f failingAppender) Append(string, []store.Stream) ([]store.Rejected, error) {
	return nil, f.err
}

// TestPushStorageErrors: a push the store refuses for a full disk gets a
// retryable 503 with Retry-After and a message naming the cause; other
// storage failures get a 500. Neither is a 4xx, which clients drop.
func TestPushStorageErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter string
		body       string
	}{
		{"disk full", fmt.Errorf("%w: write WAL: %w", store.ErrDiskFull, syscall.ENOSPC), http.StatusServiceUnavailable, "10",
			"disk full: Loam cannot store more data until space is freed (retention frees the oldest data; see loam_disk_full)\n"},
		{"other failure", errors.New("write WAL: input/output error"), http.StatusInternalServerError, "",
			"could not store the push, retry: write WAL: input/output error\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, h, _ := newTestServer(t)
			a.Serve(distributor.New(a.opts.Limits, failingAppender{tt.err}, nil), nil)
			body := fmt.Sprintf(`{"streams":[{"stream":{"app":"a"},"values":[["%d","line"]]}]}`, time.Now().UnixNano())
			r := httptest.NewRequest("POST", "/loki/api/v1/push", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			res := result{w.Code, w.Body.String(), w.Header()}
			if res.status != tt.status || res.header.Get("Retry-After") != tt.retryAfter || res.body != tt.body {
				t.Fatalf("got %d (Retry-After %q) %q, want %d (%q) %q", res.status, res.header.Get("Retry-After"), res.body,
					tt.status, tt.retryAfter, tt.body)
			}
		})
	}
}
