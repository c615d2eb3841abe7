package ring

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// testLogger discards unless LOAM_TEST_LOG is set: memberlist's
// goroutines may log after a test ended, which t.Log forbids.
func testLogger() *slog.Logger {
	if os.Getenv("LOAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startRing starts a member on 127.0.0.1 (port 0: a free one) and shuts
// it down at the end of the test.
func startRing(t *testing.T, name string, port int, join []string, mod func(*Config)) *Ring {
	t.Helper()
	cfg := Config{NodeName: name, Addr: ":3100", BindAddr: "127.0.0.1", BindPort: port, Join: join,
		Logger: testLogger().With("node", name)}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown() })
	return r
}

// freePort is a port nothing listens on (TCP and UDP) right now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func stateOf(r *Ring, name string) State {
	for _, m := range r.Members() {
		if m.Name == name {
			return m.State
		}
	}
	return 0
}

// converged: every ring knows every name in the state wanted.
func converged(rings []*Ring, want map[string]State) bool {
	for _, r := range rings {
		for name, s := range want {
			if stateOf(r, name) != s {
				return false
			}
		}
	}
	return true
}

func TestCluster(t *testing.T) {
	a := startRing(t, "a", 0, nil, nil)
	b := startRing(t, "b", 0, []string{a.Self().GossipAddr}, nil)
	cPort := freePort(t)
	c := startRing(t, "c", cPort, []string{a.Self().GossipAddr, b.Self().GossipAddr}, nil)
	rings := []*Ring{a, b, c}
	if self := a.Self(); self.Addr != "127.0.0.1:3100" || self.State != Joining || len(self.Tokens) != DefaultTokens {
		t.Fatalf("a's entry: %+v", self)
	}

	changed := a.Changed()
	for _, r := range rings {
		if err := r.SetState(Active); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "all three ACTIVE everywhere", func() bool {
		return converged(rings, map[string]State{"a": Active, "b": Active, "c": Active})
	})
	select {
	case <-changed:
	default:
		t.Error("Changed was not closed by the changes")
	}
	eventually(t, 10*time.Second, "all healthy everywhere", func() bool {
		for _, r := range rings {
			for _, n := range []string{"a", "b", "c"} {
				if !r.Healthy(n) {
					return false
				}
			}
		}
		return true
	})
	for _, r := range rings {
		if !slices.Equal(r.Self().Tokens, Tokens(r.Name(), DefaultTokens)) {
			t.Errorf("%s: tokens are not those of its name", r.Name())
		}
	}
	ownersAgree(t, rings, 3)

	// Killed: unhealthy everywhere within a few seconds (memberlist's
	// verdict: heartbeats are 5 s apart), still an owner.
	changed = a.Changed()
	c.Shutdown()
	took := eventually(t, 10*time.Second, "a and b see c unhealthy", func() bool { return !a.Healthy("c") && !b.Healthy("c") })
	t.Logf("a killed member was unhealthy everywhere after %v", took)
	if took > 6*time.Second {
		t.Errorf("failure detection took %v", took)
	}
	select {
	case <-changed:
	default:
		t.Error("Changed was not closed when c failed")
	}
	if got := names(a.Owners(c.Self().Tokens[0], 3, nil)); !slices.Contains(got, "c") {
		t.Errorf("an unhealthy member is no longer an owner: %v", got)
	}
	if err := a.Forget("b"); !errors.Is(err, ErrHealthy) {
		t.Errorf("Forget(healthy b) = %v", err)
	}
	if err := a.Forget("a"); !errors.Is(err, ErrSelf) {
		t.Errorf("Forget(self) = %v", err)
	}
	if err := a.Forget("zz"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Forget(unknown) = %v", err)
	}

	// Restarted under its name: same tokens, healthy again, JOINING.
	c2 := startRing(t, "c", cPort, []string{a.Self().GossipAddr}, nil)
	rings[2] = c2
	took = eventually(t, 10*time.Second, "restarted c JOINING and healthy everywhere", func() bool {
		return converged(rings, map[string]State{"c": Joining}) && a.Healthy("c") && b.Healthy("c")
	})
	t.Logf("restarted member healthy everywhere after %v", took)
	ownersAgree(t, rings, 2)

	// Killed again, then forgotten: LEFT everywhere, owns nothing.
	c2.Shutdown()
	rings = rings[:2]
	took = eventually(t, 10*time.Second, "c unhealthy again", func() bool { return !a.Healthy("c") && !b.Healthy("c") })
	t.Logf("killed again: unhealthy everywhere after %v", took)
	if err := a.Forget("c"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "c LEFT on b", func() bool { return stateOf(b, "c") == Left })
	for _, r := range rings {
		for range 100 {
			if got := names(r.Owners(c.Self().Tokens[0], 3, nil)); slices.Contains(got, "c") {
				t.Fatalf("%s: forgotten c still owns: %v", r.Name(), got)
			}
		}
	}
	if err := a.Forget("c"); err != nil {
		t.Errorf("forgetting a LEFT member again: %v", err)
	}

	// b leaves: LEFT on a at once (sent over TCP), not alive.
	if err := b.Leave(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b LEFT and unhealthy on a", func() bool { return stateOf(a, "b") == Left && !a.Healthy("b") })
	if b.Healthy("b") {
		t.Error("b counts itself healthy after leaving")
	}
	if err := b.SetState(Active); !errors.Is(err, ErrClosed) {
		t.Errorf("SetState after Leave: %v", err)
	}
	if got := names(a.Owners(12345, 3, nil)); !slices.Equal(got, []string{"a"}) {
		t.Errorf("owners with a alone: %v", got)
	}
	if err := b.Leave(time.Second); err != nil {
		t.Errorf("second Leave: %v", err)
	}
}

// ownersAgree: every ring answers the same owners for many keys.
func ownersAgree(t *testing.T, rings []*Ring, rf int) {
	t.Helper()
	dst := make([]Member, 0, rf)
	for k := uint32(0); k < 1<<32-1<<22; k += 1 << 22 {
		want := names(rings[0].Owners(k, rf, dst))
		if len(want) != rf {
			t.Fatalf("owners(%d) = %v, want %d", k, want, rf)
		}
		for _, r := range rings[1:] {
			if got := names(r.Owners(k, rf, dst)); !slices.Equal(got, want) {
				t.Fatalf("owners(%d): %s says %v, %s says %v", k, rings[0].Name(), want, r.Name(), got)
			}
		}
	}
}

// TestJoinRetry: a node that starts before the one it joins keeps trying
// until that one is up.
func TestJoinRetry(t *testing.T) {
	port := freePort(t)
	b := startRing(t, "b", 0, []string{"127.0.0.1:" + strconv.Itoa(port)}, nil)
	time.Sleep(100 * time.Millisecond) // b's first attempt fails
	a := startRing(t, "a", port, nil, nil)
	eventually(t, 10*time.Second, "b joined a", func() bool {
		return converged([]*Ring{a, b}, map[string]State{"a": Joining, "b": Joining}) && a.Healthy("b") && b.Healthy("a")
	})
}

func TestEncryption(t *testing.T) {
	secret := func(s string) func(*Config) { return func(c *Config) { c.Secret = []byte(s) } }
	a := startRing(t, "a", 0, nil, secret("one"))
	b := startRing(t, "b", 0, []string{a.Self().GossipAddr}, secret("one"))
	eventually(t, 10*time.Second, "b joined a with the same secret", func() bool {
		return converged([]*Ring{a, b}, map[string]State{"a": Joining, "b": Joining})
	})
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{{"other secret", secret("two")}, {"no secret", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			c := startRing(t, "c-"+tc.name, 0, nil, tc.mod)
			if n, err := c.ml.Join([]string{a.Self().GossipAddr}); err == nil || n != 0 {
				t.Errorf("joined an encrypted cluster: %d, %v", n, err)
			}
			if stateOf(a, c.Name()) != 0 || stateOf(c, "a") != 0 {
				t.Error("ring state crossed the secret")
			}
		})
	}
}

// TestLargeEntries: an entry too large for a UDP packet still spreads
// at once (over TCP), not only at the next push/pull.
func TestLargeEntries(t *testing.T) {
	mod := func(c *Config) { c.Tokens = 1000; c.PushPullInterval = time.Hour }
	a := startRing(t, "a", 0, nil, mod)
	b := startRing(t, "b", 0, []string{a.Self().GossipAddr}, mod)
	if n := len(encodeMember(a.Self())); n <= maxBroadcast {
		t.Fatalf("entry of %d bytes is no test", n)
	}
	eventually(t, 10*time.Second, "joined", func() bool {
		return converged([]*Ring{a, b}, map[string]State{"a": Joining, "b": Joining})
	})
	if err := a.SetState(Active); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b sees a ACTIVE", func() bool { return stateOf(b, "a") == Active })
	if len(b.Desc()["a"].Tokens) != 1000 {
		t.Error("tokens lost")
	}
}

// TestRefute: gossip that this node left (a Forget elsewhere) is answered
// with a newer entry of this node.
func TestRefute(t *testing.T) {
	a := startRing(t, "a", 0, nil, nil)
	self := a.Self()
	forged := self
	forged.State, forged.Heartbeat = Left, self.Heartbeat+1
	a.receive(AppendDesc(nil, Desc{"a": forged}), "broadcast")
	now := a.Self()
	if now.State != Joining || now.Heartbeat <= forged.Heartbeat {
		t.Errorf("after forged LEFT: %v %d (forged %d)", now.State, now.Heartbeat, forged.Heartbeat)
	}
	if d := a.Desc(); d["a"].State != Joining {
		t.Errorf("ring has %v", d["a"])
	}
}

func TestTombstones(t *testing.T) {
	a := startRing(t, "a", 0, nil, func(c *Config) { c.TombstoneTTL = time.Minute; c.HeartbeatPeriod = 50 * time.Millisecond })
	old := time.Now().Add(-2 * time.Minute).UnixNano()
	a.receive(AppendDesc(nil, Desc{"gone": {Name: "gone", State: Left, Heartbeat: old}}), "state")
	if _, ok := a.Desc()["gone"]; ok {
		t.Error("an expired tombstone was taken from a peer")
	}
	// A member known ACTIVE, then LEFT with an old heartbeat: pruned at
	// a heartbeat of a.
	a.receive(AppendDesc(nil, Desc{"x": {Name: "x", State: Active, Heartbeat: old, Tokens: []uint32{1}}}), "state")
	if a.Healthy("x") || stateOf(a, "x") != Active {
		t.Fatal("x not taken as an unhealthy member")
	}
	if err := a.Forget("x"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "tombstone pruned", func() bool { _, ok := a.Desc()["x"]; return !ok })
	// A fresh tombstone of an unknown member is taken.
	a.receive(AppendDesc(nil, Desc{"y": {Name: "y", State: Left, Heartbeat: time.Now().UnixNano()}}), "state")
	if stateOf(a, "y") != Left {
		t.Error("a fresh tombstone was dropped")
	}
}

// TestStaleHeartbeat: a member memberlist counts alive whose heartbeat
// stopped is unhealthy after HeartbeatTimeout, and waiters of Changed
// learn it at the next heartbeat.
func TestStaleHeartbeat(t *testing.T) {
	a := startRing(t, "a", 0, nil, func(c *Config) { c.HeartbeatPeriod = 50 * time.Millisecond })
	a.receive(AppendDesc(nil, Desc{"x": {Name: "x", State: Active, Heartbeat: 1, Tokens: []uint32{1}}}), "state")
	a.setAlive("x", true)
	if !a.Healthy("x") {
		t.Fatal("x alive with a fresh heartbeat is not healthy")
	}
	changed := a.Changed()
	eventually(t, 5*time.Second, "x unhealthy", func() bool { return !a.Healthy("x") })
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed not closed")
	}
	// Its heartbeat advances: healthy again.
	a.receive(AppendDesc(nil, Desc{"x": {Name: "x", State: Active, Heartbeat: 2, Tokens: []uint32{1}}}), "broadcast")
	if !a.Healthy("x") {
		t.Error("x with an advanced heartbeat is not healthy")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []Config{
		{Addr: ":3100"},
		{NodeName: "a", Addr: "nohostport"},
		{NodeName: "a", Addr: ":3100", Tokens: -1},
		{NodeName: "a", Addr: ":3100", BindPort: 70000},
	} {
		if _, err := New(tc); err == nil {
			t.Errorf("%+v accepted", tc)
		}
	}
	// A port in use is an error, not a hang.
	a := startRing(t, "a", 0, nil, nil)
	_, port, _ := net.SplitHostPort(a.Self().GossipAddr)
	p, _ := strconv.Atoi(port)
	if r, err := New(Config{NodeName: "b", Addr: ":1", BindAddr: "127.0.0.1", BindPort: p, Logger: testLogger()}); err == nil {
		r.Shutdown()
		t.Error("second ring on a used port")
	}
}
