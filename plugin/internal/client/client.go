package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/loam-logs/loam/plugin/internal/batch"
	"github.com/loam-logs/loam/plugin/internal/config"
)

// Version is the plugin version sent in User-Agent. Release builds set it
// with -ldflags "-X github.com/loam-logs/loam/plugin/internal/client.Version=v1.2.3";
// when empty, the module version or VCS revision recorded by the Go
// toolchain is used.
var Version string

const (
	// maxMessage bounds the server message kept in a StatusError: enough
	// for Loki's "entry too far behind" lists, small enough for one log line.
	maxMessage = 1024
	// maxDrain is how much of an error body is read and discarded so the
	// keep-alive connection can be reused; longer bodies close it instead.
	maxDrain = 64 << 10
	// idleConnsPerHost covers a few Fluent Bit workers plus a spare, per
	// push URL.
	idleConnsPerHost = 8
)

// Client posts push requests to the configured URLs. Create it with New.
type Client struct {
	urls      []string
	cur       atomic.Uint32 // index into urls of the URL the next attempt uses
	http      *http.Client
	transport *http.Transport
	timeout   time.Duration
	userAgent string

	username, password string
	bearerToken        string
	bearerTokenFile    string
}

// New returns a client for cfg's URLs, TLS settings, credentials and
// per-request timeout. It owns one connection pool; call Close to release
// its idle connections.
func New(cfg *config.Config) (*Client, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("client: no push URL (Url)")
	}
	c := &Client{
		timeout:         cfg.Timeout,
		userAgent:       "loam-fluent-bit/" + version(),
		username:        cfg.Username,
		password:        cfg.Password,
		bearerToken:     cfg.BearerToken,
		bearerTokenFile: cfg.BearerTokenFile,
	}
	for _, u := range cfg.URLs {
		if u == nil {
			return nil, errors.New("client: nil push URL")
		}
		c.urls = append(c.urls, u.String())
	}

	// One transport per instance: its own keep-alive pool and TLS settings,
	// independent of other outputs in the same Fluent Bit. Proxy settings
	// from the environment are honoured as Fluent Bit users expect.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = idleConnsPerHost * len(c.urls)
	t.MaxIdleConnsPerHost = idleConnsPerHost
	t.IdleConnTimeout = 90 * time.Second
	t.DisableCompression = true // answers are tiny; bodies are already snappy
	if cfg.TLS != nil {
		t.TLSClientConfig = cfg.TLS.Clone()
	}
	c.transport = t
	c.http = &http.Client{Transport: t}
	return c, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
}

// URL returns the push URL the next attempt goes to.
func (c *Client) URL() string {
	return c.urls[int(c.cur.Load())%len(c.urls)]
}

// Send makes one attempt to deliver r to the current URL. It returns nil
// on a 2xx answer, a *StatusError for any other answer, and a wrapped
// transport error (connection refused, timeout, TLS failure, …) otherwise.
// After a retryable failure the next attempt goes to the next URL, so
// retries fail over across Loam replicas.
func (c *Client) Send(ctx context.Context, r batch.Request) error {
	idx := c.cur.Load()
	url := c.urls[int(idx)%len(c.urls)]
	err := c.send(ctx, url, r)
	if err != nil && len(c.urls) > 1 && Retryable(err) && ctx.Err() == nil {
		// Advance only from the index this attempt used, so that workers
		// failing at the same time move one URL on, not one each.
		c.cur.CompareAndSwap(idx, (idx+1)%uint32(len(c.urls)))
	}
	return err
}

func (c *Client) send(ctx context.Context, url string, r batch.Request) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		return &permanentError{fmt.Errorf("push to %s: %w", url, err)}
	}
	// Snappy-framed protobuf without Content-Encoding: the Loki push
	// convention that Promtail and Fluent Bit's loki output follow.
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", c.userAgent)
	if r.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", r.Tenant)
	}
	if err := c.authorize(req); err != nil {
		return fmt.Errorf("push to %s: %w", url, err)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("push to %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		drain(resp.Body)
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxMessage+1))
	drain(resp.Body)
	return &StatusError{
		URL:        url,
		Code:       resp.StatusCode,
		Message:    trimMessage(msg),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}

// authorize sets basic auth or a bearer token. The token file is read on
// every request: Kubernetes projected service-account tokens are rotated
// in place, and a cached token would start failing after an hour.
func (c *Client) authorize(req *http.Request) error {
	switch {
	case c.username != "" || c.password != "":
		req.SetBasicAuth(c.username, c.password)
	case c.bearerTokenFile != "":
		b, err := os.ReadFile(c.bearerTokenFile)
		if err != nil {
			return fmt.Errorf("read BearerTokenFile: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return fmt.Errorf("BearerTokenFile %s is empty", c.bearerTokenFile)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case c.bearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.bearerToken)
	}
	return nil
}

// drain reads a little of what is left of a body so the connection can go
// back to the keep-alive pool.
func drain(body io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
}

// trimMessage makes a server's error body fit one log line: at most
// maxMessage bytes (cut on a UTF-8 boundary), surrounding space removed,
// inner newlines flattened.
func trimMessage(b []byte) string {
	cut := len(b) > maxMessage
	if cut {
		b = b[:maxMessage]
		// Drop a rune the cut split in two (at most 3 trailing bytes).
		for i := 0; i < 3 && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "\uFFFD")), " ")
	if cut {
		s += "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. Absent, malformed or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second) // the caller caps it anyway; avoid overflow
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func version() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return "dev"
}
