package output

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/server/push"
)

// entry is one log line a fake server accepted.
type entry struct {
	Tenant string
	Labels string
	TS     int64
	Line   string
}

// fakeLoam decodes pushes as Loam does and keeps the entries. answer, when
// set, may answer a request itself (returning true) before it is accepted;
// n counts requests from 1.
type fakeLoam struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	n      int
	got    []entry
	hdrs   []http.Header
	answer func(n int, w http.ResponseWriter, r *http.Request) bool
}

func newFakeLoam(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request) bool) *fakeLoam {
	f := &fakeLoam{t: t, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLoam) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.hdrs = append(f.hdrs, r.Header.Clone())
	f.mu.Unlock()
	if f.answer != nil && f.answer(n, w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		f.t.Errorf("push body is not snappy: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	var req push.Request
	if err := push.DecodeProto(raw, &req); err != nil {
		f.t.Errorf("push body is not a PushRequest: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	for _, s := range req.Streams {
		for _, e := range s.Entries {
			f.got = append(f.got, entry{r.Header.Get("X-Scope-OrgID"), strings.Clone(s.Labels), e.Timestamp, strings.Clone(e.Line)})
		}
	}
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeLoam) url() *url.URL { return mustURL(f.t, f.srv.URL+"/loki/api/v1/push") }

func (f *fakeLoam) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *fakeLoam) entries() []entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]entry(nil), f.got...)
}

func (f *fakeLoam) lines() []string {
	var ls []string
	for _, e := range f.entries() {
		ls = append(ls, e.Line)
	}
	sort.Strings(ls)
	return ls
}

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// refusedURL is a push URL on a port nothing listens on.
func refusedURL(t *testing.T) *url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return mustURL(t, "http://"+addr+"/loki/api/v1/push")
}

// testConfig is a config as config.Parse would return it for the given
// URLs with defaults, but with short backoffs so that tests are fast.
func testConfig(urls ...*url.URL) config.Config {
	return config.Config{
		URLs:                 urls,
		AutoKubernetesLabels: true,
		LineFormat:           config.LineRaw,
		RedactWith:           "[REDACTED]",
		BatchWait:            time.Second,
		BatchSize:            1 << 20,
		Timeout:              5 * time.Second,
		MinBackoff:           time.Millisecond,
		MaxBackoff:           10 * time.Millisecond,
		MaxRetries:           3,
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newInstance creates an instance whose log goes to the returned buffer.
func newInstance(t *testing.T, cfg config.Config, name string) (*Instance, *lockedBuffer) {
	t.Helper()
	in, err := New(&cfg, name)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { in.Close() })
	buf := &lockedBuffer{}
	in.log.w = buf
	return in, buf
}

// containerChunk is n CRI container records of one pod, lines numbered
// from first.
func containerChunk(first, n int) (chunk []byte, lines []string) {
	for i := first; i < first+n; i++ {
		line := fbtest.Line(i, 200)
		e := fbtest.CRIKubernetes("node-1", "shop", "cart-7c9f8d6b5-x2k4q", "cart", line, false)
		e.Time = fbtest.BaseTime.Add(time.Duration(i) * time.Microsecond)
		chunk = fbtest.Append(chunk, e)
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return chunk, lines
}

// value reads one counter or gauge, or a histogram's sample count.
func value(t *testing.T, c any) float64 {
	t.Helper()
	switch c := c.(type) {
	case interface{ Value() float64 }: // *metrics.Counter, *metrics.Gauge
		return c.Value()
	case interface{ Count() uint64 }: // *metrics.Histogram
		return float64(c.Count())
	}
	t.Fatalf("unexpected metric %T", c)
	return 0
}

func flush(t *testing.T, in *Instance, chunk []byte) Status {
	t.Helper()
	return in.Flush(context.Background(), chunk, fbtest.Tag("shop", "cart-7c9f8d6b5-x2k4q", "cart"))
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("server has %d lines, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}
