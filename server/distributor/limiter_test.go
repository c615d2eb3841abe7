package distributor

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/push"
)

func TestBucket(t *testing.T) {
	type step struct {
		at   time.Duration // since the start
		n    float64
		want bool
	}
	tests := []struct {
		name        string
		rate, burst float64
		steps       []step
	}{
		{"starts full", 10, 100, []step{{0, 100, true}, {0, 1, false}}},
		{"refills at the rate", 10, 100, []step{{0, 100, true}, {time.Second, 11, false}, {time.Second, 10, true}, {time.Second, 1, false}}},
		{"never above the burst", 10, 100, []step{{0, 1, true}, {time.Hour, 101, false}, {time.Hour, 100, true}}},
		{"a refusal takes nothing", 10, 100, []step{{0, 60, true}, {0, 50, false}, {0, 40, true}}},
		{"larger than the burst: never", 1e9, 5, []step{{0, 6, false}, {time.Hour, 6, false}, {time.Hour, 5, true}}},
		{"a clock stepping back refills nothing", 10, 100, []step{{time.Minute, 100, true}, {0, 1, false}, {time.Minute, 1, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bucket
			base := now.UnixNano()
			for i, s := range tt.steps {
				if got := b.allow(base+int64(s.at), s.n, tt.rate, tt.burst); got != s.want {
					t.Fatalf("step %d (%v, %g): allowed %v, want %v", i, s.at, s.n, got, s.want)
				}
			}
		})
	}
}

func TestBucketLoweredBurst(t *testing.T) {
	var b bucket
	b.allow(1, 0, 10, 100)
	if b.allow(2, 50, 10, 20) {
		t.Fatal("a lowered burst did not apply at once")
	}
	if !b.allow(2, 20, 10, 20) {
		t.Fatal("the lowered burst is not available")
	}
}

// clock is a settable time for Distributor.now.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time            { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration)   { c.ns.Add(int64(d)) }
func newClock() *clock                     { c := &clock{}; c.ns.Store(now.UnixNano()); return c }
func (c *clock) at(line string) push.Entry { return push.Entry{Timestamp: c.ns.Load(), Line: line} }

// tenants gives each tenant its limits, the others the defaults.
type tenants map[string]*overrides.Limits

func (m tenants) For(t string) *overrides.Limits {
	if l, ok := m[t]; ok {
		return l
	}
	d := overrides.DefaultLimits()
	return &d
}

func limits(set func(*overrides.Limits)) *overrides.Limits {
	l := overrides.DefaultLimits()
	set(&l)
	return &l
}

// fixedMembers is a cluster of n healthy members, counting the questions.
type fixedMembers struct{ n, asked atomic.Int64 }

func (f *fixedMembers) HealthyMembers() int { f.asked.Add(1); return int(f.n.Load()) }

func stream(labels string, es ...push.Entry) push.Stream {
	return push.Stream{Labels: labels, Entries: es}
}

// pushOf is a push of one 100-byte line to each stream of labels.
type pushOf struct {
	tenant string
	labels []string
}

type limitStep struct {
	advance time.Duration // of the clock, before the push
	push    pushOf
	want    string // "" for accepted, else a part of the LimitError
}

type limitCase struct {
	name      string
	limits    func(*overrides.Limits) // of tenant "a"; the others have the defaults
	strategy  Strategy                // "": ShareLimits not called
	members   int64
	steps     []limitStep
	discarded []string // loam_discarded_bytes_total and loam_discarded_samples_total at the end
}

func TestLimits(t *testing.T) {
	line := strings.Repeat("x", 100)
	type s = limitStep
	a := func(ls ...string) pushOf { return pushOf{"a", ls} }
	b := func(ls ...string) pushOf { return pushOf{"b", ls} }
	var tests []limitCase
	tests = append(tests,
		limitCase{
			name: "tenant rate: a push over the bucket is refused whole, the other tenant is not",
			// 0.0002 MB/s = 209.7152 B/s; burst 0.0003 MB = 314.5728 B.
			limits: func(l *overrides.Limits) { l.IngestionRateMB, l.IngestionBurstSizeMB = 0.0002, 0.0003 },
			steps: []s{
				{0, a(`{s="1"}`, `{s="2"}`, `{s="3"}`), ""},
				{0, a(`{s="1"}`), "ingestion rate limit exceeded for user a (limit: 209 bytes/sec) while attempting to ingest '1' lines totaling '100' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased"},
				{0, b(`{s="1"}`, `{s="2"}`, `{s="3"}`, `{s="4"}`), ""},
				{time.Second, a(`{s="1"}`, `{s="2"}`), ""},
				{0, a(`{s="1"}`, `{s="2"}`, `{s="3"}`, `{s="4"}`), "while attempting to ingest '4' lines totaling '400' bytes"},
			},
			discarded: []string{
				`loam_discarded_bytes_total{reason="rate_limited",tenant="a"} 500`,
				`loam_discarded_samples_total{reason="rate_limited",tenant="a"} 5`,
			},
		},
		limitCase{
			name:   "global: the rate is divided by the members, the burst is not",
			limits: func(l *overrides.Limits) { l.IngestionRateMB, l.IngestionBurstSizeMB = 0.0004, 0.0003 },
			// 419.4304 B/s over 4 members: 104 B/s.
			strategy: Global, members: 4,
			steps: []s{
				{0, a(`{s="1"}`, `{s="2"}`, `{s="3"}`), ""},
				{time.Second, a(`{s="1"}`, `{s="2"}`), "(limit: 104 bytes/sec) while attempting to ingest '2' lines totaling '200' bytes"},
				{time.Second, a(`{s="1"}`, `{s="2"}`), ""},
			},
			discarded: []string{
				`loam_discarded_bytes_total{reason="rate_limited",tenant="a"} 200`,
				`loam_discarded_samples_total{reason="rate_limited",tenant="a"} 2`,
			},
		},
		limitCase{
			name:     "local: every node has the whole rate",
			limits:   func(l *overrides.Limits) { l.IngestionRateMB, l.IngestionBurstSizeMB = 0.0004, 0.0003 },
			strategy: Local, members: 4,
			steps: []s{
				{0, a(`{s="1"}`, `{s="2"}`, `{s="3"}`), ""},
				{time.Second, a(`{s="1"}`, `{s="2"}`, `{s="3"}`), ""},
			},
		},
		limitCase{
			name:   "stream limit: new streams past it are refused, known ones accepted, idle ones expire",
			limits: func(l *overrides.Limits) { l.MaxGlobalStreamsPerUser = 2 },
			steps: []s{
				{0, a(`{s="1"}`, `{s="2"}`), ""},
				{0, a(`{s="1"}`, `{s="3"}`, `{s="2"}`, `{s="4"}`), `maximum active stream limit exceeded when trying to create stream {s="3"}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: 'a'`},
				{0, b(`{s="1"}`, `{s="2"}`, `{s="3"}`), ""},
				{streamIdle - time.Second, a(`{s="1"}`), ""},
				{time.Second, a(`{s="3"}`), ""},                                                 // s="2" idle for streamIdle: gone
				{0, a(`{s="2"}`), `create stream {s="2"}`},                                      // s="1" and s="3" active
				{0, a(`{s="1"}`, `{ s = "3" }`), ""},                                            // the same streams, written otherwise
				{0, a(`{s="5"}`), `maximum active stream limit exceeded when trying to create`}, // still full
			},
			discarded: []string{
				`loam_discarded_bytes_total{reason="stream_limit",tenant="a"} 400`,
				`loam_discarded_samples_total{reason="stream_limit",tenant="a"} 4`,
			},
		},
		limitCase{
			name:     "global stream limit: limit / members, rounded up",
			limits:   func(l *overrides.Limits) { l.MaxGlobalStreamsPerUser = 5 },
			strategy: Global, members: 2,
			steps: []s{
				{0, a(`{s="1"}`, `{s="2"}`, `{s="3"}`), ""},
				{0, a(`{s="4"}`), `create stream {s="4"}`},
			},
			discarded: []string{
				`loam_discarded_bytes_total{reason="stream_limit",tenant="a"} 100`,
				`loam_discarded_samples_total{reason="stream_limit",tenant="a"} 1`,
			},
		},
		limitCase{
			name:   "per-stream rate: one stream refused, the others of the push stored",
			limits: func(l *overrides.Limits) { l.PerStreamRateLimit, l.PerStreamRateLimitBurst = 100, 200 },
			steps: []s{
				{0, a(`{s="1"}`, `{s="1"}`), ""},
				{0, a(`{s="1"}`, `{s="2"}`), `Per stream rate limit exceeded (limit: 100B/sec) while attempting to ingest for stream '{s="1"}' totaling 100B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased`},
				{time.Second, a(`{s="1"}`), ""},
				{0, b(`{s="1"}`, `{s="1"}`, `{s="1"}`), ""},
			},
			discarded: []string{
				`loam_discarded_bytes_total{reason="per_stream_rate_limit",tenant="a"} 100`,
				`loam_discarded_samples_total{reason="per_stream_rate_limit",tenant="a"} 1`,
			},
		},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			app := &fakeAppender{}
			d, reg := newTest(t, tenants{"a": limits(tt.limits)}, app)
			d.now = clk.now
			if tt.strategy != "" {
				m := &fixedMembers{}
				m.n.Store(tt.members)
				d.ShareLimits(tt.strategy, m)
			}
			for i, st := range tt.steps {
				clk.advance(st.advance)
				req := &push.Request{}
				for _, ls := range st.push.labels {
					req.Streams = append(req.Streams, stream(ls, clk.at(line)))
				}
				before := len(app.appended())
				err := d.Push(st.push.tenant, req)
				if st.want == "" {
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					continue
				}
				var lerr *LimitError
				if !errors.As(err, &lerr) || !strings.Contains(err.Error(), st.want) {
					t.Fatalf("step %d: Push = %v, want a LimitError with %q", i, err, st.want)
				}
				if IsValidation(err) {
					t.Fatalf("step %d: a limit is reported as a validation error (400)", i)
				}
				if stored := len(app.appended()) - before; stored+lerr.Dropped != len(st.push.labels) {
					t.Fatalf("step %d: %d stored and %d dropped of %d", i, stored, lerr.Dropped, len(st.push.labels))
				}
			}
			got := append(series(t, reg, "loam_discarded_bytes"), series(t, reg, "loam_discarded_samples")...)
			if strings.Join(got, "\n") != strings.Join(tt.discarded, "\n") {
				t.Fatalf("discarded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.discarded, "\n"))
			}
		})
	}
}

// The ring is counted at most once every membersRefresh, and a count
// below one is one.
func TestMembersRefresh(t *testing.T) {
	clk := newClock()
	d, _ := newTest(t, tenants{}, &fakeAppender{})
	d.now = clk.now
	m := &fixedMembers{}
	d.ShareLimits(Global, m)
	for range 10 {
		if err := d.Push("a", &push.Request{Streams: []push.Stream{stream(`{s="1"}`, clk.at("x"))}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.asked.Load(); n != 1 {
		t.Fatalf("members asked %d times within a second, want 1", n)
	}
	if got := d.limiter.divisor(clk.ns.Load()); got != 1 {
		t.Fatalf("0 members counts as %d, want 1", got)
	}
	m.n.Store(3)
	clk.advance(membersRefresh)
	if got := d.limiter.divisor(clk.ns.Load()); got != 3 || m.asked.Load() != 2 {
		t.Fatalf("after %v: divisor %d (asked %d times), want 3", membersRefresh, got, m.asked.Load())
	}
}

// The streams of a tenant are forgotten once they no longer matter, so
// that memory follows the active streams, not all streams ever seen.
func TestStreamsForgotten(t *testing.T) {
	tests := []struct {
		name  string
		set   func(*overrides.Limits)
		after time.Duration // idle time after which the streams are gone
	}{
		{"stream limit: idle for streamIdle", func(l *overrides.Limits) { l.MaxGlobalStreamsPerUser = 1000 }, streamIdle},
		// 2000 bytes at 1000 B/s: the bucket is full again within 2s.
		{"per-stream rate alone: once the bucket is full", func(l *overrides.Limits) {
			l.MaxGlobalStreamsPerUser, l.PerStreamRateLimit, l.PerStreamRateLimitBurst = 0, 1000, 2000
		}, sweepEvery},
		{"no stream limits: nothing kept", func(l *overrides.Limits) { l.MaxGlobalStreamsPerUser, l.PerStreamRateLimit = 0, 0 }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			d, _ := newTest(t, tenants{"a": limits(tt.set)}, &fakeAppender{})
			d.now = clk.now
			pushN := func(n int) {
				req := &push.Request{}
				for i := range n {
					req.Streams = append(req.Streams, stream(fmt.Sprintf(`{s="%d"}`, i), clk.at("x")))
				}
				if err := d.Push("a", req); err != nil {
					t.Fatal(err)
				}
			}
			held := func() int {
				ts := d.limiter.tenant("a")
				ts.mu.Lock()
				defer ts.mu.Unlock()
				return len(ts.streams)
			}
			pushN(500)
			if tt.after == 0 {
				if n := held(); n != 0 {
					t.Fatalf("%d streams held", n)
				}
				return
			}
			if n := held(); n != 500 {
				t.Fatalf("%d streams held, want 500", n)
			}
			clk.advance(tt.after - time.Millisecond)
			pushN(1) // sweeps when due; s="0" stays active
			if n := held(); n != 500 && tt.after == streamIdle {
				t.Fatalf("%d streams held before they are idle, want 500", n)
			}
			clk.advance(tt.after)
			pushN(1)
			if n := held(); n != 1 {
				t.Fatalf("%d streams held after they went idle, want 1", n)
			}
		})
	}
}
