package wal

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the WAL's Prometheus collectors. A nil *Metrics is valid and
// records nothing.
type Metrics struct {
	BytesWritten   prometheus.Counter   // loam_wal_bytes_written_total: bytes written to segments, framing included
	RecordsWritten prometheus.Counter   // loam_wal_records_written_total
	FsyncDuration  prometheus.Histogram // loam_wal_fsync_duration_seconds
	Segments       prometheus.Gauge     // loam_wal_segments: segment files on disk
	ReplayDuration prometheus.Gauge     // loam_wal_replay_duration_seconds: duration of the last Replay
	Corruptions    prometheus.Counter   // loam_wal_corruptions_total: torn or corrupt records found by Replay
}

// NewMetrics creates the WAL's collectors and registers them with reg. reg
// may be nil, leaving them unregistered. If a collector of the same name is
// already registered with reg, that one is used instead, so two calls with
// one registry share their collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		BytesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_wal_bytes_written_total",
			Help: "Bytes written to WAL segments, record framing included.",
		}),
		RecordsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_wal_records_written_total",
			Help: "Records written to the WAL.",
		}),
		FsyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loam_wal_fsync_duration_seconds",
			Help:    "Duration of WAL segment fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 17), // 50µs .. 3.3s
		}),
		Segments: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_wal_segments",
			Help: "WAL segment files on disk.",
		}),
		ReplayDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_wal_replay_duration_seconds",
			Help: "Duration of the last WAL replay.",
		}),
		Corruptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_wal_corruptions_total",
			Help: "Torn or corrupt WAL records found (and truncated) by replay.",
		}),
	}
	if reg != nil {
		m.BytesWritten = register(reg, m.BytesWritten)
		m.RecordsWritten = register(reg, m.RecordsWritten)
		m.FsyncDuration = register(reg, m.FsyncDuration)
		m.Segments = register(reg, m.Segments)
		m.ReplayDuration = register(reg, m.ReplayDuration)
		m.Corruptions = register(reg, m.Corruptions)
	}
	return m
}

// register registers c, or returns the collector already registered under
// its name. Any other registration error is a programming error and panics,
// as MustRegister would.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}

func (m *Metrics) addWritten(bytes, records int) {
	if m == nil {
		return
	}
	m.BytesWritten.Add(float64(bytes))
	m.RecordsWritten.Add(float64(records))
}

func (m *Metrics) observeFsync(d time.Duration) {
	if m == nil {
		return
	}
	m.FsyncDuration.Observe(d.Seconds())
}

func (m *Metrics) setSegments(n int) {
	if m == nil {
		return
	}
	m.Segments.Set(float64(n))
}

func (m *Metrics) addSegments(n int) {
	if m == nil {
		return
	}
	m.Segments.Add(float64(n))
}

func (m *Metrics) replayed(d time.Duration) {
	if m == nil {
		return
	}
	m.ReplayDuration.Set(d.Seconds())
}

func (m *Metrics) corruption() {
	if m == nil {
		return
	}
	m.Corruptions.Inc()
}
