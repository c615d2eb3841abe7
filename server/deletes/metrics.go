package deletes

import "github.com/prometheus/client_golang/prometheus"

// metrics of the Manager. The bytes and lines purged are counted by the
// store (loam_retention_purged_bytes_total{reason="delete"}).
type metrics struct {
	received  *prometheus.CounterVec
	processed *prometheus.CounterVec
	failures  *prometheus.CounterVec
	pending   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_delete_requests_received_total",
			Help: "Delete requests accepted, by tenant."}, []string{"tenant"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_delete_requests_processed_total",
			Help: "Delete requests whose lines are all off the disk, by tenant."}, []string{"tenant"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_delete_purge_failures_total",
			Help: "Purges of delete requests that failed and will be retried, by tenant."}, []string{"tenant"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loam_delete_requests_pending",
			Help: "Delete requests not yet processed: their lines are hidden from reads, not yet off the disk."}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.processed, m.failures, m.pending)
	}
	return m
}
