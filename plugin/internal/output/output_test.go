package output

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/loam-logs/loam/plugin/internal/config"
)

// TestStatusValues pins the values Fluent Bit's C side expects.
func TestStatusValues(t *testing.T) {
	for _, tt := range []struct {
		s    Status
		want int
		name string
	}{{Error, 0, "ERROR"}, {OK, 1, "OK"}, {Retry, 2, "RETRY"}} {
		if int(tt.s) != tt.want || tt.s.String() != tt.name {
			t.Errorf("%v = %d, want %s = %d", tt.s, int(tt.s), tt.name, tt.want)
		}
	}
}

func TestFlushOK(t *testing.T) {
	loam := newFakeLoam(t, nil)
	cfg := testConfig(loam.url())
	cfg.BatchSize = 4096 // 200-byte lines: several requests per chunk
	in, logs := newInstance(t, cfg, "loam.0")

	chunk, want := containerChunk(0, 100)
	if got := flush(t, in, chunk); got != OK {
		t.Fatalf("Flush = %v, want OK; log:\n%s", got, logs)
	}
	equalLines(t, loam.lines(), want)
	for _, e := range loam.entries() {
		for _, l := range []string{`namespace="shop"`, `pod="cart-7c9f8d6b5-x2k4q"`, `container="cart"`, `node="node-1"`} {
			if !strings.Contains(e.Labels, l) {
				t.Fatalf("stream %s lacks %s", e.Labels, l)
			}
		}
	}
	if loam.requests() < 2 {
		t.Errorf("%d requests for 20 KB of lines with BatchSize 4096, want several", loam.requests())
	}
	m := in.metrics
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"records", value(t, m.Records), 100},
		{"bytes", value(t, m.Bytes), 100 * 200},
		{"batches", value(t, m.Batches), float64(loam.requests())},
		{"retries", value(t, m.Retries), 0},
		{"attempts", value(t, m.Duration), float64(loam.requests())},
		{"buffered after flush", value(t, m.Buffered), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if s := logs.String(); s != "" {
		t.Errorf("a successful flush logged:\n%s", s)
	}
}

// TestRetries covers answers that succeed after retrying within the flush.
func TestRetries(t *testing.T) {
	tests := []struct {
		name        string
		fail        int // first requests answered with code
		code        int
		retryAfter  string
		maxBackoff  time.Duration
		minDuration time.Duration
		maxDuration time.Duration
	}{
		{"500 then 200", 1, 500, "", 10 * time.Millisecond, 0, 2 * time.Second},
		{"502, 503, 504 then 200", 3, 503, "", 10 * time.Millisecond, 0, 2 * time.Second},
		{"429 with Retry-After seconds", 1, 429, "1", 5 * time.Second, time.Second, 3 * time.Second},
		{"503 with Retry-After date", 1, 503, "DATE+2s", 5 * time.Second, time.Second, 4 * time.Second},
		{"429 Retry-After capped at MaxBackoff", 1, 429, "3600", 50 * time.Millisecond, 50 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loam := newFakeLoam(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n > tt.fail {
					return false
				}
				ra := tt.retryAfter
				if strings.HasPrefix(ra, "DATE+") {
					d, _ := time.ParseDuration(strings.TrimPrefix(ra, "DATE+"))
					ra = time.Now().Add(d).UTC().Format(http.TimeFormat)
				}
				if ra != "" {
					w.Header().Set("Retry-After", ra)
				}
				http.Error(w, "try later", tt.code)
				return true
			})
			cfg := testConfig(loam.url())
			cfg.MaxBackoff = tt.maxBackoff
			in, logs := newInstance(t, cfg, "loam.0")
			chunk, want := containerChunk(0, 10)
			start := time.Now()
			if got := flush(t, in, chunk); got != OK {
				t.Fatalf("Flush = %v, want OK; log:\n%s", got, logs)
			}
			el := time.Since(start)
			if el < tt.minDuration || el > tt.maxDuration {
				t.Errorf("Flush took %v, want [%v, %v]", el, tt.minDuration, tt.maxDuration)
			}
			equalLines(t, loam.lines(), want)
			if got := value(t, in.metrics.Retries); got != float64(tt.fail) {
				t.Errorf("retries = %v, want %d", got, tt.fail)
			}
			if got := value(t, in.metrics.Records); got != 10 {
				t.Errorf("records = %v, want 10", got)
			}
			if !strings.Contains(logs.String(), "[ warn] [output:loam:loam.0] push to "+loam.srv.URL) ||
				!strings.Contains(logs.String(), "try later; retry 1 of 3 in") {
				t.Errorf("retry not logged as expected:\n%s", logs)
			}
		})
	}
}

// TestRejected: a 4xx other than 429 is logged with the server's message,
// counted, and never retried.
func TestRejected(t *testing.T) {
	tests := []struct {
		code int
		msg  string
	}{
		{400, "entry for stream '{app=\"cart\"}' has timestamp too old: 2025-03-14T15:09:26Z"},
		{401, "no org id"},
		{413, "request body too large"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			loam := newFakeLoam(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
				http.Error(w, tt.msg, tt.code)
				return true
			})
			cfg := testConfig(loam.url())
			cfg.TenantID = "team-a"
			in, logs := newInstance(t, cfg, "loam.3")
			chunk, _ := containerChunk(0, 10)
			if got := flush(t, in, chunk); got != Error {
				t.Fatalf("Flush = %v, want Error", got)
			}
			if loam.requests() != 1 {
				t.Errorf("%d requests, want 1 (no retry of a %d)", loam.requests(), tt.code)
			}
			want := regexp.MustCompile(`^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}\] \[ warn\] \[output:loam:loam\.3\] push to ` +
				regexp.QuoteMeta(loam.url().String()+": "+fmt.Sprint(tt.code)+" "+http.StatusText(tt.code)+": "+tt.msg) +
				` \(tenant "team-a", 10 records dropped\)\n$`)
			if !want.MatchString(logs.String()) {
				t.Errorf("log:\n%s\nwant it to match %s", logs, want)
			}
			if got := value(t, in.metrics.Rejected(tt.code)); got != 1 {
				t.Errorf("rejected{status=%d} = %v, want 1", tt.code, got)
			}
			if got := value(t, in.metrics.DroppedRejected); got != 10 {
				t.Errorf("dropped{rejected} = %v, want 10", got)
			}
			if got := value(t, in.metrics.Retries); got != 0 {
				t.Errorf("retries = %v", got)
			}
		})
	}
}

// TestPartialRejection: one request of a chunk refused, the others
// delivered; a retryable failure in the same chunk wins (Retry).
func TestPartialRejection(t *testing.T) {
	chunk, all := containerChunk(0, 60)
	tests := []struct {
		name   string
		answer func(n int) int // status for request n (0: accept)
		want   Status
	}{
		{"one 400 among 2xx", func(n int) int {
			if n == 2 {
				return 400
			}
			return 0
		}, Error},
		{"400 then 503 forever", func(n int) int {
			if n == 1 {
				return 400
			}
			if n >= 3 {
				return 503
			}
			return 0
		}, Retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loam := newFakeLoam(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if c := tt.answer(n); c != 0 {
					http.Error(w, "no", c)
					return true
				}
				return false
			})
			cfg := testConfig(loam.url())
			cfg.BatchSize = 2048
			in, logs := newInstance(t, cfg, "loam.0")
			if got := flush(t, in, chunk); got != tt.want {
				t.Fatalf("Flush = %v, want %v; log:\n%s", got, tt.want, logs)
			}
			delivered := len(loam.lines())
			if tt.want == Error && delivered+int(value(t, in.metrics.DroppedRejected)) != len(all) {
				t.Errorf("delivered %d + rejected %v != %d records", delivered, value(t, in.metrics.DroppedRejected), len(all))
			}
			if tt.want == Error && delivered == 0 {
				t.Error("the other requests were not delivered")
			}
		})
	}
}

// TestRetryAfterMaxRetries: the server is unreachable; the flush makes
// 1+MaxRetries attempts and answers Retry, so that Fluent Bit keeps the
// chunk; once the server is back, the same chunk is delivered.
func TestRetryAfterMaxRetries(t *testing.T) {
	down := refusedURL(t)
	for _, retries := range []int{0, 1, 3} {
		t.Run(fmt.Sprint("MaxRetries=", retries), func(t *testing.T) {
			cfg := testConfig(down)
			cfg.MaxRetries = retries
			in, logs := newInstance(t, cfg, "loam.0")
			chunk, _ := containerChunk(0, 5)
			if got := flush(t, in, chunk); got != Retry {
				t.Fatalf("Flush = %v, want Retry", got)
			}
			if got := value(t, in.metrics.Duration); got != float64(retries+1) {
				t.Errorf("%v attempts, want %d", got, retries+1)
			}
			if got := value(t, in.metrics.Retries); got != float64(retries) {
				t.Errorf("retries = %v, want %d", got, retries)
			}
			if got := value(t, in.metrics.Records) + value(t, in.metrics.DroppedRejected); got != 0 {
				t.Errorf("records counted for an undelivered chunk: %v", got)
			}
			if !strings.Contains(logs.String(), "connection refused") || !strings.Contains(logs.String(), "answering retry") {
				t.Errorf("log:\n%s", logs)
			}
		})
	}
}

// TestOutageThenRecovery: the chunk Fluent Bit re-flushes after a Retry
// is delivered in full; requests delivered before the outage are sent
// twice, which the server de-duplicates (same stream, timestamp, line).
func TestOutageThenRecovery(t *testing.T) {
	var mu sync.Mutex
	up := true
	loam := newFakeLoam(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if n == 2 { // down from the second request on
			up = false
		}
		if !up {
			http.Error(w, "down", 503)
			return true
		}
		return false
	})
	cfg := testConfig(loam.url())
	cfg.BatchSize = 2048
	in, _ := newInstance(t, cfg, "loam.0")
	chunk, want := containerChunk(0, 40)
	if got := flush(t, in, chunk); got != Retry {
		t.Fatalf("Flush during outage = %v, want Retry", got)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	if got := flush(t, in, chunk); got != OK {
		t.Fatalf("Flush after recovery = %v, want OK", got)
	}
	// De-duplicate as the server does.
	seen := map[entry]bool{}
	var lines []string
	for _, e := range loam.entries() {
		if !seen[e] {
			seen[e] = true
			lines = append(lines, e.Line)
		}
	}
	slices.Sort(lines)
	equalLines(t, lines, want)
}

func TestFailover(t *testing.T) {
	loam := newFakeLoam(t, nil)
	cfg := testConfig(refusedURL(t), loam.url())
	in, logs := newInstance(t, cfg, "loam.0")
	chunk, want := containerChunk(0, 10)
	if got := flush(t, in, chunk); got != OK {
		t.Fatalf("Flush = %v, want OK; log:\n%s", got, logs)
	}
	equalLines(t, loam.lines(), want)
	if got := value(t, in.metrics.Retries); got != 1 {
		t.Errorf("retries = %v, want 1 (one failed attempt on the first URL)", got)
	}
	// The next flush goes straight to the replica that works.
	chunk2, _ := containerChunk(100, 10)
	if got := flush(t, in, chunk2); got != OK {
		t.Fatalf("second Flush = %v", got)
	}
	if got := value(t, in.metrics.Retries); got != 1 {
		t.Errorf("retries after second flush = %v, want still 1", got)
	}
}

// TestRequestOptions: tenant, basic auth, bearer token file and TLS reach
// the wire through Flush.
func TestRequestOptions(t *testing.T) {
	var mu sync.Mutex
	var hdrs []http.Header
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		hdrs = append(hdrs, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	u := mustURL(t, srv.URL+"/loki/api/v1/push")
	tokenFile := filepath.Join(t.TempDir(), "token")

	tests := []struct {
		name   string
		cfg    func(c *config.Config)
		before func()
		check  func(t *testing.T, h http.Header)
	}{
		{"tenant", func(c *config.Config) { c.TenantID = "team-a" }, nil, func(t *testing.T, h http.Header) {
			if got := h.Get("X-Scope-OrgID"); got != "team-a" {
				t.Errorf("X-Scope-OrgID = %q", got)
			}
		}},
		{"basic auth", func(c *config.Config) { c.Username, c.Password = "fb", "pw" }, nil, func(t *testing.T, h http.Header) {
			r := http.Request{Header: h}
			if u, p, ok := r.BasicAuth(); !ok || u != "fb" || p != "pw" {
				t.Errorf("basic auth %q %q %v", u, p, ok)
			}
		}},
		{"bearer token file, first", func(c *config.Config) { c.BearerTokenFile = tokenFile }, func() { os.WriteFile(tokenFile, []byte("one\n"), 0o600) },
			func(t *testing.T, h http.Header) {
				if got := h.Get("Authorization"); got != "Bearer one" {
					t.Errorf("Authorization = %q", got)
				}
			}},
		{"bearer token file, rotated", func(c *config.Config) { c.BearerTokenFile = tokenFile }, func() { os.WriteFile(tokenFile, []byte("two\n"), 0o600) },
			func(t *testing.T, h http.Header) {
				if got := h.Get("Authorization"); got != "Bearer two" {
					t.Errorf("Authorization = %q", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(u)
			cfg.TLS = srv.Client().Transport.(*http.Transport).TLSClientConfig // trusts the test server's CA
			tt.cfg(&cfg)
			if tt.before != nil {
				tt.before()
			}
			in, logs := newInstance(t, cfg, "loam.0")
			chunk, _ := containerChunk(0, 3)
			if got := flush(t, in, chunk); got != OK {
				t.Fatalf("Flush = %v; log:\n%s", got, logs)
			}
			mu.Lock()
			h := hdrs[len(hdrs)-1]
			mu.Unlock()
			tt.check(t, h)
		})
	}
}

// TestConcurrentFlush runs 8 flushing goroutines, as `Workers 8` does; run
// with -race. Every record arrives exactly once.
func TestConcurrentFlush(t *testing.T) {
	var mu sync.Mutex
	fails := 0
	loam := newFakeLoam(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if n%7 == 0 && fails < 10 { // some transient failures, retried in-flush
			fails++
			http.Error(w, "busy", 503)
			return true
		}
		return false
	})
	cfg := testConfig(loam.url())
	cfg.BatchSize = 8192
	cfg.MaxRetries = 5
	in, logs := newInstance(t, cfg, "loam.0")

	const workers, flushes, perChunk = 8, 10, 50
	var want []string
	chunks := make([][]byte, workers*flushes)
	for i := range chunks {
		var lines []string
		chunks[i], lines = containerChunk(i*perChunk, perChunk)
		want = append(want, lines...)
	}
	slices.Sort(want)

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range flushes {
				if got := flush(t, in, chunks[w*flushes+f]); got != OK {
					t.Errorf("worker %d flush %d = %v", w, f, got)
				}
			}
		}()
	}
	wg.Wait()
	equalLines(t, loam.lines(), want)
	if got := value(t, in.metrics.Records); got != float64(len(want)) {
		t.Errorf("records = %v, want %d", got, len(want))
	}
	if got := value(t, in.metrics.Buffered); got != 0 {
		t.Errorf("buffered after all flushes = %v", got)
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}

// TestCancel: cancelling the flush's context, or closing the instance,
// stops retries at once and answers Retry.
func TestCancel(t *testing.T) {
	loam := newFakeLoam(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "overloaded", 503)
		return true
	})
	cfg := testConfig(loam.url())
	cfg.MinBackoff, cfg.MaxBackoff, cfg.MaxRetries = 10*time.Second, time.Minute, 100
	chunk, _ := containerChunk(0, 5)

	t.Run("context", func(t *testing.T) {
		in, _ := newInstance(t, cfg, "loam.0")
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		if got := in.Flush(ctx, chunk, "kube.x"); got != Retry {
			t.Fatalf("Flush = %v, want Retry", got)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("cancelled flush took %v", el)
		}
	})
	t.Run("close", func(t *testing.T) {
		in, _ := newInstance(t, cfg, "loam.0")
		time.AfterFunc(100*time.Millisecond, func() { in.Close() })
		start := time.Now()
		if got := in.Flush(context.Background(), chunk, "kube.x"); got != Retry {
			t.Fatalf("Flush = %v, want Retry", got)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("flush during Close took %v", el)
		}
	})
}

func TestUndecodableChunk(t *testing.T) {
	loam := newFakeLoam(t, nil)
	in, logs := newInstance(t, testConfig(loam.url()), "loam.0")
	good, _ := containerChunk(0, 1)
	for _, chunk := range [][]byte{
		{0xc1},             // msgpack's never-used byte
		good[:len(good)-3], // truncated
	} {
		if got := in.Flush(context.Background(), chunk, "kube.bad"); got != Error {
			t.Errorf("Flush(% x) = %v, want Error", chunk, got)
		}
	}
	if loam.requests() != 0 {
		t.Errorf("%d requests sent for undecodable chunks", loam.requests())
	}
	if !regexp.MustCompile(`^\[[0-9/ :.]+\] \[error\] \[output:loam:loam\.0\] chunk of tag "kube\.bad": .*; dropping the chunk \(1 bytes\)\n$`).MatchString(logs.String()) {
		t.Errorf("log:\n%s", logs)
	}
}

// TestInvalidEvents: events that are not records are skipped, counted
// and logged; the rest of the chunk is delivered.
func TestInvalidEvents(t *testing.T) {
	loam := newFakeLoam(t, nil)
	in, logs := newInstance(t, testConfig(loam.url()), "loam.0")
	chunk, want := containerChunk(0, 3)
	chunk = append(chunk, 0x92, 0x01, 0x01)      // [1, 1]: a record that is not a map
	chunk = append(chunk, 0x92, 0xa1, 'x', 0x80) // ["x", {}]: a time that is not one
	if got := flush(t, in, chunk); got != OK {
		t.Fatalf("Flush = %v, want OK", got)
	}
	equalLines(t, loam.lines(), want)
	if got := value(t, in.metrics.DroppedInvalid); got != 2 {
		t.Errorf("dropped{invalid} = %v, want 2", got)
	}
	if !strings.Contains(logs.String(), "[ warn] [output:loam:loam.0] skipped 2 invalid events of chunk of tag") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestExcludedNamespaces(t *testing.T) {
	loam := newFakeLoam(t, nil)
	cfg := testConfig(loam.url())
	cfg.ExcludeNamespaces = []*regexp.Regexp{regexp.MustCompile(`^(?:kube-system)$`)}
	in, _ := newInstance(t, cfg, "loam.0")
	var chunk []byte
	for i := range 4 {
		ns := "shop"
		if i%2 == 0 {
			ns = "kube-system"
		}
		chunk = fbtest.Append(chunk, fbtest.CRIKubernetes("node-1", ns, "p", "c", fbtest.Line(i, 50), false))
	}
	if got := flush(t, in, chunk); got != OK {
		t.Fatalf("Flush = %v", got)
	}
	if got := len(loam.lines()); got != 2 {
		t.Errorf("%d lines delivered, want 2", got)
	}
	if got := value(t, in.metrics.DroppedExcluded); got != 2 {
		t.Errorf("dropped{excluded} = %v, want 2", got)
	}
}

// TestMetricsEndpoint scrapes the endpoint two instances share.
func TestMetricsEndpoint(t *testing.T) {
	loam := newFakeLoam(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("X-Scope-OrgID") == "bad" {
			http.Error(w, "no", 400)
			return true
		}
		return false
	})
	cfg := testConfig(loam.url())
	cfg.MetricsAddr = "127.0.0.1:0"
	a, _ := newInstance(t, cfg, "loam.0")
	cfg.TenantID = "bad"
	b, _ := newInstance(t, cfg, "loam.1")
	if a.MetricsAddr() == "" || a.MetricsAddr() != b.MetricsAddr() {
		t.Fatalf("metrics addresses %q, %q: want one shared", a.MetricsAddr(), b.MetricsAddr())
	}
	chunk, _ := containerChunk(0, 10)
	flush(t, a, chunk)
	flush(t, b, chunk)

	resp, err := http.Get("http://" + a.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`loam_plugin_records_total{output="loam.0"} 10`,
		`loam_plugin_bytes_total{output="loam.0"} 2000`,
		`loam_plugin_batches_total{output="loam.0"} 1`,
		`loam_plugin_records_total{output="loam.1"} 0`,
		`loam_plugin_rejected_total{output="loam.1",status="400"} 1`,
		`loam_plugin_dropped_records_total{output="loam.1",reason="rejected"} 10`,
		`loam_plugin_buffered_bytes{output="loam.0"} 0`,
		`loam_plugin_request_duration_seconds_count{output="loam.1"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}

	addr := a.MetricsAddr()
	a.Close()
	if resp, err := http.Get("http://" + addr + "/metrics"); err != nil {
		t.Fatalf("endpoint closed while loam.1 still uses it: %v", err)
	} else {
		resp.Body.Close()
	}
	b.Close()
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatal("endpoint still open after the last instance closed")
	}
}

func TestNewErrors(t *testing.T) {
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	busyAddr := strings.TrimPrefix(busy.URL, "http://")
	tests := []struct {
		name string
		cfg  config.Config
		want string
	}{
		{"metrics address in use", func() config.Config {
			c := testConfig(mustURL(t, "http://127.0.0.1:3100/loki/api/v1/push"))
			c.MetricsAddr = busyAddr
			return c
		}(), "MetricsAddr"},
		{"no URL", testConfig(), "Url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := New(&tt.cfg, "loam.0")
			if err == nil {
				in.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "loam.0") {
				t.Errorf("error %q does not name %s and the instance", err, tt.want)
			}
		})
	}
}
