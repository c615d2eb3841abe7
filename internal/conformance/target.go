package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Target is a server to push to or query: its base URL and the tenant to
// send as X-Scope-OrgID.
type Target struct {
	URL    string       // e.g. http://127.0.0.1:3100, without a trailing path
	Tenant string       // empty: no X-Scope-OrgID header
	Client *http.Client // nil: a client whose requests time out after two minutes
}

var defaultClient = &http.Client{Timeout: 2 * time.Minute}

func (t Target) client() *http.Client {
	if t.Client != nil {
		return t.Client
	}
	return defaultClient
}

// request builds a request for path (with its query string) on t.
func (t Target) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(t.URL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if t.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", t.Tenant)
	}
	return req, nil
}

// Fetch asks t the case's question with its times shifted and returns the
// HTTP status and body. An error means there was no HTTP answer.
func (t Target) Fetch(ctx context.Context, c *Case, shift Shift) (int, []byte, error) {
	q := url.Values{}
	for k, v := range c.Params {
		sv, err := shift.param(k, v)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", c.ID, err)
		}
		q.Set(k, sv)
	}
	req, err := t.request(ctx, http.MethodGet, c.Endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := t.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, b, nil
}
