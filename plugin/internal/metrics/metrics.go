package metrics

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Reasons for loam_plugin_dropped_records_total.
const (
	ReasonExcluded = "excluded" // namespace matched ExcludeNamespaces
	ReasonInvalid  = "invalid"  // record could not be mapped (no usable time, line or labels)
	ReasonRejected = "rejected" // its request got a non-retryable 4xx
)

// Metrics are one output instance's metrics, resolved to its output label
// once so that flushes touch no label maps. Create with New; the fields are
// safe for concurrent use and their updates do not allocate.
type Metrics struct {
	Records         *Counter   // loam_plugin_records_total: records in requests answered 2xx
	Bytes           *Counter   // loam_plugin_bytes_total: line bytes in requests answered 2xx
	Batches         *Counter   // loam_plugin_batches_total: requests answered 2xx
	Retries         *Counter   // loam_plugin_retries_total: attempts after a retryable failure
	DroppedExcluded *Counter   // loam_plugin_dropped_records_total{reason="excluded"}
	DroppedInvalid  *Counter   // loam_plugin_dropped_records_total{reason="invalid"}
	DroppedRejected *Counter   // loam_plugin_dropped_records_total{reason="rejected"}
	Buffered        *Gauge     // loam_plugin_buffered_bytes: chunk bytes of flushes in flight
	Duration        *Histogram // loam_plugin_request_duration_seconds: one observation per attempt

	name string
	ep   *endpoint
	once sync.Once
}

// Rejected is loam_plugin_rejected_total for one status code (rare, so
// resolved per use).
func (m *Metrics) Rejected(code int) *Counter {
	return m.ep.vecs.rejected.counter(m.name, strconv.Itoa(code))
}

// Addr is the address the endpoint listens on ("" without MetricsAddr);
// with port 0 in MetricsAddr it tells the port chosen.
func (m *Metrics) Addr() string {
	if m.ep.ln == nil {
		return ""
	}
	return m.ep.ln.Addr().String()
}

// WriteText writes what /metrics serves: the exposition, in the text
// format 0.0.4, of the registry holding this instance's metrics (shared
// with the other instances on the same address).
func (m *Metrics) WriteText(w io.Writer) error {
	_, err := w.Write(m.ep.reg.appendText(nil))
	return err
}

// vecs are the families of one registry, labelled by output.
type vecs struct {
	records, bytes, batches, retries *vec // counters
	rejected, dropped                *vec // counters
	buffered                         *vec // gauge
	duration                         *vec // histogram
}

// durationBuckets are loam_plugin_request_duration_seconds's: 5ms .. 20.48s.
var durationBuckets = exponentialBuckets(0.005, 2, 13)

func newVecs() vecs {
	return vecs{
		records:  newCounterVec("loam_plugin_records_total", "Records delivered: in push requests the server answered 2xx.", "output"),
		bytes:    newCounterVec("loam_plugin_bytes_total", "Log line bytes delivered: in push requests the server answered 2xx.", "output"),
		batches:  newCounterVec("loam_plugin_batches_total", "Push requests the server answered 2xx.", "output"),
		retries:  newCounterVec("loam_plugin_retries_total", "Push attempts repeated after a retryable failure (connection error, timeout, 429, 5xx).", "output"),
		rejected: newCounterVec("loam_plugin_rejected_total", "Push requests the server refused with a non-retryable status (4xx other than 429).", "output", "status"),
		dropped:  newCounterVec("loam_plugin_dropped_records_total", "Records not delivered, by reason: excluded (ExcludeNamespaces), invalid (unmappable record), rejected (4xx answer).", "output", "reason"),
		buffered: newGaugeVec("loam_plugin_buffered_bytes", "Bytes of Fluent Bit chunks whose flush is in progress.", "output"),
		duration: newHistogramVec("loam_plugin_request_duration_seconds", "Duration of push attempts, failed ones included.", durationBuckets, "output"),
	}
}

func (v vecs) all() []*vec {
	return []*vec{v.records, v.bytes, v.batches, v.retries, v.rejected, v.dropped, v.buffered, v.duration}
}

// deleteOutput removes every series of one instance, so a closed instance
// does not linger in scrapes of a shared endpoint.
func (v vecs) deleteOutput(name string) {
	for _, x := range v.all() {
		x.deleteLabel("output", name)
	}
}

// endpoint is one registry and, for a MetricsAddr, its HTTP listener.
type endpoint struct {
	addr  string // MetricsAddr as configured; "" for a private, unserved registry
	reg   *registry
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
// metrics work but are not served (a private registry, useful in
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
	return ep.join(name), nil
}

// join adds the instance name to ep; mu must be held.
func (ep *endpoint) join(name string) *Metrics {
	ep.refs++
	ep.names[name]++
	v := ep.vecs
	return &Metrics{
		Records:         v.records.counter(name),
		Bytes:           v.bytes.counter(name),
		Batches:         v.batches.counter(name),
		Retries:         v.retries.counter(name),
		DroppedExcluded: v.dropped.counter(name, ReasonExcluded),
		DroppedInvalid:  v.dropped.counter(name, ReasonInvalid),
		DroppedRejected: v.dropped.counter(name, ReasonRejected),
		Buffered:        v.buffered.gauge(name),
		Duration:        v.duration.histogram(name),
		name:            name,
		ep:              ep,
	}
}

func newEndpoint(addr string) (*endpoint, error) {
	ep := &endpoint{
		addr:  addr,
		vecs:  newVecs(),
		names: map[string]int{},
	}
	var fs []family
	for _, v := range ep.vecs.all() {
		fs = append(fs, v)
	}
	if addr == "" {
		ep.reg = newRegistry(fs...)
		return ep, nil
	}
	// The plugin lives inside Fluent Bit: the process families describe
	// the whole Fluent Bit process (its memory and CPU), which Fluent Bit's
	// own metrics do not.
	ep.reg = newRegistry(append(fs, processFamilies()...)...)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on MetricsAddr %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		b := ep.reg.appendText(make([]byte, 0, 4096))
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
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
