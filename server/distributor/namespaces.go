package distributor

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/store"
)

// namespaceVolume counts what each Kubernetes namespace (the streams'
// `namespace` label) pushes, so that a dashboard or an alert can tell
// which workload logs far more than usual, with a bounded number of
// series: the top n (tenant, namespace) pairs by bytes over the last
// period have series of their own, the others add to namespace "other"
// (and streams without the label to ""). The ranking is made again every
// period from the bytes pushed during it; until the first one, the first n
// pairs seen are counted on their own. A pair that leaves the top loses
// its series. Safe for concurrent use.
type namespaceVolume struct {
	n            int
	period       time.Duration
	lines, bytes *prometheus.CounterVec

	mu     sync.Mutex
	recent map[nsKey]int64 // bytes this period, at most maxTracked pairs
	next   int64           // unix ns of the next ranking
	ranked bool            // a ranking was made
	top    atomic.Pointer[map[nsKey]bool]
}

type nsKey struct{ tenant, namespace string }

// otherNamespace is the namespace label of the pairs outside the top n.
const otherNamespace = "other"

// maxTracked bounds the pairs a period remembers; past it, new ones only
// count as "other" until the next ranking.
const maxTracked = 10000

func newNamespaceVolume(n int, period time.Duration, reg prometheus.Registerer) *namespaceVolume {
	v := &namespaceVolume{n: n, period: period, recent: map[nsKey]int64{},
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_namespace_ingested_lines_total",
			Help: "Log lines accepted, by tenant and Kubernetes namespace: the top -metrics.namespace-top-n namespaces by volume have their own series, the others count as \"other\"."},
			[]string{"tenant", "namespace"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_namespace_ingested_bytes_total",
			Help: "Bytes of log lines accepted (line and structured metadata), by tenant and Kubernetes namespace, as loam_namespace_ingested_lines_total."},
			[]string{"tenant", "namespace"}),
	}
	top := map[nsKey]bool{}
	v.top.Store(&top)
	if reg != nil {
		reg.MustRegister(v.lines, v.bytes)
	}
	return v
}

// nsSum is what one push brought of one pair.
type nsSum struct {
	k            nsKey
	lines, bytes int
}

// add counts the accepted streams of a push, whose sizes in bytes are
// sizes.
func (v *namespaceVolume) add(now int64, tenant string, streams []store.Stream, sizes []int) {
	var one [1]nsSum
	sums := one[:0] // a push is usually of one namespace
	for i, s := range streams {
		k := nsKey{tenant, s.Labels.Get("namespace")}
		j := slices.IndexFunc(sums, func(e nsSum) bool { return e.k == k })
		if j < 0 {
			sums = append(sums, nsSum{k: k})
			j = len(sums) - 1
		}
		sums[j].lines += len(s.Entries)
		sums[j].bytes += sizes[i]
	}
	v.mu.Lock()
	if v.next == 0 {
		v.next = now + int64(v.period)
	} else if now >= v.next {
		v.rankLocked()
		v.next = now + int64(v.period)
	}
	top := *v.top.Load()
	for _, e := range sums {
		if _, ok := v.recent[e.k]; ok || len(v.recent) < maxTracked {
			v.recent[e.k] += int64(e.bytes)
		}
		if !v.ranked && !top[e.k] && len(top) < v.n && e.k.namespace != "" {
			// Before the first ranking: the first n pairs seen.
			m := make(map[nsKey]bool, len(top)+1)
			for k := range top {
				m[k] = true
			}
			m[e.k] = true
			v.top.Store(&m)
			top = m
		}
	}
	v.mu.Unlock()
	for _, e := range sums {
		ns := e.k.namespace
		if !top[e.k] && ns != "" {
			ns = otherNamespace
		}
		v.lines.WithLabelValues(e.k.tenant, ns).Add(float64(e.lines))
		v.bytes.WithLabelValues(e.k.tenant, ns).Add(float64(e.bytes))
	}
}

// rankLocked makes the top n of the period that ended and starts another.
func (v *namespaceVolume) rankLocked() {
	type kv struct {
		k nsKey
		b int64
	}
	all := make([]kv, 0, len(v.recent))
	for k, b := range v.recent {
		if k.namespace != "" {
			all = append(all, kv{k, b})
		}
	}
	slices.SortFunc(all, func(a, b kv) int {
		return cmp.Or(cmp.Compare(b.b, a.b), cmp.Compare(a.k.tenant, b.k.tenant), cmp.Compare(a.k.namespace, b.k.namespace))
	})
	top := make(map[nsKey]bool, v.n)
	for _, e := range all[:min(v.n, len(all))] {
		top[e.k] = true
	}
	// A pair that left the top loses its series (its volume goes to
	// "other" from now on), so that their number stays bounded; rate()
	// takes a series that comes back as a counter reset.
	for k := range *v.top.Load() {
		if !top[k] {
			v.lines.DeleteLabelValues(k.tenant, k.namespace)
			v.bytes.DeleteLabelValues(k.tenant, k.namespace)
		}
	}
	v.top.Store(&top)
	clear(v.recent)
	v.ranked = true
}
