package fanout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Reader is what a replica answers, and what a Fanout answers in turn: the
// method set of api.Reader, with the contracts of the store's methods of
// the same names, and the order contract of the package comment.
type Reader interface {
	Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error)
	Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error
	Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error
	LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error)
	LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error)
	Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error
	Subscribe(tenant string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error)
	Subscribers(tenant string) int
}

// Replica is one of the readers a Fanout merges.
type Replica struct {
	Name   string // names it in errors, as a node name
	Reader Reader
	// Healthy, when set, is asked at the start of every read: a replica
	// that is not healthy is not called and counts as missing.
	Healthy func() bool
	// Streams, when set, is put in the SelectParams of the replica's
	// Select and Timestamps: the part of a read split among replicas that
	// it reads (see cluster.Share).
	Streams store.StreamFilter
}

// params are p as replica i is asked them.
func (f *Fanout) params(i int, p store.SelectParams) store.SelectParams {
	if s := f.rs[i].Streams; s != nil {
		p.Streams = s
	}
	return p
}

// Config sets how a Fanout reads.
type Config struct {
	// MaxMissing is how many replicas a read may do without: unhealthy,
	// failing when called, or failing midway through an answer. A read
	// missing more fails with an error wrapping ErrUnavailable. A cluster
	// sets it to its replication factor less its quorum.
	MaxMissing int
	// Missing, when set, is told of every replica a read does without, and
	// why (for a metric); it is called from the read's goroutines.
	Missing func(replica string, err error)
	// Disjoint says that no stream is read from more than one replica (a
	// split read from one owner per stream, cluster.Disjoint): Timestamps
	// with a line filter then asks the replicas for timestamps alone, not
	// line hashes, which they can count without reading lines. A stream
	// that comes from several replicas all the same is merged as one
	// without a line filter is.
	Disjoint bool
}

// ErrUnavailable is wrapped by the error of a read that misses more
// replicas than Config.MaxMissing allows; its message names them and why.
var ErrUnavailable = errors.New("too many replicas unavailable")

// errUnhealthy is why an unhealthy replica is not asked.
var errUnhealthy = errors.New("unhealthy")

// Fanout is a Reader over several replicas, each holding some or all of the
// data, that answers as one reader holding their union would (see the
// package comment). It holds no state between calls but the replicas: it
// is cheap to make per request, and safe for concurrent use as long as the
// replicas are.
type Fanout struct {
	cfg Config
	rs  []Replica
}

// New returns a Fanout over rs, which it does not copy.
func New(cfg Config, rs []Replica) *Fanout {
	return &Fanout{cfg: cfg, rs: rs}
}

var _ Reader = (*Fanout)(nil)

// account counts the replicas one read misses. It is safe for concurrent
// use.
type account struct {
	f       *Fanout
	mu      sync.Mutex
	missing []string // "name: why"
}

// start returns the replicas a read asks, and its account, in which the
// unhealthy ones already count; an error if they are too many already.
func (f *Fanout) start() ([]int, *account, error) {
	a := &account{f: f}
	ask := make([]int, 0, len(f.rs))
	for i, r := range f.rs {
		if r.Healthy != nil && !r.Healthy() {
			a.missing = append(a.missing, r.Name+": unhealthy")
			if f.cfg.Missing != nil {
				f.cfg.Missing(r.Name, errUnhealthy)
			}
			continue
		}
		ask = append(ask, i)
	}
	if len(a.missing) > f.cfg.MaxMissing {
		return nil, nil, a.errorLocked()
	}
	return ask, a, nil
}

// fail counts replica i as missing for err. It returns nil while the read
// may go on without it; otherwise the error to end the read with: that of
// ctx when the caller's context has ended (the replica failed because the
// read was abandoned, not because it is down), else one wrapping
// ErrUnavailable.
func (a *account) fail(ctx context.Context, i int, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if a.f.cfg.Missing != nil {
		a.f.cfg.Missing(a.f.rs[i].Name, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.missing = append(a.missing, a.f.rs[i].Name+": "+err.Error())
	if len(a.missing) > a.f.cfg.MaxMissing {
		return a.errorLocked()
	}
	return nil
}

func (a *account) errorLocked() error {
	return fmt.Errorf("%w: %d of %d replicas missing, at most %d may be: %s",
		ErrUnavailable, len(a.missing), len(a.f.rs), a.f.cfg.MaxMissing, strings.Join(a.missing, "; "))
}

// each calls fn for every replica to ask, in parallel, and applies the
// failure policy to the errors. ok[i] reports whether replica i answered.
func (f *Fanout) each(ctx context.Context, fn func(i int, r Reader) error) (ok []bool, err error) {
	ask, acc, err := f.start()
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(f.rs))
	if len(ask) == 1 {
		errs[ask[0]] = fn(ask[0], f.rs[ask[0]].Reader)
	} else {
		var wg sync.WaitGroup
		for _, i := range ask {
			wg.Go(func() { errs[i] = fn(i, f.rs[i].Reader) })
		}
		wg.Wait()
	}
	ok = make([]bool, len(f.rs))
	for _, i := range ask {
		if errs[i] != nil {
			if err := acc.fail(ctx, i, errs[i]); err != nil {
				return nil, err
			}
			continue
		}
		ok[i] = true
	}
	return ok, nil
}
