package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// tailLine is one entry as a tail client shows it.
type tailLine struct {
	Labels string // Loki's text form
	T      int64
	Line   string
}

// tailClient is a websocket on /loki/api/v1/tail, dialed the way logcli
// does (gorilla/websocket, tenant in X-Scope-OrgID).
type tailClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dialTail opens a tail; on a refused handshake it returns the HTTP status
// and body instead.
func (p *loam) dialTail(t *testing.T, tenant string, q url.Values) (*tailClient, int, string) {
	t.Helper()
	u := "ws://" + p.addr + "/loki/api/v1/tail?" + q.Encode()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(u, tenantHeader(tenant))
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(b)
	}
	c := &tailClient{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	return c, http.StatusSwitchingProtocols, ""
}

func (p *loam) mustTail(t *testing.T, tenant string, q url.Values) *tailClient {
	t.Helper()
	c, code, body := p.dialTail(t, tenant, q)
	if c == nil {
		t.Fatalf("tail %v (tenant %q): got %d %s, want a websocket", q, tenant, code, body)
	}
	return c
}

// next reads one message, checking Loki's layout, and returns its entries.
func (c *tailClient) next(timeout time.Duration) ([]tailLine, error) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	var msg struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][]string        `json:"values"`
		} `json:"streams"`
		Dropped []json.RawMessage `json:"dropped_entries"`
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		c.t.Fatalf("tail message is not JSON: %v\n%s", err, b)
	}
	if msg.Streams == nil {
		c.t.Fatalf("tail message without a streams array:\n%s", b)
	}
	if len(msg.Dropped) > 0 {
		c.t.Errorf("entries dropped for a client that keeps up:\n%s", b)
	}
	var out []tailLine
	for _, s := range msg.Streams {
		for _, v := range s.Values {
			if len(v) != 2 {
				c.t.Fatalf("value %q is not [\"<ns>\", \"line\"]", v)
			}
			ts, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil {
				c.t.Fatalf("timestamp %q is not integer nanoseconds", v[0])
			}
			out = append(out, tailLine{labelsText(s.Stream), ts, v[1]})
		}
	}
	return out, nil
}

// read returns the next n entries.
func (c *tailClient) read(n int) []tailLine {
	c.t.Helper()
	var out []tailLine
	for len(out) < n {
		es, err := c.next(15 * time.Second)
		if err != nil {
			c.t.Fatalf("tail: after %d of %d entries: %v\ngot %v", len(out), n, err, out)
		}
		out = append(out, es...)
	}
	if len(out) > n {
		c.t.Fatalf("tail: got %d entries, want %d: %v", len(out), n, out)
	}
	return out
}

// quiet checks that no entry arrives for d.
func (c *tailClient) quiet(d time.Duration) {
	c.t.Helper()
	es, err := c.next(d)
	if err == nil {
		c.t.Fatalf("tail: unexpected entries %v", es)
	}
	if ne, ok := err.(interface{ Timeout() bool }); !ok || !ne.Timeout() {
		c.t.Fatalf("tail: %v, want a read timeout", err)
	}
}

func asTailLines(es []entry) []tailLine {
	out := make([]tailLine, len(es))
	for i, e := range es {
		out[i] = tailLine{labelsText(e.Labels), e.T, e.Line}
	}
	return out
}

// TestTail drives /loki/api/v1/tail as logcli --tail and Grafana's Live mode
// do: history from start (from blocks and the head), then live entries in
// every push format, filtered by selector, line filter and tenant; bad
// requests refused before the upgrade; a clean close at shutdown.
func TestTail(t *testing.T) {
	l := startLoam(t, t.TempDir())
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	seq := 0
	mk := func(ls map[string]string, line string) entry {
		seq++
		return entry{Labels: ls, T: base.Add(time.Duration(seq) * time.Millisecond).UnixNano(), Line: line}
	}
	api := map[string]string{"app": "api", "env": "prod"}
	apiDev := map[string]string{"app": "api", "env": "dev"}
	web := map[string]string{"app": "web", "env": "prod"}

	// History: the first part flushed into a block, the rest in the head.
	flushed := []entry{mk(api, "error: disk full"), mk(web, "error: not ours"), mk(api, "ok")}
	l.mustPush(t, "team-a", ctJSON, "", jsonBody(flushed))
	if code, _, b := l.do(t, http.MethodPost, "/flush", nil, nil); code != http.StatusNoContent {
		t.Fatalf("flush: %d %s", code, b)
	}
	inHead := []entry{mk(apiDev, "error: timeout"), mk(api, "error: again")}
	l.mustPush(t, "team-a", ctProto, "", protoBody(inHead))
	l.mustPush(t, "team-b", ctJSON, "", jsonBody([]entry{mk(api, "error: other tenant")}))

	// logcli: query, limit, start in nanoseconds, tenant header.
	q := url.Values{"query": {`{app="api"} |= "error"`}, "limit": {"30"}, "start": {ns(base)}}
	c := l.mustTail(t, "team-a", q)
	want := asTailLines([]entry{flushed[0], inHead[0], inHead[1]})
	if got := c.read(len(want)); !slices.Equal(got, want) {
		t.Fatalf("history:\n got %v\nwant %v", got, want)
	}

	// Live: what the query selects arrives, in push order, whatever the
	// push format; the rest does not.
	now := time.Now()
	live := []entry{
		{Labels: api, T: now.Add(-3 * time.Millisecond).UnixNano(), Line: "error: live json"},
		{Labels: web, T: now.Add(-2 * time.Millisecond).UnixNano(), Line: "error: other app"},
		{Labels: api, T: now.Add(-time.Millisecond).UnixNano(), Line: "fine, no match"},
	}
	l.mustPush(t, "team-a", ctJSON, "", jsonBody(live))
	l.mustPush(t, "team-b", ctJSON, "", jsonBody([]entry{{Labels: api, T: now.UnixNano(), Line: "error: team-b live"}}))
	liveProto := entry{Labels: apiDev, T: now.UnixNano(), Line: "error: live protobuf"}
	l.mustPush(t, "team-a", ctProto, "gzip", gzipBytes(protoBody([]entry{liveProto})))
	want = asTailLines([]entry{live[0], liveProto})
	if got := c.read(len(want)); !slices.Equal(got, want) {
		t.Fatalf("live:\n got %v\nwant %v", got, want)
	}
	c.quiet(500 * time.Millisecond)
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))

	// Grafana's Live mode sends the query alone: an hour of history, at most
	// 100 entries, from the default tenant here.
	l.mustPush(t, "", ctJSON, "", jsonBody([]entry{mk(web, "default tenant")}))
	g := l.mustTail(t, "", url.Values{"query": {`{app="web"}`}})
	if got := g.read(1); got[0].Line != "default tenant" {
		t.Fatalf("default tenant history: %v", got)
	}

	// Bad requests get a 400 with a message, before any upgrade.
	for _, bad := range []struct {
		q    url.Values
		want string
	}{
		{url.Values{"query": {`{app="api"`}}, "parse error"},
		{url.Values{"query": {`{app="api"}`}, "delay_for": {"10"}}, "delay_for can't be greater than 5"},
		{url.Values{"query": {`sum(rate({app="api"}[1m]))`}}, "metric query"},
	} {
		if c, code, body := l.dialTail(t, "team-a", bad.q); c != nil || code != http.StatusBadRequest || !strings.Contains(body, bad.want) {
			t.Errorf("tail %v: got %d %q, want 400 containing %q", bad.q, code, body, bad.want)
		}
	}

	// A tail is counted, once it ended, as a switched protocol.
	waitFor(t, 10*time.Second, "the first tail in loam_request_duration_seconds with status 101", func() bool {
		v, _ := l.metrics(t).value("loam_request_duration_seconds_count", "route", "/loki/api/v1/tail", "status", "101")
		return v >= 1
	})

	// A tail open at shutdown is closed with 1001 (going away), and does not
	// hold the shutdown up.
	l.stop()
	_, err := g.next(10 * time.Second)
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("tail at shutdown: %v, want close 1001 (going away)", err)
	}
}
