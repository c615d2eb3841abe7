package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/loam-logs/loam/server/tlsfiles"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/api"
	"github.com/loam-logs/loam/server/cluster"
	"github.com/loam-logs/loam/server/deletes"
	"github.com/loam-logs/loam/server/ring"
	"github.com/loam-logs/loam/server/store"
)

// listFlag is a repeatable flag of strings; commas separate values too.
type listFlag struct {
	dst   *[]string
	fresh bool // the next Set replaces the list: a new parse began
}

func (l *listFlag) String() string {
	if l == nil || l.dst == nil {
		return ""
	}
	return strings.Join(*l.dst, ",")
}

func (l *listFlag) Set(s string) error {
	if l.fresh {
		*l.dst, l.fresh = nil, false
	}
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.dst = append(*l.dst, v)
		}
	}
	return nil
}

// clustered reports whether this node is part of a cluster: without
// joins and with one copy of each stream it runs alone, as it always did,
// with no gossip at all.
func (c *config) clustered() bool {
	return len(c.Memberlist.Join) > 0 || c.Ring.ReplicationFactor > 1
}

func (c *config) validateCluster() []error {
	var errs []error
	if c.Ring.ReplicationFactor < 1 {
		errs = append(errs, errors.New("-ring.replication-factor must be at least 1"))
	}
	if c.Ring.RepairInterval <= 0 || c.Ring.RepairWindow <= 0 || c.Cluster.PushTimeout <= 0 {
		errs = append(errs, errors.New("-ring.repair-interval, -ring.repair-window and -cluster.push-timeout must be positive"))
	}
	if c.Ring.Tokens < 1 || c.Ring.Tokens > ring.MaxTokens {
		errs = append(errs, fmt.Errorf("-ring.tokens must be between 1 and %d", ring.MaxTokens))
	}
	if c.Memberlist.Port < 0 || c.Memberlist.Port > 65535 {
		errs = append(errs, errors.New("-memberlist.port must be between 0 and 65535"))
	}
	if a := c.Memberlist.AdvertiseAddr; a != "" && net.ParseIP(a) == nil {
		errs = append(errs, fmt.Errorf("-memberlist.advertise-addr: %q is not an IP address", a))
	}
	if c.clustered() && c.Node.Name == "" {
		errs = append(errs, errors.New("-node.name is required in a cluster (the hostname is not known)"))
	}
	return errs
}

// clusterSecret is the content of -cluster.secret-file, surrounding
// whitespace trimmed (a trailing newline must not make two nodes'
// secrets differ); nil without the flag.
func clusterSecret(c *config) ([]byte, error) {
	if c.Cluster.SecretFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.Cluster.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("-cluster.secret-file: %w", err)
	}
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return nil, fmt.Errorf("-cluster.secret-file: %s is empty", c.Cluster.SecretFile)
	}
	return b, nil
}

// startRing joins the cluster (in the background) when the node is
// clustered, in state JOINING; nil otherwise.
func startRing(c *config, log *slog.Logger, reg prometheus.Registerer) (*ring.Ring, error) {
	if !c.clustered() {
		return nil, nil
	}
	secret, err := clusterSecret(c)
	if err != nil {
		return nil, err
	}
	// Other nodes call this one's HTTP API on the advertised IP, with
	// the port of -http.addr; without one the ring fills in the IP the
	// gossip advertises when -http.addr names no host.
	addr := c.HTTPAddr
	if c.Memberlist.AdvertiseAddr != "" {
		if _, port, err := net.SplitHostPort(c.HTTPAddr); err == nil {
			addr = net.JoinHostPort(c.Memberlist.AdvertiseAddr, port)
		}
	}
	return ring.New(ring.Config{
		NodeName:      c.Node.Name,
		Addr:          addr,
		BindAddr:      c.Memberlist.BindAddr,
		BindPort:      c.Memberlist.Port,
		AdvertiseAddr: c.Memberlist.AdvertiseAddr,
		Join:          c.Memberlist.Join,
		Tokens:        c.Ring.Tokens,
		Secret:        secret,
		Logger:        log,
		Registerer:    reg,
	})
}

// ringView is the ring as package cluster reads it: owners with the
// replication factor applied, as name and HTTP address.
type ringView struct {
	r    *ring.Ring
	rf   int
	self string
	bufs sync.Pool // []ring.Member of cap rf

	// failed is when a call to a node last failed without an answer
	// (name → unix ns): gossip may still see it alive, through the other
	// nodes, while this one cannot reach it.
	failed sync.Map
}

// suspectFor is how long a node that did not answer a call is left out of
// pushes and reads before it is tried again, so that only one call every
// so often waits for it to time out.
const suspectFor = 5 * time.Second

// Failed records that a call to the node got no answer.
func (v *ringView) Failed(name string) { v.failed.Store(name, time.Now().UnixNano()) }

func newRingView(r *ring.Ring, rf int) *ringView {
	v := &ringView{r: r, rf: rf, self: r.Name()}
	v.bufs.New = func() any { b := make([]ring.Member, 0, rf); return &b }
	return v
}

func (v *ringView) Owners(key uint32, dst []cluster.Peer) []cluster.Peer {
	bp := v.bufs.Get().(*[]ring.Member)
	ms := v.r.Owners(key, v.rf, (*bp)[:0])
	for _, m := range ms {
		dst = append(dst, cluster.Peer{Name: m.Name, Addr: m.Addr})
	}
	*bp = ms[:0]
	v.bufs.Put(bp)
	return dst
}

// Healthy is the gossip's view, except of this node: its own store
// answers whatever gossip says.
func (v *ringView) Healthy(name string) bool {
	if name == v.self {
		return true
	}
	if t, ok := v.failed.Load(name); ok && time.Since(time.Unix(0, t.(int64))) < suspectFor {
		return false
	}
	return v.r.Healthy(name)
}

func (v *ringView) StreamKey(tenant, labels string) uint32 { return ring.StreamKey(tenant, labels) }

// Peers are the other members that may hold data: joining, active or
// leaving (a leaving node still answers until it has handed over).
func (v *ringView) Peers() []cluster.Peer {
	var out []cluster.Peer
	for _, m := range v.r.Members() {
		if m.Name != v.self && m.State != ring.Left {
			out = append(out, cluster.Peer{Name: m.Name, Addr: m.Addr})
		}
	}
	return out
}

// gate answers 503 until a handler is set: the internal routes are
// mounted before the store is open.
type gate struct{ h atomic.Pointer[http.Handler] }

func (g *gate) set(h http.Handler) { g.h.Store(&h) }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := g.h.Load()
	if h == nil {
		http.Error(w, "not ready: the write-ahead log is being replayed", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// clusterNode is what a clustered node runs beside the API: the
// replicated write path, the internal endpoints and repair.
type clusterNode struct {
	ring     *ring.Ring
	view     *ringView
	repair   *cluster.Repairer
	stop     context.CancelFunc
	done     chan struct{}
	internal gate
	// deletesGate serves /internal/deletes once deletesAPI ran.
	deletesGate gate
	reader      *clusterReader // reads through the members, once serving
	deletes     *clusterDeletes
	// client and scheme make every call to another node (transport).
	client *http.Client
	scheme string

	// What the node tells read planners (cluster.ReadState).
	started     time.Time
	misses      *cluster.MissLog
	ringChanged atomic.Int64 // Unix ns
	repaired    atomic.Int64 // Unix ns: the begin of the last full repair pass
	foreign     atomic.Bool  // that pass found streams this node holds without owning them
	whole       func() bool  // lowQuorum.Whole
	pushTimeout time.Duration
}

// readState is this node's cluster.ReadState.
func (n *clusterNode) readState() cluster.ReadState {
	return cluster.ReadState{Node: n.view.self, Started: n.started.UnixNano(), RingChanged: n.ringChanged.Load(),
		Repaired: n.repaired.Load(), Window: int64(n.repair.Window()), PushTimeout: int64(n.pushTimeout),
		Foreign: n.foreign.Load(), Whole: n.whole(), Misses: n.misses.Misses()}
}

// transport sets how the node calls the others: over TLS when it serves
// HTTPS itself (tlsFiles not nil), presenting its own certificate.
func (n *clusterNode) transport(c *config, tlsFiles *tlsfiles.Server) error {
	if tlsFiles == nil {
		n.client, n.scheme = cluster.NewHTTPClient(), "http"
		return nil
	}
	var roots *x509.CertPool
	if f := c.Cluster.TLSCAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("-cluster.tls-ca-file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-cluster.tls-ca-file %s: no PEM certificate in it", f)
		}
	}
	n.client = cluster.NewTLSClient(tlsFiles.ClientConfig(roots, c.Cluster.TLSServerName, c.Cluster.TLSInsecureSkipVerify))
	n.scheme = "https"
	return nil
}

// deletesAPI returns the delete API of the node: dels, kept in step with
// the other members'.
func (n *clusterNode) deletesAPI(c *config, dels *deletes.Manager, log *slog.Logger) (*clusterDeletes, error) {
	secret, err := clusterSecret(c)
	if err != nil {
		return nil, err
	}
	n.deletes = &clusterDeletes{local: dels, client: cluster.NewDeletesClient(dels, n.client, n.scheme, secret), view: n.view, log: log}
	r := mux.NewRouter()
	cluster.NewDeletesServer(dels, secret).Register(r)
	n.deletesGate.set(r)
	return n.deletes, nil
}

// mountCluster mounts the internal endpoints (answering 503 until serve).
func mountCluster(a *api.API, rg *ring.Ring, c *config) *clusterNode {
	n := &clusterNode{ring: rg, view: newRingView(rg, c.Ring.ReplicationFactor), started: time.Now(), misses: cluster.NewMissLog()}
	n.ringChanged.Store(n.started.UnixNano())
	// The delete requests are exchanged from the start (they need no
	// store), so that starting nodes can fetch each other's while they
	// still keep their other internal endpoints closed.
	a.Mount(cluster.PathDeletes, &n.deletesGate)
	a.Mount("/internal/{path:.+}", &n.internal)
	return n
}

// serve starts the cluster over the open store: internal endpoints, and
// repair passes; it returns the Appender pushes go through.
func (n *clusterNode) serve(c *config, st *store.Store, log *slog.Logger, reg prometheus.Registerer) (*cluster.Replicator, error) {
	secret, err := clusterSecret(c)
	if err != nil {
		return nil, err
	}
	rf := c.Ring.ReplicationFactor
	low := newLowQuorum(c.DataDir, rf, log)
	n.whole, n.pushTimeout = low.Whole, c.Cluster.PushTimeout
	n.repair = cluster.NewRepairer(cluster.RepairOptions{Self: n.view.self, Secret: secret,
		Interval: c.Ring.RepairInterval, Window: c.Ring.RepairWindow,
		FirstWindow: firstRepairWindow(c.DataDir, c.Ring.RepairWindow, time.Now()),
		Done: func(begin time.Time, peers, foreign int) {
			low.Repaired(begin, peers)
			n.foreign.Store(foreign > 0)
			n.repaired.Store(begin.UnixNano())
		},
		Client: n.client, Scheme: n.scheme}, n.view, st, log, reg)
	r := mux.NewRouter()
	ps := cluster.NewPushServer(st, secret, log)
	ps.LowQuorum = low.Mark
	ps.Register(r)
	cluster.NewRepairServer(st, n.view, secret, log).Register(r)
	r.Handle(cluster.PathReadState, cluster.ReadStateHandler(secret, n.readState))

	cluster.NewReadServer(store.Local{Store: st}, cluster.ServerOptions{Secret: secret, Logger: log, Whole: low.Whole}).Register(r)
	if n.deletes != nil {
		// Catch up with the delete requests made while this node was
		// away before serving reads to the others: they must hide the
		// same lines. Gossip may not have found the others yet: wait for
		// one, a few seconds at most (a node alone has nothing to fetch).
		ctx, cancel := context.WithTimeout(context.Background(), deletesCatchUp)
		if !n.deletes.fetchFirst(ctx) {
			log.Warn("no other member answered for its delete requests; reads are served without them until the next exchange", "waited", deletesCatchUp)
		}
		cancel()
	}
	n.internal.set(r)
	n.reader = newClusterReader(st, n.view, n.client, n.scheme, secret, rf, low.Whole, n.readState, reg)
	rep := cluster.NewReplicator(cluster.ReplicatorOptions{Self: n.view.self, Secret: secret, Timeout: c.Cluster.PushTimeout,
		Unreachable: n.view.Failed, RF: rf, LowQuorum: low.Mark, Client: n.client, Scheme: n.scheme, Misses: n.misses},
		n.view, st, reg)
	ctx, cancel := context.WithCancel(context.Background())
	n.stop, n.done = cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		// A pass that a read from one owner may count on begins a push
		// timeout (and the clock skew allowed) after the change of the
		// ring that started it (cluster.OneOwner): pushes placed before the
		// change have landed by then.
		n.repair.Run(ctx, max(repairSettle, c.Cluster.PushTimeout+cluster.ClockSkew+time.Second))
	}()
	go n.watch(ctx)
	go keepAlive(ctx, c.DataDir, n.repair.CaughtUp, log)
	if n.deletes != nil {
		go n.deletes.run(ctx, repairSettle)
	}
	return rep, nil
}

// repairSettle is how long a repair waits after a start or a change of
// the ring, for gossip to settle.
const repairSettle = 3 * time.Second

// watch asks for a repair pass whenever the ring changes: a member that
// comes back or joins is compared within seconds.
func (n *clusterNode) watch(ctx context.Context) {
	for {
		ch := n.ring.Changed()
		select {
		case <-ctx.Done():
			return
		case <-ch:
			n.ringChanged.Store(time.Now().UnixNano())
			n.misses.Forget(n.member)
			n.repair.Kick()
		}
	}
}

// member reports whether name is a member of the ring that has not left.
func (n *clusterNode) member(name string) bool {
	for _, m := range n.ring.Members() {
		if m.Name == name {
			return m.State != ring.Left
		}
	}
	return false
}

// leave hands this node's data to the nodes that own it without this one,
// then leaves the ring. Writes stop coming once LEAVING has spread.
func (n *clusterNode) leave(log *slog.Logger) {
	if n.stop != nil {
		n.stop()
		<-n.done
	}
	if err := n.ring.SetState(ring.Leaving); err != nil {
		log.Warn("leaving the ring", "err", err)
	}
	if n.repair != nil {
		time.Sleep(repairSettle) // let LEAVING spread: writes go elsewhere
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := n.repair.Pass(ctx, 0); err != nil {
			log.Warn("handing data over before leaving: some could not be", "err", err)
		}
		cancel()
	}
	if err := n.ring.Leave(10 * time.Second); err != nil {
		log.Warn("leaving the ring", "err", err)
	}
}
