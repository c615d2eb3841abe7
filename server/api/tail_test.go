package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/wal"
)

// tailEnv is an API over a real store, served by httptest, for the tail's
// websocket tests.
type tailEnv struct {
	a    *API
	st   *store.Store
	d    *distributor.Distributor
	srv  *httptest.Server
	base time.Time // the timestamps of the tests' entries start here
}

func newTailEnv(t *testing.T) *tailEnv {
	t.Helper()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: discard, MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The slow-client test pushes 30MB to one stream at once: more than the
	// default rates.
	d := distributor.New(fixedLimits(func(l *overrides.Limits) {
		l.IngestionRateMB, l.IngestionBurstSizeMB, l.PerStreamRateLimit = 1024, 1024, 0
	}), st, nil)
	a := New(Options{}, discard, nil, prometheus.NewRegistry())
	a.Serve(d, st)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		st.Close() // ends the tails still open
		srv.Close()
	})
	return &tailEnv{a: a, st: st, d: d, srv: srv, base: time.Now().Add(-10 * time.Minute).Truncate(time.Second)}
}

// push sends lines to one stream through the distributor, as the push
// handler does; ts are offsets from env.base.
func (e *tailEnv) push(t *testing.T, tenant, stream string, ts []time.Duration, lines []string, meta ...push.LabelPair) {
	t.Helper()
	s := push.Stream{Labels: stream}
	for i := range lines {
		s.Entries = append(s.Entries, push.Entry{Timestamp: e.base.Add(ts[i]).UnixNano(), Line: lines[i], Metadata: meta})
	}
	if tenant == "" {
		tenant = e.a.opts.DefaultTenant
	}
	if err := e.d.Push(tenant, &push.Request{Streams: []push.Stream{s}}); err != nil {
		t.Fatal(err)
	}
}

func (e *tailEnv) dial(t *testing.T, tenant string, q url.Values) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/loki/api/v1/tail?" + q.Encode()
	h := http.Header{}
	if tenant != "" {
		h.Set("X-Scope-OrgID", tenant)
	}
	return websocket.DefaultDialer.Dial(u, h)
}

func (e *tailEnv) mustDial(t *testing.T, tenant string, q url.Values) *websocket.Conn {
	t.Helper()
	c, resp, err := e.dial(t, tenant, q)
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = fmt.Sprintf(" (%d %s)", resp.StatusCode, b)
		}
		t.Fatalf("dial tail %v: %v%s", q, err, body)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tailMessage is a message as Loki's clients decode it.
type tailMessage struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][]string        `json:"values"`
	} `json:"streams"`
	Dropped []struct {
		Timestamp string            `json:"timestamp"`
		Labels    map[string]string `json:"labels"`
	} `json:"dropped_entries"`
}

// tailed is one entry as received: labels in canonical text.
type tailed struct {
	labels string
	t      int64
	line   string
}

func (x tailed) String() string { return fmt.Sprintf("%s %d %q", x.labels, x.t, x.line) }

// readMessage reads one message and checks its layout: a streams array,
// values of [ns, line] pairs, dropped_entries only when not empty.
func readMessage(t *testing.T, c *websocket.Conn, timeout time.Duration) (tailMessage, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(timeout))
	typ, b, err := c.ReadMessage()
	if err != nil {
		return tailMessage{}, err
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message of type %d, want text", typ)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("message is not a JSON object: %v\n%s", err, b)
	}
	for k := range raw {
		if k != "streams" && k != "dropped_entries" {
			t.Errorf("unexpected key %q in %s", k, b)
		}
	}
	if !strings.HasPrefix(string(raw["streams"]), "[") {
		t.Errorf("streams is not an array: %s", b)
	}
	if d, ok := raw["dropped_entries"]; ok && string(d) == "[]" {
		t.Errorf("empty dropped_entries sent: %s", b)
	}
	var m tailMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message does not decode: %v\n%s", err, b)
	}
	for _, s := range m.Streams {
		for _, v := range s.Values {
			if len(v) != 2 {
				t.Fatalf("value %q is not [ns, line]", v)
			}
			if _, err := strconv.ParseInt(v[0], 10, 64); err != nil {
				t.Fatalf("timestamp %q is not integer nanoseconds", v[0])
			}
		}
	}
	return m, nil
}

func (m tailMessage) entries() []tailed {
	var out []tailed
	for _, s := range m.Streams {
		ls := labels.FromMap(s.Stream).String()
		for _, v := range s.Values {
			ts, _ := strconv.ParseInt(v[0], 10, 64)
			out = append(out, tailed{ls, ts, v[1]})
		}
	}
	return out
}

// readEntries reads messages until n entries came.
func readEntries(t *testing.T, c *websocket.Conn, n int) []tailed {
	t.Helper()
	var out []tailed
	for len(out) < n {
		m, err := readMessage(t, c, 10*time.Second)
		if err != nil {
			t.Fatalf("after %d of %d entries: %v (got %v)", len(out), n, err, out)
		}
		out = append(out, m.entries()...)
	}
	if len(out) > n {
		t.Fatalf("got %d entries, want %d: %v", len(out), n, out)
	}
	return out
}

// expectQuiet checks that nothing but pings arrives for a while.
func expectQuiet(t *testing.T, c *websocket.Conn, d time.Duration) {
	t.Helper()
	m, err := readMessage(t, c, d)
	if err == nil {
		t.Fatalf("unexpected message: %v", m.entries())
	}
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("reading: %v, want a timeout", err)
	}
}

func (e *tailEnv) want(stream string, ts time.Duration, line string) tailed {
	ls, err := labels.Parse(stream)
	if err != nil {
		panic(err)
	}
	return tailed{ls.String(), e.base.Add(ts).UnixNano(), line}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestTailHistoryThenLive(t *testing.T) {
	env := newTailEnv(t)
	const api, web = `{app="api", env="prod"}`, `{app="web", env="prod"}`
	env.push(t, "t1", api, []time.Duration{ms(1), ms(2), ms(3)}, []string{"GET /a 200", "POST /b 500", "GET /c 404"})
	env.push(t, "t1", web, []time.Duration{ms(4)}, []string{"GET /home 200"})
	env.push(t, "t2", api, []time.Duration{ms(5)}, []string{"GET /other-tenant 200"})

	c := env.mustDial(t, "t1", url.Values{"query": {`{app="api"} |= "GET"`}, "start": {strconv.FormatInt(env.base.UnixNano(), 10)}})
	// History first, oldest first, filtered by selector and line filter.
	got := readEntries(t, c, 2)
	want := []tailed{env.want(api, ms(1), "GET /a 200"), env.want(api, ms(3), "GET /c 404")}
	if !slices.Equal(got, want) {
		t.Fatalf("history:\n got %v\nwant %v", got, want)
	}

	// Then live entries, as they are pushed.
	env.push(t, "t1", api, []time.Duration{ms(10), ms(11)}, []string{"GET /live 200", "DELETE /x 204"})
	env.push(t, "t1", web, []time.Duration{ms(12)}, []string{"GET /web-live 200"})
	env.push(t, "t2", api, []time.Duration{ms(13)}, []string{"GET /t2-live 200"})
	env.push(t, "t1", api, []time.Duration{ms(14)}, []string{"GET /meta 200"}, push.LabelPair{Name: "trace_id", Value: "abc"})
	got = readEntries(t, c, 2)
	want = []tailed{env.want(api, ms(10), "GET /live 200"),
		// Structured metadata is shown among the labels, as query_range does
		// without the categorize-labels encoding.
		env.want(`{app="api", env="prod", trace_id="abc"}`, ms(14), "GET /meta 200")}
	if !slices.Equal(got, want) {
		t.Fatalf("live:\n got %v\nwant %v", got, want)
	}
	expectQuiet(t, c, 300*time.Millisecond)

	// A normal close from the client ends the tail and its subscription.
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	waitTails(t, env.st, "t1", 0)
}

// TestTailPipeline: a tail runs the whole pipeline: parsed labels join the
// stream's, label filters drop lines, line_format rewrites them.
func TestTailPipeline(t *testing.T) {
	env := newTailEnv(t)
	const api = `{app="api"}`
	c := env.mustDial(t, "t1", url.Values{"query": {`{app="api"} | logfmt | status >= 500 | line_format "{{.method}} {{.status}}"`}})
	env.push(t, "t1", api, []time.Duration{ms(1), ms(2), ms(3)},
		[]string{"method=GET status=200", "method=POST status=503", "method=PUT status=500"})
	got := readEntries(t, c, 2)
	want := []tailed{
		env.want(`{app="api", method="POST", status="503"}`, ms(2), "POST 503"),
		env.want(`{app="api", method="PUT", status="500"}`, ms(3), "PUT 500"),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func waitTails(t *testing.T, st *store.Store, tenant string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for st.Subscribers(tenant) != n {
		if time.Now().After(deadline) {
			t.Fatalf("tenant %s has %d tail subscriptions, want %d", tenant, st.Subscribers(tenant), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTailHistoryLimitAndStart(t *testing.T) {
	env := newTailEnv(t)
	const s = `{app="api"}`
	var ts []time.Duration
	var lines []string
	for i := range 10 {
		ts = append(ts, ms(i))
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	env.push(t, "", s, ts, lines)

	// The newest `limit` entries since start, sent oldest first.
	c := env.mustDial(t, "", url.Values{"query": {s}, "limit": {"3"}, "start": {strconv.FormatInt(env.base.UnixNano(), 10)}})
	got := readEntries(t, c, 3)
	want := []tailed{env.want(s, ms(7), "line 7"), env.want(s, ms(8), "line 8"), env.want(s, ms(9), "line 9")}
	if !slices.Equal(got, want) {
		t.Fatalf("limit 3:\n got %v\nwant %v", got, want)
	}
	expectQuiet(t, c, 200*time.Millisecond)

	// start cuts the history (RFC3339 works as for query_range); the
	// default limit is 100.
	c = env.mustDial(t, "", url.Values{"query": {s}, "start": {env.base.Add(ms(8)).Format(time.RFC3339Nano)}})
	got = readEntries(t, c, 2)
	if want := want[1:]; !slices.Equal(got, want) {
		t.Fatalf("start at 8ms:\n got %v\nwant %v", got, want)
	}

	// Without start, the history goes back an hour: base is 10 minutes ago.
	c = env.mustDial(t, "", url.Values{"query": {s}})
	if got := readEntries(t, c, 10); got[0] != env.want(s, 0, "line 0") {
		t.Fatalf("default start: first entry %v", got[0])
	}
	// A start after the last entry sends nothing before the live entries.
	c = env.mustDial(t, "", url.Values{"query": {s}, "start": {strconv.FormatInt(time.Now().UnixNano(), 10)}})
	waitTails(t, env.st, "fake", 4) // subscribed: the three tails above are still open
	env.push(t, "", s, []time.Duration{ms(100)}, []string{"live"})
	if got := readEntries(t, c, 1); got[0] != env.want(s, ms(100), "live") {
		t.Fatalf("start now: got %v, want only the live entry", got)
	}
}

func TestTailBadRequests(t *testing.T) {
	env := newTailEnv(t)
	for _, tc := range []struct {
		name, tenant string
		q            url.Values
		want         string
	}{
		{"no query", "", url.Values{}, "missing query"},
		{"syntax", "", url.Values{"query": {`{app="api"`}}, "parse error"},
		{"metric query", "", url.Values{"query": {`rate({app="api"}[1m])`}}, "metric query"},
		{"empty-compatible selector", "", url.Values{"query": {`{app=~".*"}`}}, "empty-compatible"},
		{"bad regexp", "", url.Values{"query": {`{app="api"} |~ "("`}}, "missing closing )"},
		{"bad template", "", url.Values{"query": {`{app="api"} | line_format "{{.x"`}}, "invalid line template"},
		{"delay_for too long", "", url.Values{"query": {`{app="api"}`}, "delay_for": {"6"}}, "delay_for can't be greater than 5"},
		{"delay_for not a number", "", url.Values{"query": {`{app="api"}`}, "delay_for": {"1s"}}, "invalid delay_for"},
		{"limit zero", "", url.Values{"query": {`{app="api"}`}, "limit": {"0"}}, "invalid limit"},
		{"bad start", "", url.Values{"query": {`{app="api"}`}, "start": {"yesterday"}}, "invalid start"},
		{"bad tenant", "a/b", url.Values{"query": {`{app="api"}`}}, "tenant ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := env.dial(t, tc.tenant, tc.q)
			if err == nil {
				c.Close()
				t.Fatal("the upgrade succeeded, want HTTP 400")
			}
			if resp == nil {
				t.Fatalf("no HTTP answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %q, want 400 containing %q", resp.StatusCode, body, tc.want)
			}
		})
	}
	// A plain GET that is not a websocket handshake is refused too.
	resp, err := http.Get(env.srv.URL + "/loki/api/v1/tail?query=" + url.QueryEscape(`{app="api"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: %d, want 400", resp.StatusCode)
	}
	if n := env.st.Subscribers("fake"); n != 0 {
		t.Fatalf("%d subscriptions left behind by refused requests", n)
	}
}

func TestTailConcurrencyLimit(t *testing.T) {
	env := newTailEnv(t)
	q := url.Values{"query": {`{app="api"}`}}
	for range tailMaxPerTenant {
		env.mustDial(t, "t1", q)
	}
	waitTails(t, env.st, "t1", tailMaxPerTenant)
	_, resp, err := env.dial(t, "t1", q)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("tail number %d: err %v, want HTTP 400", tailMaxPerTenant+1, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "max concurrent tail requests limit exceeded") {
		t.Fatalf("body %q", body)
	}
	// The limit is per tenant.
	env.mustDial(t, "t2", q)
}

// TestTailNoLeak opens tails and drops them every way a client can: a close
// message, a vanished TCP connection, and while the history is being sent.
// The subscriptions and every goroutine of the handler must go.
func TestTailNoLeak(t *testing.T) {
	env := newTailEnv(t)
	const s = `{app="api"}`
	var ts []time.Duration
	var lines []string
	for i := range 1000 {
		ts = append(ts, ms(i))
		lines = append(lines, strings.Repeat("x", 1000))
	}
	env.push(t, "", s, ts, lines)
	start := strconv.FormatInt(env.base.UnixNano(), 10)

	// Let the server's idle goroutines settle before counting.
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	for range 3 {
		c := env.mustDial(t, "", url.Values{"query": {s}, "start": {start}, "limit": {"10"}})
		readEntries(t, c, 10)
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
		c.Close()

		c = env.mustDial(t, "", url.Values{"query": {s}, "start": {start}, "limit": {"10"}})
		readEntries(t, c, 10)
		c.UnderlyingConn().Close() // no close message

		// Gone before reading the 1000 entries of history it asked for.
		c = env.mustDial(t, "", url.Values{"query": {s}, "start": {start}, "limit": {"1000"}})
		c.UnderlyingConn().Close()

		waitTails(t, env.st, "fake", 0)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after the tails ended, %d before:\n%s", n, before, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTailSlowClient: a client that stops reading never holds up a push;
// what it missed is reported in dropped_entries once it reads again, and it
// then gets the new entries.
func TestTailSlowClient(t *testing.T) {
	env := newTailEnv(t)
	const s = `{app="api"}`
	dialer := websocket.Dialer{ReadBufferSize: 1024}
	u := "ws" + strings.TrimPrefix(env.srv.URL, "http") + "/loki/api/v1/tail?" +
		url.Values{"query": {s}, "start": {strconv.FormatInt(time.Now().UnixNano(), 10)}}.Encode()
	c, _, err := dialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitTails(t, env.st, "fake", 1)

	// Far more than the subscription's queue and the socket buffers hold,
	// pushed while the client reads nothing.
	line := strings.Repeat("y", 1000)
	const pushes, perPush = 300, 100
	var slowest time.Duration
	for i := range pushes {
		ts := make([]time.Duration, perPush)
		lines := make([]string, perPush)
		for j := range ts {
			ts[j] = time.Duration(i*perPush + j)
			lines[j] = line
		}
		began := time.Now()
		env.push(t, "", s, ts, lines)
		slowest = max(slowest, time.Since(began))
	}
	if slowest > 2*time.Second {
		t.Errorf("a push took %s while the tail client was not reading", slowest)
	}

	// Read again: entries and drops account for at most what was pushed,
	// with drops reported.
	received, dropped := 0, 0
	env.push(t, "", s, []time.Duration{time.Minute}, []string{"after the stall"})
	for sawLast := false; !sawLast; {
		m, err := readMessage(t, c, 10*time.Second)
		if err != nil {
			t.Fatalf("after %d entries and %d drops: %v", received, dropped, err)
		}
		for _, e := range m.entries() {
			received++
			if e.line == "after the stall" {
				sawLast = true
			} else if e.line != line {
				t.Fatalf("entry %v", e)
			}
		}
		for _, d := range m.Dropped {
			dropped++
			if d.Labels["app"] != "api" {
				t.Fatalf("dropped entry labels %v", d.Labels)
			}
			if _, err := strconv.ParseInt(d.Timestamp, 10, 64); err != nil {
				t.Fatalf("dropped entry timestamp %q", d.Timestamp)
			}
		}
	}
	if dropped == 0 {
		t.Fatalf("no dropped_entries reported; %d entries received of %d", received, pushes*perPush)
	}
	if received+dropped > pushes*perPush+1 {
		t.Fatalf("%d received + %d dropped is more than the %d pushed", received, dropped, pushes*perPush+1)
	}
	t.Logf("%d received, %d reported dropped, %d dropped in all", received, dropped, pushes*perPush+1-received)
}

// TestTailDelayFor: with delay_for, entries are held until their timestamp
// is that far in the past, and sent in time order even when pushed out of
// order.
func TestTailDelayFor(t *testing.T) {
	env := newTailEnv(t)
	const s = `{app="api"}`
	c := env.mustDial(t, "", url.Values{"query": {s}, "delay_for": {"1"}, "start": {strconv.FormatInt(time.Now().UnixNano(), 10)}})
	waitTails(t, env.st, "fake", 1)
	now := time.Now()
	env.base = now
	env.push(t, "", s, []time.Duration{-ms(200)}, []string{"second"})
	env.push(t, "", s, []time.Duration{-ms(500)}, []string{"first"})
	got := readEntries(t, c, 2)
	want := []tailed{env.want(s, -ms(500), "first"), env.want(s, -ms(200), "second")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if el := time.Since(now); el < 700*time.Millisecond {
		t.Fatalf("sent %s after the push; delay_for=1 holds the entries until 1s after their timestamp", el)
	}
}

func TestTailServerShutdown(t *testing.T) {
	env := newTailEnv(t)
	c := env.mustDial(t, "", url.Values{"query": {`{app="api"}`}})
	waitTails(t, env.st, "fake", 1)
	if err := env.st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := readMessage(t, c, 5*time.Second)
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("read after the store closed: %v, want close 1001", err)
	}
}

// TestTailHistoryDuplicates: an entry pushed between the subscription and
// the history query is in both; it is sent once.
func TestTailHistoryDuplicates(t *testing.T) {
	env := newTailEnv(t)
	expr, err := logql.ParseLogSelector(`{app="api"}`)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := newTailFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := env.st.Subscribe("fake", expr.Matchers, store.TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	env.push(t, "", `{app="api"}`, []time.Duration{0, 1}, []string{"both", "both too"})
	tl := &tailer{sub: sub, filter: filter, now: time.Now}
	p := tailParams{expr: expr, filter: filter, start: env.base.Add(-time.Hour), limit: 100}
	if err := tl.history(t.Context(), nil, env.a, env.a.be.Load(), "fake", p); err != nil {
		t.Fatal(err)
	}
	tl.take()
	if len(tl.held) != 2 {
		t.Fatalf("%d entries held, want 2 (each once)", len(tl.held))
	}
	// Past the window, an entry equal to one of the history is news: the
	// head would have dropped a true duplicate push.
	tl.seenUntil = time.Now().Add(-time.Second)
	env.push(t, "", `{app="api"}`, []time.Duration{2}, []string{"later"})
	tl.take()
	if len(tl.held) != 3 || tl.seen != nil {
		t.Fatalf("%d entries held, seen %v; want 3 and the history keys dropped", len(tl.held), tl.seen)
	}
}

func TestTailFilter(t *testing.T) {
	stream := labels.FromMap(map[string]string{"app": "api"})
	for _, tc := range []struct {
		query string
		line  string
		meta  labels.Labels
		keep  bool
		want  string // labels shown
	}{
		{`{app="api"}`, "anything", nil, true, `{app="api"}`},
		{`{app="api"} |= "err" != "timeout"`, "err: disk", nil, true, `{app="api"}`},
		{`{app="api"} |= "err" != "timeout"`, "err: timeout", nil, false, ""},
		{`{app="api"} |~ "(?i)ERR"`, "err", nil, true, `{app="api"}`},
		// Metadata named like a stream label is renamed, as Loki does.
		{`{app="api"}`, "x", labels.Labels{{Name: "trace", Value: "1"}, {Name: "app", Value: "meta"}}, true, `{app="api", app_extracted="meta", trace="1"}`},
	} {
		expr, err := logql.ParseLogSelector(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		f, err := newTailFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		ls, line, keep := f(stream, 0, []byte(tc.line), tc.meta)
		if keep != tc.keep || (keep && (ls.All.String() != tc.want || string(line) != tc.line)) {
			t.Errorf("%s on %q %v: got %v %q %v, want %v %q %s", tc.query, tc.line, tc.meta, ls, line, keep, tc.keep, tc.line, tc.want)
		}
	}
}
