package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clusterNode is one member of a test cluster: its ports and data stay the
// same across restarts.
type clusterNode struct {
	name     string
	httpAddr string
	gossip   string // 127.0.0.1:port
	dataDir  string
	proc     *loam // nil while down
}

// testCluster is n loam processes on 127.0.0.1 gossiping with each other.
type testCluster struct {
	t     *testing.T
	nodes []*clusterNode
	args  []string // common to all nodes
	// hc, when set, is the client of nodes serving HTTPS.
	hc *http.Client
}

// startCluster starts n nodes with replication factor rf and waits until
// every node sees all n ACTIVE.
func startCluster(t *testing.T, n, rf int, extra ...string) *testCluster {
	t.Helper()
	return startClusterWith(t, n, rf, nil, extra...)
}

// startClusterWith is startCluster with hc the client of nodes that serve
// HTTPS (extra has their TLS flags); nil for plain HTTP.
func startClusterWith(t *testing.T, n, rf int, hc *http.Client, extra ...string) *testCluster {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("e2e cluster secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &testCluster{t: t, hc: hc, args: append([]string{"-ring.replication-factor", strconv.Itoa(rf),
		"-cluster.secret-file", secret, "-memberlist.bind-addr", "127.0.0.1"}, extra...)}
	for i := range n {
		c.nodes = append(c.nodes, &clusterNode{name: fmt.Sprintf("node-%d", i), httpAddr: freeAddr(t),
			gossip: freeGossipAddr(t), dataDir: t.TempDir()})
	}
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); c.spawn(i) }()
	}
	wg.Wait()
	for i := range c.nodes {
		c.waitReady(i)
	}
	c.waitActive(n)
	return c
}

// freeGossipAddr finds a port free for both TCP and UDP, as memberlist
// needs.
func freeGossipAddr(t *testing.T) string {
	t.Helper()
	for range 50 {
		addr := freeAddr(t)
		pc, err := net.ListenPacket("udp", addr)
		if err == nil {
			pc.Close()
			return addr
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return ""
}

// spawn starts node i, joining every other node's gossip address.
func (c *testCluster) spawn(i int) {
	nd := c.nodes[i]
	_, port, _ := net.SplitHostPort(nd.gossip)
	args := append([]string{"-http.addr", nd.httpAddr, "-data.dir", nd.dataDir, "-node.name", nd.name,
		"-memberlist.port", port}, c.args...)
	for j, o := range c.nodes {
		if j != i {
			args = append(args, "-memberlist.join", o.gossip)
		}
	}
	nd.proc = spawn(c.t, nd.httpAddr, args...)
	if c.hc != nil {
		nd.proc.base, nd.proc.hc = "https://"+nd.httpAddr, c.hc
	}
}

func (c *testCluster) waitReady(i int) {
	c.t.Helper()
	if err := c.nodes[i].proc.waitReady(readyTimeout); err != nil {
		c.t.Fatalf("%s did not become ready: %v\n%s", c.nodes[i].name, err, c.nodes[i].proc.out.String())
	}
}

// restart starts node i again on its ports and data, and waits until it
// is ready and the others see it.
func (c *testCluster) restart(i int) {
	c.t.Helper()
	c.spawn(i)
	c.waitReady(i)
	c.waitActive(len(c.up()))
}

// up returns the nodes running now.
func (c *testCluster) up() []*clusterNode {
	var out []*clusterNode
	for _, nd := range c.nodes {
		if nd.proc != nil && !nd.proc.exited() {
			out = append(out, nd)
		}
	}
	return out
}

// ringMember is a member as GET /ring answers it in JSON.
type ringMember struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Healthy bool   `json:"healthy"`
}

// members asks a node for the ring.
func (c *testCluster) members(nd *clusterNode) ([]ringMember, error) {
	req, _ := http.NewRequest(http.MethodGet, nd.proc.base+"/ring", nil)
	req.Header.Set("Accept", "application/json")
	hc := client
	if nd.proc.hc != nil {
		hc = nd.proc.hc
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Members []ringMember `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// waitActive waits until every running node sees want healthy ACTIVE
// members.
func (c *testCluster) waitActive(want int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		var last string
		for _, nd := range c.up() {
			ms, err := c.members(nd)
			n := 0
			for _, m := range ms {
				if m.State == "ACTIVE" && m.Healthy {
					n++
				}
			}
			if err != nil || n != want {
				ok = false
				last = fmt.Sprintf("%s sees %d healthy ACTIVE members (%v), want %d", nd.name, n, err, want)
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the ring did not settle: %s", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterPusher pushes unique lines through the nodes in turn; a push that
// fails is retried once on the next node.
type clusterPusher struct {
	*pusher
	retried   int // pushes that needed their retry
	abandoned int // pushes that failed twice
	errs      []string
}

// run pushes until ctx ends, through the nodes bases returns.
func (p *clusterPusher) run(ctx context.Context, bases func() []string, pause time.Duration) {
	c := &http.Client{Timeout: 10 * time.Second}
	for i := 0; ctx.Err() == nil; i++ {
		var es []entry
		idx := make([]int, 0, killStreamsPerPusher*killEntriesPerStream)
		for s := range p.streams {
			for range killEntriesPerStream {
				p.seq++
				t := max(time.Now().UnixNano(), p.lastT[s]+1)
				p.lastT[s] = t
				line := fmt.Sprintf("p%d s%d seq=%08d %s", p.id, s, p.seq, padding)
				es = append(es, entry{Labels: p.streams[s], T: t, Line: line})
				idx = append(idx, s)
				p.sent[s][line] = t
			}
		}
		body := protoBody(es)
		ok := false
		for attempt := range 2 {
			bs := bases()
			if len(bs) == 0 {
				break
			}
			req, _ := http.NewRequest(http.MethodPost, bs[(i+attempt)%len(bs)]+"/loki/api/v1/push", bytes.NewReader(body))
			req.Header.Set("Content-Type", ctProto)
			resp, err := c.Do(req)
			if err == nil {
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					ok = true
					if attempt > 0 {
						p.retried++
					}
					break
				}
				if len(p.errs) < 10 {
					p.errs = append(p.errs, fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(msg))))
				}
			}
		}
		if !ok {
			p.abandoned++
			continue
		}
		p.ackedPushes++
		for j, e := range es {
			p.acked[idx[j]][e.Line] = e.T
		}
		time.Sleep(pause)
	}
}

// bases lists the HTTP base URLs of the running nodes.
func (c *testCluster) bases() []string {
	var out []string
	for _, nd := range c.up() {
		out = append(out, nd.proc.base)
	}
	return out
}

// pushFor runs n cluster pushers for d, through the running nodes, while
// during runs in the middle.
func (c *testCluster) pushFor(pushers []*clusterPusher, d time.Duration, during func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var bases atomic.Pointer[[]string]
	refresh := func() { b := c.bases(); bases.Store(&b) }
	refresh()
	for _, p := range pushers {
		wg.Add(1)
		go func() { defer wg.Done(); p.run(ctx, func() []string { return *bases.Load() }, 20*time.Millisecond) }()
	}
	time.Sleep(d / 2)
	if during != nil {
		during()
		refresh()
	}
	time.Sleep(d / 2)
	cancel()
	wg.Wait()
}

func newClusterPushers(n int) []*clusterPusher {
	out := make([]*clusterPusher, n)
	for i := range out {
		out[i] = &clusterPusher{pusher: newPusher(i)}
	}
	return out
}

func plainPushers(cps []*clusterPusher) []*pusher {
	out := make([]*pusher, len(cps))
	for i, p := range cps {
		out[i] = p.pusher
	}
	return out
}

// countOf answers sum(count_over_time(selector[range])) at end through a node.
func countOf(t *testing.T, l *loam, selector string, start, end time.Time) int {
	t.Helper()
	n, _ := countAndProcessed(t, l, selector, start, end)
	return n
}

// countAndProcessed is countOf, and the lines the query processed on all
// the nodes it read (its statistics' totalLinesProcessed).
func countAndProcessed(t *testing.T, l *loam, selector string, start, end time.Time) (int, int) {
	t.Helper()
	rng := end.Sub(start).Round(time.Second) + time.Second
	q := url.Values{"query": {fmt.Sprintf("sum(count_over_time(%s[%ds]))", selector, int(rng.Seconds()))},
		"time": {strconv.FormatInt(end.UnixNano(), 10)}}
	var res struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
			Stats struct {
				Summary struct {
					TotalLinesProcessed int `json:"totalLinesProcessed"`
				} `json:"summary"`
			} `json:"stats"`
		} `json:"data"`
	}
	l.getJSON(t, "/loki/api/v1/query", q, "", &res)
	processed := res.Data.Stats.Summary.TotalLinesProcessed
	if len(res.Data.Result) == 0 {
		return 0, processed
	}
	n, _ := strconv.Atoi(fmt.Sprint(res.Data.Result[0].Value[1]))
	return n, processed
}

// TestClusterLoseOneNode: three nodes, RF 3, pushes through all three; one
// is SIGKILLed: pushes go on (a client retries at most once), every
// acknowledged line is readable through each survivor exactly once and
// counts are exact. The node comes back and is repaired: alone, it then
// answers every line pushed while it was away.
func TestClusterLoseOneNode(t *testing.T) {
	c := startCluster(t, 3, 3, "-ring.repair-interval", "2s")
	begin := time.Now().Add(-time.Minute)
	pushers := newClusterPushers(3)
	c.pushFor(pushers, 4*time.Second, func() { c.nodes[0].proc.kill9() })
	for i, p := range pushers {
		if p.abandoned > 0 {
			t.Errorf("pusher %d: %d pushes failed on two nodes in a row: %v", i, p.abandoned, p.errs)
		}
	}
	// While node-0 is down, more pushes it misses.
	c.pushFor(pushers, 3*time.Second, nil)
	for _, nd := range c.nodes[1:] {
		read := verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" with node-0 down")
		if got := countOf(t, nd.proc, `{job="kill9"}`, begin, time.Now().Add(time.Minute)); got != read {
			t.Errorf("count_over_time through %s: %d, but %d distinct entries are read back", nd.name, got, read)
		}
	}
	c.restart(0)
	// All three are healthy again, so reads are split: each stream is read
	// from two of its owners, node-0 among them for most, whether or not
	// its repair has run yet. Still exact, and each entry is read twice,
	// not three times.
	for _, nd := range c.nodes[:2] {
		read := verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" just after node-0 returned")
		got, processed := countAndProcessed(t, nd.proc, `{job="kill9"}`, begin, time.Now().Add(time.Minute))
		if got != read {
			t.Errorf("count_over_time through %s just after node-0 returned: %d, but %d distinct entries are read back", nd.name, got, read)
		}
		if processed > 2*read || processed < read {
			t.Errorf("count_over_time through %s processed %d lines for %d entries: a split read processes each at most twice", nd.name, processed, read)
		}
	}
	waitFor(t, 30*time.Second, "node-0's repair pass", func() bool {
		v, _ := c.nodes[0].proc.metrics(t).value("loam_repair_passes_total", "result", "ok")
		return v >= 1
	})
	c.nodes[1].proc.kill9()
	c.nodes[2].proc.kill9()
	verifyPushers(t, c.nodes[0].proc, plainPushers(pushers), begin, "through node-0 alone after its repair")
}

// TestClusterQuorumLost: with two of three nodes down a push gets a 503
// within 2 s; once they are back, every acknowledged line is there.
func TestClusterQuorumLost(t *testing.T) {
	c := startCluster(t, 3, 3)
	begin := time.Now().Add(-time.Minute)
	pushers := newClusterPushers(2)
	c.pushFor(pushers, 2*time.Second, nil)
	c.nodes[1].proc.kill9()
	c.nodes[2].proc.kill9()
	body := protoBody([]entry{{Labels: map[string]string{"job": "kill9", "pusher": "lone"}, T: time.Now().UnixNano(), Line: "refused"}})
	start := time.Now()
	code, msg := c.nodes[0].proc.pushRaw(t, "", ctProto, "", body)
	if took := time.Since(start); code != http.StatusServiceUnavailable || took > 2*time.Second {
		t.Errorf("push with two of three nodes down: %d %q after %s, want 503 within 2s", code, msg, took)
	}
	c.restart(1)
	c.restart(2)
	for _, nd := range c.nodes {
		verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" after the restarts")
	}
}

// TestClusterRollingRestart restarts the three nodes one by one (SIGTERM)
// under load: no acknowledged line lost, none answered twice.
func TestClusterRollingRestart(t *testing.T) {
	c := startCluster(t, 3, 3)
	begin := time.Now().Add(-time.Minute)
	pushers := newClusterPushers(3)
	for i := range c.nodes {
		c.pushFor(pushers, 2*time.Second, func() {
			c.nodes[i].proc.stop()
			c.nodes[i].proc = nil
		})
		c.restart(i)
	}
	c.pushFor(pushers, time.Second, nil)
	for _, nd := range c.nodes {
		verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" after a rolling restart")
	}
}

// add starts one more node, joining the others, and waits until every
// node sees it ACTIVE.
func (c *testCluster) add() *clusterNode {
	c.t.Helper()
	nd := &clusterNode{name: fmt.Sprintf("node-%d", len(c.nodes)), httpAddr: freeAddr(c.t),
		gossip: freeGossipAddr(c.t), dataDir: c.t.TempDir()}
	c.nodes = append(c.nodes, nd)
	c.restart(len(c.nodes) - 1)
	return nd
}

// TestClusterLowQuorum: a node alone in a ring with replication factor 3
// takes pushes with one copy each; two nodes join. Reads, split again as
// soon as all three are healthy, still find every line: the lone node
// answers them whole until its repair has copied its pushes.
func TestClusterLowQuorum(t *testing.T) {
	c := startCluster(t, 1, 3)
	begin := time.Now().Add(-time.Minute)
	pushers := newClusterPushers(2)
	c.pushFor(pushers, 2*time.Second, nil)
	c.add()
	c.add()
	for _, nd := range c.nodes {
		read := verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" once two nodes joined")
		if got := countOf(t, nd.proc, `{job="kill9"}`, begin, time.Now().Add(time.Minute)); got != read {
			t.Errorf("count_over_time through %s: %d, but %d distinct entries are read back", nd.name, got, read)
		}
	}
	waitFor(t, 30*time.Second, "node-0's repair of its lone pushes", func() bool {
		_, err := os.Stat(filepath.Join(c.nodes[0].dataDir, "cluster-low-quorum"))
		return errors.Is(err, fs.ErrNotExist)
	})
	c.pushFor(pushers, time.Second, nil)
	for _, nd := range c.nodes {
		verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" after repair")
	}
}

// TestClusterJoinLeave: a fourth node joins three (RF 3) under load and
// takes its share of the streams; reads through it see everything. Then a
// node leaves with SIGTERM, handing its data over; with two more killed,
// the last node alone still answers every acknowledged line.
func TestClusterJoinLeave(t *testing.T) {
	c := startCluster(t, 3, 3)
	begin := time.Now().Add(-time.Minute)
	pushers := newClusterPushers(2)
	c.pushFor(pushers, 2*time.Second, nil)
	d := c.add()
	c.pushFor(pushers, 2*time.Second, nil)
	if v, _ := d.proc.metrics(t).value("loam_head_entries"); v == 0 {
		t.Errorf("%s joined but holds no entry of the pushes made since", d.name)
	}
	verifyPushers(t, d.proc, plainPushers(pushers), begin, "through "+d.name+", which joined")
	c.nodes[1].proc.stop()
	c.waitActive(3)
	c.nodes[0].proc.kill9()
	c.nodes[2].proc.kill9()
	verifyPushers(t, d.proc, plainPushers(pushers), begin, "through "+d.name+" alone, after a leave and two kills")
}

// TestClusterTail: a tail through one node gets every line pushed through
// the others exactly once, though each is stored on three nodes.
func TestClusterTail(t *testing.T) {
	c := startCluster(t, 3, 3)
	tail := c.nodes[0].proc.mustTail(t, "", url.Values{"query": {`{job="tail"}`}})
	time.Sleep(500 * time.Millisecond) // the tail subscribes on every node
	var want []entry
	for i := range 30 {
		es := []entry{{Labels: map[string]string{"job": "tail", "n": strconv.Itoa(i % 3)}, T: time.Now().UnixNano(), Line: fmt.Sprintf("line %d", i)}}
		c.nodes[1+i%2].proc.mustPush(t, "", ctProto, "", protoBody(es))
		want = append(want, es...)
	}
	got := tail.read(len(want))
	seen := map[string]int{}
	for _, l := range got {
		seen[l.Line]++
	}
	for _, e := range want {
		if seen[e.Line] != 1 {
			t.Errorf("%q came %d times through the tail, want once", e.Line, seen[e.Line])
		}
	}
	tail.quiet(time.Second)
}
