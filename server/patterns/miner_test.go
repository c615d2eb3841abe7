package patterns

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/logql"
)

// t0 is 2025-06-01T12:00:00Z, the start of every generated log.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// entry is a generated log line.
type entry struct {
	stream uint64
	t      time.Time
	line   string
}

// gen makes n lines of one kind, one second apart from t0, with random
// variable parts drawn from a fixed seed.
func gen(stream uint64, n int, seed uint64, f func(r *rand.Rand, i int, t time.Time) string) []entry {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]entry, n)
	for i := range out {
		t := t0.Add(time.Duration(i) * time.Second)
		out[i] = entry{stream, t, f(r, i, t)}
	}
	return out
}

func ip(r *rand.Rand) string {
	return fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), 1+r.IntN(254))
}

func nginx(method, path, status, ua string) func(r *rand.Rand, i int, t time.Time) string {
	return func(r *rand.Rand, i int, t time.Time) string {
		p := path
		if strings.Contains(p, "%d") {
			p = fmt.Sprintf(p, r.IntN(100000))
		}
		return fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %s %d "-" "%s"`,
			ip(r), t.Format("02/Jan/2006:15:04:05 -0700"), method, p, status, 100+r.IntN(90000), ua)
	}
}

// minerTests are logs as services write them, and the patterns a reader
// expects: the variable parts wildcarded, the constant ones kept.
var minerTests = []struct {
	name  string
	lines []entry
	want  []Pattern // Pattern, Level and Total; samples are tested apart
}{
	{
		name: "nginx access log",
		lines: slices.Concat(
			gen(1, 40, 1, nginx("GET", "/api/users/%d", "200", "curl/8.5.0")),
			gen(1, 35, 2, nginx("POST", "/api/login", "401", "Mozilla/5.0 (X11; Linux x86_64)")),
		),
		want: []Pattern{
			{Pattern: `<_> - - [<_> +0000] "GET <_> HTTP/1.1" 200 <_> "-" "curl/8.5.0"`, Level: LevelUnknown, Total: 40},
			{Pattern: `<_> - - [<_> +0000] "POST /api/login HTTP/1.1" 401 <_> "-" "Mozilla/5.0 (X11; Linux x86_64)"`, Level: LevelUnknown, Total: 35},
		},
	},
	{
		name: "JSON (zap)",
		lines: slices.Concat(
			gen(1, 50, 3, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`{"level":"info","ts":%d.%06d,"caller":"auth/login.go:42","msg":"user %d logged in from %s","trace_id":"%016x"}`,
					t.Unix(), r.IntN(1e6), r.IntN(5000), ip(r), r.Uint64())
			}),
			gen(1, 31, 4, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`{"level":"error","ts":%d.%06d,"caller":"billing/charge.go:118","msg":"payment failed for order ord-%d: card declined","amount":%d.%02d}`,
					t.Unix(), r.IntN(1e6), r.IntN(1e6), r.IntN(500), r.IntN(100))
			}),
			// Without a message field, a JSON line is not mined.
			gen(1, 40, 5, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`{"level":"info","event":"heartbeat","seq":%d}`, i)
			}),
		),
		want: []Pattern{
			{Pattern: `<_>user <_> logged in from <_>`, Level: LevelInfo, Total: 50},
			// ":" is part of words (times, ports, file:line), so "ord-42:" is one token.
			{Pattern: `<_>payment failed for order <_> card declined<_>`, Level: LevelError, Total: 31},
		},
	},
	{
		name: "logfmt (go-kit)",
		lines: slices.Concat(
			gen(1, 45, 6, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`level=warn ts=%s caller=retry.go:77 msg="retrying request" attempt=%d backoff=%dms`,
					t.Format(time.RFC3339Nano), 1+r.IntN(5), 100*(1+r.IntN(30)))
			}),
			gen(1, 30, 7, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`level=info ts=%s caller=server.go:201 msg="request served" method=GET path=/api/orders/%d status=200 duration=%s`,
					t.Format(time.RFC3339Nano), r.IntN(9999), time.Duration(r.IntN(1e9)))
			}),
		),
		want: []Pattern{
			{Pattern: `level=warn ts=<_> caller=retry.go:77 msg="retrying request" attempt=<_> backoff=<_>`, Level: LevelWarn, Total: 45},
			{Pattern: `level=info ts=<_> caller=server.go:201 msg="request served" method=GET path=<_> status=200 duration=<_>`, Level: LevelInfo, Total: 30},
		},
	},
	{
		name: "klog (kubelet)",
		lines: slices.Concat(
			gen(1, 40, 8, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`I0601 %s       1 reflector.go:325] Listing and watching *v1.Pod from k8s.io/client-go/informers/factory.go:160`,
					t.Add(time.Duration(r.IntN(1e6))*time.Microsecond).Format("15:04:05.000000"))
			}),
			gen(1, 32, 9, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`E0601 %s    2231 kubelet.go:2874] "Error syncing pod, skipping" err="failed to \"StartContainer\" for \"web\" with CrashLoopBackOff" pod="default/web-%x"`,
					t.Format("15:04:05.000000"), r.Uint32())
			}),
			// Go's <nil> would read as a named capture in a |> filter.
			gen(1, 30, 10, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf(`W0601 %s       1 controller.go:114] error syncing 'default/web-%d': <nil>, requeuing`,
					t.Format("15:04:05.000000"), r.IntN(50))
			}),
		),
		want: []Pattern{
			{Pattern: `I0601 <_>       1 reflector.go:325] Listing and watching *v1.Pod from k8s.io/client-go/informers/factory.go:160`, Level: LevelUnknown, Total: 40},
			{Pattern: `E0601 <_>    2231 kubelet.go:2874] "Error syncing pod, skipping" err="failed to \"StartContainer\" for \"web\" with CrashLoopBackOff" pod="<_>"`, Level: LevelError, Total: 32},
			{Pattern: `W0601 <_>       1 controller.go:114] error syncing '<_>': <<_>>, requeuing`, Level: LevelError, Total: 30},
		},
	},
	{
		// Loki mines each stream apart and adds up equal patterns.
		name: "same pattern in two streams",
		lines: slices.Concat(
			gen(1, 20, 11, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf("connection from %s closed after %dms", ip(r), r.IntN(5000))
			}),
			gen(2, 15, 12, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf("connection from %s closed after %dms", ip(r), r.IntN(5000))
			}),
		),
		want: []Pattern{
			{Pattern: `connection from <_> closed after <_>`, Level: LevelUnknown, Total: 35},
		},
	},
	{
		name: "levels split patterns",
		lines: slices.Concat(
			gen(1, 12, 13, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf("level=info msg=\"cache refresh\" entries=%d", r.IntN(1000))
			}),
			gen(1, 10, 14, func(r *rand.Rand, i int, t time.Time) string {
				return fmt.Sprintf("level=debug msg=\"cache refresh\" entries=%d", r.IntN(1000))
			}),
		),
		want: []Pattern{
			{Pattern: `level=info msg="cache refresh" entries=<_>`, Level: LevelInfo, Total: 12},
			{Pattern: `level=debug msg="cache refresh" entries=<_>`, Level: LevelDebug, Total: 10},
		},
	},
	{
		// Adjacent wildcards are one: "<_><_>" is no valid |> pattern.
		name: "adjacent wildcards merge",
		lines: gen(1, 10, 15, func(r *rand.Rand, i int, t time.Time) string {
			return fmt.Sprintf("upload %d finished in %dms%c", r.IntN(100), r.IntN(100), "!?"[i%2])
		}),
		want: []Pattern{
			{Pattern: `upload <_> finished in <_>`, Level: LevelUnknown, Total: 10},
		},
	},
	{
		name: "short lines are not mined",
		lines: gen(1, 50, 16, func(r *rand.Rand, i int, t time.Time) string {
			return "migration done"
		}),
		want: []Pattern{},
	},
}

// mine feeds entries to a Miner as the API does.
func mine(es []entry, opts Options) *Miner {
	m := NewMiner(opts)
	for _, e := range es {
		m.Add(e.stream, LineLevel([]byte(e.line)), e.t.UnixNano(), []byte(e.line))
	}
	return m
}

func TestMinerPatterns(t *testing.T) {
	for _, tt := range minerTests {
		t.Run(tt.name, func(t *testing.T) {
			m := mine(tt.lines, Options{Step: int64(time.Minute)})
			got := m.Patterns(1, 0)
			var gotText, wantText []string
			for _, p := range got {
				gotText = append(gotText, fmt.Sprintf("%d %s %s", p.Total, p.Level, p.Pattern))
			}
			for _, p := range tt.want {
				wantText = append(wantText, fmt.Sprintf("%d %s %s", p.Total, p.Level, p.Pattern))
			}
			if !slices.Equal(gotText, wantText) {
				t.Fatalf("patterns:\n%s\nwant:\n%s", strings.Join(gotText, "\n"), strings.Join(wantText, "\n"))
			}
			checkMatchesOwnLines(t, got, tt.lines)
		})
	}
}

// checkMatchesOwnLines checks that every pattern is a valid LogQL pattern
// filter, and that every mined line passes the filter of a pattern of its
// level: what Logs Drilldown does when one clicks a pattern.
func checkMatchesOwnLines(t *testing.T, ps []Pattern, es []entry) {
	t.Helper()
	byLevel := map[string][]logql.LineMatcher{}
	for _, p := range ps {
		byLevel[p.Level] = append(byLevel[p.Level], patternFilter(t, p.Pattern))
	}
	var l line
	for _, e := range es {
		if !l.tokenize([]byte(e.line)) {
			continue
		}
		lvl := LineLevel([]byte(e.line))
		if !slices.ContainsFunc(byLevel[lvl], func(m logql.LineMatcher) bool { return m.Match([]byte(e.line)) }) {
			t.Errorf("no %s pattern keeps the line %q", lvl, e.line)
		}
	}
}

func patternFilter(t testing.TB, pattern string) logql.LineMatcher {
	t.Helper()
	q := `{app="x"} |> ` + strconv.Quote(pattern)
	sel, err := logql.ParseLogSelector(q)
	if err != nil {
		t.Fatalf("pattern %q is no valid line filter: %v", pattern, err)
	}
	var fs []*logql.LineFilter
	for _, s := range sel.Pipeline {
		fs = append(fs, s.(*logql.LineFilter))
	}
	m, err := logql.CompileFilters(fs)
	if err != nil {
		t.Fatalf("pattern %q does not compile as a line filter: %v", pattern, err)
	}
	return m
}

func TestSamples(t *testing.T) {
	sec := int64(time.Second)
	line := func(n int) []byte { return fmt.Appendf(nil, "request %d served in %dms", n, n*7) }
	m := NewMiner(Options{Step: 10 * sec})
	at := func(s int64) int64 { return t0.UnixNano() + s*sec }
	// Out of order, and across two streams: 3 lines at 0-9s, none at 10s,
	// 2 at 20s, 1 at 40s.
	for i, s := range []int64{25, 3, 40, 9, 0, 21} {
		m.Add(uint64(i%2), "", at(s), line(i))
	}
	got := m.Patterns(1, 0)
	want := []Sample{{at(0), 3}, {at(10), 0}, {at(20), 2}, {at(30), 0}, {at(40), 1}}
	if len(got) != 1 || got[0].Total != 6 || !slices.Equal(got[0].Samples, want) {
		t.Fatalf("patterns %+v, want one of total 6 with samples %v", got, want)
	}
	// Buckets start at multiples of the step since the epoch, also before it.
	m = NewMiner(Options{Step: 10 * sec})
	m.Add(1, "", -1, line(1))
	m.Add(1, "", -10*sec, line(2))
	m.Add(1, "", 9*sec, line(3))
	got = m.Patterns(1, 0)
	want = []Sample{{-10 * sec, 2}, {0, 1}}
	if len(got) != 1 || !slices.Equal(got[0].Samples, want) {
		t.Fatalf("patterns %+v, want samples %v", got, want)
	}
}

// Patterns keeps the frequent ones, most frequent first.
func TestPatternsMinCountAndLimit(t *testing.T) {
	m := NewMiner(Options{})
	kinds := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	for i, n := range []int{5, 40, 30, 29, 31} {
		for j := 0; j < n; j++ {
			m.Add(1, "", int64(j), fmt.Appendf(nil, "%s event happened count=%d", kinds[i], j))
		}
	}
	var got []string
	for _, p := range m.Patterns(MinCount, 2) {
		got = append(got, fmt.Sprintf("%d %s", p.Total, p.Pattern))
	}
	want := []string{"40 beta event happened count=<_>", "31 epsilon event happened count=<_>"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := len(m.Patterns(MinCount, 0)); n != 3 {
		t.Fatalf("%d patterns of at least %d lines, want 3", n, MinCount)
	}
}

func TestMinerLimits(t *testing.T) {
	m := NewMiner(Options{MaxLines: 3})
	for i, want := range []bool{true, true, false, false} {
		if got := m.Add(1, "", int64(i), []byte("a b c d")); got != want {
			t.Fatalf("Add #%d = %v, want %v", i+1, got, want)
		}
	}
	if st := m.Stats(); st.Lines != 3 || st.Mined != 3 {
		t.Fatalf("stats %+v, want 3 lines mined", st)
	}

	// Beyond MaxClusters, lines that fit no group are dropped and counted.
	m = NewMiner(Options{MaxClusters: 2})
	for _, l := range []string{"alpha one two three", "beta four five six", "gamma seven eight nine", "alpha one two four"} {
		m.Add(1, "", 0, []byte(l))
	}
	want := Stats{Lines: 4, Mined: 3, Unclustered: 1}
	if st := m.Stats(); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func BenchmarkMiner(b *testing.B) {
	var es []entry
	for _, tt := range minerTests {
		es = append(es, tt.lines...)
	}
	bytes := 0
	for _, e := range es {
		bytes += len(e.line)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	for b.Loop() {
		m := mine(es, Options{})
		m.Patterns(MinCount, MaxPatterns)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/line")
}
