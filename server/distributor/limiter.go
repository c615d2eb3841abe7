package distributor

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loam-logs/loam/server/overrides"
)

// Strategy says how the rate and stream limits of a tenant are shared by
// the nodes of a cluster, every one of which takes pushes. The names and
// the meaning are Loki's -distributor.ingestion-rate-limit-strategy.
type Strategy string

const (
	// Local: every node enforces the whole limit on the pushes it
	// receives; a cluster of N nodes accepts up to N times the limit.
	Local Strategy = "local"
	// Global: every node enforces its share of the limit, the limit
	// divided by the number of healthy members, so that a cluster whose
	// clients spread their pushes over the nodes accepts about the limit.
	// The burst is not divided (as in Loki): it must hold the largest push.
	Global Strategy = "global"
)

// ParseStrategy reads a Strategy.
func ParseStrategy(s string) (Strategy, error) {
	switch Strategy(s) {
	case Local, Global:
		return Strategy(s), nil
	}
	return "", fmt.Errorf("unknown ingestion rate limit strategy %q: local or global", s)
}

// Members counts the healthy members of the cluster, this node included.
// It is asked at most once every membersRefresh; an answer below 1 counts
// as 1.
type Members interface {
	HealthyMembers() int
}

const (
	bytesPerMB = 1 << 20 // Loki's MB in ingestion_rate_mb

	// membersRefresh is how long a count of members is used: counting
	// walks the ring under its lock, too dear for every push.
	membersRefresh = time.Second

	// streamIdle is how long a stream stays active without a line, for
	// max_global_streams_per_user. Loki counts the streams of its
	// ingesters, which end when their chunk is flushed idle
	// (chunk_idle_period, 30m by default).
	streamIdle = 30 * time.Minute

	// sweepEvery is how often the idle streams of a tenant are dropped;
	// a tenant at its stream limit sweeps sooner, at most once a second,
	// before refusing a new stream.
	sweepEvery    = time.Minute
	sweepAtLimit  = time.Second
	minStreamKeep = time.Second // per_stream_rate_limit alone: keep a stream at least this long
)

// limiter holds the token buckets and active streams of every tenant.
// Safe for concurrent use: each tenant has its own lock, held for one
// push. A tenant's state lives as long as the limiter (one small struct
// per tenant); its streams are dropped once idle, so memory is bounded by
// the streams active within streamIdle (and, for a tenant with a stream
// limit, by that limit).
type limiter struct {
	strategy Strategy
	members  Members // nil: a single node

	share   atomic.Int64 // last count of members
	shareAt atomic.Int64 // unix ns it was taken

	tenants sync.Map // tenant → *tenantState
}

type tenantState struct {
	mu        sync.Mutex
	rate      bucket
	streams   map[uint64]*streamState // by labels.Labels.Hash
	lastSweep int64
}

type streamState struct {
	lastSeen int64
	rate     bucket
}

// divisor is the number of nodes a tenant's limits are shared by.
func (l *limiter) divisor(now int64) int64 {
	if l.strategy != Global || l.members == nil {
		return 1
	}
	if now-l.shareAt.Load() < int64(membersRefresh) {
		return l.share.Load()
	}
	n := int64(max(1, l.members.HealthyMembers()))
	l.share.Store(n)
	l.shareAt.Store(now)
	return n
}

func (l *limiter) tenant(name string) *tenantState {
	if t, ok := l.tenants.Load(name); ok {
		return t.(*tenantState)
	}
	t, _ := l.tenants.LoadOrStore(name, &tenantState{streams: map[uint64]*streamState{}})
	return t.(*tenantState)
}

// ingestionRate returns the rate in bytes per second this node allows the
// tenant, and its burst.
func ingestionRate(lim *overrides.Limits, share int64) (rate, burst float64) {
	return lim.IngestionRateMB * bytesPerMB / float64(share), lim.IngestionBurstSizeMB * bytesPerMB
}

// streamLimit is the number of active streams this node allows the
// tenant; 0 is none. Rounded up, so that a small limit shared by many
// nodes still admits a stream on each.
func streamLimit(lim *overrides.Limits, share int64) int {
	n := int64(lim.MaxGlobalStreamsPerUser)
	if n <= 0 {
		return 0
	}
	return int((n + share - 1) / share)
}

// allowPush takes bytes from the tenant's bucket and reports whether they
// were there.
func (t *tenantState) allowPush(now int64, bytes int, rate, burst float64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rate.allow(now, float64(bytes), rate, burst)
}

// admitStream checks a stream of a push against the tenant's stream
// limit (maxStreams, 0: none) and per-stream rate. The caller holds t.mu.
// It returns "" or the reason of the refusal.
func (t *tenantState) admitStream(now int64, hash uint64, bytes int, lim *overrides.Limits, maxStreams int) string {
	perStream := lim.PerStreamRateLimit > 0
	if maxStreams == 0 && !perStream {
		return ""
	}
	s, ok := t.streams[hash]
	if !ok {
		if maxStreams > 0 && len(t.streams) >= maxStreams {
			if now-t.lastSweep >= int64(sweepAtLimit) {
				t.sweep(now, lim, maxStreams)
			}
			if len(t.streams) >= maxStreams {
				return ReasonStreamLimit
			}
		}
		s = &streamState{}
		t.streams[hash] = s
	}
	s.lastSeen = now
	if perStream && !s.rate.allow(now, float64(bytes), float64(lim.PerStreamRateLimit), float64(lim.PerStreamRateLimitBurst)) {
		return ReasonPerStreamRate
	}
	return ""
}

// maybeSweep drops idle streams if the last sweep is sweepEvery old. The
// caller holds t.mu.
func (t *tenantState) maybeSweep(now int64, lim *overrides.Limits, maxStreams int) {
	if now-t.lastSweep >= int64(sweepEvery) {
		t.sweep(now, lim, maxStreams)
	}
}

// sweep drops the streams that no longer matter: with a stream limit,
// those idle for streamIdle; otherwise those whose rate bucket is full
// again, which are the same as new ones. The caller holds t.mu.
func (t *tenantState) sweep(now int64, lim *overrides.Limits, maxStreams int) {
	t.lastSweep = now
	rate, burst := float64(lim.PerStreamRateLimit), float64(lim.PerStreamRateLimitBurst)
	for h, s := range t.streams {
		idle := now - s.lastSeen
		switch {
		case maxStreams > 0:
			if idle < int64(streamIdle) {
				continue
			}
		case lim.PerStreamRateLimit > 0:
			if idle < int64(minStreamKeep) || !s.rate.full(now, rate, burst) {
				continue
			}
		}
		delete(t.streams, h)
	}
}
