package overrides

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics report the state of the runtime configuration file, with Loki's
// metric names under loam_.
type Metrics struct {
	success     prometheus.Gauge
	successTime prometheus.Gauge
	hash        *prometheus.GaugeVec
}

// NewMetrics registers the metrics with reg (when not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		success: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loam_runtime_config_last_reload_successful",
			Help: "Whether the last reading of the runtime configuration file succeeded (0: its last good content is still in use)."}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loam_runtime_config_last_reload_success_timestamp_seconds",
			Help: "When a new content of the runtime configuration file was last put in use, in seconds since the epoch."}),
		hash: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loam_runtime_config_hash",
			Help: "SHA-256 of the runtime configuration file in use (value 1)."}, []string{"sha256"}),
	}
	if reg != nil {
		reg.MustRegister(m.success, m.successTime, m.hash)
	}
	return m
}

func (m *Metrics) setSuccess(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.success.Set(1)
	} else {
		m.success.Set(0)
	}
}

// applied records a new content put in use.
func (m *Metrics) applied(h [32]byte) {
	if m == nil {
		return
	}
	m.success.Set(1)
	m.successTime.SetToCurrentTime()
	m.hash.Reset()
	m.hash.WithLabelValues(fmt.Sprintf("%x", h)).Set(1)
}

// Run reads the runtime configuration file every reload period until ctx
// ends. Without a file it returns at once.
func (o *Overrides) Run(ctx context.Context) {
	if o.cfg.File == "" {
		return
	}
	t := time.NewTicker(o.cfg.ReloadPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.Reload()
		}
	}
}

// Reload reads the runtime configuration file now and, when its content
// changed and is good, puts it in use. A bad file, or one that vanished
// after it had been read, keeps the settings in use; the error is logged
// once per content and returned, and
// loam_runtime_config_last_reload_successful is 0 until a good read.
func (o *Overrides) Reload() error {
	if o.cfg.File == "" {
		return nil
	}
	return o.load(false)
}

// load reads the file; at start an error is returned and nothing is
// logged, the caller refuses to start.
func (o *Overrides) load(start bool) error {
	o.reloadMu.Lock()
	defer o.reloadMu.Unlock()
	// The whole file is read and hashed every time: it is small, and a
	// change that keeps the size within the mtime's granularity (72h → 96h
	// written twice in a second) must not be missed.
	data, err := os.ReadFile(o.cfg.File)
	if errors.Is(err, fs.ErrNotExist) && !o.loaded {
		// Nothing yet: every tenant has the defaults until it appears.
		if start {
			o.log.Info("runtime configuration file not found: no per-tenant overrides until it is written", "file", o.cfg.File)
		}
		o.metrics.setSuccess(true)
		return nil
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("runtime configuration file %s is gone: %w", o.cfg.File, err)
		}
		o.seen = false // parse it again when it is back, even unchanged
		return o.failed(err, start)
	}
	h := sha256.Sum256(data)
	if o.seen && h == o.lastSeen {
		if o.lastErr == nil {
			o.metrics.setSuccess(true)
		}
		return o.lastErr
	}
	o.seen, o.lastSeen = true, h
	m, err := Parse(data, o.defaults)
	if err != nil {
		return o.failed(fmt.Errorf("runtime configuration file %s: %w", o.cfg.File, err), start)
	}
	o.publish(m)
	o.loaded, o.lastErr = true, nil
	o.metrics.applied(h)
	if len(data) == 0 && start {
		o.log.Info("runtime configuration file is empty: no per-tenant overrides", "file", o.cfg.File)
	} else {
		o.log.Info("runtime configuration loaded", "file", o.cfg.File, "tenants", len(m), "sha256", fmt.Sprintf("%x", h[:8]))
	}
	return nil
}

// failed records a bad read: logged once per distinct error.
func (o *Overrides) failed(err error, start bool) error {
	o.metrics.setSuccess(false)
	if !start && (o.lastErr == nil || o.lastErr.Error() != err.Error()) {
		o.log.Warn("runtime configuration not reloaded: the last good settings stay in use", "file", o.cfg.File, "err", err)
	}
	o.lastErr = err
	return err
}
