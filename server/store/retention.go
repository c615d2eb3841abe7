package store

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// Retention, the removal side. Reads hide what is past retention the moment
// it expires (policy.go); a loop removes it from disk, every
// RetentionInterval:
//
//   - age: a block whose every entry is older than its tenant's longest
//     retention is removed. A cold day is kept as one block per hour, so
//     data leaves the disk within minutes of the end of its hour expiring,
//     and an expired day leaves whole;
//   - stream: a block holding streams whose own, shorter retention has
//     passed for all their entries there is rewritten without them;
//   - size: past the byte budget (MaxBytes of blocks and WAL) or the disk
//     budget (MaxDiskUsage percent of the filesystem), the oldest blocks of
//     all tenants go first, about an hour of data or 5% of the budget at a
//     step, whichever is more; never a block holding an entry younger than
//     MinAge.
//
// Removal needs no free space: it unlinks files. Rewrites (stream rules,
// deletes) need room for the new block and are retried when it is missing.

// RetentionOptions configure the removal of old data.
type RetentionOptions struct {
	// Interval between passes (DefaultRetentionOptions.Interval when 0).
	Interval time.Duration
	// MinAge: a size purge never removes data younger than this.
	MinAge time.Duration
	// MaxDiskUsage is the percentage of the data directory's filesystem
	// past which the oldest data is purged (0: no such budget).
	MaxDiskUsage float64
	// MaxBytes is a budget for blocks and WAL (0: none).
	MaxBytes int64
}

// DefaultRetentionOptions are the defaults of the loam flags.
var DefaultRetentionOptions = RetentionOptions{Interval: time.Minute, MinAge: 24 * time.Hour, MaxDiskUsage: 90}

// Purge reasons, as metric label values.
const (
	ReasonAge    = "age"
	ReasonStream = "stream"
	ReasonSize   = "size"
	ReasonDelete = "delete"
)

// retentionLoop runs the passes until the store closes.
func (s *Store) retentionLoop() {
	defer func() { s.compactDone <- struct{}{} }()
	every := s.opts.RetentionOptions.Interval
	if every <= 0 {
		every = DefaultRetentionOptions.Interval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.retentionKick:
		}
		if err := s.ApplyRetention(s.stopCtx); err != nil && s.stopCtx.Err() == nil {
			s.log.Error("retention pass failed; will retry", "err", err)
		}
	}
}

// kickRetention asks for a pass now, as when the disk is full.
func (s *Store) kickRetention() {
	select {
	case s.retentionKick <- struct{}{}:
	default:
	}
}

// ApplyRetention runs one pass of removal: age, stream rules, then size.
func (s *Store) ApplyRetention(ctx context.Context) error {
	s.retentionMu.Lock()
	defer s.retentionMu.Unlock()
	now := s.now()
	if s.opts.Retention != nil {
		if err := s.purgeByAge(ctx, now); err != nil {
			return err
		}
	}
	err := s.purgeBySize(ctx, now)
	s.updateOldest()
	// Whatever was freed may end a full disk: let a held-back flush retry.
	s.recheckDisk()
	return err
}

// partRef names a partition of a tenant.
type partRef struct{ tenant, day string }

// claim marks a partition busy, so that no compaction merges blocks a pass
// removes; false when a compaction holds it.
func (s *Store) claim(r partRef) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[r.tenant][r.day]
	if p == nil || p.busy {
		return false
	}
	p.busy = true
	return true
}

// claimWait claims a partition, waiting while a compaction holds it; false
// when the partition is gone.
func (s *Store) claimWait(ctx context.Context, r partRef) (bool, error) {
	for !s.claim(r) {
		if s.blocksOf(r) == nil {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true, nil
}

func (s *Store) unclaim(r partRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.parts[r.tenant][r.day]; p != nil {
		p.busy = false
	}
}

// partitions lists the partitions with their blocks, oldest day first.
func (s *Store) partitions() []partRef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []partRef
	for tenant, ps := range s.parts {
		for day := range ps {
			out = append(out, partRef{tenant, day})
		}
	}
	slices.SortFunc(out, func(a, b partRef) int {
		if a.day != b.day {
			return compareStr(a.day, b.day)
		}
		return compareStr(a.tenant, b.tenant)
	})
	return out
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// blocksOf returns the blocks of a partition, for their metadata only:
// reading one takes acquired.
func (s *Store) blocksOf(r partRef) []*blockHandle {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.parts[r.tenant][r.day]; p != nil {
		return slices.Clone(p.blocks)
	}
	return nil
}

// acquired returns the blocks of a partition, acquired for reading; the
// caller gives them back with releaseAll.
func (s *Store) acquired(r partRef) []*blockHandle {
	return s.acquireBlocks(r.tenant, r.day, nil)
}

func releaseAll(hs []*blockHandle) {
	for _, h := range hs {
		h.release()
	}
}

// linesOf counts the entries of a block; 0 if it cannot be read.
func linesOf(b *blockHandle) int64 {
	rd, err := b.reader()
	if err != nil {
		return 0
	}
	var n int64
	for it := rd.Iter(); it.Next(); {
		for i := range it.At().Chunks {
			n += int64(it.At().Chunks[i].Count)
		}
	}
	return n
}

// purgeByAge removes or rewrites what retention has passed.
func (s *Store) purgeByAge(ctx context.Context, now time.Time) error {
	for _, r := range s.partitions() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !s.claim(r) {
			continue
		}
		err := s.purgePartitionByAge(ctx, r, now)
		s.unclaim(r)
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) purgePartitionByAge(ctx context.Context, r partRef, now time.Time) error {
	maxRet := s.opts.Retention.MaxRetention(r.tenant)
	minRet := s.opts.Retention.MinRetention(r.tenant)
	var expired []*blockHandle
	hs := s.acquired(r)
	defer releaseAll(hs)
	for _, b := range hs {
		if maxRet > 0 && b.meta.MaxT < now.Add(-maxRet).UnixNano() {
			expired = append(expired, b)
			continue
		}
		// Streams whose own retention is shorter and has passed for all
		// their entries in this block are written out of it.
		if minRet > 0 && b.meta.MinT < now.Add(-minRet).UnixNano() {
			if err := s.purgeStreams(ctx, r, b, now); err != nil {
				return err
			}
		}
	}
	if len(expired) > 0 {
		s.removeAndCount(r, expired, ReasonAge)
	}
	return nil
}

// purgeStreams rewrites block b (acquired by the caller) without the
// streams whose retention has passed for every entry they have in it.
func (s *Store) purgeStreams(ctx context.Context, r partRef, b *blockHandle, now time.Time) error {
	rd, err := b.reader()
	if err != nil {
		return nil // reads report unreadable blocks; nothing to purge here
	}
	gone := map[string]bool{}
	streams := 0
	it := rd.Iter()
	for ; it.Next(); streams++ {
		sm := it.At()
		period := s.opts.Retention.StreamRetention(r.tenant, sm.Labels)
		if period <= 0 || len(sm.Chunks) == 0 {
			continue
		}
		if maxChunkT(sm.Chunks) < now.Add(-period).UnixNano() {
			gone[sm.Labels.String()] = true
		}
	}
	if it.Err() != nil || len(gone) == 0 {
		return nil
	}
	if len(gone) == streams {
		s.removeAndCount(r, []*blockHandle{b}, ReasonStream)
		return nil
	}
	_, err = s.rewrite(ctx, r, b, func(ls labels.Labels, _ *block.Entry) bool { return gone[ls.String()] }, ReasonStream)
	return err
}

func maxChunkT(cs []block.ChunkMeta) int64 {
	m := int64(-1 << 63)
	for i := range cs {
		m = max(m, cs[i].MaxT)
	}
	return m
}

// removed is what a removal or a rewrite took from disk.
type removed struct {
	bytes, lines int64
	from, to     int64
}

// removeAndCount removes whole blocks of a partition (acquired by the
// caller), reports it and returns the bytes removed.
func (s *Store) removeAndCount(r partRef, bs []*blockHandle, reason string) int64 {
	var rm removed
	rm.from, rm.to = 1<<63-1, -1<<63
	for _, b := range bs {
		rm.bytes += b.meta.Size
		rm.from, rm.to = min(rm.from, b.meta.MinT), max(rm.to, b.meta.MaxT)
		rm.lines += linesOf(b)
	}
	if s.replaceBlocks(r.tenant, r.day, bs, nil) != nil {
		return 0 // removed meanwhile, and counted by whoever did
	}
	s.reportPurge(r.tenant, reason, rm)
	return rm.bytes
}

// rewrite writes block b of a partition (acquired by the caller) anew
// without the entries drop reports, and swaps it in; a block left empty is
// removed. It needs room for the new block.
func (s *Store) rewrite(ctx context.Context, r partRef, b *blockHandle, drop func(labels.Labels, *block.Entry) bool, reason string) (removed, error) {
	opts := s.opts.Block
	level := b.level
	if isCold(b) {
		opts.Level = s.opts.CompactionLevel
		opts.Templated = true
	} else if level == 0 {
		opts.NoFilters, opts.Codec = true, block.CodecNone
	}
	out := s.newOutputs(s.partDir(r.tenant, r.day), opts, level, isCold(b))
	res, err := s.merge(ctx, []*blockHandle{b}, out, drop)
	if err != nil {
		out.abort()
		return removed{}, err
	}
	if res.dropped == 0 {
		out.abort()
		return removed{}, nil
	}
	repl, err := out.finish()
	if err != nil {
		return removed{}, err
	}
	var after int64
	for _, h := range repl {
		after += h.meta.Size
	}
	if err := s.replaceBlocks(r.tenant, r.day, []*blockHandle{b}, repl); err != nil {
		return removed{}, nil // removed meanwhile: nothing of it is left to purge
	}
	rm := removed{bytes: b.meta.Size - after, lines: int64(res.dropped), from: res.droppedMin, to: res.droppedMax}
	s.reportPurge(r.tenant, reason, rm)
	return rm, nil
}

// reportPurge logs and counts a removal.
func (s *Store) reportPurge(tenant, reason string, rm removed) {
	level := slog.LevelInfo
	if reason == ReasonSize {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "purged data", "tenant", tenant, "reason", reason,
		"from", time.Unix(0, rm.from).UTC().Format(time.RFC3339), "to", time.Unix(0, rm.to).UTC().Format(time.RFC3339),
		"bytes", rm.bytes, "lines", rm.lines)
	s.m.purgedBytes.WithLabelValues(tenant, reason).Add(float64(max(rm.bytes, 0)))
}

// PurgeResult is what a deletion took from disk.
type PurgeResult struct{ Bytes, Lines int64 }

// PurgeDeleted removes from disk the entries a tombstone hides: the head
// is flushed first, then every block of the tenant that may hold them is
// rewritten without them. Reads hide them already; this frees their room.
func (s *Store) PurgeDeleted(ctx context.Context, tenant string, t Tombstone) (PurgeResult, error) {
	if err := s.Flush(ctx); err != nil {
		return PurgeResult{}, err
	}
	var res PurgeResult
	for _, r := range s.partitions() {
		if r.tenant != tenant {
			continue
		}
		ok, err := s.claimWait(ctx, r)
		if err != nil {
			return res, err
		}
		if !ok {
			continue
		}
		hs := s.acquired(r)
		for _, b := range hs {
			if b.meta.MinT > t.End || b.meta.MaxT < t.Start {
				continue
			}
			rm, err := s.rewrite(ctx, r, b, func(ls labels.Labels, e *block.Entry) bool {
				return t.covers(ls, e.T, e.T) && t.hides(e.T, e.Line)
			}, ReasonDelete)
			if err != nil {
				releaseAll(hs)
				s.unclaim(r)
				return res, err
			}
			res.Bytes += rm.bytes
			res.Lines += rm.lines
		}
		releaseAll(hs)
		s.unclaim(r)
	}
	return res, nil
}

// purgeBySize removes the oldest blocks while Loam holds more than its
// budgets allow. The excess is measured once: a removed block's space
// comes back only when the last query reading it closes it, so measuring
// again right away would purge more than needed.
func (s *Store) purgeBySize(ctx context.Context, now time.Time) error {
	over, budget := s.overBudget()
	for over > 0 && ctx.Err() == nil {
		freed := s.purgeOldest(now, max(over, budget/20))
		if freed == 0 {
			s.log.Warn("over the size budget, but nothing is old enough to purge", "over_bytes", over,
				"min_age", s.opts.RetentionOptions.MinAge)
			return nil
		}
		over -= freed
	}
	return ctx.Err()
}

// overBudget returns how many bytes are over the tightest budget, and that
// budget.
func (s *Store) overBudget() (over, budget int64) {
	o := s.opts.RetentionOptions
	over = -1 << 62
	if o.MaxBytes > 0 {
		blocks, wal := s.DataBytes()
		over, budget = blocks+wal-o.MaxBytes, o.MaxBytes
	}
	if o.MaxDiskUsage > 0 {
		used, capacity, err := s.DiskUsage()
		if err == nil && capacity > 0 {
			limit := int64(float64(capacity) * o.MaxDiskUsage / 100)
			if d := used - limit; d > over {
				over, budget = d, limit
			}
		}
	}
	return over, budget
}

// purgeOldest removes the oldest blocks of all tenants, at least an hour of
// data and about want bytes, never a block holding an entry younger than
// MinAge. It returns the bytes it removed.
func (s *Store) purgeOldest(now time.Time, want int64) int64 {
	minAge := s.opts.RetentionOptions.MinAge
	type cand struct {
		r partRef
		b *blockHandle
	}
	var cands []cand
	var held []*blockHandle
	defer func() { releaseAll(held) }()
	for _, r := range s.partitions() {
		hs := s.acquired(r)
		held = append(held, hs...)
		for _, b := range hs {
			if b.meta.MaxT < now.Add(-minAge).UnixNano() {
				cands = append(cands, cand{r, b})
			}
		}
	}
	if len(cands) == 0 {
		return 0
	}
	slices.SortFunc(cands, func(a, b cand) int {
		switch {
		case a.b.meta.MinT < b.b.meta.MinT:
			return -1
		case a.b.meta.MinT > b.b.meta.MinT:
			return 1
		}
		return 0
	})
	hourEnd := cands[0].b.meta.MinT + nsPerHour
	var freed int64
	byPart := map[partRef][]*blockHandle{}
	var order []partRef
	for _, c := range cands {
		if freed >= want && c.b.meta.MinT >= hourEnd {
			break
		}
		if _, ok := byPart[c.r]; !ok {
			order = append(order, c.r)
		}
		byPart[c.r] = append(byPart[c.r], c.b)
		freed += c.b.meta.Size
	}
	var removed int64
	for _, r := range order {
		if !s.claim(r) {
			continue
		}
		removed += s.removeAndCount(r, byPart[r], ReasonSize)
		s.unclaim(r)
	}
	return removed
}

// updateOldest sets each tenant's oldest-timestamp gauge.
func (s *Store) updateOldest() {
	oldest := map[string]int64{}
	s.mu.RLock()
	for tenant, ps := range s.parts {
		for _, p := range ps {
			for _, b := range p.blocks {
				if t, ok := oldest[tenant]; !ok || b.meta.MinT < t {
					oldest[tenant] = b.meta.MinT
				}
			}
		}
	}
	s.mu.RUnlock()
	s.m.oldest.Reset()
	for tenant, t := range oldest {
		s.m.oldest.WithLabelValues(tenant).Set(float64(t) / 1e9)
	}
}
