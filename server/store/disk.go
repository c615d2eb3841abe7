package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/wal"
)

// A full disk. Appends write the WAL first: when it has no room they fail
// with ErrDiskFull, and nothing is acknowledged that is not in the WAL. A
// flush that has no room for its blocks leaves the head in memory and in
// the WAL and is retried; while it fails, appends that would have to wait
// for it (the head holds the most it may) fail at once instead. Nothing
// needs resetting when space comes back: the next append or flush that
// succeeds ends the state.

// ErrDiskFull is wrapped by the errors of Append when the file system
// holding the data directory has no room (ENOSPC or EDQUOT). Nothing of the
// push was stored; it may be retried once space is freed.
var ErrDiskFull = errors.New("disk full")

// noSpace wraps err, from a write that found no room, so that
// errors.Is(err, ErrDiskFull) holds and the cause (syscall.ENOSPC, …) stays
// reachable.
func noSpace(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrDiskFull, what, err)
}

// noSpaceBackoff is how long compaction waits after a merge found no room.
const noSpaceBackoff = 10 * time.Second

// diskRefreshEvery is how often the flush loop refreshes the disk gauges
// (flushes and compactions refresh them too, through updateGauges).
const diskRefreshEvery = 10 * time.Second

// diskState says whether writes fail for lack of space. walFull and
// flushFull are read without a lock on the hot paths; mu orders the
// transitions so that each start and end of the state is logged once.
type diskState struct {
	walFull   atomic.Bool // the last WAL append failed for lack of space
	flushFull atomic.Bool // the last flush failed for lack of space

	mu          sync.Mutex
	full        bool // walFull || flushFull, as last logged
	since       time.Time
	lastRefresh time.Time // of the gauges, by the flush loop
}

// diskMetrics are the collectors of disk space and of the disk-full state.
type diskMetrics struct {
	full      prometheus.Gauge
	usage     prometheus.Gauge
	capacity  prometheus.Gauge
	dataBytes *prometheus.GaugeVec
}

func newDiskMetrics(reg prometheus.Registerer) *diskMetrics {
	m := &diskMetrics{
		full: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_disk_full",
			Help: "1 while writes fail because the file system holding the data directory is full (pushes are refused with 503), else 0."}),
		usage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_disk_usage_bytes",
			Help: "Bytes used on the file system holding the data directory, by anything (statfs)."}),
		capacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_disk_capacity_bytes",
			Help: "Bytes the file system holding the data directory offers Loam: used plus available to unprivileged writers (statfs; a root reserve is left out), so usage/capacity is df's Use%."}),
		dataBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loam_data_bytes",
			Help: "Bytes Loam holds in the data directory, by kind: blocks or wal."}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.full, m.usage, m.capacity, m.dataBytes)
	}
	return m
}

// DiskFull reports whether writes currently fail for lack of space: the
// last WAL append or the last flush found no room. Safe for concurrent use.
func (s *Store) DiskFull() bool {
	return s.disk.walFull.Load() || s.disk.flushFull.Load()
}

// DiskUsage returns the bytes used on the file system holding the data
// directory and its capacity for Loam: used plus what an unprivileged
// writer may still allocate (ext4's root reserve is left out, so Loam's
// writes fail when used reaches capacity). It calls statfs each time. On
// systems other than Linux it returns an error.
func (s *Store) DiskUsage() (used, capacity int64, err error) {
	return statDisk(s.opts.Dir)
}

// DataBytes returns the bytes of the blocks the store holds (as loaded;
// blocks already replaced by compaction but still open for a query are
// not counted) and of the WAL's segment files.
func (s *Store) DataBytes() (blocks, walBytes int64) {
	s.mu.RLock()
	for _, ps := range s.parts {
		for _, p := range ps {
			for _, b := range p.blocks {
				blocks += b.meta.Size
			}
		}
	}
	s.mu.RUnlock()
	walBytes, _ = s.wal.DiskBytes()
	return blocks, walBytes
}

// recheckDisk is for code that has just freed space (retention): it
// refreshes the disk gauges and, if a flush failed for lack of space, wakes
// the flusher to retry now rather than at its next tick. A full WAL needs
// nothing: the next append tries again. The caller must hold none of the
// store's locks.
func (s *Store) recheckDisk() {
	s.refreshDisk()
	if s.disk.flushFull.Load() {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// refreshDisk sets the disk and data gauges. The caller must hold none of
// the store's locks.
func (s *Store) refreshDisk() {
	if used, capacity, err := s.DiskUsage(); err == nil {
		s.m.disk.usage.Set(float64(used))
		s.m.disk.capacity.Set(float64(capacity))
	}
	blocks, walBytes := s.DataBytes()
	s.m.disk.dataBytes.WithLabelValues("blocks").Set(float64(blocks))
	s.m.disk.dataBytes.WithLabelValues("wal").Set(float64(walBytes))
}

// refreshDiskEvery refreshes the gauges if the last refresh by this
// function is diskRefreshEvery old.
func (s *Store) refreshDiskEvery(now time.Time) {
	s.disk.mu.Lock()
	due := now.Sub(s.disk.lastRefresh) >= diskRefreshEvery
	if due {
		s.disk.lastRefresh = now
	}
	s.disk.mu.Unlock()
	if due {
		s.refreshDisk()
	}
}

// noteAppend records the outcome of a WAL append and returns the error
// Append reports: ErrDiskFull-wrapped when the WAL had no room.
func (s *Store) noteAppend(err error) error {
	switch {
	case err == nil:
		// Load first: the hot path only reads the shared flag.
		if s.disk.walFull.Load() && s.disk.walFull.Swap(false) {
			s.diskChanged(nil)
		}
		return nil
	case wal.IsNoSpace(err):
		if !s.disk.walFull.Swap(true) {
			s.diskChanged(err)
		}
		return noSpace("write WAL", err)
	}
	return fmt.Errorf("write WAL: %w", err)
}

// noteFlush records the outcome of a flush. A flush that found no room
// wakes the appenders held back for room, so that they fail now.
func (s *Store) noteFlush(err error) {
	full := err != nil && wal.IsNoSpace(err)
	if err != nil && !full {
		return // another failure says nothing about space
	}
	if s.disk.flushFull.Swap(full) == full {
		return
	}
	s.diskChanged(err)
	if full {
		s.flushedMu.Lock()
		s.flushed.Broadcast()
		s.flushedMu.Unlock()
	}
}

// diskChanged logs and publishes a change of walFull or flushFull, if it
// changes whether the disk is full. cause is the error that made it full.
func (s *Store) diskChanged(cause error) {
	s.disk.mu.Lock()
	defer s.disk.mu.Unlock()
	full := s.DiskFull()
	if full == s.disk.full {
		return
	}
	s.disk.full = full
	used, capacity, _ := s.DiskUsage()
	if full {
		s.disk.since = time.Now()
		s.m.disk.full.Set(1)
		s.log.Error("disk full: pushes are refused (503) until space is freed; data already stored is safe and stays readable",
			"dir", s.opts.Dir, "used_bytes", used, "capacity_bytes", capacity, "err", cause)
		// Retention may free room now rather than at its next tick.
		s.kickRetention()
	} else {
		s.m.disk.full.Set(0)
		s.log.Info("disk space available again: pushes are accepted",
			"dir", s.opts.Dir, "used_bytes", used, "capacity_bytes", capacity,
			"full_for", time.Since(s.disk.since).Round(time.Millisecond))
	}
	s.m.disk.usage.Set(float64(used))
	s.m.disk.capacity.Set(float64(capacity))
}
