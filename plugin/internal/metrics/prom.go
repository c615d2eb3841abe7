package metrics

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// This file is a minimal Prometheus client: counters, gauges and
// histograms with atomic updates, grouped in labelled families, written in
// the text exposition format 0.0.4 — just what the plugin needs, without
// client_golang's package initialisation and protobuf registry, which cost
// a c-shared library megabytes of resident memory before it does anything.

// Counter is a monotonic counter. Its methods are safe for concurrent use
// and do not allocate.
type Counter struct {
	n    atomic.Uint64 // whole increments: Inc, and Add of whole numbers
	bits atomic.Uint64 // float64 bits of the fractional increments
}

// Inc adds 1.
func (c *Counter) Inc() { c.n.Add(1) }

// Add adds v, which must not be negative (Add panics, as client_golang's
// counters do).
func (c *Counter) Add(v float64) {
	if v < 0 {
		panic("metrics: counter cannot decrease in value")
	}
	if u := uint64(v); float64(u) == v {
		c.n.Add(u)
		return
	}
	addFloat(&c.bits, v)
}

// Value is the counter's current value.
func (c *Counter) Value() float64 {
	return float64(c.n.Load()) + math.Float64frombits(c.bits.Load())
}

func (c *Counter) appendSamples(b []byte, name, labels string) []byte {
	return appendSample(b, name, "", labels, "", c.Value())
}

// Gauge is a value that goes up and down. Its methods are safe for
// concurrent use and do not allocate.
type Gauge struct {
	bits atomic.Uint64 // float64 bits
}

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Inc adds 1.
func (g *Gauge) Inc() { addFloat(&g.bits, 1) }

// Dec subtracts 1.
func (g *Gauge) Dec() { addFloat(&g.bits, -1) }

// Add adds v.
func (g *Gauge) Add(v float64) { addFloat(&g.bits, v) }

// Sub subtracts v.
func (g *Gauge) Sub(v float64) { addFloat(&g.bits, -v) }

// Value is the gauge's current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

func (g *Gauge) appendSamples(b []byte, name, labels string) []byte {
	return appendSample(b, name, "", labels, "", g.Value())
}

// Histogram counts observations in buckets and sums them. Observe is safe
// for concurrent use and does not allocate.
//
// Unlike client_golang's, a scrape concurrent with Observe may see an
// observation in the bucket counts (and _count, their total) before it is
// in _sum; the buckets and _count always agree.
type Histogram struct {
	upper  []float64       // bucket upper bounds, ascending, without +Inf; shared by the family
	counts []atomic.Uint64 // per bucket, not cumulative; the last one is +Inf
	sum    atomic.Uint64   // float64 bits
}

func newHistogram(upper []float64) *Histogram {
	return &Histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

// Observe records v: in the first bucket whose upper bound is >= v (NaN
// and values above every bound: +Inf).
func (h *Histogram) Observe(v float64) {
	lo, hi := 0, len(h.upper)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if h.upper[mid] >= v {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	h.counts[lo].Add(1)
	addFloat(&h.sum, v)
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Sum is the sum of the observations.
func (h *Histogram) Sum() float64 { return math.Float64frombits(h.sum.Load()) }

func (h *Histogram) appendSamples(b []byte, name, labels string) []byte {
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		le := math.Inf(1)
		if i < len(h.upper) {
			le = h.upper[i]
		}
		var lb [32]byte
		b = appendSample(b, name, "_bucket", labels, `le="`+string(appendFloat(lb[:0], le))+`"`, float64(cum))
	}
	b = appendSample(b, name, "_sum", labels, "", h.Sum())
	return appendSample(b, name, "_count", labels, "", float64(cum))
}

// exponentialBuckets is client_golang's ExponentialBuckets: count bounds,
// the first start, each the previous times factor.
func exponentialBuckets(start, factor float64, count int) []float64 {
	b := make([]float64, count)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// addFloat adds v to the float64 whose bits are in u.
func addFloat(u *atomic.Uint64, v float64) {
	for {
		old := u.Load()
		if u.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// metric is a Counter, Gauge or Histogram.
type metric interface {
	// appendSamples appends the metric's sample lines; labels are its
	// rendered label pairs, without braces.
	appendSamples(b []byte, name, labels string) []byte
}

// family is one metric name in the exposition.
type family interface {
	familyName() string
	// appendFamily appends # HELP, # TYPE and the samples, or nothing when
	// the family has no series (as client_golang omits it).
	appendFamily(b []byte) []byte
}

// vec is a family of metrics of one type, one per combination of label
// values.
type vec struct {
	name, help, typ string
	labels          []string // label names, sorted
	newMetric       func() metric

	mu     sync.Mutex
	series map[string]*series // by label values, see with
}

type series struct {
	values   []string
	rendered string // name="value",… escaped, without braces
	m        metric
}

func newVec(name, help, typ string, newMetric func() metric, labels ...string) *vec {
	if !slices.IsSorted(labels) {
		panic("metrics: label names of " + name + " not sorted")
	}
	return &vec{name: name, help: help, typ: typ, labels: labels, newMetric: newMetric, series: map[string]*series{}}
}

func newCounterVec(name, help string, labels ...string) *vec {
	return newVec(name, help, "counter", func() metric { return new(Counter) }, labels...)
}

func newGaugeVec(name, help string, labels ...string) *vec {
	return newVec(name, help, "gauge", func() metric { return new(Gauge) }, labels...)
}

func newHistogramVec(name, help string, buckets []float64, labels ...string) *vec {
	if !slices.IsSorted(buckets) || len(buckets) == 0 || math.IsInf(buckets[len(buckets)-1], 1) {
		panic("metrics: bad buckets for " + name)
	}
	return newVec(name, help, "histogram", func() metric { return newHistogram(buckets) }, labels...)
}

// with returns the metric for the label values, creating it.
func (v *vec) with(values ...string) metric {
	if len(values) != len(v.labels) {
		panic("metrics: " + v.name + ": " + strconv.Itoa(len(values)) + " label values for " + strconv.Itoa(len(v.labels)) + " labels")
	}
	var kb []byte // each value's length, then the value: unambiguous
	for _, x := range values {
		kb = binary.AppendUvarint(kb, uint64(len(x)))
		kb = append(kb, x...)
	}
	key := string(kb)
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.series[key]
	if s == nil {
		s = &series{values: slices.Clone(values), m: v.newMetric()}
		var b []byte
		for i, name := range v.labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, name...)
			b = append(b, `="`...)
			b = appendEscaped(b, values[i], true)
			b = append(b, '"')
		}
		s.rendered = string(b)
		v.series[key] = s
	}
	return s.m
}

func (v *vec) counter(values ...string) *Counter     { return v.with(values...).(*Counter) }
func (v *vec) gauge(values ...string) *Gauge         { return v.with(values...).(*Gauge) }
func (v *vec) histogram(values ...string) *Histogram { return v.with(values...).(*Histogram) }

// deleteLabel removes every series whose label name has the value value.
func (v *vec) deleteLabel(name, value string) {
	i := slices.Index(v.labels, name)
	if i < 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, s := range v.series {
		if s.values[i] == value {
			delete(v.series, k)
		}
	}
}

func (v *vec) familyName() string { return v.name }

func (v *vec) appendFamily(b []byte) []byte {
	v.mu.Lock()
	ss := make([]*series, 0, len(v.series))
	for _, s := range v.series {
		ss = append(ss, s)
	}
	v.mu.Unlock()
	if len(ss) == 0 {
		return b
	}
	slices.SortFunc(ss, func(a, b *series) int { return slices.Compare(a.values, b.values) })
	b = appendHeader(b, v.name, v.help, v.typ)
	for _, s := range ss {
		b = s.m.appendSamples(b, v.name, s.rendered)
	}
	return b
}

// funcGauge is an unlabelled family read at scrape time; fn returning false
// leaves the family out.
type funcGauge struct {
	name, help, typ string
	fn              func() (float64, bool)
}

func (f *funcGauge) familyName() string { return f.name }

func (f *funcGauge) appendFamily(b []byte) []byte {
	v, ok := f.fn()
	if !ok {
		return b
	}
	b = appendHeader(b, f.name, f.help, f.typ)
	return appendSample(b, f.name, "", "", "", v)
}

// registry is a set of families, written sorted by name.
type registry struct {
	families []family
}

func newRegistry(fs ...family) *registry {
	slices.SortFunc(fs, func(a, b family) int { return cmp.Compare(a.familyName(), b.familyName()) })
	for i := 1; i < len(fs); i++ {
		if fs[i].familyName() == fs[i-1].familyName() {
			panic("metrics: duplicate family " + fs[i].familyName())
		}
	}
	return &registry{families: fs}
}

// appendText appends the exposition of every family in the text format
// 0.0.4.
func (r *registry) appendText(b []byte) []byte {
	for _, f := range r.families {
		b = f.appendFamily(b)
	}
	return b
}

// contentType is the text format's media type.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

func appendHeader(b []byte, name, help, typ string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = appendEscaped(b, help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// appendSample appends one line: name+suffix{labels,extra} value.
func appendSample(b []byte, name, suffix, labels, extra string, v float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if labels != "" || extra != "" {
		b = append(b, '{')
		b = append(b, labels...)
		if labels != "" && extra != "" {
			b = append(b, ',')
		}
		b = append(b, extra...)
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

// appendFloat formats v as client_golang does: shortest 'g', +Inf, -Inf,
// NaN.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 0:
		return append(b, '0') // also -0
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped appends s with \ and newline escaped, and " too in label
// values (quoted), as the text format requires; invalid UTF-8 becomes
// U+FFFD, as the format is UTF-8.
func appendEscaped(b []byte, s string, quoted bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				b = append(b, `\\`...)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '"' && quoted:
				b = append(b, `\"`...)
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}
