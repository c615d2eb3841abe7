package e2e

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/loam-logs/loam/server/push"
)

// loamBin is the binary under test; empty in -short mode (tests skip).
var loamBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		return m.Run() // every test skips: no binary
	}
	if b := os.Getenv("LOAM_E2E_BINARY"); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: LOAM_E2E_BINARY:", err)
			return 1
		}
		loamBin = abs
		return m.Run()
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "loam-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	loamBin = filepath.Join(dir, "loam")
	args := []string{"build", "-o", loamBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./server/cmd/loam")
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built %s in %s (race=%v)\n", loamBin, time.Since(start).Round(time.Millisecond), raceEnabled)
	}
	return m.Run()
}

// moduleRoot walks up from the working directory to the go.mod of the module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/loam-logs/loam")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the go.mod of github.com/loam-logs/loam above the working directory")
		}
		dir = parent
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// client is used for every request; its timeout bounds any single call.
var client = &http.Client{Timeout: 30 * time.Second}

// syncBuffer is a bytes.Buffer safe for the process's writes and our reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var procSeq atomic.Int64

// loam is one running loam process.
type loam struct {
	t       testing.TB
	name    string
	addr    string
	base    string // http://addr
	dataDir string
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{} // closed when the process has exited
	state   *os.ProcessState
	// authz is the Authorization of the helpers' requests that set none
	// (a loam with -auth.enabled); "" for none.
	authz string
	// hc replaces client for a loam serving TLS (base is then https://).
	hc *http.Client
}

const readyTimeout = 20 * time.Second

// startLoam starts loam on a free port with -data.dir dataDir and waits until
// /ready answers 200. The process is killed when the test ends; its output
// is printed if the test failed.
func startLoam(t testing.TB, dataDir string, extraArgs ...string) *loam {
	t.Helper()
	var last *loam
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		args := append([]string{"-http.addr", addr, "-data.dir", dataDir}, extraArgs...)
		p := spawn(t, addr, args...)
		err := p.waitReady(readyTimeout)
		if err == nil {
			return p
		}
		// Another process may have taken the port between our probe and
		// loam's listen: try another one.
		if p.exited() && strings.Contains(p.out.String(), "address already in use") {
			last = p
			continue
		}
		t.Fatalf("%s did not become ready: %v\n--- output ---\n%s", p.name, err, p.out.String())
	}
	t.Fatalf("%s could not find a free port:\n%s", last.name, last.out.String())
	return nil
}

// noIngestLimits lifts the per-tenant rate and stream limits (Loki's
// defaults: 4 MB/s, 5000 streams), for tests that push as fast as they can
// to test something else.
var noIngestLimits = []string{"-limits.ingestion-rate-mb", "1e6", "-limits.ingestion-burst-size-mb", "1e6",
	"-limits.per-stream-rate-limit", "0", "-limits.max-global-streams-per-user", "0"}

// spawn starts loam with exactly args; addr is where it is expected to
// listen. It does not wait for readiness.
func spawn(t testing.TB, addr string, args ...string) *loam {
	t.Helper()
	return spawnIn(t, "", addr, args...)
}

// spawnIn is spawn with the process's working directory set to workDir.
func spawnIn(t testing.TB, workDir, addr string, args ...string) *loam {
	t.Helper()
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	p := &loam{t: t, name: fmt.Sprintf("loam#%d", procSeq.Add(1)), addr: addr, base: "http://" + addr,
		out: &syncBuffer{}, done: make(chan struct{})}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-data.dir" {
			p.dataDir = args[i+1]
		}
	}
	p.cmd = exec.Command(loamBin, args...)
	p.cmd.Dir = workDir
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if raceEnabled {
		p.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", loamBin, err)
	}
	go func() {
		p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(p.cleanup)
	return p
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (p *loam) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *loam) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	if p.hc != nil {
		c = &http.Client{Timeout: time.Second, Transport: p.hc.Transport}
	}
	for {
		if p.exited() {
			return fmt.Errorf("process exited (%v) before it was ready", p.state)
		}
		resp, err := c.Get(p.base + "/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET /ready not 200 after %s (last error: %v)", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *loam) waitExit(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *loam) kill9() {
	p.t.Helper()
	if p.exited() {
		p.t.Fatalf("%s had already exited (%v) before kill -9:\n%s", p.name, p.state, p.out.String())
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	if !p.waitExit(10 * time.Second) {
		p.t.Fatalf("%s still running 10s after SIGKILL", p.name)
	}
}

// stop sends SIGTERM, waits for a clean exit (the head is flushed into
// blocks) and checks the exit status is 0.
func (p *loam) stop() {
	p.t.Helper()
	if p.exited() {
		p.t.Fatalf("%s had already exited (%v) before SIGTERM:\n%s", p.name, p.state, p.out.String())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if !p.waitExit(40 * time.Second) {
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("%s did not exit within 40s of SIGTERM:\n%s", p.name, p.out.String())
	}
	if !p.state.Success() {
		p.t.Fatalf("%s exited with %v after SIGTERM:\n%s", p.name, p.state, p.out.String())
	}
	if !strings.Contains(p.out.String(), "msg=stopped") {
		p.t.Errorf("%s: no \"stopped\" log line after SIGTERM:\n%s", p.name, p.out.String())
	}
}

// cleanup kills the process if it still runs, and reports what its output
// says went wrong.
func (p *loam) cleanup() {
	if !p.exited() {
		p.cmd.Process.Kill()
		if !p.waitExit(10 * time.Second) {
			p.t.Errorf("%s: still running 10s after SIGKILL in cleanup", p.name)
		}
	}
	out := p.out.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic serving request", "panic:", "fatal error:"} {
		if strings.Contains(out, bad) {
			p.t.Errorf("%s output contains %q", p.name, bad)
		}
	}
	if p.t.Failed() {
		p.t.Logf("--- %s %s output ---\n%s--- end of %s output ---", p.name, strings.Join(p.cmd.Args[1:], " "), out, p.name)
	}
}

// do sends one request and returns status, headers and body. A transport
// error fails the test.
func (p *loam) do(t testing.TB, method, path string, hdr http.Header, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if p.authz != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", p.authz)
	}
	c := client
	if p.hc != nil {
		c = p.hc
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

func tenantHeader(tenant string) http.Header {
	h := http.Header{}
	if tenant != "" {
		h.Set("X-Scope-OrgID", tenant)
	}
	return h
}

// get does GET path?q with an optional tenant.
func (p *loam) get(t testing.TB, path string, q url.Values, tenant string) (int, []byte) {
	t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	code, _, b := p.do(t, http.MethodGet, path, tenantHeader(tenant), nil)
	return code, b
}

// pushRaw posts a push body with the given headers.
func (p *loam) pushRaw(t testing.TB, tenant, contentType, contentEncoding string, body []byte) (int, string) {
	t.Helper()
	h := tenantHeader(tenant)
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if contentEncoding != "" {
		h.Set("Content-Encoding", contentEncoding)
	}
	code, _, b := p.do(t, http.MethodPost, "/loki/api/v1/push", h, bytes.NewReader(body))
	return code, string(b)
}

// mustPush posts and requires 204.
func (p *loam) mustPush(t testing.TB, tenant, contentType, contentEncoding string, body []byte) {
	t.Helper()
	code, msg := p.pushRaw(t, tenant, contentType, contentEncoding, body)
	if code != http.StatusNoContent {
		t.Fatalf("push (%s, %s) to tenant %q: got %d %q, want 204", contentType, contentEncoding, tenant, code, msg)
	}
}

const (
	ctJSON  = "application/json"
	ctProto = "application/x-protobuf"
)

// ---------------------------------------------------------------------------
// Push bodies.

// entry is one log entry as pushed, and the model the answers are checked
// against.
type entry struct {
	Labels map[string]string
	Meta   map[string]string // structured metadata; nil for none
	T      int64
	Line   string
}

// labelsText is the Loki text form of a label set, {a="1", b="2"}.
func labelsText(m map[string]string) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// groupStreams groups entries by label set, in order of first appearance.
func groupStreams(es []entry) [][]entry {
	idx := map[string]int{}
	var out [][]entry
	for _, e := range es {
		k := labelsText(e.Labels)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], e)
	}
	return out
}

// jsonBody encodes entries as a Loki JSON push, written independently of the
// server's own encoder.
func jsonBody(es []entry) []byte {
	type jsonStream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	var body struct {
		Streams []jsonStream `json:"streams"`
	}
	body.Streams = []jsonStream{}
	for _, group := range groupStreams(es) {
		s := jsonStream{Stream: group[0].Labels}
		for _, e := range group {
			v := []any{strconv.FormatInt(e.T, 10), e.Line}
			if e.Meta != nil {
				v = append(v, e.Meta)
			}
			s.Values = append(s.Values, v)
		}
		body.Streams = append(body.Streams, s)
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return b
}

// protoRaw encodes entries as an uncompressed logproto.PushRequest.
func protoRaw(es []entry) []byte {
	req := &push.Request{}
	for _, group := range groupStreams(es) {
		s := push.Stream{Labels: labelsText(group[0].Labels)}
		for _, e := range group {
			pe := push.Entry{Timestamp: e.T, Line: e.Line}
			if e.Meta != nil {
				names := make([]string, 0, len(e.Meta))
				for k := range e.Meta {
					names = append(names, k)
				}
				slices.Sort(names)
				for _, k := range names {
					pe.Metadata = append(pe.Metadata, push.LabelPair{Name: k, Value: e.Meta[k]})
				}
			}
			s.Entries = append(s.Entries, pe)
		}
		req.Streams = append(req.Streams, s)
	}
	return push.EncodeProto(nil, req)
}

// protoBody is protoRaw snappy-compressed (block format), as Promtail sends.
func protoBody(es []entry) []byte { return s2.EncodeSnappy(nil, protoRaw(es)) }

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func rawDeflateBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// ---------------------------------------------------------------------------
// Queries.

type lokiResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Stream map[string]string `json:"stream"`
			Values [][]string        `json:"values"`
		} `json:"result"`
		Stats map[string]any `json:"stats"`
	} `json:"data"`
}

// streamsResult is a query answer as stream key → [ts, line] in order.
type streamsResult map[string][][2]string

func (r streamsResult) count() int {
	n := 0
	for _, v := range r {
		n += len(v)
	}
	return n
}

// queryRange runs a log query, requires 200 and Loki's layout, and returns
// the answer by stream.
func (p *loam) queryRange(t testing.TB, tenant string, q url.Values) streamsResult {
	t.Helper()
	code, body := p.get(t, "/loki/api/v1/query_range", q, tenant)
	if code != http.StatusOK {
		t.Fatalf("query_range %v (tenant %q): got %d %s", q, tenant, code, body)
	}
	return parseStreams(t, q, body)
}

func parseStreams(t testing.TB, q url.Values, body []byte) streamsResult {
	t.Helper()
	var resp lokiResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("query_range %v: answer is not JSON: %v\n%s", q, err, body)
	}
	if resp.Status != "success" || resp.Data.ResultType != "streams" {
		t.Fatalf("query_range %v: status %q resultType %q, want success/streams:\n%s", q, resp.Status, resp.Data.ResultType, body)
	}
	if resp.Data.Result == nil || !bytes.Contains(body, []byte(`"result":[`)) {
		t.Fatalf("query_range %v: data.result must be a JSON array (even when empty):\n%s", q, body)
	}
	if resp.Data.Stats == nil {
		t.Errorf("query_range %v: data.stats missing:\n%s", q, body)
	} else if s, ok := resp.Data.Stats["summary"].(map[string]any); !ok {
		t.Errorf("query_range %v: data.stats.summary missing:\n%s", q, body)
	} else {
		n := 0
		for _, r := range resp.Data.Result {
			n += len(r.Values)
		}
		if got, _ := s["totalEntriesReturned"].(float64); int(got) != n {
			t.Errorf("query_range %v: stats.summary.totalEntriesReturned = %v, want %d", q, s["totalEntriesReturned"], n)
		}
	}
	out := streamsResult{}
	for _, r := range resp.Data.Result {
		k := labelsText(r.Stream)
		if _, dup := out[k]; dup {
			t.Errorf("query_range %v: stream %s appears twice in the result", q, k)
		}
		vals := make([][2]string, 0, len(r.Values))
		for _, v := range r.Values {
			if len(v) != 2 {
				t.Fatalf("query_range %v: value %q of %s is not [\"<ns>\", \"line\"]", q, v, k)
			}
			if _, err := strconv.ParseInt(v[0], 10, 64); err != nil {
				t.Fatalf("query_range %v: timestamp %q is not integer nanoseconds", q, v[0])
			}
			vals = append(vals, [2]string{v[0], v[1]})
		}
		out[k] = append(out[k], vals...)
	}
	return out
}

// expectStreams computes what a log query must answer from the model: the
// entries sel keeps with start <= T < end, newest (backward) or oldest
// (forward) first, at most limit, grouped by stream labels plus structured
// metadata (how Loki shows metadata without the categorize-labels header).
func expectStreams(all []entry, sel func(entry) bool, start, end int64, backward bool, limit int) streamsResult {
	var es []entry
	for _, e := range all {
		if e.T >= start && e.T < end && sel(e) {
			es = append(es, e)
		}
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		if backward {
			return cmpInt64(b.T, a.T)
		}
		return cmpInt64(a.T, b.T)
	})
	if len(es) > limit {
		es = es[:limit]
	}
	out := streamsResult{}
	for _, e := range es {
		ls := map[string]string{}
		for k, v := range e.Meta {
			ls[k] = v
		}
		for k, v := range e.Labels {
			ls[k] = v
		}
		k := labelsText(ls)
		out[k] = append(out[k], [2]string{strconv.FormatInt(e.T, 10), e.Line})
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// diffStreams describes how got differs from want, or returns "".
func diffStreams(got, want streamsResult) string {
	var b strings.Builder
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		g, w := got[k], want[k]
		if slices.Equal(g, w) {
			continue
		}
		fmt.Fprintf(&b, "stream %s:\n  got  %d values %q\n  want %d values %q\n", k, len(g), clipValues(g), len(w), clipValues(w))
	}
	return b.String()
}

func clipValues(v [][2]string) [][2]string {
	if len(v) > 8 {
		return v[:8]
	}
	return v
}

// getData does a GET and decodes {"status":"success","data":...} into data.
func (p *loam) getData(t testing.TB, path string, q url.Values, tenant string, data any) {
	t.Helper()
	code, body := p.get(t, path, q, tenant)
	if code != http.StatusOK {
		t.Fatalf("GET %s %v (tenant %q): got %d %s", path, q, tenant, code, body)
	}
	var resp struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("GET %s %v: not JSON: %v\n%s", path, q, err, body)
	}
	if resp.Status != "success" {
		t.Fatalf("GET %s %v: status %q:\n%s", path, q, resp.Status, body)
	}
	if string(resp.Data) == "null" {
		t.Fatalf("GET %s %v: data is null, want a JSON array:\n%s", path, q, body)
	}
	if err := json.Unmarshal(resp.Data, data); err != nil {
		t.Fatalf("GET %s %v: data: %v\n%s", path, q, err, body)
	}
}

// ---------------------------------------------------------------------------
// Metrics.

type sample struct {
	Labels map[string]string
	Value  float64
}

// promMetrics is a parsed Prometheus text exposition: name → samples.
type promMetrics map[string][]sample

func (p *loam) metrics(t testing.TB) promMetrics {
	t.Helper()
	code, body := p.get(t, "/metrics", nil, "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	m, err := parseMetrics(body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return m
}

// value sums the samples of name whose labels include every pair of match;
// ok is false when there is none.
func (m promMetrics) value(name string, match ...string) (float64, bool) {
	var sum float64
	found := false
next:
	for _, s := range m[name] {
		for i := 0; i+1 < len(match); i += 2 {
			if s.Labels[match[i]] != match[i+1] {
				continue next
			}
		}
		sum += s.Value
		found = true
	}
	return sum, found
}

func parseMetrics(body []byte) (promMetrics, error) {
	m := promMetrics{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{Labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			return nil, fmt.Errorf("bad metrics line %q", line)
		}
		name := line[:i]
		rest := line[i:]
		if rest[0] == '{' {
			rest = rest[1:]
			for {
				rest = strings.TrimLeft(rest, ", ")
				if strings.HasPrefix(rest, "}") {
					rest = rest[1:]
					break
				}
				eq := strings.IndexByte(rest, '=')
				if eq < 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
					return nil, fmt.Errorf("bad labels in %q", line)
				}
				lname := rest[:eq]
				rest = rest[eq+2:]
				var v strings.Builder
				j := 0
				for ; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' && j+1 < len(rest) {
						j++
						switch rest[j] {
						case 'n':
							v.WriteByte('\n')
						default:
							v.WriteByte(rest[j])
						}
						continue
					}
					v.WriteByte(rest[j])
				}
				if j >= len(rest) {
					return nil, fmt.Errorf("unterminated label value in %q", line)
				}
				s.Labels[lname] = v.String()
				rest = rest[j+1:]
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		f, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %v", line, err)
		}
		s.Value = f
		m[name] = append(m[name], s)
	}
	return m, sc.Err()
}

// waitFor polls cond every 20ms until it is true or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ns(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
