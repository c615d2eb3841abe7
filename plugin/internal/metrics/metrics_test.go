package metrics

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

func mustNew(t *testing.T, addr, name string) *Metrics {
	t.Helper()
	m, err := New(addr, name)
	if err != nil {
		t.Fatalf("New(%q, %q): %v", addr, name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestUnserved(t *testing.T) {
	m := mustNew(t, "", "loam.0")
	if m.Addr() != "" {
		t.Errorf("Addr() = %q without MetricsAddr", m.Addr())
	}
	m.Records.Add(3)
	m.Rejected(400).Inc()
	if got := value(t, m.Records); got != 3 {
		t.Errorf("records = %v", got)
	}
	// Two unserved instances do not share: each has its own registry.
	m2 := mustNew(t, "", "loam.0")
	if got := value(t, m2.Records); got != 0 {
		t.Errorf("second unserved instance sees records = %v", got)
	}
}

// TestSharedEndpoint runs two instances on one address, as two [OUTPUT]
// sections with the same MetricsAddr do, and scrapes them.
func TestSharedEndpoint(t *testing.T) {
	a, err := New("127.0.0.1:0", "loam.0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New("127.0.0.1:0", "loam.1")
	if err != nil {
		t.Fatal(err)
	}
	addr := a.Addr()
	if addr == "" || b.Addr() != addr {
		t.Fatalf("addresses %q and %q, want one shared listener", addr, b.Addr())
	}

	a.Records.Add(10)
	a.Bytes.Add(1000)
	a.Batches.Inc()
	a.Rejected(400).Inc()
	a.Rejected(400).Inc()
	a.Rejected(413).Inc()
	a.DroppedRejected.Add(7)
	a.DroppedExcluded.Add(2)
	a.Duration.Observe(0.02)
	b.Records.Add(5)
	b.Retries.Inc()
	b.Buffered.Add(4096)
	b.DroppedInvalid.Inc()

	body := scrape(t, addr)
	for _, want := range []string{
		`loam_plugin_records_total{output="loam.0"} 10`,
		`loam_plugin_records_total{output="loam.1"} 5`,
		`loam_plugin_bytes_total{output="loam.0"} 1000`,
		`loam_plugin_batches_total{output="loam.0"} 1`,
		`loam_plugin_rejected_total{output="loam.0",status="400"} 2`,
		`loam_plugin_rejected_total{output="loam.0",status="413"} 1`,
		`loam_plugin_dropped_records_total{output="loam.0",reason="rejected"} 7`,
		`loam_plugin_dropped_records_total{output="loam.0",reason="excluded"} 2`,
		`loam_plugin_dropped_records_total{output="loam.1",reason="invalid"} 1`,
		`loam_plugin_retries_total{output="loam.1"} 1`,
		`loam_plugin_buffered_bytes{output="loam.1"} 4096`,
		`loam_plugin_request_duration_seconds_count{output="loam.0"} 1`,
		`loam_plugin_request_duration_seconds_bucket{output="loam.0",le="0.02"} 1`,
		"process_resident_memory_bytes ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}

	// Closing one instance removes its series; the listener stays for the
	// other.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	body = scrape(t, addr)
	if strings.Contains(body, `output="loam.0"`) {
		t.Errorf("closed instance still scraped:\n%s", grep(body, "loam.0"))
	}
	if !strings.Contains(body, `loam_plugin_records_total{output="loam.1"} 5`) {
		t.Errorf("remaining instance lost its series")
	}

	// The last Close closes the listener.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatalf("endpoint still answers after the last Close")
	}

	// And the address can be used again afterwards, with fresh counters.
	c := mustNew(t, "127.0.0.1:0", "loam.0")
	if got := value(t, c.Records); got != 0 {
		t.Errorf("new endpoint starts at records = %v", got)
	}
	if !strings.Contains(scrape(t, c.Addr()), `loam_plugin_records_total{output="loam.0"} 0`) {
		t.Error("new endpoint does not serve the instance")
	}
}

// TestSameName: two instances with one name on one address share series,
// and the series survive until both are closed.
func TestSameName(t *testing.T) {
	a := mustNew(t, "127.0.0.1:0", "dup")
	b := mustNew(t, "127.0.0.1:0", "dup")
	a.Records.Inc()
	b.Records.Inc()
	if got := value(t, b.Records); got != 2 {
		t.Errorf("shared records = %v, want 2", got)
	}
	a.Close()
	if !strings.Contains(scrape(t, b.Addr()), `loam_plugin_records_total{output="dup"} 2`) {
		t.Error("series of a still-open instance deleted")
	}
}

func TestListenFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	_, err = New(addr, "loam.0")
	if err == nil {
		t.Fatal("New on a busy address succeeded")
	}
	if !strings.Contains(err.Error(), "MetricsAddr") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name MetricsAddr and %s", err, addr)
	}
	// The failure left nothing behind: once the port is free, New works.
	l.Close()
	m := mustNew(t, addr, "loam.0")
	if m.Addr() != addr {
		t.Errorf("Addr() = %q, want %q", m.Addr(), addr)
	}
	if _, err := New("not an address", "x"); err == nil || !strings.Contains(err.Error(), "MetricsAddr") {
		t.Errorf("New with a malformed address = %v", err)
	}
}

// TestHotPathAllocs: the per-flush updates allocate nothing.
func TestHotPathAllocs(t *testing.T) {
	m := mustNew(t, "", "loam.0")
	allocs := testing.AllocsPerRun(1000, func() {
		m.Buffered.Add(100)
		m.Records.Add(50)
		m.Bytes.Add(50000)
		m.Batches.Inc()
		m.Duration.Observe(0.01)
		m.Duration.Observe(100) // +Inf bucket
		m.Retries.Inc()
		m.DroppedInvalid.Add(2)
		m.Records.Add(0.5) // fractional: the CAS path
		m.Buffered.Sub(100)
	})
	if allocs != 0 {
		t.Errorf("hot path allocates %v per flush", allocs)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// value reads one counter or gauge.
func value(t *testing.T, c interface{ Value() float64 }) float64 {
	t.Helper()
	return c.Value()
}
