package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/klauspost/compress/s2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// ErrUnavailable marks a push or a read that could not reach enough
// replicas: the client should retry (HTTP 503). It is fanout's, so that
// the API maps both the same way.
var ErrUnavailable = fanout.ErrUnavailable

// Peer is a node as the replicator addresses it.
type Peer struct {
	Name string // unique in the ring
	Addr string // host:port of its HTTP API
}

// Ring is the membership the replicator reads: called for every stream of
// every push, from many goroutines at once.
type Ring interface {
	// Owners appends to dst the owners of key, distinct, in ring order: the
	// replication factor's worth, or every member when there are fewer.
	Owners(key uint32, dst []Peer) []Peer
	// Healthy reports whether gossip sees the node alive.
	Healthy(name string) bool
	// StreamKey places a stream on the ring.
	StreamKey(tenant, labels string) uint32
}

// Appender is the local storage: *store.Store.
type Appender interface {
	Append(tenant string, streams []store.Stream) ([]store.Rejected, error)
}

// encodedAppender is a local storage that can keep a push as it was
// encoded for the wire (store.Store.AppendEncoded): the replica then
// writes its WAL without encoding and compressing the entries again.
type encodedAppender interface {
	AppendEncoded(tenant string, streams []store.Stream, body []byte) ([]store.Rejected, error)
}

// appendEncoded appends streams, whose wire encoding is body (nil: none),
// to local.
func appendEncoded(local Appender, tenant string, streams []store.Stream, body []byte) ([]store.Rejected, error) {
	if ea, ok := local.(encodedAppender); ok && body != nil {
		return ea.AppendEncoded(tenant, streams, body)
	}
	return local.Append(tenant, streams)
}

// ReplicatorOptions configure a Replicator.
type ReplicatorOptions struct {
	Self    string        // this node's name in the ring
	Secret  []byte        // the cluster secret; nil: node calls are not authenticated
	Timeout time.Duration // of one push to a peer; a peer that has not answered by then failed
	Scheme  string        // "http" (default) or "https"
	Client  *http.Client  // nil: a client of its own, keeping connections alive
	// Unreachable, when set, is told of a node that did not answer a push
	// (no connection, or no answer within Timeout).
	Unreachable func(node string)
	// RF is the replication factor. A stream with fewer owners (the ring
	// has fewer members) is acknowledged with fewer copies than a quorum
	// of RF: such a push is marked, and LowQuorum, when set, is called
	// before it is stored here (see Share).
	RF        int
	LowQuorum func()
	// Misses, when set, records the pushes an owner may lack (see
	// OneOwner): each push to a peer while it is in flight, and every
	// failure or refusal of an owner, before the push is acknowledged.
	Misses *MissLog
}

// Replicator writes each stream to its owners and acknowledges a push once
// a quorum of every stream's owners has it in its WAL. It implements the
// distributor's Appender. Safe for concurrent use.
//
// The push's data aliases the client's request body, which is reused once
// Append returns, so everything a peer is sent is encoded before Append
// returns, and the local append runs in the caller's goroutine; requests to
// peers still in flight when the quorum is reached finish in the
// background.
type Replicator struct {
	opts  ReplicatorOptions
	ring  Ring
	local Appender
	token string

	failures  *prometheus.CounterVec
	forwarded *prometheus.CounterVec
	refused   prometheus.Counter
}

// NewReplicator returns a Replicator writing to local for this node and to
// peers over HTTP; reg may be nil.
func NewReplicator(opts ReplicatorOptions, r Ring, local Appender, reg prometheus.Registerer) *Replicator {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Scheme == "" {
		opts.Scheme = "http"
	}
	if opts.Client == nil {
		opts.Client = newClient()
	}
	rp := &Replicator{opts: opts, ring: r, local: local, token: authToken(opts.Secret),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_replication_failures_total",
			Help: "Pushes of streams to an owner that failed, by owner node."}, []string{"node"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_replication_forwarded_bytes_total",
			Help: "Bytes of pushes sent to other nodes (snappy-compressed protobuf), by node."}, []string{"node"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_replication_quorum_failures_total",
			Help: "Pushes refused because a quorum of a stream's owners could not store it."}),
	}
	if reg != nil {
		reg.MustRegister(rp.failures, rp.forwarded, rp.refused)
	}
	return rp
}

// newClient is the HTTP client for node-to-node calls: connections to the
// few peers are kept alive, and a dead peer is given up on quickly.
func newClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: tr}
}

// target is one owner node and the streams of a push it owns.
type target struct {
	peer    Peer
	streams []int // indexes into the push's streams
}

// Append implements the distributor's Appender.
func (r *Replicator) Append(tenant string, streams []store.Stream) ([]store.Rejected, error) {
	if len(streams) == 0 {
		return nil, nil
	}
	tr := newTracker(len(streams))
	texts := labelTexts(streams)
	targets := r.place(tenant, streams, texts, tr)
	if tr.impossible != nil {
		r.refused.Inc()
		return nil, tr.impossible
	}
	if tr.low && r.opts.LowQuorum != nil {
		r.opts.LowQuorum()
	}
	// Encode every peer's share before the first send: the streams alias
	// the request body.
	bodies, local := r.encodeShares(streams, texts, targets)
	misses := r.opts.Misses
	var lo, hi int64
	if misses != nil {
		lo, hi = span(streams)
	}
	var ids []uint64 // of the pushes to peers, with misses
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
	var wg sync.WaitGroup
	for i := range targets {
		t := &targets[i]
		if i == local {
			continue
		}
		if !r.ring.Healthy(t.peer.Name) {
			r.failures.WithLabelValues(t.peer.Name).Inc()
			if misses != nil {
				misses.Missed(t.peer.Name, lo, hi)
			}
			tr.report(i, t.streams, nil, fmt.Errorf("node %s is down (gossip)", t.peer.Name))
			continue
		}
		var id uint64
		if misses != nil {
			id = misses.Send(t.peer.Name, lo, hi)
			ids = append(ids, id)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rej, err := r.send(ctx, tenant, t.peer, bodies[i], tr.low)
			if err != nil {
				r.failures.WithLabelValues(t.peer.Name).Inc()
			}
			if misses != nil {
				misses.Done(id, err != nil || len(rej) > 0)
			}
			tr.report(i, t.streams, rej, err)
		}()
	}
	go func() { wg.Wait(); cancel() }()
	if local >= 0 {
		t := &targets[local]
		sub := make([]store.Stream, len(t.streams))
		for j, si := range t.streams {
			sub[j] = streams[si]
		}
		rej, err := appendEncoded(r.local, tenant, sub, bodies[local])
		if misses != nil && (err != nil || len(rej) > 0) {
			misses.Missed(t.peer.Name, lo, hi)
		}
		tr.report(local, t.streams, rejectedText(rej), err)
	}
	<-tr.done
	if err := tr.err(); err != nil {
		r.refused.Inc()
		return nil, err
	}
	if misses != nil {
		var failed []string
		for _, i := range tr.failedNodes() {
			failed = append(failed, targets[i].peer.Name)
		}
		misses.Acked(ids, failed)
	}
	return tr.rejected(streams), nil
}

// span returns the least and the greatest timestamp of the streams'
// entries.
func span(streams []store.Stream) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for i := range streams {
		for _, e := range streams[i].Entries {
			lo, hi = min(lo, e.T), max(hi, e.T)
		}
	}
	return lo, hi
}

// place groups the streams by owner node and sets each stream's quorum.
func (r *Replicator) place(tenant string, streams []store.Stream, texts []string, tr *tracker) []target {
	var targets []target
	index := map[string]int{}
	owners := make([]Peer, 0, 8)
	for si := range streams {
		owners = r.ring.Owners(r.ring.StreamKey(tenant, texts[si]), owners[:0])
		if len(owners) == 0 {
			tr.impossible = fmt.Errorf("%w: the ring has no member to own stream %s", ErrUnavailable, streams[si].Labels)
			return nil
		}
		tr.need[si] = uint8(len(owners)/2 + 1)
		tr.low = tr.low || int(tr.need[si]) < r.opts.RF/2+1
		tr.spare[si] = uint8(len(owners)) - tr.need[si]
		for _, p := range owners {
			ti, ok := index[p.Name]
			if !ok {
				ti = len(targets)
				index[p.Name] = ti
				targets = append(targets, target{peer: p})
			}
			targets[ti].streams = append(targets[ti].streams, si)
		}
	}
	tr.nodes = make([]nodeResult, len(targets))
	return targets
}

// encodeShares encodes the share of every target but this node, and
// returns the bodies by target and the index of this node's target (-1:
// none). Targets that own the same streams (all of them, when there are no
// more nodes than replicas) share one body; this node's target gets a
// peer's body that way, for its WAL, and none otherwise.
func (r *Replicator) encodeShares(streams []store.Stream, texts []string, targets []target) (bodies [][]byte, local int) {
	local = -1
	bodies = make([][]byte, len(targets))
	for i := range targets {
		if targets[i].peer.Name == r.opts.Self {
			local = i
			continue
		}
		for j := range i {
			if j != local && slices.Equal(targets[j].streams, targets[i].streams) {
				bodies[i] = bodies[j]
				break
			}
		}
		if bodies[i] == nil {
			bodies[i] = encodePush(streams, texts, targets[i].streams)
		}
	}
	if local >= 0 {
		for i := range targets {
			if i != local && slices.Equal(targets[i].streams, targets[local].streams) {
				bodies[local] = bodies[i]
				break
			}
		}
	}
	return bodies, local
}

// labelTexts returns the text of each stream's labels, as Labels.String
// writes it, all in one buffer: the ring places a stream by its text, and
// the wire carries it.
func labelTexts(streams []store.Stream) []string {
	buf := make([]byte, 0, 64*len(streams))
	ends := make([]int, len(streams))
	for i := range streams {
		buf = streams[i].Labels.AppendString(buf)
		ends[i] = len(buf)
	}
	texts := make([]string, len(streams))
	start := 0
	for i, end := range ends {
		texts[i] = unsafe.String(unsafe.SliceData(buf[start:end]), end-start)
		start = end
	}
	return texts
}

// encodePush encodes the chosen streams, whose label texts are texts, as a
// Loki push request, snappy-compressed. The fast snappy encoder: it costs
// half the CPU of the default one for a few percent more bytes, and every
// push is encoded on the hot path.
func encodePush(streams []store.Stream, texts []string, which []int) []byte {
	sc := encodePool.Get().(*encodeScratch)
	n, nm := 0, 0
	for _, si := range which {
		n += len(streams[si].Entries)
		for _, e := range streams[si].Entries {
			nm += len(e.Meta)
		}
	}
	req := &sc.req
	req.Streams = slices.Grow(req.Streams[:0], len(which))[:len(which)]
	sc.entries = slices.Grow(sc.entries[:0], n)[:n]
	sc.meta = slices.Grow(sc.meta[:0], nm)[:nm]
	entries, meta := sc.entries, sc.meta
	for j, si := range which {
		s := &streams[si]
		ps := &req.Streams[j]
		ps.Labels = texts[si]
		ps.Entries = entries[:len(s.Entries):len(s.Entries)]
		entries = entries[len(s.Entries):]
		for k := range s.Entries {
			e := &s.Entries[k]
			pe := &ps.Entries[k]
			pe.Timestamp = e.T
			pe.Line = unsafe.String(unsafe.SliceData(e.Line), len(e.Line))
			pe.Metadata = nil
			if len(e.Meta) > 0 {
				pe.Metadata = meta[:len(e.Meta):len(e.Meta)]
				meta = meta[len(e.Meta):]
				for m, l := range e.Meta {
					pe.Metadata[m] = push.LabelPair{Name: l.Name, Value: l.Value}
				}
			}
		}
	}
	raw := push.EncodeProto(sc.raw[:0], req)
	body := s2.EncodeSnappy(nil, raw)
	// The scratch must not keep the push's lines alive in the pool.
	clear(req.Streams)
	clear(sc.entries)
	clear(sc.meta)
	if cap(raw) <= maxPooledBody && cap(req.Streams) <= maxPooledEntries && cap(sc.entries) <= maxPooledEntries && cap(sc.meta) <= maxPooledEntries {
		sc.raw = raw[:0]
		encodePool.Put(sc)
	}
	return body
}

// encodeScratch is encodePush's memory, garbage once a push is encoded
// and kept for the next one: the request, its entries and metadata, and
// the protobuf before compression.
type encodeScratch struct {
	req     push.Request
	entries []push.Entry
	meta    []push.LabelPair
	raw     []byte
}

var encodePool = sync.Pool{New: func() any { return new(encodeScratch) }}

// diskFullHeader marks a peer's 503 for a full disk, so that a push all of
// whose failures are full disks is answered as one.
const diskFullHeader = "X-Loam-Disk-Full"

// lowQuorumHeader marks a push acknowledged with fewer copies than a
// quorum of the replication factor.
const lowQuorumHeader = "X-Loam-Low-Quorum"

// send pushes one encoded share to a peer.
func (r *Replicator) send(ctx context.Context, tenant string, p Peer, body []byte, low bool) ([]rejectedEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.opts.Scheme+"://"+p.Addr+pushPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Scope-OrgID", tenant)
	if low {
		req.Header.Set(lowQuorumHeader, "1")
	}
	setAuth(req, r.token)
	resp, err := r.opts.Client.Do(req)
	if err != nil {
		// No answer: refused, or none within the push's deadline (the
		// context ends only then).
		if r.opts.Unreachable != nil {
			r.opts.Unreachable(p.Name)
		}
		return nil, fmt.Errorf("node %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	r.forwarded.WithLabelValues(p.Name).Add(float64(len(body)))
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil, nil
	case resp.StatusCode == http.StatusOK:
		var out pushAnswer
		if err := jsoniter.Unmarshal(msg, &out); err != nil {
			return nil, fmt.Errorf("node %s: bad answer to a push: %v", p.Name, err)
		}
		return out.Rejected, nil
	case resp.Header.Get(diskFullHeader) != "":
		return nil, fmt.Errorf("node %s: %w", p.Name, store.ErrDiskFull)
	default:
		return nil, fmt.Errorf("node %s answered %s: %s", p.Name, resp.Status, strings.TrimSpace(string(msg)))
	}
}

// rejectedEntry is a store.Rejected as it crosses the wire.
type rejectedEntry struct {
	Stream  string `json:"stream"`
	T       int64  `json:"t"`
	Reason  string `json:"reason"`
	Expired bool   `json:"expired,omitempty"`
}

// pushAnswer is the body of a 200 answer to an internal push: what the
// node's store refused.
type pushAnswer struct {
	Rejected []rejectedEntry `json:"rejected"`
}

func rejectedText(rs []store.Rejected) []rejectedEntry {
	if len(rs) == 0 {
		return nil
	}
	out := make([]rejectedEntry, len(rs))
	for i, r := range rs {
		out[i] = rejectedEntry{Stream: r.Stream.String(), T: r.T, Reason: r.Reason, Expired: r.Expired}
	}
	return out
}

// nodeResult is what one owner answered.
type nodeResult struct {
	rejected []rejectedEntry
	err      error
}

// tracker counts, for every stream of a push, the owners that stored it
// and those that failed, and signals done once every stream has its
// quorum or one stream cannot get it any more.
type tracker struct {
	mu          sync.Mutex
	need, spare []uint8 // per stream: acknowledgements needed, failures allowed
	acks, fails []uint8
	first       []int16 // per stream: the node whose rejections are reported
	nodes       []nodeResult
	pending     int
	failed      bool
	closed      bool
	done        chan struct{}
	impossible  error // set by place: nothing can be written
	low         bool  // set by place: a stream has fewer owners than RF
}

func newTracker(n int) *tracker {
	t := &tracker{need: make([]uint8, n), spare: make([]uint8, n), acks: make([]uint8, n), fails: make([]uint8, n),
		first: make([]int16, n), pending: n, done: make(chan struct{})}
	for i := range t.first {
		t.first[i] = -1
	}
	return t
}

// report records node's answer for its streams.
func (t *tracker) report(node int, streams []int, rej []rejectedEntry, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.nodes[node] = nodeResult{rejected: rej, err: err}
	for _, si := range streams {
		if err != nil {
			t.fails[si]++
			if t.fails[si] > t.spare[si] {
				t.failed = true
			}
			continue
		}
		if t.first[si] < 0 {
			t.first[si] = int16(node)
		}
		t.acks[si]++
		if t.acks[si] == t.need[si] {
			t.pending--
		}
	}
	if t.pending == 0 || t.failed {
		t.closed = true
		close(t.done)
	}
}

// failedNodes returns the nodes that failed or refused part of the push,
// of those that answered before it was done.
func (t *tracker) failedNodes() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for i, n := range t.nodes {
		if n.err != nil || len(n.rejected) > 0 {
			out = append(out, i)
		}
	}
	return out
}

// err is the push's error once done: nil when every stream has its quorum.
func (t *tracker) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.failed {
		return nil
	}
	var msgs []string
	full := true
	for _, n := range t.nodes {
		if n.err != nil {
			msgs = append(msgs, n.err.Error())
			full = full && errors.Is(n.err, store.ErrDiskFull)
		}
	}
	if full {
		return fmt.Errorf("%w: %s", store.ErrDiskFull, strings.Join(msgs, "; "))
	}
	return fmt.Errorf("%w: a quorum of the owners of a stream could not store the push: %s", ErrUnavailable, strings.Join(msgs, "; "))
}

// rejected is what the first owner to store each stream refused of it.
func (t *tracker) rejected(streams []store.Stream) []store.Rejected {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []store.Rejected
	var index map[string]int
	for ni, n := range t.nodes {
		for _, r := range n.rejected {
			if index == nil {
				index = make(map[string]int, len(streams))
				for si, s := range streams {
					index[s.Labels.String()] = si
				}
			}
			si, ok := index[r.Stream]
			if !ok || t.first[si] != int16(ni) {
				continue
			}
			out = append(out, store.Rejected{Stream: streams[si].Labels, T: r.T, Reason: r.Reason, Expired: r.Expired})
		}
	}
	return out
}
