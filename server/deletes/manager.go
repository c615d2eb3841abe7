package deletes

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/store"
)

// ErrNotFound: the tenant has no request of that id (the API answers 404).
var ErrNotFound = errors.New("could not find delete request with given id")

// Options configure a Manager.
type Options struct {
	// Dir is the data directory; the requests are kept in Dir/FileName.
	Dir string
	// Delay is -retention.delete-delay: a request's lines leave the disk
	// once it is this old (0: at once). It is also Loki's
	// delete_request_cancel_period: until then a request may be cancelled
	// without force.
	Delay time.Duration
	// MaxInterval is Loki's delete_max_interval: a request with line
	// filters is purged in parts of at most this long, and max_interval may
	// not exceed it (negative: one part, no bound).
	MaxInterval time.Duration
	// RetryInterval is how long after a failed purge it is tried again.
	RetryInterval time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer // nil: no metrics
}

// DefaultOptions holds the defaults of MaxInterval and RetryInterval (zero
// fields take them) and of Delay (the flag's default).
var DefaultOptions = Options{
	Delay:         time.Hour,
	MaxInterval:   24 * time.Hour,
	RetryInterval: time.Minute,
}

// Manager keeps the delete requests of every tenant: it validates and
// stores them (Add, List, Cancel), gives the store the tombstones that hide
// their lines (Tombstones), and has the store purge them from disk once
// they are old enough (Start). All methods are safe for concurrent use.
type Manager struct {
	opts Options
	path string
	log  *slog.Logger
	m    *metrics
	now  func() time.Time

	// mu guards reqs, cancelled and the files; it is held while a file is
	// written.
	mu   sync.Mutex
	reqs []*request // in the order added
	// cancelled are the ids of requests cancelled, here or on another
	// node, and when (sync.go).
	cancelled  map[cancelKey]int64
	cancelPath string
	// tombs is rebuilt under mu on every change and read without a lock.
	tombs atomic.Pointer[map[string][]store.Tombstone]

	kick chan struct{} // wakes the loop: a request was added

	// The loop's lifetime (loop.go), guarded by loopMu.
	loopMu sync.Mutex
	cancel context.CancelFunc // nil: not running
	done   chan struct{}      // closed when the loop returns
	onPass func()             // tests: called after each pass of the loop
}

// request is a Request with its compiled query and the loop's state.
type request struct {
	Request
	sel      *selector
	interval int64 // part length in ms; 0: one part

	purging bool      // a purge of it is running: it cannot be cancelled
	retryAt time.Time // after a failed purge: not before then
}

func newRequest(r Request, sel *selector, interval int64) *request {
	return &request{Request: r, sel: sel, interval: interval}
}

// tombstone hides the request's lines in ms range [start, end].
func (r *request) tombstone(start, end int64) store.Tombstone {
	return store.Tombstone{Matchers: r.sel.matchers, Start: msToNs(start), End: msToNs(end), Line: r.sel.line}
}

// Open reads the requests kept in opts.Dir (creating it if needed). A file
// that cannot be read back is an error that says how to recover.
func Open(opts Options) (*Manager, error) {
	switch {
	case opts.MaxInterval == 0:
		opts.MaxInterval = DefaultOptions.MaxInterval
	case opts.MaxInterval < 0:
		opts.MaxInterval = 0
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultOptions.RetryInterval
	}
	if opts.Delay < 0 {
		return nil, fmt.Errorf("delete delay %s is negative", opts.Delay)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, path: filepath.Join(opts.Dir, FileName), log: opts.Logger,
		m: newMetrics(opts.Registerer), now: time.Now, kick: make(chan struct{}, 1)}
	reqs, err := load(m.path)
	if err != nil {
		return nil, err
	}
	m.reqs = reqs
	m.cancelPath = filepath.Join(opts.Dir, CancelledFileName)
	if m.cancelled, err = loadCancelled(m.cancelPath); err != nil {
		return nil, err
	}
	m.rebuild()
	return m, nil
}

// Add validates and stores a request of tenant, and hides its lines from
// every read at once. Errors are *BadRequestError for what the caller must
// fix; others are the disk's.
func (m *Manager) Add(tenant string, p Params) (Request, error) {
	now := m.now()
	s, err := parseParams(p, now, m.opts.MaxInterval)
	if err != nil {
		return Request{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := newRequest(Request{ID: m.newID(tenant), Tenant: tenant, Query: s.query, Start: s.start, End: s.end,
		CreatedAt: now.UnixMilli(), Shards: shardCount(s.start, s.end, s.interval)}, s.sel, s.interval)
	m.reqs = append(m.reqs, r)
	if err := m.saveLocked(); err != nil {
		m.reqs = m.reqs[:len(m.reqs)-1]
		return Request{}, err
	}
	m.rebuild()
	m.m.received.WithLabelValues(tenant).Inc()
	m.log.Info("delete request added", "tenant", tenant, "request_id", r.ID, "query", r.Query,
		"start", fmtMs(r.Start), "end", fmtMs(r.End), "parts", r.Shards, "purge_after", m.opts.Delay)
	select {
	case m.kick <- struct{}{}:
	default:
	}
	return r.Request, nil
}

// newID returns an id no request of tenant has: 8 hex digits, as Loki's.
func (m *Manager) newID(tenant string) string {
	for {
		var b [4]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		if _, gone := m.cancelled[cancelKey{tenant, id}]; m.find(tenant, id) < 0 && !gone {
			return id
		}
	}
}

func (m *Manager) find(tenant, id string) int {
	return slices.IndexFunc(m.reqs, func(r *request) bool { return r.Tenant == tenant && r.ID == id })
}

// ListParams are the optional parameters of the list, as sent.
type ListParams struct {
	// Start and End (RFC 3339 or Unix seconds, as Params') keep the requests
	// whose range overlaps theirs; both or neither.
	Start, End string
	// UnprocessedOnly keeps the requests not yet purged whole: those a
	// query must still filter (Loki's for_querytime_filtering=true).
	UnprocessedOnly bool
}

// List returns the requests of tenant, oldest first. Like Loki, it returns
// nil when the tenant has none and no range was given (Loki answers null
// then), an empty list when a range leaves none.
func (m *Manager) List(tenant string, p ListParams) ([]Request, error) {
	var from, through int64
	ranged := p.Start != "" && p.End != ""
	if ranged {
		now := m.now()
		var err error
		if from, err = parseTime(p.Start, now); err != nil {
			return nil, badRequest("invalid start time: require unix seconds or RFC3339 format")
		}
		if through, err = parseTime(p.End, now); err != nil {
			return nil, badRequest("invalid end time: require unix seconds or RFC3339 format")
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Request
	if ranged {
		out = []Request{}
	}
	for _, r := range m.reqs {
		if r.Tenant != tenant || (p.UnprocessedOnly && r.Processed()) {
			continue
		}
		if ranged && (r.Start > through || r.End < from) {
			continue
		}
		out = append(out, r.Request)
	}
	// Oldest first; requests of one millisecond in the order added.
	slices.SortStableFunc(out, func(a, b Request) int { return cmp.Compare(a.CreatedAt, b.CreatedAt) })
	return out, nil
}

// Cancel removes a request of tenant before it is purged, as Loki allows:
// without force, only while it is younger than the delete delay and no part
// of it is purged; never while a purge of it runs or once it is processed.
// Its lines show again at once. Errors: ErrNotFound, *BadRequestError, or
// the disk's.
func (m *Manager) Cancel(tenant, id string, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(tenant, id)
	if i < 0 {
		return ErrNotFound
	}
	r := m.reqs[i]
	if r.Processed() || r.purging {
		return badRequest("deletion of request which is in process or already processed is not allowed")
	}
	deadline := time.UnixMilli(r.CreatedAt).Add(m.opts.Delay)
	if (r.ShardsDone > 0 || deadline.Before(m.now())) && !force {
		return badRequest("Cancellation of partially completed delete request or delete request past the deadline of %s since its creation is not allowed. To force, use the ?force query parameter", m.opts.Delay)
	}
	old := m.reqs
	m.reqs = slices.Delete(slices.Clone(m.reqs), i, i+1)
	k := cancelKey{tenant, id}
	m.cancelled[k] = m.now().UnixMilli()
	if err := m.saveAllLocked(true); err != nil {
		m.reqs = old
		delete(m.cancelled, k)
		return err
	}
	m.rebuild()
	m.log.Info("delete request cancelled", "tenant", tenant, "request_id", id, "forced", force, "parts_purged", r.ShardsDone)
	return nil
}

// Tombstones returns what the store's reads hide for tenant: one tombstone
// per request not yet processed, over its whole range. Once a request is
// processed its lines are off the disk and, as in Loki (whose queriers
// filter with the requests not yet processed), it no longer hides lines:
// lines pushed later into its range show. Cheap and lock-free: the slice is
// built when requests change and must not be modified.
func (m *Manager) Tombstones(tenant string) []store.Tombstone {
	return (*m.tombs.Load())[tenant]
}

// rebuild recomputes the tombstones; the caller holds mu (or is Open).
func (m *Manager) rebuild() {
	t := map[string][]store.Tombstone{}
	pending := 0
	for _, r := range m.reqs {
		if r.Processed() {
			continue
		}
		pending++
		t[r.Tenant] = append(t[r.Tenant], r.tombstone(r.Start, r.End))
	}
	m.tombs.Store(&t)
	m.m.pending.Set(float64(pending))
}

// saveLocked writes the requests; the caller holds mu. A file in place but
// not synced counts as saved, with a warning.
func (m *Manager) saveLocked() error {
	err := save(m.path, m.reqs)
	if errors.Is(err, errNotDurable) {
		m.log.Warn("delete requests", "err", err)
		return nil
	}
	return err
}

func fmtMs(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }
