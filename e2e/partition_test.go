//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A network partition needs nodes that can be cut from each other but not
// from the test: each node runs in a network namespace of its own, joined
// to a bridge in the test's namespace. Cutting A from B is a routing rule
// in each of the two namespaces, so that their packets to each other stop,
// both ways and for every protocol (memberlist's UDP and TCP, node HTTP),
// while both still reach the third node and the test reaches all three.
// Two kinds of cut (see cutMode): sends refused at their source, or packets
// silently dropped on arrival. Only iproute2 is needed; iptables and
// nftables are not.

// netLab is a bridge and one network namespace per node. Everything it
// creates carries a tag unique to this process and lab, and is removed by
// the cleanup it registers; a lab left behind by a killed test run is
// removed by the next run (its tag names a process that is gone).
type netLab struct {
	t      *testing.T
	tag    string
	bridge string
	subnet int // the lab is 10.213.<subnet>.0/24; the bridge is .254
	nodes  []labNode
}

// labNode is one namespace: its name, address and veth pair.
type labNode struct {
	ns       string
	ip       string
	hostVeth string // on the bridge, in the test's namespace
	nsVeth   string // inside ns
}

const labPrefix = "loam-e2e-"

var labSeq atomic.Int64

// ipCmd runs `ip args...` and returns its output with the error.
func ipCmd(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// newNetLab builds n namespaces on a bridge, or skips the test when this
// host cannot: not root, no iproute2, or namespaces not permitted.
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("a network partition needs network namespaces: run as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("a network partition needs `ip` (iproute2) on PATH")
	}
	if _, err := ipCmd("netns", "list"); err != nil {
		t.Skipf("`ip netns` is unavailable: %v", err)
	}
	sweepStaleLabs(t)
	// Tags are fixed width (5 base-36 digits of the pid, 2 of a sequence)
	// so that interface names stay within 15 bytes: "lpv" + 7 + 1.
	tag := fmt.Sprintf("%05s%02s", strconv.FormatInt(int64(os.Getpid()), 36), strconv.FormatInt(labSeq.Add(1)%1296, 36))
	lab := &netLab{t: t, tag: tag, bridge: "lpb" + tag}
	t.Cleanup(lab.remove)
	if _, err := ipCmd("netns", "add", labPrefix+tag+"-probe"); err != nil {
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	ipCmd("netns", "del", labPrefix+tag+"-probe")

	lab.subnet = freeSubnet(t)
	base := fmt.Sprintf("10.213.%d.", lab.subnet)
	must := func(args ...string) {
		t.Helper()
		if _, err := ipCmd(args...); err != nil {
			t.Fatalf("set up the network namespaces: %v", err)
		}
	}
	must("link", "add", lab.bridge, "type", "bridge")
	must("addr", "add", base+"254/24", "dev", lab.bridge)
	must("link", "set", lab.bridge, "up")
	for i := range n {
		nd := labNode{ns: fmt.Sprintf("%s%s-%d", labPrefix, tag, i), ip: base + strconv.Itoa(i+1),
			hostVeth: fmt.Sprintf("lpv%s%d", tag, i), nsVeth: fmt.Sprintf("lpn%s%d", tag, i)}
		must("netns", "add", nd.ns)
		lab.nodes = append(lab.nodes, nd)
		must("link", "add", nd.hostVeth, "type", "veth", "peer", "name", nd.nsVeth)
		must("link", "set", nd.nsVeth, "netns", nd.ns)
		must("link", "set", nd.hostVeth, "master", lab.bridge, "up")
		must("-n", nd.ns, "addr", "add", nd.ip+"/24", "dev", nd.nsVeth)
		must("-n", nd.ns, "link", "set", nd.nsVeth, "up")
		must("-n", nd.ns, "link", "set", "lo", "up")
	}
	if err := lab.probe(); err != nil {
		t.Skipf("traffic does not pass between network namespaces over a bridge on this host (bridge netfilter?): %v", err)
	}
	return lab
}

// remove deletes what the lab created; deleting a host-side veth deletes
// its peer too.
func (l *netLab) remove() {
	for _, nd := range l.nodes {
		ipCmd("link", "del", nd.hostVeth)
		if _, err := ipCmd("netns", "del", nd.ns); err != nil {
			l.t.Errorf("remove the lab: %v", err)
		}
	}
	ipCmd("link", "del", l.bridge)
}

// sweepStaleLabs removes namespaces (killing what still runs in them) and
// interfaces whose tag names a process that no longer runs: what a test
// run killed before its cleanup left.
func sweepStaleLabs(t *testing.T) {
	gone := func(tag string) bool {
		if len(tag) < 7 {
			return false
		}
		pid, err := strconv.ParseInt(strings.TrimLeft(tag[:5], "0"), 36, 64)
		if err != nil {
			return false
		}
		_, err = os.Stat(filepath.Join("/proc", strconv.FormatInt(pid, 10)))
		return errors.Is(err, os.ErrNotExist)
	}
	if out, err := ipCmd("netns", "list"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && strings.HasPrefix(f[0], labPrefix) && gone(strings.TrimPrefix(f[0], labPrefix)) {
				// Its loam processes outlived the test that started them.
				pids, _ := ipCmd("netns", "pids", f[0])
				for _, pid := range strings.Fields(pids) {
					if n, err := strconv.Atoi(pid); err == nil {
						unix.Kill(n, unix.SIGKILL)
					}
				}
				t.Logf("removing network namespace %s and its %d processes, left by an earlier run", f[0], len(strings.Fields(pids)))
				ipCmd("netns", "del", f[0])
			}
		}
	}
	if out, err := ipCmd("-o", "link", "show"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if (strings.HasPrefix(name, "lpb") || strings.HasPrefix(name, "lpv")) && gone(name[3:]) {
				t.Logf("removing interface %s left by an earlier run", name)
				ipCmd("link", "del", name)
			}
		}
	}
}

// freeSubnet picks k such that no address or route of this host is in
// 10.213.k.0/24, starting from one derived from the pid so that parallel
// runs tend to pick different ones.
func freeSubnet(t *testing.T) int {
	t.Helper()
	addrs, err1 := ipCmd("-4", "-o", "addr", "show")
	routes, err2 := ipCmd("-4", "route", "show", "table", "all")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("list addresses: %v", err)
	}
	used := addrs + routes
	start := os.Getpid() % 250
	for i := range 250 {
		k := (start+i)%250 + 1
		if !strings.Contains(used, fmt.Sprintf("10.213.%d.", k)) {
			return k
		}
	}
	t.Skip("no free subnet in 10.213.0.0/16 for the lab")
	return 0
}

// inNetns runs fn on a thread that has entered namespace ns; sockets fn
// creates live in ns whichever thread uses them later. The thread is
// discarded afterwards (its goroutine exits locked).
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// dial opens a TCP connection from inside node from's namespace to addr;
// on the bridge an answer takes well under the 500 ms it waits.
func (l *netLab) dial(from int, addr string) error {
	return inNetns(l.nodes[from].ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// probe checks that every namespace reaches every other one and the test
// reaches all: a listener in each, dialled from the others and from here.
func (l *netLab) probe() error {
	lns := make([]net.Listener, len(l.nodes))
	for i, nd := range l.nodes {
		err := inNetns(nd.ns, func() error {
			ln, err := net.Listen("tcp", net.JoinHostPort(nd.ip, "0"))
			lns[i] = ln
			return err
		})
		if err != nil {
			return err
		}
		defer lns[i].Close()
		go func() {
			for {
				c, err := lns[i].Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	for i, ln := range lns {
		for j := range l.nodes {
			if j != i {
				if err := l.dial(j, ln.Addr().String()); err != nil {
					return fmt.Errorf("from %s: %w", l.nodes[j].ns, err)
				}
			}
		}
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			return fmt.Errorf("from the test's namespace: %w", err)
		}
		c.Close()
	}
	return nil
}

// How a cut stops the packets between two nodes.
type cutMode int

const (
	// refused: a rule in each namespace prohibits routes to the other,
	// so a send fails at once at its source (EACCES), as when a firewall
	// rejects.
	refused cutMode = iota
	// dropped: a rule in each namespace blackholes what arrives from the
	// other, ahead of local delivery, so packets vanish silently and the
	// sender times out, as when a link is down.
	dropped
)

func (m cutMode) String() string { return [...]string{"refused", "dropped"}[m] }

// cut separates nodes a and b, both ways; mend joins them again.
func (l *netLab) cut(a, b int, m cutMode) { l.rules("add", a, b, m) }

func (l *netLab) mend(a, b int, m cutMode) { l.rules("del", a, b, m) }

func (l *netLab) rules(op string, a, b int, m cutMode) {
	l.t.Helper()
	for _, p := range [][2]int{{a, b}, {b, a}} {
		ns, peer := l.nodes[p[0]].ns, l.nodes[p[1]].ip+"/32"
		var err error
		switch m {
		case refused:
			_, err = ipCmd("-n", ns, "rule", op, "to", peer, "prohibit")
		case dropped:
			// Incoming packets to a local address match the local table's
			// rule (preference 0) first: it moves behind the blackhole.
			if op == "add" {
				if out, _ := ipCmd("-n", ns, "rule", "show", "pref", "100"); !strings.Contains(out, "lookup local") {
					_, err = ipCmd("-n", ns, "rule", "add", "pref", "100", "lookup", "local")
					if err == nil {
						_, err = ipCmd("-n", ns, "rule", "del", "pref", "0")
					}
				}
			}
			if err == nil {
				_, err = ipCmd("-n", ns, "rule", op, "pref", "10", "from", peer, "blackhole")
			}
		}
		if err != nil {
			l.t.Errorf("%s the cut: %v", op, err) // not Fatal: pushers may be running
			return
		}
	}
}

// spawnInNetns is spawn for a loam running inside network namespace ns.
// `ip netns exec` execs loam, so the process is loam itself and the kill
// and exit handling of spawn applies unchanged.
func spawnInNetns(t *testing.T, ns, addr string, args ...string) *loam {
	t.Helper()
	p := &loam{t: t, name: fmt.Sprintf("loam#%d", procSeq.Add(1)), addr: addr, base: "http://" + addr,
		out: &syncBuffer{}, done: make(chan struct{})}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-data.dir" {
			p.dataDir = args[i+1]
		}
	}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, loamBin}, args...)...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if raceEnabled {
		p.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", loamBin, ns, err)
	}
	go func() {
		p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(p.cleanup)
	return p
}

// startLabCluster starts one node per namespace of lab, RF 3, each joining
// the others, and waits until every node sees all of them ACTIVE.
func startLabCluster(t *testing.T, lab *netLab, extra ...string) *testCluster {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("e2e partition secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &testCluster{t: t}
	for i, ln := range lab.nodes {
		c.nodes = append(c.nodes, &clusterNode{name: fmt.Sprintf("node-%d", i), httpAddr: ln.ip + ":3100",
			gossip: ln.ip + ":7946", dataDir: t.TempDir()})
	}
	for i, nd := range c.nodes {
		args := append([]string{"-http.addr", nd.httpAddr, "-data.dir", nd.dataDir, "-node.name", nd.name,
			"-ring.replication-factor", strconv.Itoa(len(c.nodes)), "-cluster.secret-file", secret,
			"-memberlist.bind-addr", lab.nodes[i].ip, "-memberlist.port", "7946"}, extra...)
		for j, o := range c.nodes {
			if j != i {
				args = append(args, "-memberlist.join", o.gossip)
			}
		}
		nd.proc = spawnInNetns(t, lab.nodes[i].ns, nd.httpAddr, args...)
	}
	for i := range c.nodes {
		c.waitReady(i)
	}
	c.waitActive(len(c.nodes))
	return c
}

// ringViews describes how each running node sees the ring, e.g.
// "node-0: node-0 ACTIVE, node-1 ACTIVE unhealthy, …", and whether every
// node sees every member healthy and ACTIVE.
func (c *testCluster) ringViews() (string, bool) {
	var b strings.Builder
	all := true
	for _, nd := range c.up() {
		ms, err := c.members(nd)
		fmt.Fprintf(&b, "\n  %s:", nd.name)
		if err != nil {
			fmt.Fprintf(&b, " %v", err)
			all = false
			continue
		}
		good := 0
		for _, m := range ms {
			fmt.Fprintf(&b, " %s %s", m.Name, m.State)
			if m.Healthy && m.State == "ACTIVE" {
				good++
			} else if !m.Healthy {
				b.WriteString(" (unhealthy)")
			}
		}
		if good != len(c.nodes) {
			all = false
		}
	}
	return b.String(), all
}

// repairPasses returns each node's count of repair passes that compared
// every peer.
func (c *testCluster) repairPasses() []float64 {
	out := make([]float64, len(c.nodes))
	for i, nd := range c.nodes {
		out[i], _ = nd.proc.metrics(c.t).value("loam_repair_passes_total", "result", "ok")
	}
	return out
}

// sumMetric adds up a metric over the nodes.
func (c *testCluster) sumMetric(name string, match ...string) float64 {
	var sum float64
	for _, nd := range c.nodes {
		v, _ := nd.proc.metrics(c.t).value(name, match...)
		sum += v
	}
	return sum
}

// TestClusterPartition: three nodes, RF 3, each in its own network
// namespace. Under steady pushes through all three, node-0 and node-1 are
// cut from each other for 10 s (both still reach node-2, and clients reach
// all three), once with their packets refused and once with them silently
// dropped. No push fails twice in a row; once healed, every node sees the
// three members healthy again, a repair pass runs everywhere, every
// acknowledged line is read back exactly once through each node with exact
// counts, and node-1 alone (the other two killed) still answers every line:
// it could get those node-0 acknowledged during the cut only by repair.
func TestClusterPartition(t *testing.T) {
	for _, m := range []cutMode{refused, dropped} {
		t.Run(m.String(), func(t *testing.T) { testPartition(t, m) })
	}
}

func testPartition(t *testing.T, mode cutMode) {
	lab := newNetLab(t, 3)
	c := startLabCluster(t, lab, "-ring.repair-interval", "2s")
	const a, b, other = 0, 1, 2
	addrA, addrB, addrOther := c.nodes[a].httpAddr, c.nodes[b].httpAddr, c.nodes[other].httpAddr
	begin := time.Now().Add(-time.Minute)
	failuresBefore := c.sumMetric("loam_replication_failures_total")
	pushers := newClusterPushers(3)
	var cutAt time.Time
	// Inside pushFor's during, failures are reported with Errorf: the
	// pushers must be stopped before the test ends.
	c.pushFor(pushers, 2*time.Second, func() {
		lab.cut(a, b, mode)
		cutAt = time.Now()
		// The cut holds between a and b, both ways, and only there.
		if err := lab.dial(a, addrB); err == nil {
			t.Errorf("%s still reaches %s after the cut", c.nodes[a].name, addrB)
		} else {
			t.Logf("cut: %s dialling %s: %v", c.nodes[a].name, addrB, err)
		}
		if err := lab.dial(b, addrA); err == nil {
			t.Errorf("%s still reaches %s after the cut", c.nodes[b].name, addrA)
		}
		for _, n := range []int{a, b} {
			if err := lab.dial(n, addrOther); err != nil {
				t.Errorf("%s no longer reaches %s: %v", c.nodes[n].name, addrOther, err)
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	c.pushFor(pushers, 4*time.Second, nil)
	views, _ := c.ringViews()
	t.Logf("ring during the cut:%s", views)
	// Every acknowledged line is on two nodes at least, so a node that
	// reads through itself and node-2 alone still answers all, once. A
	// silent cut costs each read the dial timeout towards the lost peer
	// (the ring still calls it healthy), so there only the count is read.
	acked, sent := 0, 0
	for _, p := range pushers {
		for s := range p.streams {
			acked += len(p.acked[s])
			sent += len(p.sent[s])
		}
	}
	for _, n := range []int{a, b} {
		nd := c.nodes[n]
		start := time.Now()
		got := countOf(t, nd.proc, `{job="kill9"}`, begin, time.Now().Add(time.Minute))
		t.Logf("count_over_time through %s during the cut: %d in %s", nd.name, got, time.Since(start).Round(time.Millisecond))
		if got < acked || got > sent {
			t.Errorf("count_over_time through %s during the cut: %d, want between %d acknowledged and %d sent", nd.name, got, acked, sent)
		}
		if mode == refused {
			read := verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" during the cut")
			if got != read {
				t.Errorf("count_over_time through %s during the cut: %d, but %d distinct entries are read back", nd.name, got, read)
			}
		}
	}
	c.pushFor(pushers, 2*time.Second, func() {
		time.Sleep(time.Until(cutAt.Add(10 * time.Second))) // a cut of ~10 s, however long the reads took
		lab.mend(a, b, mode)
		healed := time.Now()
		t.Logf("healed after a cut of %s", healed.Sub(cutAt).Round(time.Millisecond))
		for _, p := range [][2]int{{a, b}, {b, a}} {
			addr := c.nodes[p[1]].httpAddr
			if err := lab.dial(p[0], addr); err != nil {
				t.Errorf("%s does not reach %s after the heal: %v", c.nodes[p[0]].name, addr, err)
			}
		}
		// The ring heals: every node sees the three healthy and ACTIVE.
		for ok := false; !ok; {
			if views, ok = c.ringViews(); !ok {
				if time.Since(healed) > 30*time.Second {
					t.Errorf("the ring did not heal within 30s:%s", views)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		t.Logf("the ring is whole %s after the heal:%s", time.Since(healed).Round(time.Millisecond), views)
	})
	if t.Failed() {
		t.FailNow()
	}
	for i, p := range pushers {
		if p.abandoned > 0 {
			t.Errorf("pusher %d: %d pushes failed on two nodes in a row: %v", i, p.abandoned, p.errs)
		}
		t.Logf("pusher %d: %d pushes acknowledged, %d needed their retry", i, p.ackedPushes, p.retried)
	}
	if got := c.sumMetric("loam_replication_failures_total") - failuresBefore; got == 0 {
		t.Errorf("no replication failed during the cut: it did not separate the nodes")
	}

	// A pass that began after now, on every node: the second one to end.
	before := c.repairPasses()
	waitFor(t, 30*time.Second, "a repair pass on every node after the heal", func() bool {
		now := c.repairPasses()
		for i := range now {
			if now[i] < before[i]+2 {
				return false
			}
		}
		return true
	})
	moved := c.sumMetric("loam_repair_entries_sent_total") + c.sumMetric("loam_repair_entries_restored_total")
	if moved == 0 {
		t.Errorf("repair moved no entry although node-0 and node-1 each missed what the other acknowledged during the cut")
	}
	t.Logf("repair: %.0f entries sent or restored in all", moved)

	for _, nd := range c.nodes {
		read := verifyPushers(t, nd.proc, plainPushers(pushers), begin, "through "+nd.name+" after the heal")
		if got := countOf(t, nd.proc, `{job="kill9"}`, begin, time.Now().Add(time.Minute)); got != read {
			t.Errorf("count_over_time through %s: %d, but %d distinct entries are read back", nd.name, got, read)
		}
	}
	c.nodes[a].proc.kill9()
	c.nodes[other].proc.kill9()
	verifyPushers(t, c.nodes[b].proc, plainPushers(pushers), begin, "through "+c.nodes[b].name+" alone after the repair")
}
