package distributor

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// TestNamespaceVolume: the top n namespaces by bytes of the last period
// have series of their own, the others count as "other", streams without
// the label as ""; every line is counted once.
func TestNamespaceVolume(t *testing.T) {
	reg := prometheus.NewRegistry()
	v := newNamespaceVolume(2, time.Minute, reg)
	push := func(now time.Time, ns string, lines, size int) {
		ls := labels.New(labels.Label{Name: "app", Value: "x"})
		if ns != "" {
			ls = labels.New(labels.Label{Name: "app", Value: "x"}, labels.Label{Name: "namespace", Value: ns})
		}
		es := make([]block.Entry, lines)
		for i := range es {
			es[i] = block.Entry{T: int64(i), Line: make([]byte, size)}
		}
		v.add(now.UnixNano(), "t", []store.Stream{{Labels: ls, Entries: es}}, []int{lines * size})
	}
	lines := func(ns string) float64 { return testutil.ToFloat64(v.lines.WithLabelValues("t", ns)) }
	t0 := time.Unix(1_700_000_000, 0)
	// First period: the first two namespaces seen have their own series.
	push(t0, "a", 1, 10)
	push(t0, "b", 1, 10)
	push(t0, "c", 5, 1000) // the biggest, but third
	push(t0, "", 2, 10)
	for ns, want := range map[string]float64{"a": 1, "b": 1, "other": 5, "": 2} {
		if got := lines(ns); got != want {
			t.Errorf("first period: namespace %q counted %v lines, want %v", ns, got, want)
		}
	}
	// The next period ranks c and a (by bytes, then name) on top: b loses
	// its series and counts as "other".
	push(t0.Add(time.Minute), "b", 1, 10)
	push(t0.Add(time.Minute), "c", 1, 10)
	if n := testutil.CollectAndCount(v.lines); n != 4 {
		t.Errorf("%d series, want the top 2, other and the unlabelled", n)
	}
	for ns, want := range map[string]float64{"a": 1, "c": 1, "other": 6, "": 2} {
		if got := lines(ns); got != want {
			t.Errorf("second period: namespace %q counted %v lines, want %v", ns, got, want)
		}
	}
	if got := testutil.ToFloat64(v.bytes.WithLabelValues("t", "c")); got != 10 {
		t.Errorf("bytes of c: %v, want 10", got)
	}
}

func BenchmarkNamespaceVolume(b *testing.B) {
	v := newNamespaceVolume(20, time.Minute, nil)
	var streams []store.Stream
	var sizes []int
	for i := range 100 {
		streams = append(streams, store.Stream{Labels: labels.New(labels.Label{Name: "namespace", Value: fmt.Sprint("ns-", i%5)}),
			Entries: make([]block.Entry, 10)})
		sizes = append(sizes, 1560)
	}
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		v.add(now, "t", streams, sizes)
	}
}
