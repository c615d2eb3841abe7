package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/cluster"
	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/ring"
	"github.com/loam-logs/loam/server/store"
)

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
