package deletes

import (
	"context"
	"time"

	"github.com/loam-logs/loam/server/store"
)

// PurgeResult is what one purge removed from the disk.
type PurgeResult = store.PurgeResult

// Purger removes deleted lines from the disk: the store.
type Purger interface {
	// PurgeDeleted removes every entry of tenant that t hides from
	// everything the store keeps (blocks, and whatever a restart would
	// read back), rewriting the blocks that hold them. Once it returns nil
	// the Manager stops hiding those entries, so none may be left. It is
	// idempotent: a purge run again after a failure or a crash removes
	// what is left. It returns early with ctx's error when ctx ends.
	PurgeDeleted(ctx context.Context, tenant string, t store.Tombstone) (PurgeResult, error)
}

// batchShards is how many parts of a request one purge covers (Loki's
// delete_batch_size): a request split finely is not purged one small
// range at a time.
const batchShards = 70

// maxWait bounds the loop's sleep, so that a jump of the clock delays a
// purge by a minute at most.
const maxWait = time.Minute

// Start runs the loop that has p purge the requests older than the delete
// delay, until Stop. A second Start while it runs does nothing.
func (m *Manager) Start(p Purger) {
	m.loopMu.Lock()
	defer m.loopMu.Unlock()
	if m.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan struct{})
	go m.loop(ctx, p, m.done)
}

// Stop ends the loop, cancelling a purge under way (it is run again after
// the next Start), and waits for it to return.
func (m *Manager) Stop() {
	m.loopMu.Lock()
	cancel, done := m.cancel, m.done
	m.cancel = nil
	m.loopMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (m *Manager) loop(ctx context.Context, p Purger, done chan struct{}) {
	defer close(done)
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	for {
		next := m.runDue(ctx, p)
		if m.onPass != nil {
			m.onPass()
		}
		wait := maxWait
		if !next.IsZero() {
			wait = min(wait, next.Sub(m.now()))
		}
		if wait <= 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		case <-timer.C:
		}
	}
}

// runDue purges what is due, one batch at a time, oldest request first. It
// returns when the next purge is due (zero: nothing is pending).
func (m *Manager) runDue(ctx context.Context, p Purger) time.Time {
	for ctx.Err() == nil {
		r, next := m.nextDue()
		if r == nil {
			return next
		}
		m.purge(ctx, p, r)
	}
	return time.Time{}
}

// nextDue returns the oldest request due for a purge, marked as being
// purged, or else when the next one is due.
func (m *Manager) nextDue() (*request, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var next time.Time
	for _, r := range m.reqs {
		if r.Processed() {
			continue
		}
		due := time.UnixMilli(r.CreatedAt).Add(m.opts.Delay)
		if r.retryAt.After(due) {
			due = r.retryAt
		}
		if !due.After(now) {
			r.purging = true
			return r, time.Time{}
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return nil, next
}

// purge has p remove the next batch of parts of r, then records it. On an
// error the batch is tried again after RetryInterval. r is marked as being
// purged, so that it is neither cancelled nor removed meanwhile.
func (m *Manager) purge(ctx context.Context, p Purger, r *request) {
	m.mu.Lock()
	from := r.ShardsDone
	to := min(from+batchShards, r.Shards)
	start, end := shardRange(r.Start, r.End, r.interval, from, to)
	t := r.tombstone(start, end)
	tenant, id := r.Tenant, r.ID
	m.mu.Unlock()

	res, err := p.PurgeDeleted(ctx, tenant, t)

	m.mu.Lock()
	defer m.mu.Unlock()
	r.purging = false
	if err != nil {
		r.retryAt = m.now().Add(m.opts.RetryInterval)
		if ctx.Err() == nil {
			m.m.failures.WithLabelValues(tenant).Inc()
			m.log.Error("purging a delete request failed; retrying later", "tenant", tenant, "request_id", id,
				"start", fmtMs(start), "end", fmtMs(end), "retry_in", m.opts.RetryInterval, "err", err)
		}
		return
	}
	r.ShardsDone = to
	if err := m.saveLocked(); err != nil {
		// The lines are gone but the progress is not recorded: purge the
		// batch again later (finding nothing) rather than lose track.
		r.ShardsDone = from
		r.retryAt = m.now().Add(m.opts.RetryInterval)
		m.log.Error("recording a purged delete request failed; retrying later", "tenant", tenant, "request_id", id, "err", err)
		return
	}
	r.retryAt = time.Time{}
	m.rebuild()
	m.log.Info("delete request purged", "tenant", tenant, "request_id", id,
		"start", fmtMs(start), "end", fmtMs(end), "bytes", res.Bytes, "lines", res.Lines, "status", r.Status())
	if r.Processed() {
		m.m.processed.WithLabelValues(tenant).Inc()
	}
}
