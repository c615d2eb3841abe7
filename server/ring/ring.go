package ring

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Ring. Zero durations and counts take the defaults
// named on each field.
type Config struct {
	NodeName string // unique in the cluster; required

	// Addr is the host:port of this node's HTTP API that other nodes
	// call. An empty or unspecified host (":3100", "0.0.0.0:3100") is
	// replaced by the IP memberlist advertises.
	Addr string

	BindAddr      string // gossip bind address; default 0.0.0.0
	BindPort      int    // gossip port (TCP and UDP); 0 picks a free one
	AdvertiseAddr string // gossip address told to others; default: the bind address, or a private IP when bound to all
	AdvertisePort int    // default: the bound port

	// Join lists members to join: host:port, or a DNS name whose every
	// address is joined (a Kubernetes headless Service). A missing port is
	// BindPort's (7946 when BindPort is 0). Joining is retried in the
	// background until another member answers, so nodes start in any order.
	Join []string

	Tokens int // tokens of this node; default DefaultTokens

	// Secret, when not empty, encrypts and authenticates the gossip: the
	// AES-256 key is its SHA-256. Nodes with another secret cannot join.
	Secret []byte

	HeartbeatPeriod  time.Duration // default 5s
	HeartbeatTimeout time.Duration // a member whose heartbeat did not advance for this long is unhealthy; default 3 periods
	TombstoneTTL     time.Duration // how long LEFT members are kept; default 1h
	RejoinInterval   time.Duration // how often members memberlist counts dead are joined again; default 30s

	// Failure detection (memberlist): a member that stops answering is
	// suspected after a failed probe and declared dead SuspicionMult (4)
	// probe intervals later; default ProbeInterval 500ms, ProbeTimeout
	// 300ms, so about 3 s. PushPullInterval (default 10s) is how often
	// the whole ring state is exchanged with a random member.
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	PushPullInterval time.Duration

	Logger     *slog.Logger          // default slog.Default()
	Registerer prometheus.Registerer // nil: no metrics registered
}

// DefaultPort is the gossip port of -memberlist.port.
const DefaultPort = 7946

func (c *Config) applyDefaults() error {
	if c.NodeName == "" {
		return errors.New("ring: a node name is required")
	}
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
	}
	if c.BindPort < 0 || c.BindPort > 65535 || c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return fmt.Errorf("ring: gossip ports must be between 0 and 65535")
	}
	if c.AdvertisePort == 0 {
		c.AdvertisePort = c.BindPort
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("ring: HTTP address %q: %w", c.Addr, err)
	}
	if c.Tokens == 0 {
		c.Tokens = DefaultTokens
	}
	if c.Tokens < 1 || c.Tokens > MaxTokens {
		return fmt.Errorf("ring: tokens must be between 1 and %d", MaxTokens)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatPeriod, 5*time.Second)
	def(&c.HeartbeatTimeout, 3*c.HeartbeatPeriod)
	def(&c.TombstoneTTL, time.Hour)
	def(&c.RejoinInterval, 30*time.Second)
	def(&c.ProbeInterval, 500*time.Millisecond)
	def(&c.ProbeTimeout, 300*time.Millisecond)
	def(&c.PushPullInterval, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Errors of Forget and SetState.
var (
	ErrSelf    = errors.New("ring: a node cannot forget itself")
	ErrUnknown = errors.New("ring: no such member")
	ErrHealthy = errors.New("ring: the member is healthy; only a gone node can be forgotten")
	ErrClosed  = errors.New("ring: left or shut down")
)

// Ring is this node's membership in the cluster and its view of the token
// ring. All methods are safe for concurrent use. Lookups (Owners, Healthy)
// take no lock and do not allocate. A Ring lives from New until Leave or
// Shutdown; after them its lookups answer from the last state.
type Ring struct {
	cfg   Config
	name  string
	log   *slog.Logger
	ml    *memberlist.Memberlist
	queue *memberlist.TransmitLimitedQueue
	met   *metrics
	start time.Time // origin of the seen clocks: monotonic, immune to clock skew

	numAlive atomic.Int32 // members memberlist counts alive, this one included
	closed   atomic.Bool  // Leave or Shutdown began: no more gossip out or in
	snap     atomic.Pointer[snapshot]

	mu      sync.Mutex
	self    Member // this node's entry, the only one it writes (but Forget)
	desc    Desc
	alive   map[string]bool          // memberlist's view
	seen    map[string]*atomic.Int64 // since start, when each member's heartbeat last advanced
	healthy map[string]bool          // at the last check, to notice changes
	changed chan struct{}

	reliable chan []byte // entries too large for a UDP broadcast, for sendLoop
	stop     chan struct{}
	wg       sync.WaitGroup
	life     sync.Mutex // serializes Leave and Shutdown
	down     bool       // memberlist was shut down (under life)
}

// New starts gossiping as cfg.NodeName in state JOINING, and joins
// cfg.Join in the background. Call SetState(Active) once the node serves,
// and Leave (or Shutdown) at the end.
func New(cfg Config) (*Ring, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	r := &Ring{
		cfg: cfg, name: cfg.NodeName, log: cfg.Logger.With("component", "ring"), start: time.Now(),
		desc: Desc{}, alive: map[string]bool{}, seen: map[string]*atomic.Int64{}, healthy: map[string]bool{},
		changed: make(chan struct{}), reliable: make(chan []byte, 64), stop: make(chan struct{}),
	}
	r.met = newMetrics(cfg.Registerer, r)
	r.queue = &memberlist.TransmitLimitedQueue{NumNodes: func() int { return int(r.numAlive.Load()) }, RetransmitMult: 4}
	r.self = Member{Name: cfg.NodeName, State: Joining, Tokens: Tokens(cfg.NodeName, cfg.Tokens), Heartbeat: time.Now().UnixNano()}
	r.mu.Lock()
	r.putLocked(r.self)
	r.rebuildLocked()
	r.mu.Unlock()

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeName
	mc.BindAddr, mc.BindPort = cfg.BindAddr, cfg.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.AdvertiseAddr, cfg.AdvertisePort
	mc.ProbeInterval, mc.ProbeTimeout = cfg.ProbeInterval, cfg.ProbeTimeout
	mc.PushPullInterval = cfg.PushPullInterval
	mc.TCPTimeout = 3 * time.Second // a LAN; it also bounds how long Leave waits for a join under way
	// A node restarted with a new address (a rescheduled pod) takes its
	// name back this long after the old address was declared dead.
	mc.DeadNodeReclaimTime = 5 * time.Second
	mc.Delegate, mc.Events = delegate{r}, delegate{r}
	mc.Logger = log.New(logWriter{r.log}, "", 0)
	if len(cfg.Secret) > 0 {
		key := sha256.Sum256(cfg.Secret)
		mc.SecretKey = key[:]
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("ring: start memberlist on %s: %w", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	r.ml = ml
	local := ml.LocalNode()
	r.mu.Lock()
	r.self.GossipAddr = local.Address()
	r.self.Addr = httpAddr(cfg.Addr, local.Addr)
	r.bumpSelfLocked()
	r.mu.Unlock()

	r.wg.Add(3)
	go r.heartbeatLoop()
	go r.joinLoop()
	go r.sendLoop()
	r.log.Info("ring started", "node", r.name, "gossip_addr", r.self.GossipAddr, "addr", r.self.Addr,
		"tokens", cfg.Tokens, "encrypted", len(cfg.Secret) > 0, "join", cfg.Join)
	return r, nil
}

// httpAddr fills in an empty or unspecified host of addr with ip.
func httpAddr(addr string, ip net.IP) string {
	host, port, _ := net.SplitHostPort(addr) // checked by applyDefaults
	if h := net.ParseIP(host); host == "" || h != nil && h.IsUnspecified() {
		host = ip.String()
	}
	return net.JoinHostPort(host, port)
}

// Name is this node's name.
func (r *Ring) Name() string { return r.name }

// Self returns this node's entry.
func (r *Ring) Self() Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.self
}

// Members returns every member the ring knows, LEFT ones included, by
// name.
func (r *Ring) Members() []Member {
	r.mu.Lock()
	ms := make([]Member, 0, len(r.desc))
	for _, m := range r.desc {
		ms = append(ms, m)
	}
	r.mu.Unlock()
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// Desc returns a copy of the ring state.
func (r *Ring) Desc() Desc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.desc.Clone()
}

// Owners returns the owners of key: walking the ring clockwise from key,
// the first rf distinct members in state JOINING or ACTIVE (fewer if the
// ring has fewer), healthy or not. Every node with the same ring state
// answers the same. The result reuses dst's array; with cap(dst) >= rf
// the call does not allocate. The members' Heartbeat may lag: it is the
// one of the last change of the ring, not of the last heartbeat.
func (r *Ring) Owners(key uint32, rf int, dst []Member) []Member {
	return r.snap.Load().owners(key, rf, dst)
}

// Healthy reports whether the member is alive for memberlist and its
// heartbeat advanced within HeartbeatTimeout, as seen by this node.
// This node is healthy until it leaves or shuts down.
func (r *Ring) Healthy(name string) bool {
	return r.snap.Load().healthy(name, r)
}

func (s *snapshot) healthy(name string, r *Ring) bool {
	i, ok := s.index[name]
	if !ok {
		return false
	}
	if name == r.name {
		return !r.closed.Load()
	}
	return s.alive[i] && s.members[i].State != Left && r.fresh(s.seen[i])
}

func (r *Ring) fresh(seen *atomic.Int64) bool {
	return seen != nil && r.since()-seen.Load() < int64(r.cfg.HeartbeatTimeout)
}

// since is the seen clock: nanoseconds since New.
func (r *Ring) since() int64 { return int64(time.Since(r.start)) }

// Changed returns a channel closed at the next change of the ring: a
// member added, removed or forgotten, a change of state, tokens or
// address, or of health (memberlist's verdicts at once, stale heartbeats
// at the next heartbeat of this node). Take the channel before reading
// the ring, then wait on it: every waiter is woken, each change at least
// once.
func (r *Ring) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// SetState sets this node's state and gossips it. LEFT is for Leave.
func (r *Ring) SetState(s State) error {
	if !s.Valid() || s == Left {
		return fmt.Errorf("ring: SetState(%v): want JOINING, ACTIVE or LEAVING", s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return ErrClosed
	}
	r.setStateLocked(s)
	return nil
}

func (r *Ring) setStateLocked(s State) {
	if r.self.State == s {
		return
	}
	r.log.Info("ring state", "node", r.name, "from", r.self.State, "to", s)
	r.self.State = s
	r.bumpSelfLocked()
}

// bumpSelfLocked gives this node's entry a new version, puts it in the
// ring and gossips it. The version only grows, even if the clock steps
// back.
func (r *Ring) bumpSelfLocked() {
	r.self.Heartbeat = max(time.Now().UnixNano(), r.self.Heartbeat+1)
	old, had := r.desc[r.name]
	r.putLocked(r.self)
	if !had || structural(old, r.self) {
		r.rebuildLocked()
		r.notifyLocked()
	}
	r.spreadLocked(r.self)
}

// Forget marks a member that is gone for good LEFT, so that it owns no
// keys and, once its tombstone expires, disappears. It refuses this node
// (ErrSelf), a member it does not know (ErrUnknown) and a healthy one
// (ErrHealthy). A member that is already LEFT stays so.
func (r *Ring) Forget(name string) error {
	if name == r.name {
		return ErrSelf
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return ErrClosed
	}
	m, ok := r.desc[name]
	switch {
	case !ok:
		return ErrUnknown
	case m.State == Left:
		return nil
	case r.snap.Load().healthy(name, r):
		return ErrHealthy
	}
	// One past the member's own version: if it does come back, its next
	// heartbeat supersedes this whatever the clocks say.
	m.State, m.Heartbeat = Left, m.Heartbeat+1
	r.putLocked(m)
	r.rebuildLocked()
	r.notifyLocked()
	r.spreadLocked(m)
	r.log.Info("member forgotten", "member", name)
	return nil
}

// Leave gossips LEAVING (unless SetState(Leaving) did already), then
// LEFT, sends LEFT straight to every live member, leaves memberlist and
// shuts it down, all within timeout. Work between LEAVING and LEFT (data
// handoff) belongs between SetState(Leaving) and Leave.
func (r *Ring) Leave(timeout time.Duration) error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.down {
		return nil
	}
	deadline := time.Now().Add(timeout)
	r.mu.Lock()
	if r.self.State != Leaving {
		r.setStateLocked(Leaving)
	}
	r.setStateLocked(Left)
	msg := encodeMember(r.self)
	var peers []*memberlist.Node
	for name, alive := range r.alive {
		if m := r.desc[name]; alive && name != r.name && m.GossipAddr != "" {
			if n := gossipNode(m); n != nil {
				peers = append(peers, n)
			}
		}
	}
	r.closed.Store(true)
	r.mu.Unlock()

	// UDP broadcasts may be lost; TCP to each peer is not. In parallel,
	// bounded by the deadline.
	done := make(chan struct{}, len(peers))
	for _, n := range peers {
		go func() {
			if err := r.ml.SendReliable(n, msg); err != nil {
				r.log.Warn("could not tell a member this node left", "member", n.Name, "err", err)
			}
			done <- struct{}{}
		}()
	}
	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	for range peers {
		select {
		case <-done:
		case <-wait.C:
		}
	}
	r.stopLoops()
	err := r.ml.Leave(max(time.Until(deadline), time.Millisecond))
	if serr := r.ml.Shutdown(); err == nil {
		err = serr
	}
	r.down = true
	r.log.Info("left the ring", "node", r.name)
	return err
}

// Shutdown stops gossiping without leaving: the others see this node
// fail, as if it crashed.
func (r *Ring) Shutdown() error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.down {
		return nil
	}
	r.closed.Store(true)
	r.stopLoops()
	r.down = true
	return r.ml.Shutdown()
}

func (r *Ring) stopLoops() {
	close(r.stop)
	r.wg.Wait()
}

// putLocked stores m and starts its seen clock when it is new or its
// heartbeat advanced.
func (r *Ring) putLocked(m Member) {
	old, had := r.desc[m.Name]
	r.desc[m.Name] = m
	c := r.seen[m.Name]
	if c == nil {
		c = new(atomic.Int64)
		r.seen[m.Name] = c
	}
	if !had || m.Heartbeat > old.Heartbeat {
		c.Store(r.since())
	}
}

// structural reports whether the change from a to b matters to lookups.
func structural(a, b Member) bool {
	return a.State != b.State || a.Addr != b.Addr || a.GossipAddr != b.GossipAddr || !slices.Equal(a.Tokens, b.Tokens)
}

func (r *Ring) rebuildLocked() {
	s := newSnapshot(r.desc, r.alive, r.seen)
	r.snap.Store(s)
	r.met.setMembers(s)
}

// notifyLocked wakes the waiters of Changed.
func (r *Ring) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// checkHealthLocked notices members whose health changed since the last
// check (stale or fresh heartbeats) and wakes the waiters of Changed.
func (r *Ring) checkHealthLocked() {
	s := r.snap.Load()
	changed := false
	for _, m := range s.members {
		h := s.healthy(m.Name, r)
		if was, ok := r.healthy[m.Name]; !ok || was != h {
			r.healthy[m.Name] = h
			changed = true
		}
	}
	for name := range r.healthy {
		if _, ok := s.index[name]; !ok {
			delete(r.healthy, name)
		}
	}
	if changed {
		r.notifyLocked()
	}
}

// heartbeatLoop advances this node's heartbeat, drops expired tombstones
// and notices health changes, every HeartbeatPeriod.
func (r *Ring) heartbeatLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.HeartbeatPeriod)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		if !r.closed.Load() {
			r.bumpSelfLocked()
			if r.pruneLocked(time.Now().UnixNano()) {
				r.rebuildLocked()
				r.notifyLocked()
			}
			r.checkHealthLocked()
		}
		r.mu.Unlock()
	}
}

// pruneLocked drops LEFT members not alive whose entry is older than
// TombstoneTTL. It reports whether it dropped any.
func (r *Ring) pruneLocked(now int64) bool {
	pruned := false
	for name, m := range r.desc {
		if name != r.name && m.State == Left && !r.alive[name] && now-m.Heartbeat > int64(r.cfg.TombstoneTTL) {
			delete(r.desc, name)
			delete(r.seen, name)
			pruned = true
		}
	}
	return pruned
}

// gossipNode is m's memberlist address, for a reliable send.
func gossipNode(m Member) *memberlist.Node {
	host, port, err := net.SplitHostPort(m.GossipAddr)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	p, err := strconv.ParseUint(port, 10, 16)
	if ip == nil || err != nil {
		return nil
	}
	return &memberlist.Node{Name: m.Name, Addr: ip, Port: uint16(p)}
}
