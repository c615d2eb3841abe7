package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/labels"
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
}

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
func (v *ringView) Healthy(name string) bool { return name == v.self || v.r.Healthy(name) }

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
	reader   *clusterReader // reads through the members, once serving
}

// mountCluster mounts the internal endpoints (answering 503 until serve).
func mountCluster(a *api.API, rg *ring.Ring, c *config) *clusterNode {
	n := &clusterNode{ring: rg, view: newRingView(rg, c.Ring.ReplicationFactor)}
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
	r := mux.NewRouter()
	cluster.NewPushServer(st, secret, log).Register(r)
	cluster.NewRepairServer(st, n.view, secret, log).Register(r)
	cluster.NewReadServer(store.Local{Store: st}, cluster.ServerOptions{Secret: secret, Logger: log}).Register(r)
	n.internal.set(r)
	n.reader = newClusterReader(st, n.view, secret, c.Ring.ReplicationFactor, reg)
	rep := cluster.NewReplicator(cluster.ReplicatorOptions{Self: n.view.self, Secret: secret, Timeout: c.Cluster.PushTimeout},
		n.view, st, reg)
	n.repair = cluster.NewRepairer(cluster.RepairOptions{Self: n.view.self, Secret: secret,
		Interval: c.Ring.RepairInterval, Window: c.Ring.RepairWindow}, n.view, st, log, reg)
	ctx, cancel := context.WithCancel(context.Background())
	n.stop, n.done = cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		n.repair.Run(ctx, repairSettle)
	}()
	go n.watch(ctx)
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
			n.repair.Kick()
		}
	}
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

// clusterReader is api.Reader over the members of the ring: this node's
// store and every other member that may hold data, merged by fanout. The
// replicas are taken from the ring at each read, so members that join or
// leave are read from (or not) at once. Reads fan out to every member,
// not only the owners of the streams read: after a change of the ring,
// data still sits on its former owners until repair moves it.
type clusterReader struct {
	local  store.Local
	view   *ringView
	client *http.Client
	secret []byte
	// maxMissing is the replicas a read may do without: one fewer than
	// the replication factor, so that a single survivor still answers.
	maxMissing int

	missing *prometheus.CounterVec

	mu      sync.Mutex
	remotes map[string]*cluster.Remote // by name and address
}

func newClusterReader(st *store.Store, view *ringView, secret []byte, rf int, reg prometheus.Registerer) *clusterReader {
	c := &clusterReader{local: store.Local{Store: st}, view: view, client: cluster.NewHTTPClient(), secret: secret,
		maxMissing: rf - 1, remotes: map[string]*cluster.Remote{},
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_fanout_replica_failures_total",
			Help: "Reads that went without a replica (down, unreachable or failing midway), by node."}, []string{"node"})}
	reg.MustRegister(c.missing)
	return c
}

// fan returns the fanout over the current members.
func (c *clusterReader) fan() *fanout.Fanout {
	peers := c.view.Peers()
	rs := make([]fanout.Replica, 0, len(peers)+1)
	rs = append(rs, fanout.Replica{Name: c.view.self, Reader: c.local})
	c.mu.Lock()
	for _, p := range peers {
		key := p.Name + "\x00" + p.Addr
		r := c.remotes[key]
		if r == nil {
			r = cluster.NewRemote(p.Name, p.Addr, c.client, c.secret)
			c.remotes[key] = r
		}
		name := p.Name
		rs = append(rs, fanout.Replica{Name: name, Reader: r, Healthy: func() bool { return c.view.Healthy(name) }})
	}
	c.mu.Unlock()
	return fanout.New(fanout.Config{MaxMissing: c.maxMissing, Missing: func(name string, _ error) {
		c.missing.WithLabelValues(name).Inc()
	}}, rs)
}

func (c *clusterReader) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	return c.fan().Select(ctx, p)
}

func (c *clusterReader) Timestamps(ctx context.Context, p store.SelectParams, keep func([]byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	return c.fan().Timestamps(ctx, p, keep, fn)
}

func (c *clusterReader) Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error {
	return c.fan().Series(ctx, tenant, sets, start, end, fn)
}

func (c *clusterReader) LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	return c.fan().LabelNames(ctx, tenant, ms, start, end)
}

func (c *clusterReader) LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	return c.fan().LabelValues(ctx, tenant, name, ms, start, end)
}

func (c *clusterReader) Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error {
	return c.fan().Stats(ctx, p, fn)
}

func (c *clusterReader) Subscribe(tenant string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error) {
	return c.fan().Subscribe(tenant, ms, opts)
}

func (c *clusterReader) Subscribers(tenant string) int { return c.fan().Subscribers(tenant) }
