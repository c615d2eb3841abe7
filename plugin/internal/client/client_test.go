package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loam-logs/loam/plugin/internal/batch"
	"github.com/loam-logs/loam/plugin/internal/config"
)

// seen is what a test server received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (s *seen) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, b)
}

func (s *seen) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("server saw no request")
	}
	return s.reqs[len(s.reqs)-1], s.body[len(s.body)-1]
}

func (s *seen) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// server answers every push with handler after recording it.
func server(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		if handler != nil {
			handler(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newClient(t *testing.T, cfg config.Config) *Client {
	t.Helper()
	c, err := New(&cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

var req = batch.Request{Body: []byte("\xff\x06\x00\x00sNaPpY payload"), Records: 3, Bytes: 42}

func TestSendHeaders(t *testing.T) {
	Version = "v9.9.9-test"
	t.Cleanup(func() { Version = "" })
	tests := []struct {
		name   string
		cfg    config.Config
		tenant string
		check  func(t *testing.T, r *http.Request)
	}{
		{
			name: "no tenant, no auth",
			check: func(t *testing.T, r *http.Request) {
				if _, ok := r.Header["X-Scope-Orgid"]; ok {
					t.Errorf("X-Scope-OrgID sent without a tenant: %q", r.Header.Get("X-Scope-OrgID"))
				}
				if a := r.Header.Get("Authorization"); a != "" {
					t.Errorf("Authorization %q without credentials", a)
				}
			},
		},
		{
			name:   "tenant",
			tenant: "team-a",
			check: func(t *testing.T, r *http.Request) {
				if got := r.Header.Get("X-Scope-OrgID"); got != "team-a" {
					t.Errorf("X-Scope-OrgID = %q, want team-a", got)
				}
			},
		},
		{
			name: "basic auth",
			cfg:  config.Config{Username: "fluent", Password: "s3cr:t"},
			check: func(t *testing.T, r *http.Request) {
				u, p, ok := r.BasicAuth()
				if !ok || u != "fluent" || p != "s3cr:t" {
					t.Errorf("BasicAuth = %q, %q, %v; want fluent, s3cr:t", u, p, ok)
				}
			},
		},
		{
			name: "bearer token",
			cfg:  config.Config{BearerToken: "tok123"},
			check: func(t *testing.T, r *http.Request) {
				if got := r.Header.Get("Authorization"); got != "Bearer tok123" {
					t.Errorf("Authorization = %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := server(t, nil)
			cfg := tt.cfg
			cfg.URLs = []*url.URL{mustURL(t, srv.URL+"/loki/api/v1/push")}
			c := newClient(t, cfg)
			r := req
			r.Tenant = tt.tenant
			if err := c.Send(context.Background(), r); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got, body := s.last(t)
			if got.Method != http.MethodPost || got.URL.Path != "/loki/api/v1/push" {
				t.Errorf("%s %s, want POST /loki/api/v1/push", got.Method, got.URL.Path)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/x-protobuf" {
				t.Errorf("Content-Type = %q", ct)
			}
			if ce := got.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding = %q, want none (snappy is implied by the push protocol)", ce)
			}
			if ua := got.Header.Get("User-Agent"); ua != "loam-fluent-bit/v9.9.9-test" {
				t.Errorf("User-Agent = %q", ua)
			}
			if string(body) != string(req.Body) {
				t.Errorf("body = %q, want %q", body, req.Body)
			}
			if got.ContentLength != int64(len(req.Body)) {
				t.Errorf("Content-Length = %d, want %d", got.ContentLength, len(req.Body))
			}
			tt.check(t, got)
		})
	}
}

func TestUserAgentDefault(t *testing.T) {
	srv, s := server(t, nil)
	c := newClient(t, config.Config{URLs: []*url.URL{mustURL(t, srv.URL)}})
	if err := c.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r, _ := s.last(t)
	ua := r.Header.Get("User-Agent")
	if !strings.HasPrefix(ua, "loam-fluent-bit/") || len(ua) == len("loam-fluent-bit/") {
		t.Errorf("User-Agent = %q, want loam-fluent-bit/<version>", ua)
	}
}

// TestBearerTokenFileRotation rewrites the token file between requests, as
// the kubelet does for projected service-account tokens.
func TestBearerTokenFileRotation(t *testing.T) {
	srv, s := server(t, nil)
	path := filepath.Join(t.TempDir(), "token")
	c := newClient(t, config.Config{URLs: []*url.URL{mustURL(t, srv.URL)}, BearerTokenFile: path})

	for _, tok := range []string{"first-token", "second-token\n", "  third  \n"} {
		// Rotate the way the kubelet does: write aside, rename over.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if err := c.Send(context.Background(), req); err != nil {
			t.Fatalf("Send: %v", err)
		}
		r, _ := s.last(t)
		if got, want := r.Header.Get("Authorization"), "Bearer "+strings.TrimSpace(tok); got != want {
			t.Errorf("Authorization = %q, want %q", got, want)
		}
	}

	// A missing file is a failure worth retrying (the token may be being
	// replaced), and the error names the key.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	n := s.count()
	err := c.Send(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "BearerTokenFile") || !Retryable(err) {
		t.Fatalf("Send with missing token file = %v (retryable %v), want a retryable error naming BearerTokenFile", err, Retryable(err))
	}
	if s.count() != n {
		t.Errorf("request sent without a token")
	}
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), req); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Send with empty token file = %v, want an error saying it is empty", err)
	}
}

func TestStatusErrors(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes: cut inside the limit on a rune boundary
	tests := []struct {
		name       string
		code       int
		body       string
		retryAfter string
		retryable  bool
		wantMsg    string
		wantAfter  time.Duration
	}{
		{"bad request", 400, "entry for stream '{app=\"x\"}' has timestamp too old\n", "", false, `entry for stream '{app="x"}' has timestamp too old`, 0},
		{"unauthorized", 401, "no org id", "", false, "no org id", 0},
		{"forbidden", 403, "", "", false, "", 0},
		{"not found", 404, "404 page not found\n", "", false, "404 page not found", 0},
		{"too large", 413, "request too large", "", false, "request too large", 0},
		{"rate limited", 429, "ingestion rate limit exceeded", "7", true, "ingestion rate limit exceeded", 7 * time.Second},
		{"internal", 500, "boom", "", true, "boom", 0},
		{"bad gateway", 502, "<html>\n  <body>bad gateway</body>\n</html>", "", true, "<html> <body>bad gateway</body> </html>", 0},
		{"unavailable with retry-after", 503, "ingester not ready", "120", true, "ingester not ready", 120 * time.Second},
		{"retry-after ignored on 500", 500, "x", "5", true, "x", 0},
		{"retry-after ignored on 400", 400, "x", "5", false, "x", 0},
		{"long message trimmed", 400, long, "", false, strings.Repeat("é", 512) + "…", 0},
		{"redirect not followed", 304, "", "", false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			})
			c := newClient(t, config.Config{URLs: []*url.URL{mustURL(t, srv.URL)}})
			err := c.Send(context.Background(), req)
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want *StatusError", err)
			}
			if se.Code != tt.code || se.Message != tt.wantMsg || se.URL != srv.URL {
				t.Errorf("StatusError = {%d %q %q}, want {%d %q %q}", se.Code, se.Message, se.URL, tt.code, tt.wantMsg, srv.URL)
			}
			if got := Retryable(err); got != tt.retryable {
				t.Errorf("Retryable = %v, want %v", got, tt.retryable)
			}
			if got := RetryAfter(err); got != tt.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantAfter)
			}
			if msg := err.Error(); !strings.Contains(msg, srv.URL) || !strings.Contains(msg, http.StatusText(tt.code)) {
				t.Errorf("Error() = %q, want the URL and status text", msg)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	// A port nothing listens on: take one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/loki/api/v1/push"
	l.Close()

	slow, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})

	tests := []struct {
		name    string
		cfg     config.Config
		ctx     func() context.Context
		maxTime time.Duration
	}{
		{"connection refused", config.Config{URLs: []*url.URL{mustURL(t, refused)}}, context.Background, 5 * time.Second},
		{"timeout", config.Config{URLs: []*url.URL{mustURL(t, slow.URL)}, Timeout: 100 * time.Millisecond}, context.Background, 3 * time.Second},
		{"cancelled", config.Config{URLs: []*url.URL{mustURL(t, slow.URL)}}, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx
		}, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.cfg)
			start := time.Now()
			err := c.Send(tt.ctx(), req)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if el := time.Since(start); el > tt.maxTime {
				t.Errorf("Send took %v", el)
			}
			var se *StatusError
			if errors.As(err, &se) {
				t.Errorf("transport failure reported as status: %v", err)
			}
			if !Retryable(err) {
				t.Errorf("Retryable(%v) = false", err)
			}
			if !strings.Contains(err.Error(), "push to http://") {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

func TestBadURLIsPermanent(t *testing.T) {
	c := newClient(t, config.Config{URLs: []*url.URL{{Scheme: "http", Host: "bad host:1:2:3", Path: "/"}}})
	err := c.Send(context.Background(), req)
	if err == nil || Retryable(err) {
		t.Fatalf("Send to an unusable URL = %v (retryable %v), want a permanent error", err, Retryable(err))
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(&config.Config{}); err == nil || !strings.Contains(err.Error(), "Url") {
		t.Errorf("New without URLs = %v, want an error naming Url", err)
	}
	if _, err := New(&config.Config{URLs: []*url.URL{nil}}); err == nil {
		t.Error("New with a nil URL succeeded")
	}
}

// TestFailover sends to two replicas: the first refuses, so the failed
// attempt moves the client on, and later requests stay on the second until
// it fails too.
func TestFailover(t *testing.T) {
	var mu sync.Mutex
	down := map[string]bool{}
	handler := func(name string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			d := down[name]
			mu.Unlock()
			if d {
				http.Error(w, name+" is down", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}
	a, sa := server(t, handler("a"))
	b, sb := server(t, handler("b"))
	setDown := func(name string, d bool) { mu.Lock(); down[name] = d; mu.Unlock() }

	c := newClient(t, config.Config{URLs: []*url.URL{mustURL(t, a.URL), mustURL(t, b.URL)}})
	ctx := context.Background()

	setDown("a", true)
	if err := c.Send(ctx, req); err == nil || !strings.Contains(err.Error(), "a is down") {
		t.Fatalf("first Send = %v, want a's 503", err)
	}
	if c.URL() != b.URL {
		t.Fatalf("after a's failure URL() = %s, want %s", c.URL(), b.URL)
	}
	for range 3 {
		if err := c.Send(ctx, req); err != nil {
			t.Fatalf("Send to b: %v", err)
		}
	}
	if sa.count() != 1 || sb.count() != 3 {
		t.Errorf("a saw %d, b saw %d requests; want 1 and 3", sa.count(), sb.count())
	}

	// b fails, a is back: wrap around to a.
	setDown("a", false)
	setDown("b", true)
	if err := c.Send(ctx, req); err == nil {
		t.Fatal("Send to a failing b succeeded")
	}
	if err := c.Send(ctx, req); err != nil {
		t.Fatalf("Send after wrap-around: %v", err)
	}
	if sa.count() != 2 {
		t.Errorf("a saw %d requests, want 2", sa.count())
	}

	// A non-retryable answer does not move the client: the next replica
	// would refuse the same data.
	rej, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad", 400) })
	c2 := newClient(t, config.Config{URLs: []*url.URL{mustURL(t, rej.URL), mustURL(t, b.URL)}})
	if err := c2.Send(ctx, req); err == nil {
		t.Fatal("want 400")
	}
	if c2.URL() != rej.URL {
		t.Errorf("400 moved the client to %s", c2.URL())
	}
}

// TestFailoverConcurrent: workers failing together move the client one
// URL on, not one per worker.
func TestFailoverConcurrent(t *testing.T) {
	release := make(chan struct{})
	a, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusBadGateway)
	})
	b, _ := server(t, nil)
	cc, _ := server(t, nil)
	c := newClient(t, config.Config{URLs: []*url.URL{mustURL(t, a.URL), mustURL(t, b.URL), mustURL(t, cc.URL)}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Send(context.Background(), req)
		}()
	}
	time.Sleep(100 * time.Millisecond) // let all four reach a
	close(release)
	wg.Wait()
	if c.URL() != b.URL {
		t.Errorf("after 4 concurrent failures URL() = %s, want %s (one step)", c.URL(), b.URL)
	}
}

func TestTLS(t *testing.T) {
	caPool, serverCert := testCA(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("plain request to TLS server")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}}
	srv.StartTLS()
	defer srv.Close()
	u := mustURL(t, srv.URL)

	tests := []struct {
		name    string
		tls     *tls.Config
		wantErr string
	}{
		{"trusted CA", &tls.Config{RootCAs: caPool}, ""},
		{"system roots reject self-signed CA", nil, "certificate"},
		{"skip verify", &tls.Config{InsecureSkipVerify: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, config.Config{URLs: []*url.URL{u}, TLS: tt.tls})
			err := c.Send(context.Background(), req)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Send: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Send = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// testCA makes a throw-away CA and a server certificate for 127.0.0.1
// signed by it.
func testCA(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "loam test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "loam"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestKeepAlive checks that consecutive pushes, error answers included,
// reuse one connection.
func TestKeepAlive(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		n++
		odd := n%2 == 1
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		if odd {
			http.Error(w, strings.Repeat("x", 4000), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := newClient(t, config.Config{URLs: []*url.URL{mustURL(t, srv.URL)}})
	for range 10 {
		c.Send(context.Background(), req)
	}
	if len(conns) != 1 {
		t.Errorf("10 sequential pushes used %d connections, want 1", len(conns))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"5", 5 * time.Second},
		{" 5 ", 5 * time.Second},
		{"99999999999999", 24 * time.Hour},
		{"1.5", 0},
		{"soon", 0},
		{"Sun, 22 Nov 2026 10:00:30 GMT", 30 * time.Second},
		{"Sunday, 22-Nov-26 10:01:00 GMT", time.Minute},
		{"Sun Nov 22 10:00:10 2026", 10 * time.Second},
		{"Sun, 22 Nov 2026 09:00:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTrimMessage(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"  hello \n", "hello"},
		{"a\nb\r\n\tc", "a b c"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{strings.Repeat("a", 1024), strings.Repeat("a", 1024)},
		{strings.Repeat("a", 1025), strings.Repeat("a", 1024) + "…"},
		{strings.Repeat("a", 1023) + "€€", strings.Repeat("a", 1023) + "…"},
		{strings.Repeat("a", 1021) + "€€", strings.Repeat("a", 1021) + "€…"},
	}
	for _, tt := range tests {
		if got := trimMessage([]byte(tt.in)); got != tt.want {
			t.Errorf("trimMessage(%.40q…) = %.40q… (%d bytes), want %.40q… (%d bytes)", tt.in, got, len(got), tt.want, len(tt.want))
		}
	}
}
