package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Reasons for loam_plugin_dropped_records_total.
const (
	ReasonExcluded = "excluded" // namespace matched ExcludeNamespaces
	ReasonInvalid  = "invalid"  // record could not be mapped (no usable time, line or labels)
	ReasonRejected = "rejected" // its request got a non-retryable 4xx
)

// Metrics are one output instance's collectors, resolved to its output
// label once so that flushes touch no label maps. Create with New; the
// fields are safe for concurrent use.
type Metrics struct {
	Records         prometheus.Counter  // loam_plugin_records_total: records in requests answered 2xx
	Bytes           prometheus.Counter  // loam_plugin_bytes_total: line bytes in requests answered 2xx
	Batches         prometheus.Counter  // loam_plugin_batches_total: requests answered 2xx
	Retries         prometheus.Counter  // loam_plugin_retries_total: attempts after a retryable failure
	DroppedExcluded prometheus.Counter  // loam_plugin_dropped_records_total{reason="excluded"}
	DroppedInvalid  prometheus.Counter  // loam_plugin_dropped_records_total{reason="invalid"}
	DroppedRejected prometheus.Counter  // loam_plugin_dropped_records_total{reason="rejected"}
	Buffered        prometheus.Gauge    // loam_plugin_buffered_bytes: chunk bytes of flushes in flight
	Duration        prometheus.Observer // loam_plugin_request_duration_seconds: one observation per attempt

	rejected *prometheus.CounterVec // loam_plugin_rejected_total curried with output; rare, so resolved per use
	name     string
	ep       *endpoint
	once     sync.Once
}

// Rejected is loam_plugin_rejected_total for one status code.
func (m *Metrics) Rejected(code int) prometheus.Counter {
	return m.rejected.WithLabelValues(strconv.Itoa(code))
}

// Addr is the address the endpoint listens on ("" without MetricsAddr);
// with port 0 in MetricsAddr it tells the port chosen.
func (m *Metrics) Addr() string {
	if m.ep.ln == nil {
		return ""
	}
	return m.ep.ln.Addr().String()
}

// Gatherer returns the registry holding this instance's metrics (shared
// with the other instances on the same address).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.ep.reg }

// vecs are the collectors of one registry, labelled by output.
type vecs struct {
	records, bytes, batches, retries *prometheus.CounterVec
	rejected, dropped                *prometheus.CounterVec
	buffered                         *prometheus.GaugeVec
	duration                         *prometheus.HistogramVec
}

func newVecs() vecs {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append([]string{"output"}, labels...))
	}
	return vecs{
		records:  counter("loam_plugin_records_total", "Records delivered: in push requests the server answered 2xx."),
		bytes:    counter("loam_plugin_bytes_total", "Log line bytes delivered: in push requests the server answered 2xx."),
		batches:  counter("loam_plugin_batches_total", "Push requests the server answered 2xx."),
		retries:  counter("loam_plugin_retries_total", "Push attempts repeated after a retryable failure (connection error, timeout, 429, 5xx)."),
		rejected: counter("loam_plugin_rejected_total", "Push requests the server refused with a non-retryable status (4xx other than 429).", "status"),
		dropped:  counter("loam_plugin_dropped_records_total", "Records not delivered, by reason: excluded (ExcludeNamespaces), invalid (unmappable record), rejected (4xx answer).", "reason"),
		buffered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loam_plugin_buffered_bytes",
			Help: "Bytes of Fluent Bit chunks whose flush is in progress.",
		}, []string{"output"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loam_plugin_request_duration_seconds",
			Help:    "Duration of push attempts, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13), // 5ms .. 20s
		}, []string{"output"}),
	}
}

func (v vecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.records, v.bytes, v.batches, v.retries, v.rejected, v.dropped, v.buffered, v.duration}
}

// deleteOutput removes every series of one instance, so a closed instance
// does not linger in scrapes of a shared endpoint.
func (v vecs) deleteOutput(name string) {
	l := prometheus.Labels{"output": name}
	v.records.DeletePartialMatch(l)
	v.bytes.DeletePartialMatch(l)
	v.batches.DeletePartialMatch(l)
	v.retries.DeletePartialMatch(l)
	v.rejected.DeletePartialMatch(l)
	v.dropped.DeletePartialMatch(l)
	v.buffered.DeletePartialMatch(l)
	v.duration.DeletePartialMatch(l)
}

// endpoint is one registry and, for a MetricsAddr, its HTTP listener.
type endpoint struct {
	addr  string // MetricsAddr as configured; "" for a private, unserved registry
	reg   *prometheus.Registry
	vecs  vecs
	ln    net.Listener
	srv   *http.Server
	done  chan struct{} // closed when Serve returned
	refs  int           // instances using it; guarded by mu
	names map[string]int
}

var (
	mu        sync.Mutex
	endpoints = map[string]*endpoint{} // by MetricsAddr
)

// New returns the metrics of the output instance name. With addr "", the
// collectors work but are not served (a private registry, useful in
// tests). Otherwise the first instance for addr starts listening on it and
// later ones join; a listen failure is returned at once, naming
// MetricsAddr, so Fluent Bit stops at start-up rather than running blind.
func New(addr, name string) (*Metrics, error) {
	mu.Lock()
	defer mu.Unlock()
	ep := endpoints[addr]
	if ep == nil {
		var err error
		if ep, err = newEndpoint(addr); err != nil {
			return nil, err
		}
		if addr != "" {
			endpoints[addr] = ep
		}
	}
	ep.refs++
	ep.names[name]++

	v := ep.vecs
	m := &Metrics{
		Records:         v.records.WithLabelValues(name),
		Bytes:           v.bytes.WithLabelValues(name),
		Batches:         v.batches.WithLabelValues(name),
		Retries:         v.retries.WithLabelValues(name),
		DroppedExcluded: v.dropped.WithLabelValues(name, ReasonExcluded),
		DroppedInvalid:  v.dropped.WithLabelValues(name, ReasonInvalid),
		DroppedRejected: v.dropped.WithLabelValues(name, ReasonRejected),
		Buffered:        v.buffered.WithLabelValues(name),
		Duration:        v.duration.WithLabelValues(name),
		rejected:        v.rejected.MustCurryWith(prometheus.Labels{"output": name}),
		name:            name,
		ep:              ep,
	}
	return m, nil
}

func newEndpoint(addr string) (*endpoint, error) {
	ep := &endpoint{
		addr:  addr,
		reg:   prometheus.NewRegistry(),
		vecs:  newVecs(),
		names: map[string]int{},
	}
	ep.reg.MustRegister(ep.vecs.collectors()...)
	if addr == "" {
		return ep, nil
	}
	// The plugin lives inside Fluent Bit: the process collector describes
	// the whole Fluent Bit process, the Go collector the plugin's runtime.
	ep.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on MetricsAddr %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(ep.reg, promhttp.HandlerOpts{Registry: ep.reg}))
	ep.ln = ln
	ep.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ep.done = make(chan struct{})
	go func() {
		defer close(ep.done)
		_ = ep.srv.Serve(ln) // returns ErrServerClosed after Close
	}()
	return ep, nil
}

// Close removes this instance's series and, if it was the last instance on
// its address, closes the listener. Calling Close again does nothing.
func (m *Metrics) Close() error {
	var err error
	m.once.Do(func() {
		mu.Lock()
		defer mu.Unlock()
		ep := m.ep
		if ep.names[m.name]--; ep.names[m.name] == 0 {
			delete(ep.names, m.name)
			ep.vecs.deleteOutput(m.name)
		}
		if ep.refs--; ep.refs > 0 || ep.srv == nil {
			return
		}
		delete(endpoints, ep.addr)
		if cerr := ep.srv.Close(); cerr != nil && !errors.Is(cerr, http.ErrServerClosed) {
			err = fmt.Errorf("metrics: close MetricsAddr %q: %w", ep.addr, cerr)
		}
		<-ep.done
	})
	return err
}
