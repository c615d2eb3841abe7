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

// clusterReader is api.Reader over the members of the ring: this node's
// store and every other member that may hold data, merged by fanout. The
// replicas are taken from the ring at each read, so members that join or
// leave are read from (or not) at once.
//
// Reads of entries (Select, Timestamps) are split when every member is
// healthy: each stream is read from a few of its owners only, as many as
// still meet every acknowledged entry (cluster.Share says why that is
// enough), and every member must answer. A split read that loses a member
// before anything of it was used is read again unsplit. Other reads, and
// reads while a member is down, ask every member for all it holds: after
// a change of the ring, data still sits on its former owners until repair
// moves it, and a survivor may answer alone.
type clusterReader struct {
	local  store.Local
	view   *ringView
	client *http.Client
	scheme string // of the other nodes' URLs
	secret []byte
	rf     int
	// maxMissing is the replicas an unsplit read may do without: one
	// fewer than the replication factor, so that a single survivor still
	// answers.
	maxMissing int
	// whole reports that this node must read all it holds (lowQuorum).
	whole func() bool
	// state is this node's cluster.ReadState.
	state func() cluster.ReadState

	missing *prometheus.CounterVec
	resplit prometheus.Counter
	splits  *prometheus.CounterVec

	mu      sync.Mutex
	remotes map[string]*cluster.Remote // by name and address
}

func newClusterReader(st *store.Store, view *ringView, client *http.Client, scheme string, secret []byte, rf int, whole func() bool, state func() cluster.ReadState, reg prometheus.Registerer) *clusterReader {
	c := &clusterReader{local: store.Local{Store: st}, view: view, client: client, scheme: scheme, secret: secret,
		rf: rf, maxMissing: rf - 1, whole: whole, state: state, remotes: map[string]*cluster.Remote{},
		splits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_fanout_split_reads_total",
			Help: "Split reads, by how many owners of each stream they read (one, or quorum: enough to meet every write quorum)."}, []string{"owners"}),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_fanout_replica_failures_total",
			Help: "Reads that went without a replica (down, unreachable or failing midway), by node."}, []string{"node"}),
		resplit: prometheus.NewCounter(prometheus.CounterOpts{Name: "loam_fanout_split_retries_total",
			Help: "Split reads read again from every member because a member failed before answering."}),
	}
	reg.MustRegister(c.missing, c.resplit, c.splits)
	return c
}

// remote returns the Remote of a peer, made once.
func (c *clusterReader) remote(p cluster.Peer) *cluster.Remote {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := p.Name + "\x00" + p.Addr
	r := c.remotes[key]
	if r == nil {
		r = cluster.NewRemote(p.Name, c.scheme+"://"+p.Addr, c.client, c.secret)
		c.remotes[key] = r
	}
	return r
}

func (c *clusterReader) failed(name string, err error) {
	c.missing.WithLabelValues(name).Inc()
	if errors.Is(err, cluster.ErrUnreachable) {
		c.view.Failed(name)
	}
}

// fan returns the fanout over the current members, each asked for all it
// holds.
func (c *clusterReader) fan() *fanout.Fanout {
	peers := c.view.Peers()
	rs := make([]fanout.Replica, 0, len(peers)+1)
	rs = append(rs, fanout.Replica{Name: c.view.self, Reader: c.local})
	for _, p := range peers {
		name := p.Name
		rs = append(rs, fanout.Replica{Name: name, Reader: c.remote(p), Healthy: func() bool { return c.view.Healthy(name) }})
	}
	return fanout.New(fanout.Config{MaxMissing: c.maxMissing, Missing: c.failed}, rs)
}

// split returns the fanout of a split read of p over the current members,
// or nil when the read cannot be split: replication factor 1 (nothing to
// split), or a member that is not healthy. Each stream is read from one
// owner when the members' read states allow it (cluster.OneOwner).
func (c *clusterReader) split(ctx context.Context, p store.SelectParams) *fanout.Fanout {
	if c.rf < 2 {
		return nil
	}
	members := c.view.r.Members()
	var owning []cluster.ShareMember
	for _, m := range members {
		if m.State == ring.Left {
			continue
		}
		if !c.view.Healthy(m.Name) {
			return nil
		}
		if m.State.Owning() && len(m.Tokens) > 0 {
			owning = append(owning, cluster.ShareMember{Name: m.Name, Tokens: len(m.Tokens)})
		}
	}
	if len(owning) == 0 {
		return nil
	}
	var one, disjoint bool
	if c.rf > 2 && len(owning) > 2 {
		one, disjoint = c.oneOwner(ctx, members, p)
	}
	if one {
		c.splits.WithLabelValues("one").Inc()
	} else {
		c.splits.WithLabelValues("quorum").Inc()
	}
	rs := make([]fanout.Replica, 0, len(members))
	for _, m := range members {
		if m.State == ring.Left {
			continue
		}
		share := cluster.NewShare(m.Name, c.rf, owning)
		share.One = one
		var sh store.StreamFilter = share
		if m.Name == c.view.self {
			if c.whole() {
				sh = nil
			}
			rs = append(rs, fanout.Replica{Name: m.Name, Reader: c.local, Streams: sh})
			continue
		}
		rs = append(rs, fanout.Replica{Name: m.Name, Reader: c.remote(cluster.Peer{Name: m.Name, Addr: m.Addr}), Streams: sh})
	}
	return fanout.New(fanout.Config{MaxMissing: 0, Missing: c.failed, Disjoint: disjoint}, rs)
}

// oneOwner asks every member for its read state and reports whether a
// read of p may read each stream from one owner (cluster.OneOwner), and
// whether each stream is then read from one replica alone
// (cluster.Disjoint). A member that does not answer within
// readStateTimeout makes both no.
func (c *clusterReader) oneOwner(ctx context.Context, members []ring.Member, p store.SelectParams) (one, disjoint bool) {
	ctx, cancel := context.WithTimeout(ctx, readStateTimeout)
	defer cancel()
	states := make([]cluster.ReadState, 0, len(members))
	errs := make([]error, 0, len(members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		if m.State == ring.Left {
			continue
		}
		if m.Name == c.view.self {
			states = append(states, c.state())
			continue
		}
		r := c.remote(cluster.Peer{Name: m.Name, Addr: m.Addr})
		wg.Go(func() {
			s, err := r.ReadState(ctx)
			mu.Lock()
			defer mu.Unlock()
			states = append(states, s)
			errs = append(errs, err)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return false, false
		}
	}
	if cluster.OneOwner(states, p.Start, p.End) != nil {
		return false, false
	}
	return true, cluster.Disjoint(states)
}

// readStateTimeout bounds the wait for the members' read states: past
// it, the read meets a quorum of owners of each stream instead.
const readStateTimeout = 300 * time.Millisecond

// again reports whether a split read that failed with err, having handed
// nothing over, is read again unsplit.
func (c *clusterReader) again(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || !errors.Is(err, fanout.ErrUnavailable) {
		return false
	}
	c.resplit.Inc()
	return true
}

func (c *clusterReader) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	if f := c.split(ctx, p); f != nil {
		// The fanout opens every replica before it returns: a failure
		// to open comes back here, before any entry was read.
		it, err := f.Select(ctx, p)
		if !c.again(ctx, err) {
			return it, err
		}
	}
	return c.fan().Select(ctx, p)
}

func (c *clusterReader) Timestamps(ctx context.Context, p store.SelectParams, keep func([]byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	if f := c.split(ctx, p); f != nil {
		// fn is called from this goroutine; the merge calls it only once
		// every replica has answered or ended.
		used := false
		err := f.Timestamps(ctx, p, keep, func(ls, meta labels.Labels, ts []int64) {
			used = true
			fn(ls, meta, ts)
		})
		if used || !c.again(ctx, err) {
			return err
		}
	}
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
