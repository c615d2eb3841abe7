package metrics

// These tests check the hand-written exposition against the Prometheus
// text parser and writer of github.com/prometheus/common/expfmt — the code
// Prometheus and client_golang use. It is imported by tests only, so it is
// not linked into the plugin.

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/loam-logs/loam/internal/golden"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse parses an exposition as Prometheus does, failing the test if it is
// not valid text format 0.0.4.
func parse(t testing.TB, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("expfmt rejects the exposition: %v\n%s", err, text)
	}
	return mfs
}

// rewrite parses text and writes it again with expfmt's writer (the one
// client_golang's promhttp uses), family by family in the order of text.
// Our writer must produce the same bytes.
func rewrite(t testing.TB, text []byte) []byte {
	t.Helper()
	mfs := parse(t, text)
	var out bytes.Buffer
	for _, name := range familyOrder(text) {
		mf := mfs[name]
		if mf == nil {
			t.Fatalf("family %s not parsed", name)
		}
		if _, err := expfmt.MetricFamilyToText(&out, mf); err != nil {
			t.Fatal(err)
		}
		delete(mfs, name)
	}
	if len(mfs) != 0 {
		t.Fatalf("families without # TYPE: %v", mfs)
	}
	return out.Bytes()
}

// familyOrder lists the families in the order of their # TYPE lines.
func familyOrder(text []byte) []string {
	var names []string
	for _, l := range strings.Split(string(text), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	return names
}

func text(t testing.TB, m *Metrics) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// joinPrivate adds instances to one unserved registry, as instances
// sharing a MetricsAddr are, but without a listener (and so without the
// process families, whose values vary).
func joinPrivate(t testing.TB, names ...string) []*Metrics {
	t.Helper()
	ep, err := newEndpoint("")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var ms []*Metrics
	for _, n := range names {
		ms = append(ms, ep.join(n))
	}
	return ms
}

// TestGolden pins the whole exposition: names, help texts, types, label
// escaping, number formatting, histogram buckets and the sort order (the
// instances and status codes are created out of order on purpose).
func TestGolden(t *testing.T) {
	ms := joinPrivate(t, "loam.1", `we"ird\name`+"\nx", "loam.0")
	b, w, a := ms[0], ms[1], ms[2]
	a.Records.Add(10)
	a.Bytes.Add(123456789)
	a.Batches.Inc()
	a.Rejected(413).Inc()
	a.Rejected(400).Add(2)
	a.DroppedRejected.Add(7)
	a.DroppedExcluded.Add(2)
	a.Buffered.Add(4096)
	for _, v := range []float64{0.005, 0.0051, 0.3, 25} { // on a bound, just above, mid, above all
		a.Duration.Observe(v)
	}
	b.Records.Add(1.5) // whole and fractional parts
	b.Retries.Inc()
	b.Buffered.Add(100)
	b.Buffered.Sub(100.25)
	b.Duration.Observe(1e-9)
	w.DroppedInvalid.Inc()

	got := text(t, a)
	golden.Check(t, filepath.Join("testdata", "exposition.txt"), got)
	if re := rewrite(t, got); !bytes.Equal(got, re) {
		t.Errorf("expfmt writes the same families differently:\nours:\n%s\nexpfmt:\n%s", got, re)
	}
	checkSorted(t, got)

	mfs := parse(t, got)
	if v := sampleValue(t, mfs, "loam_plugin_records_total", "output", "loam.1"); v != 1.5 {
		t.Errorf("records of loam.1 = %v", v)
	}
	if v := sampleValue(t, mfs, "loam_plugin_dropped_records_total", "output", `we"ird\name`+"\nx", "reason", "invalid"); v != 1 {
		t.Errorf("dropped invalid of the weird instance = %v", v)
	}
	if v := sampleValue(t, mfs, "loam_plugin_bytes_total", "output", "loam.0"); v != 123456789 {
		t.Errorf("bytes = %v", v)
	}
	for _, mf := range mfs {
		if mf.GetHelp() == "" {
			t.Errorf("%s without help", mf.GetName())
		}
	}
}

// checkSorted: families by name, and within each the series by label
// values, as client_golang's registry sorts them.
func checkSorted(t *testing.T, text []byte) {
	t.Helper()
	names := familyOrder(text)
	if !slices.IsSorted(names) {
		t.Errorf("families not sorted: %v", names)
	}
	mfs := parse(t, text)
	for _, mf := range mfs {
		var prev []string
		for i, m := range mf.Metric {
			var vals []string
			for _, lp := range m.Label {
				vals = append(vals, lp.GetValue())
			}
			if i > 0 && slices.Compare(prev, vals) >= 0 {
				t.Errorf("%s: series %v after %v", mf.GetName(), vals, prev)
			}
			prev = vals
		}
	}
}

// sampleValue finds the counter, gauge or histogram count with exactly the
// label pairs given.
func sampleValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range mf.Metric {
		if len(m.Label)*2 != len(labels) {
			continue
		}
		for i, lp := range m.Label {
			if lp.GetName() != labels[2*i] || lp.GetValue() != labels[2*i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// utf8Replaced is s with each byte of invalid UTF-8 replaced by U+FFFD,
// what the exposition carries for such a label value.
func utf8Replaced(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

func TestEscaping(t *testing.T) {
	for _, name := range []string{
		`back\slash`, `quo"te`, "new\nline", `\"`, `\n`, "\\\n\"", "tab\tcr\r", "ünïcødé ☃",
		"bad\xffutf8", "trailing\\", "", "a,b=c}{", `\\\\`,
	} {
		m := joinPrivate(t, name)[0]
		m.Records.Add(42)
		got := text(t, m)
		mfs := parse(t, got)
		if v := sampleValue(t, mfs, "loam_plugin_records_total", "output", utf8Replaced(name)); v != 42 {
			t.Errorf("%q: value %v", name, v)
		}
		if re := rewrite(t, got); !bytes.Equal(got, re) {
			t.Errorf("%q: expfmt writes it differently:\nours:\n%s\nexpfmt:\n%s", name, got, re)
		}
	}
	// The exact escapes of the format.
	for in, want := range map[string]string{
		`a\b`:     `a\\b`,
		`a"b`:     `a\"b`,
		"a\nb":    `a\nb`,
		"a\xffb":  "a\uFFFDb",
		"a\tb\rc": "a\tb\rc",
	} {
		if got := string(appendEscaped(nil, in, true)); got != want {
			t.Errorf("label value %q escaped as %q, want %q", in, got, want)
		}
	}
	// Help texts escape \ and newline, not quotes.
	h := string(appendHeader(nil, "x", "a \"q\" \\ and\nb", "counter"))
	if want := "# HELP x a \"q\" \\\\ and\\nb\n# TYPE x counter\n"; h != want {
		t.Errorf("header %q, want %q", h, want)
	}
	mfs := parse(t, append([]byte(h), "x 1\n"...))
	if got := mfs["x"].GetHelp(); got != "a \"q\" \\ and\nb" {
		t.Errorf("help parsed back as %q", got)
	}
}

// FuzzLabelValue: any instance name gives a valid exposition that parses
// back to the name (invalid UTF-8 replaced).
func FuzzLabelValue(f *testing.F) {
	for _, s := range []string{"loam.0", `a"b\c`, "x\ny", "\xff\xfe", "☃", "\\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		m := joinPrivate(t, name)[0]
		m.Rejected(400).Inc()
		got := text(t, m)
		mfs := parse(t, got)
		if v := sampleValue2(mfs, "loam_plugin_rejected_total", utf8Replaced(name)); v != 1 {
			t.Fatalf("%q: rejected = %v\n%s", name, v, got)
		}
		if re := rewrite(t, got); !bytes.Equal(got, re) {
			t.Fatalf("%q: expfmt writes it differently:\nours:\n%s\nexpfmt:\n%s", name, got, re)
		}
	})
}

func sampleValue2(mfs map[string]*dto.MetricFamily, name, output string) float64 {
	for _, m := range mfs[name].GetMetric() {
		if len(m.Label) > 0 && m.Label[0].GetValue() == output {
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

func TestHistogramBuckets(t *testing.T) {
	want := []string{"0.005", "0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "10.24", "20.48"}
	if len(durationBuckets) != len(want) {
		t.Fatalf("%d buckets", len(durationBuckets))
	}
	for i, b := range durationBuckets {
		if got := string(appendFloat(nil, b)); got != want[i] {
			t.Errorf("bucket %d: le=%q, want %q", i, got, want[i])
		}
	}

	h := newHistogram([]float64{1, 2, 5})
	for _, v := range []float64{-1, 0, 1, 1.5, 2, 5, 5.0001, math.Inf(1)} {
		h.Observe(v)
	}
	got := string(h.appendSamples(nil, "h", `a="b"`))
	wantText := `h_bucket{a="b",le="1"} 3
h_bucket{a="b",le="2"} 5
h_bucket{a="b",le="5"} 6
h_bucket{a="b",le="+Inf"} 8
h_sum{a="b"} +Inf
h_count{a="b"} 8
`
	if got != wantText {
		t.Errorf("histogram:\n%s\nwant:\n%s", got, wantText)
	}

	h = newHistogram([]float64{1, 2, 5})
	for _, v := range []float64{0.5, 1, 3, 10} {
		h.Observe(v)
	}
	if h.Count() != 4 || h.Sum() != 14.5 {
		t.Errorf("count %d sum %v", h.Count(), h.Sum())
	}
	h.Observe(math.NaN()) // counted in +Inf, as client_golang does
	if got := string(h.appendSamples(nil, "h", "")); got != `h_bucket{le="1"} 2
h_bucket{le="2"} 2
h_bucket{le="5"} 3
h_bucket{le="+Inf"} 5
h_sum NaN
h_count 5
` {
		t.Errorf("with NaN:\n%s", got)
	}

	// Parsed: cumulative buckets, +Inf equal to the count.
	m := joinPrivate(t, "loam.0")[0]
	for i := range 100 {
		m.Duration.Observe(float64(i) * 0.25)
	}
	mfs := parse(t, text(t, m))
	hist := mfs["loam_plugin_request_duration_seconds"].Metric[0].Histogram
	if hist.GetSampleCount() != 100 || hist.GetSampleSum() != 0.25*99*100/2 {
		t.Errorf("count %d sum %v", hist.GetSampleCount(), hist.GetSampleSum())
	}
	checkBuckets(t, hist)
	if n := len(hist.Bucket); n != len(durationBuckets)+1 {
		t.Errorf("%d buckets parsed", n)
	}
	// 0 is the only observation <= 0.005; 0, 0.25 <= 0.32; 0..20.25 <= 20.48 (82 of them).
	for le, n := range map[float64]uint64{0.005: 1, 0.32: 2, 20.48: 82} {
		for _, b := range hist.Bucket {
			if b.GetUpperBound() == le && b.GetCumulativeCount() != n {
				t.Errorf("le=%v: %d, want %d", le, b.GetCumulativeCount(), n)
			}
		}
	}
}

func checkBuckets(t testing.TB, h *dto.Histogram) {
	t.Helper()
	var prev uint64
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() < prev {
			t.Errorf("buckets not cumulative: %v", h.Bucket)
		}
		prev = b.GetCumulativeCount()
	}
	last := h.Bucket[len(h.Bucket)-1]
	if !math.IsInf(last.GetUpperBound(), 1) || last.GetCumulativeCount() != h.GetSampleCount() {
		t.Errorf("+Inf bucket %v, count %d", last, h.GetSampleCount())
	}
}

func TestCounterFloat(t *testing.T) {
	var c Counter
	c.Inc()
	c.Add(2)
	c.Add(0.25)
	c.Add(0)
	if c.Value() != 3.25 {
		t.Errorf("counter = %v", c.Value())
	}
	defer func() {
		if recover() == nil {
			t.Error("Add(-1) did not panic")
		}
	}()
	c.Add(-1)
}

func TestFloatFormat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", math.Copysign(0, -1): "0", 1: "1", -1: "-1", 4096: "4096", 1e6: "1e+06", 123456: "123456",
		0.1: "0.1", 1.5e-9: "1.5e-09", math.Inf(1): "+Inf", math.Inf(-1): "-Inf", 1 << 53: "9.007199254740992e+15",
	} {
		if got := string(appendFloat(nil, v)); got != want {
			t.Errorf("%v formatted %q, want %q", v, got, want)
		}
	}
	if got := string(appendFloat(nil, math.NaN())); got != "NaN" {
		t.Errorf("NaN formatted %q", got)
	}
}

// TestConcurrent updates every kind of metric from several goroutines
// while others scrape, and instances join and leave the registry; run it
// with -race.
func TestConcurrent(t *testing.T) {
	m := mustNew(t, "127.0.0.1:0", "loam.0")
	const workers, n = 4, 2000
	var wg, scrapers sync.WaitGroup
	stop := make(chan struct{})
	scrapers.Add(2)
	go func() { // scrapes over HTTP, each a valid exposition
		defer scrapers.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get("http://" + m.Addr() + "/metrics")
			if err != nil {
				t.Error(err)
				return
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			mfs, err := p.TextToMetricFamilies(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Errorf("scrape %d: %v", i, err)
				return
			}
			for _, mm := range mfs["loam_plugin_request_duration_seconds"].GetMetric() {
				checkBuckets(t, mm.Histogram)
			}
		}
	}()
	go func() { // other instances come and go
		defer scrapers.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			o, err := New("127.0.0.1:0", "loam.1") // joins m: endpoints are shared by MetricsAddr as configured
			if err != nil {
				t.Error(err)
				return
			}
			o.Records.Inc()
			o.Rejected(500 + i%3).Inc()
			o.Close()
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				m.Buffered.Add(100)
				m.Records.Inc()
				m.Records.Add(0.5)
				m.Bytes.Add(3)
				m.Duration.Observe(float64(i%50) * 0.001)
				if i%100 == 0 {
					m.Rejected(400 + w).Inc()
				}
				m.Buffered.Sub(100)
			}
		}()
	}
	wg.Wait()
	close(stop)
	scrapers.Wait()

	if got, want := m.Records.Value(), 1.5*workers*n; got != want {
		t.Errorf("records = %v, want %v", got, want)
	}
	if got := m.Bytes.Value(); got != 3*workers*n {
		t.Errorf("bytes = %v", got)
	}
	if got := m.Buffered.Value(); got != 0 {
		t.Errorf("buffered = %v", got)
	}
	if got := m.Duration.Count(); got != workers*n {
		t.Errorf("observations = %d", got)
	}
	if got, want := m.Duration.Sum(), workers*n/50*0.001*49*50/2; math.Abs(got-want) > 1e-6 {
		t.Errorf("sum = %v, want %v", got, want)
	}
	for w := range workers {
		if got := m.Rejected(400 + w).Value(); got != n/100 {
			t.Errorf("rejected %d = %v", 400+w, got)
		}
	}
	body := []byte(scrape(t, m.Addr()))
	if bytes.Contains(body, []byte(`output="loam.1"`)) {
		t.Errorf("closed instance still scraped")
	}
	checkSorted(t, body)
}

// TestServed scrapes a shared endpoint over HTTP and reads it with the
// Prometheus parser.
func TestServed(t *testing.T) {
	a := mustNew(t, "127.0.0.1:0", "loam.0")
	b := mustNew(t, "127.0.0.1:0", "loam.1")
	a.Records.Add(10)
	a.Rejected(400).Inc()
	a.Duration.Observe(0.02)
	b.Bytes.Add(5)
	b.Buffered.Set(7)

	resp, err := http.Get("http://" + a.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if got := expfmt.ResponseFormat(resp.Header); got.FormatType() != expfmt.TypeTextPlain {
		t.Errorf("Prometheus sees format %q", got)
	}
	mfs := parse(t, body)
	checkSorted(t, body)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"loam_plugin_records_total", []string{"output", "loam.0"}, 10},
		{"loam_plugin_records_total", []string{"output", "loam.1"}, 0},
		{"loam_plugin_bytes_total", []string{"output", "loam.1"}, 5},
		{"loam_plugin_rejected_total", []string{"output", "loam.0", "status", "400"}, 1},
		{"loam_plugin_dropped_records_total", []string{"output", "loam.1", "reason", "rejected"}, 0},
		{"loam_plugin_buffered_bytes", []string{"output", "loam.1"}, 7},
		{"loam_plugin_request_duration_seconds", []string{"output", "loam.0"}, 1},
	} {
		if got := sampleValue(t, mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	types := map[string]dto.MetricType{
		"loam_plugin_records_total":            dto.MetricType_COUNTER,
		"loam_plugin_buffered_bytes":           dto.MetricType_GAUGE,
		"loam_plugin_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"process_cpu_seconds_total":            dto.MetricType_COUNTER,
		"process_resident_memory_bytes":        dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		if mf := mfs[name]; mf == nil || mf.GetType() != typ {
			t.Errorf("%s: %v, want type %v", name, mf, typ)
		}
	}
	if rss := sampleValue(t, mfs, "process_resident_memory_bytes"); rss < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %v", rss)
	}
	if cpu := sampleValue(t, mfs, "process_cpu_seconds_total"); cpu < 0 {
		t.Errorf("process_cpu_seconds_total = %v", cpu)
	}
	// Only the families this package defines: no Go, promhttp or other
	// client_golang defaults.
	if len(mfs) != 10 { // the 8 plugin families (all with series here) and the 2 process ones
		var names []string
		for n := range mfs {
			names = append(names, n)
		}
		slices.Sort(names)
		t.Errorf("families: %v", names)
	}
	if resp, err := http.Get("http://" + a.Addr() + "/other"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/other: %d", resp.StatusCode)
		}
	}
}

func TestProcStat(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	f, ok := procStat()
	if !ok || f[0] == "" {
		t.Fatalf("procStat: %v %v", f, ok)
	}
	for _, fam := range processFamilies() {
		v, ok := fam.(*funcGauge).fn()
		if !ok || v < 0 {
			t.Errorf("%s = %v %v", fam.familyName(), v, ok)
		}
	}
}
