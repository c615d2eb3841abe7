package overrides

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReloadPeriod is how often the runtime configuration file is read
// again, as in Loki.
const DefaultReloadPeriod = 10 * time.Second

// Config says where the per-tenant overrides come from.
type Config struct {
	// File is the runtime configuration file; "" for none: every tenant
	// then has the defaults.
	File string
	// ReloadPeriod is how often Run reads File again; 0 is
	// DefaultReloadPeriod.
	ReloadPeriod time.Duration
	Logger       *slog.Logger // nil: slog.Default()
	Metrics      *Metrics     // nil: not exported
}

// Overrides answers the settings of each tenant. For, Defaults and Tenants
// are safe for concurrent use and cheap (an atomic load and a map lookup,
// no lock): the distributor and the store call them for every push and
// every stream. A reload swaps in a new immutable set of settings; a
// caller holding a *Limits keeps a consistent snapshot.
type Overrides struct {
	defaults *Limits
	cur      atomic.Pointer[tenantSet]

	cfg     Config
	log     *slog.Logger
	metrics *Metrics

	// Reload state, guarded by reloadMu: Run and explicit Reload calls may
	// overlap.
	reloadMu sync.Mutex
	lastSeen [32]byte // hash of the content last parsed, good or bad
	seen     bool     // lastSeen is set
	loaded   bool     // a file was read successfully at least once
	lastErr  error    // of the content lastSeen, or of the last read
}

// tenantSet is one parsed runtime configuration file. Never modified once
// published.
type tenantSet struct {
	limits map[string]*Limits
	names  []string // sorted
}

// New returns the Overrides of defaults and, when cfg.File is set, of the
// file. A file that is missing or empty names no tenant (and is logged); a
// file that does not parse or validate is an error, as are defaults that
// do not validate.
func New(defaults Limits, cfg Config) (*Overrides, error) {
	d := defaults.clone()
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if cfg.ReloadPeriod <= 0 {
		cfg.ReloadPeriod = DefaultReloadPeriod
	}
	o := &Overrides{defaults: &d, cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics}
	if o.log == nil {
		o.log = slog.Default()
	}
	o.cur.Store(&tenantSet{limits: map[string]*Limits{}})
	o.metrics.setSuccess(true)
	if cfg.File == "" {
		return o, nil
	}
	if err := o.load(true); err != nil {
		return nil, err
	}
	return o, nil
}

// For returns the settings of tenant: its overrides over the defaults, or
// the defaults. Never nil. The result is shared: do not modify it.
func (o *Overrides) For(tenant string) *Limits {
	if l, ok := o.cur.Load().limits[tenant]; ok {
		return l
	}
	return o.defaults
}

// Defaults returns the settings of a tenant the runtime configuration
// file does not name. Do not modify the result.
func (o *Overrides) Defaults() *Limits { return o.defaults }

// Tenants returns the tenants the runtime configuration file names, sorted.
// The caller may keep the slice but not modify it.
func (o *Overrides) Tenants() []string { return o.cur.Load().names }

func (o *Overrides) publish(m map[string]*Limits) {
	names := make([]string, 0, len(m))
	for t := range m {
		names = append(names, t)
	}
	sort.Strings(names)
	o.cur.Store(&tenantSet{limits: m, names: names})
}
