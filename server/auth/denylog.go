package auth

import (
	"log/slog"
	"sync"
	"time"
)

// denyLogPerSecond is how many refusals are logged per second at most; a
// scan or a misconfigured client would otherwise fill the log.
const denyLogPerSecond = 5

// denyLog writes WARN lines at most perSecond a second (a token bucket of
// that size), and says how many it suppressed on the next line it writes.
// Safe for concurrent use.
type denyLog struct {
	log       *slog.Logger
	perSecond float64
	now       func() time.Time

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

func newDenyLog(log *slog.Logger, perSecond int) *denyLog {
	return &denyLog{log: log, perSecond: float64(perSecond), tokens: float64(perSecond), now: time.Now}
}

func (d *denyLog) warn(msg string, args ...any) {
	d.mu.Lock()
	now := d.now()
	if !d.last.IsZero() {
		d.tokens = min(d.perSecond, d.tokens+now.Sub(d.last).Seconds()*d.perSecond)
	}
	d.last = now
	if d.tokens < 1 {
		d.suppressed++
		d.mu.Unlock()
		return
	}
	d.tokens--
	n := d.suppressed
	d.suppressed = 0
	d.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed_since_last", n)
	}
	d.log.Warn(msg, args...)
}
