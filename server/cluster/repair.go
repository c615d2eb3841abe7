package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Repair is anti-entropy between replicas. Every pass, this node compares,
// for each tenant and each healthy peer, the digests (count and timestamp
// sum, per stream and hour) of the streams the peer owns with the peer's;
// where they differ, the two exchange their timestamps of that hour and
// each sends the other the entries it lacks. Both directions are repaired
// by one side's pass, so a node that comes back catches up with its first
// pass, and its peers' passes cover it too.
//
// Why anti-entropy and not hinted handoff: a hint lives on one node, which
// may die before it hands it over, and a node's disk may be lost outright;
// comparing replicas repairs whatever the cause, with one mechanism, and
// the same pass moves data to new owners when a node joins or leaves.

// RepairStore is the local storage repair reads and restores into:
// *store.Store.
type RepairStore interface {
	Tenants() []string
	Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error
	Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error)
	Restore(tenant string, streams []store.Stream) ([]store.Rejected, error)
}

// RepairRing is the membership a repair pass reads.
type RepairRing interface {
	Ring
	// Peers returns the members other than this node that may own data
	// (joining or active), healthy or not.
	Peers() []Peer
}

// RepairOptions configure a Repairer.
type RepairOptions struct {
	Self     string
	Secret   []byte
	Interval time.Duration // between passes (-ring.repair-interval)
	Window   time.Duration // how far back a periodic pass compares
	// FirstWindow is how far back the passes compare until one has done
	// so without failure: a node that was away longer than Window, or lost
	// its volume, has more to catch up with (zero: Window).
	FirstWindow time.Duration
	Scheme      string
	Client      *http.Client
	Now         func() time.Time
	// Done, when set, is told of every pass that compared every peer and
	// tenant without failure: when it began, with how many peers, and how
	// many streams with entries in the pass' window this node holds
	// without owning them (the ring moved them elsewhere).
	Done func(begin time.Time, peers, foreign int)
}

// Repairer runs repair passes. Pass may be called from several goroutines;
// passes run one at a time.
type Repairer struct {
	opts  RepairOptions
	ring  RepairRing
	st    RepairStore
	log   *slog.Logger
	token string
	kick  chan struct{}
	pass  chan struct{} // a token: one pass at a time
	// caughtUp is set once a pass compared FirstWindow without failure.
	caughtUp atomic.Bool

	passes   *prometheus.CounterVec
	sent     prometheus.Counter
	restored prometheus.Counter
	lastOK   prometheus.Gauge
}

// NewRepairer returns a Repairer; reg may be nil.
func NewRepairer(opts RepairOptions, r RepairRing, st RepairStore, log *slog.Logger, reg prometheus.Registerer) *Repairer {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Minute
	}
	if opts.Window <= 0 {
		opts.Window = 24 * time.Hour
	}
	opts.FirstWindow = max(opts.FirstWindow, opts.Window)
	if opts.Scheme == "" {
		opts.Scheme = "http"
	}
	if opts.Client == nil {
		opts.Client = newClient()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rp := &Repairer{opts: opts, ring: r, st: st, log: log, token: authToken(opts.Secret),
		kick: make(chan struct{}, 1), pass: make(chan struct{}, 1),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_repair_passes_total",
			Help: "Repair passes, by result (ok: every peer compared; partial: some could not be)."}, []string{"result"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "loam_repair_entries_sent_total",
			Help: "Entries this node sent to replicas that lacked them."}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{Name: "loam_repair_entries_restored_total",
			Help: "Entries this node lacked and stored from another replica."}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loam_repair_last_success_timestamp_seconds",
			Help: "When the last repair pass that compared every peer ended."}),
	}
	rp.pass <- struct{}{}
	if reg != nil {
		reg.MustRegister(rp.passes, rp.sent, rp.restored, rp.lastOK)
	}
	return rp
}

// CaughtUp reports whether a pass compared FirstWindow without failure.
func (r *Repairer) CaughtUp() bool { return r.caughtUp.Load() }

// Window is how far back a periodic pass compares.
func (r *Repairer) Window() time.Duration { return r.opts.Window }

// Kick asks for a pass soon: a member came back or the ring changed.
func (r *Repairer) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run makes a pass every Interval, and soon after a Kick, until ctx ends.
// The first pass runs after settle, once gossip has found the peers.
func (r *Repairer) Run(ctx context.Context, settle time.Duration) {
	timer := time.NewTimer(settle)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
			// Let the ring settle: a returning node announces itself
			// before it answers.
			select {
			case <-ctx.Done():
				return
			case <-time.After(settle):
			}
		case <-timer.C:
		}
		window := r.opts.Window
		if !r.caughtUp.Load() {
			window = r.opts.FirstWindow
		}
		if r.Pass(ctx, r.opts.Now().Add(-window).UnixNano()) == nil {
			r.caughtUp.Store(true)
		}
		timer.Reset(r.opts.Interval)
	}
}

// Pass compares every tenant's data since from with every healthy peer
// and exchanges what either lacks. It returns an error when some peer or
// tenant could not be compared (the rest was).
func (r *Repairer) Pass(ctx context.Context, from int64) error {
	select {
	case <-r.pass:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { r.pass <- struct{}{} }()
	begin := time.Now()
	// Entries of any time to come: pushes may be stamped a little ahead
	// (creation_grace_period), and a read from one owner counts on every
	// entry a pass could see having been compared.
	to := int64(math.MaxInt64)
	var failed []string
	var sent, restored, foreign int
	// Each tenant's digests are computed once per pass, for all peers.
	type tenantDigests struct {
		ds    map[digestKey]digest
		names map[uint64]string
	}
	cache := map[string]*tenantDigests{}
	peers := r.ring.Peers()
	for _, p := range peers {
		if !r.ring.Healthy(p.Name) {
			failed = append(failed, p.Name+": down")
			continue
		}
		tenants, err := r.peerTenants(ctx, p)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		for _, tenant := range union(r.st.Tenants(), tenants) {
			td := cache[tenant]
			if td == nil {
				ds, names, err := digestsOf(ctx, r.st, tenant, from, to)
				if err != nil {
					failed = append(failed, fmt.Sprintf("tenant %s: %v", tenant, err))
					continue
				}
				td = &tenantDigests{ds, names}
				cache[tenant] = td
				foreign += notOwned(r.ring, tenant, r.opts.Self, names)
			}
			s, rs, err := r.reconcile(ctx, p, tenant, from, to, ownedBy(r.ring, tenant, p.Name, td.ds, td.names), td.names)
			sent += s
			restored += rs
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s, tenant %s: %v", p.Name, tenant, err))
			}
		}
	}
	result := "ok"
	if len(failed) > 0 {
		result = "partial"
	}
	// Counted before Done publishes the pass to readers: whoever sees a
	// read that relied on this pass sees the pass counted too.
	r.passes.WithLabelValues(result).Inc()
	if len(failed) == 0 {
		r.lastOK.SetToCurrentTime()
		if r.opts.Done != nil {
			r.opts.Done(begin, len(peers), foreign)
		}
	}
	level := slog.LevelDebug
	if sent+restored > 0 || len(failed) > 0 {
		level = slog.LevelInfo
	}
	r.log.Log(ctx, level, "repair pass", "since", time.Unix(0, from).UTC(), "entries_sent", sent,
		"entries_restored", restored, "failed", strings.Join(failed, "; "), "duration", time.Since(begin).Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("repair: %s", strings.Join(failed, "; "))
	}
	return nil
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// reconcile repairs one tenant's data in [from, to) between this node and
// peer p, in both directions, for the streams both own.
func (r *Repairer) reconcile(ctx context.Context, p Peer, tenant string, from, to int64, mine map[digestKey]digest, names map[uint64]string) (sent, restored int, err error) {
	q := url.Values{"tenant": {tenant}, "from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}, "node": {r.opts.Self}}
	body, err := r.call(ctx, p, repairDigestsPath, q, appendDigests(nil, mine))
	if err != nil {
		return 0, 0, err
	}
	theirs, err := decodeDiffs(body)
	if err != nil {
		return 0, 0, fmt.Errorf("digests answer: %w", err)
	}
	for _, d := range theirs {
		text := d.labels
		if text == "" {
			text = names[d.stream] // the peer lacks the stream
		}
		ls, err := labels.Parse(text)
		if err != nil {
			return sent, restored, fmt.Errorf("digests answer: stream %q: %v", text, err)
		}
		lo, hi := d.hour*int64(time.Hour), (d.hour+1)*int64(time.Hour)
		lo, hi = max(lo, from), min(hi, to)
		have, err := entriesOf(ctx, r.st, tenant, ls, lo, hi, nil)
		if err != nil {
			return sent, restored, err
		}
		give, want := excess(have, d.ts)
		if len(give) > 0 {
			if _, err := r.call(ctx, p, repairPushPath, url.Values{"tenant": {tenant}},
				snappy.Encode(nil, encodeStream(ls, give))); err != nil {
				return sent, restored, err
			}
			sent += len(give)
			r.sent.Add(float64(len(give)))
		}
		if len(want) > 0 {
			got, err := r.fetch(ctx, p, tenant, text, want)
			if err != nil {
				return sent, restored, err
			}
			n, err := restore(ctx, r.st, tenant, got)
			if err != nil {
				return sent, restored, err
			}
			restored += n
			r.restored.Add(float64(n))
		}
	}
	return sent, restored, nil
}

// digestsOf sums up the entries of tenant in [from, to), by stream and
// hour, with the label text of each stream.
func digestsOf(ctx context.Context, st RepairStore, tenant string, from, to int64) (map[digestKey]digest, map[uint64]string, error) {
	ds := map[digestKey]digest{}
	names := map[uint64]string{}
	err := st.Timestamps(ctx, store.SelectParams{Tenant: tenant, Start: from, End: to}, nil,
		func(ls, _ labels.Labels, ts []int64) {
			h := ls.Hash()
			if _, ok := names[h]; !ok {
				names[h] = ls.String()
			}
			for len(ts) > 0 {
				hour := floorDiv(ts[0], int64(time.Hour))
				n, _ := slices.BinarySearch(ts, (hour+1)*int64(time.Hour))
				k := digestKey{stream: h, hour: hour}
				d := ds[k]
				d.add(ts[:n])
				ds[k] = d
				ts = ts[n:]
			}
		})
	return ds, names, err
}

// ownedBy keeps the digests of the streams node owns.
func ownedBy(ring Ring, tenant, node string, ds map[digestKey]digest, names map[uint64]string) map[digestKey]digest {
	owns := make(map[uint64]bool, len(names))
	var owners []Peer
	for h, text := range names {
		owners = ring.Owners(ring.StreamKey(tenant, text), owners[:0])
		owns[h] = slices.ContainsFunc(owners, func(o Peer) bool { return o.Name == node })
	}
	out := make(map[digestKey]digest, len(ds))
	for k, d := range ds {
		if owns[k.stream] {
			out[k] = d
		}
	}
	return out
}

// notOwned returns how many of the streams named in names node does not
// own.
func notOwned(ring Ring, tenant, node string, names map[uint64]string) int {
	n := 0
	var owners []Peer
	for _, text := range names {
		owners = ring.Owners(ring.StreamKey(tenant, text), owners[:0])
		if !slices.ContainsFunc(owners, func(o Peer) bool { return o.Name == node }) {
			n++
		}
	}
	return n
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// excess compares the entries this node holds in a stream's hour with the
// timestamps the peer holds there: give are the entries the peer lacks
// (every entry at a timestamp where this node holds more), want the
// timestamps where the peer holds more.
func excess(have []entry, theirs []int64) (give []entry, want []int64) {
	mine := make(map[int64]int, len(have))
	for _, e := range have {
		mine[e.T]++
	}
	peer := make(map[int64]int, len(theirs))
	for _, t := range theirs {
		peer[t]++
	}
	for _, e := range have {
		if mine[e.T] > peer[e.T] {
			give = append(give, e)
		}
	}
	for t, n := range peer {
		if n > mine[t] {
			want = append(want, t)
		}
	}
	slices.Sort(want)
	return give, want
}

// fetch asks p for its entries of a stream at the given timestamps.
func (r *Repairer) fetch(ctx context.Context, p Peer, tenant, ls string, ts []int64) ([]store.Stream, error) {
	body, err := r.call(ctx, p, repairFetchPath, url.Values{"tenant": {tenant}},
		appendTimes(appendString(nil, ls), ts))
	if err != nil {
		return nil, err
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("fetch answer: %v", err)
	}
	return decodePushed(raw)
}

// peerTenants asks p which tenants it holds.
func (r *Repairer) peerTenants(ctx context.Context, p Peer) ([]string, error) {
	body, err := r.call(ctx, p, repairTenantsPath, nil, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for t := range strings.SplitSeq(strings.TrimSpace(string(body)), "\n") {
		if t != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// call posts body to a repair endpoint of p and returns the answer.
func (r *Repairer) call(ctx context.Context, p Peer, path string, q url.Values, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u := r.opts.Scheme + "://" + p.Addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	out, err := callNode(ctx, r.opts.Client, http.MethodPost, u, r.token, body, 1<<30)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// callNode makes a call to another node's internal endpoint u with the
// cluster token and returns its answer, at most limit bytes of it; an
// answer other than 2xx is an error with its status and message.
func callNode(ctx context.Context, client *http.Client, method, u, token string, body []byte, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	setAuth(req, token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(out)))
	}
	return out, nil
}
