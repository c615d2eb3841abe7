package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/wal"
)

// tenantLimits gives some tenants settings of their own.
type tenantLimits map[string]*overrides.Limits

func (m tenantLimits) For(t string) *overrides.Limits {
	if l, ok := m[t]; ok {
		return l
	}
	return m.Defaults()
}
func (m tenantLimits) Defaults() *overrides.Limits { d := overrides.DefaultLimits(); return &d }
func (m tenantLimits) Tenants() []string           { return nil }

// tenantsStore holds {app="web"} in three tenants: a (env=prod, 4 lines,
// and a stream with a __tenant_id__ label of its own), b (env=dev, 3
// lines) and c (2 lines), and {app="pat"} in a and b, in the minute
// before now.
func tenantsStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	add := func(tenant string, ls map[string]string, n int, level string) {
		var es []block.Entry
		for i := range n {
			line := fmt.Sprintf("level=%s tenant=%s n=%d", level, tenant, i)
			if ls["app"] == "pat" {
				line = fmt.Sprintf("GET /api/%d took %dms", i, 3*i+1)
			}
			es = append(es, block.Entry{T: now.Add(-time.Minute + time.Duration(i)*time.Second).UnixNano(), Line: []byte(line)})
		}
		if _, err := st.Append(tenant, []store.Stream{{Labels: labels.FromMap(ls), Entries: es}}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", map[string]string{"app": "web", "env": "prod"}, 4, "info")
	add("a", map[string]string{"app": "own", "__tenant_id__": "mine"}, 1, "info")
	add("b", map[string]string{"app": "web", "env": "dev"}, 3, "warn")
	add("c", map[string]string{"app": "web", "env": "test"}, 2, "error")
	// 20 lines each: a pattern (seen 30 times at least) only across a|b.
	add("a", map[string]string{"app": "pat"}, 20, "")
	add("b", map[string]string{"app": "pat"}, 20, "")
	return st
}

func tenantsServer(t *testing.T, opts Options) http.Handler {
	t.Helper()
	a := New(opts, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.now = func() time.Time { return now }
	st := tenantsStore(t)
	a.ServeFrom(store.Local{Store: st}, distributor.New(fixedLimits(nil), failingAppender{}, nil), st)
	return a.Handler()
}

// TestMultiTenantReads: with MultiTenantQueries, X-Scope-OrgID a|b reads
// a and b (not c) at every read endpoint, streams and series carrying
// __tenant_id__ as Loki sets it, and __tenant_id__ matchers narrow the
// tenants.
func TestMultiTenantReads(t *testing.T) {
	h := tenantsServer(t, Options{MultiTenantQueries: true})
	tests := []struct {
		name, target, tenant string
		has, hasNot          []string
	}{
		{"logs", `/loki/api/v1/query_range?query={app="web"}`, "a|b",
			[]string{`{"__tenant_id__":"a","app":"web","env":"prod"}`, `{"__tenant_id__":"b","app":"web","env":"dev"}`, `tenant=a n=3`, `tenant=b n=2`},
			[]string{`tenant=c`}},
		{"order of the header does not matter", `/loki/api/v1/query_range?query={app="web"}`, "b|a|b",
			[]string{`"__tenant_id__":"a"`, `"__tenant_id__":"b"`}, []string{`tenant=c`}},
		{"tenant equal", `/loki/api/v1/query_range?query={app="web",__tenant_id__="a"}`, "a|b",
			[]string{`"__tenant_id__":"a"`}, []string{`"__tenant_id__":"b"`, `tenant=b`}},
		{"tenant not equal", `/loki/api/v1/query_range?query={app="web",__tenant_id__!="a"}`, "a|b",
			[]string{`"__tenant_id__":"b"`}, []string{`"__tenant_id__":"a"`}},
		{"tenant regexp", `/loki/api/v1/query_range?query={app="web",__tenant_id__=~"a|c"}`, "a|b",
			[]string{`"__tenant_id__":"a"`}, []string{`"__tenant_id__":"b"`, `tenant=c`}},
		{"tenant matcher alone selects every stream of the tenant", `/loki/api/v1/query_range?query={__tenant_id__="b"}`, "a|b",
			[]string{`"__tenant_id__":"b"`}, []string{`tenant=a`}},
		{"own tenant label kept as original", `/loki/api/v1/query_range?query={app="own"}`, "a|b",
			[]string{`{"__tenant_id__":"a","app":"own","original___tenant_id__":"mine"}`}, nil},
		{"matcher on the own label", `/loki/api/v1/query_range?query={original___tenant_id__="mine"}`, "a|b",
			[]string{`"original___tenant_id__":"mine"`}, []string{`"env"`}},
		{"pipeline does not see the tenant", `/loki/api/v1/query_range?query={app="web"} | logfmt | keep level`, "a|b",
			[]string{`{"__tenant_id__":"a","level":"info"}`, `{"__tenant_id__":"b","level":"warn"}`}, nil},
		{"label_format cannot forge the tenant", `/loki/api/v1/query_range?query={app="web",env="dev"} | label_format __tenant_id__="x"`, "a|b",
			[]string{`"__tenant_id__":"b"`, `"original___tenant_id__":"x"`}, nil},
		{"sum by tenant", `/loki/api/v1/query?query=sum by (__tenant_id__) (count_over_time({app="web"}[5m]))`, "a|b",
			[]string{`{"metric":{"__tenant_id__":"a"},"value":[1748779200,"4"]}`, `{"metric":{"__tenant_id__":"b"},"value":[1748779200,"3"]}`}, nil},
		{"sum across tenants", `/loki/api/v1/query?query=sum(count_over_time({app="web"}[5m]))`, "a|b",
			[]string{`{"metric":{},"value":[1748779200,"7"]}`}, nil},
		{"range grouping keeps the tenant", `/loki/api/v1/query?query=max_over_time({app="web"} | logfmt | unwrap n [5m]) by (level)`, "a|b",
			[]string{`{"__tenant_id__":"a","level":"info"}`, `{"__tenant_id__":"b","level":"warn"}`}, nil},
		{"counting without pipeline", `/loki/api/v1/query_range?query=count_over_time({app="web"}[1m])&step=60`, "a|b",
			[]string{`{"__tenant_id__":"a","app":"web","env":"prod"}`, `{"__tenant_id__":"b","app":"web","env":"dev"}`}, []string{`"test"`}},
		{"labels", `/loki/api/v1/labels`, "a|b", []string{`["__tenant_id__","app","env"]`}, nil},
		{"tenant values", `/loki/api/v1/label/__tenant_id__/values`, "a|b", []string{`["a","b"]`}, nil},
		{"tenant values narrowed", `/loki/api/v1/label/__tenant_id__/values?query={__tenant_id__=~"b|c"}`, "a|b", []string{`["b"]`}, nil},
		{"label values", `/loki/api/v1/label/env/values`, "a|b", []string{`["dev","prod"]`}, []string{`test`}},
		{"label values narrowed", `/loki/api/v1/label/env/values?query={__tenant_id__="b"}`, "a|b", []string{`["dev"]`}, nil},
		{"series", `/loki/api/v1/series?match[]={app="web"}`, "a|b",
			[]string{`"__tenant_id__":"a"`, `"__tenant_id__":"b"`}, []string{`test`}},
		{"series keep their own label", `/loki/api/v1/series?match[]={app="own"}`, "a|b",
			[]string{`"__tenant_id__":"mine"`}, []string{`"__tenant_id__":"a"`}},
		{"series narrowed", `/loki/api/v1/series?match[]={__tenant_id__="b"}`, "a|b",
			[]string{`"__tenant_id__":"b"`}, []string{`"__tenant_id__":"a"`, `prod`}},
		{"index stats", `/loki/api/v1/index/stats?query={app="web"}`, "a|b", []string{`"streams":2,`, `"entries":7`}, nil},
		{"volume sums the tenants", `/loki/api/v1/index/volume?query={app="web"}`, "a|b",
			[]string{`{"metric":{"app":"web"},"value":[1748779200,"`}, []string{`__tenant_id__`}},
		{"volume by tenant", `/loki/api/v1/index/volume?query={app="web"}&targetLabels=__tenant_id__`, "a|b",
			[]string{`"__tenant_id__":"a"`, `"__tenant_id__":"b"`}, nil},
		{"volume_range", `/loki/api/v1/index/volume_range?query={app="web"}&step=60`, "a|b", []string{`{"app":"web"}`}, []string{`__tenant_id__`}},
		{"detected labels", `/loki/api/v1/detected_labels?query={app="web"}`, "a|b",
			[]string{`{"label":"env","cardinality":2}`}, []string{`__tenant_id__`}},
		{"detected fields", `/loki/api/v1/detected_fields?query={app="web"}`, "a|b",
			[]string{`"label":"level"`, `"label":"tenant"`}, nil},
		{"detected field values", `/loki/api/v1/detected_field/tenant/values?query={app="web"}`, "a|b",
			[]string{`"values":["a","b"]`}, nil},
		{"patterns of the tenants together", `/loki/api/v1/patterns?query={app="pat"}`, "a|b", []string{`"pattern":"GET \u003c_\u003e took \u003c_\u003e"`}, nil},
		{"patterns of one tenant: too few", `/loki/api/v1/patterns?query={app="pat"}`, "a", []string{`"data":[]`}, nil},
		{"one tenant named twice is one tenant", `/loki/api/v1/query_range?query={app="web"}`, "a|a",
			[]string{`"stream":{"app":"web","env":"prod"}`}, []string{`__tenant_id__`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := doTenant(h, "GET", tt.target, tt.tenant, "")
			if res.status != 200 {
				t.Fatalf("%d %s", res.status, res.body)
			}
			for _, s := range tt.has {
				if !strings.Contains(res.body, s) {
					t.Errorf("answer lacks %s:\n%s", s, res.body)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(res.body, s) {
					t.Errorf("answer holds %s:\n%s", s, res.body)
				}
			}
		})
	}
}

// TestMultiTenantRefused: several tenants are refused with 400 at every
// read endpoint without MultiTenantQueries, with Loki's message; pushes
// and deletes take one tenant whatever the option; a bad tenant among
// several is named.
func TestMultiTenantRefused(t *testing.T) {
	off := tenantsServer(t, Options{})
	on := tenantsServer(t, Options{MultiTenantQueries: true})
	for _, target := range append(slices.Clone(readTargets), `/loki/api/v1/drilldown-limits`) {
		if res := doTenant(off, "GET", target, "a|b", ""); res.status != 400 || !strings.Contains(res.body, "multiple org IDs present") ||
			!strings.Contains(res.body, "-querier.multi-tenant-queries-enabled") {
			t.Errorf("%s with the option off: %d %q, want 400 naming the option", target, res.status, res.body)
		}
	}
	tests := []struct {
		name           string
		h              http.Handler
		method, target string
		tenant, want   string
	}{
		{"push", on, "POST", `/loki/api/v1/push`, "a|b", "a push applies to one tenant"},
		{"empty tenant", on, "GET", `/loki/api/v1/labels`, "a||b", "holds an empty tenant"},
		{"trailing separator", on, "GET", `/loki/api/v1/labels`, "a|", "holds an empty tenant"},
		{"bad tenant among several", on, "GET", `/loki/api/v1/labels`, "a|b/c", `holds "/"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := doTenant(tt.h, tt.method, tt.target, tt.tenant, "")
			if res.status != 400 || !strings.Contains(res.body, tt.want) {
				t.Fatalf("%d %q, want 400 with %q", res.status, res.body, tt.want)
			}
		})
	}
	// A tenant named twice is one: the option is not needed.
	if res := doTenant(off, "GET", `/loki/api/v1/labels`, "a|a", ""); res.status != 200 {
		t.Errorf("a|a with the option off: %d %s", res.status, res.body)
	}
}

// TestMultiTenantLimits: a read of several tenants is held to the most
// restrictive of their limits, as Loki holds it.
func TestMultiTenantLimits(t *testing.T) {
	lim := func(set func(*overrides.Limits)) *overrides.Limits {
		d := overrides.DefaultLimits()
		set(&d)
		return &d
	}
	limits := tenantLimits{
		"a": lim(func(l *overrides.Limits) {
			l.MaxEntriesLimitPerQuery = 0
			l.MaxQueryLength = overrides.Duration(time.Hour)
		}),
		"b": lim(func(l *overrides.Limits) { l.MaxEntriesLimitPerQuery = 2; l.MaxQueryLength = 0; l.MaxQuerySeries = 1 }),
	}
	h := tenantsServer(t, Options{MultiTenantQueries: true, Limits: limits})
	tests := []struct {
		name, target, tenant string
		status               int
		want                 string
	}{
		{"entries: b's", `/loki/api/v1/query_range?query={app="web"}&limit=3`, "a|b", 400, "(3 > 2)"},
		{"entries: a alone has none", `/loki/api/v1/query_range?query={app="web"}&limit=3`, "a", 200, ""},
		{"length: a's", `/loki/api/v1/query_range?query={app="web"}&limit=2&start=` + fmt.Sprint(now.Add(-2*time.Hour).Unix()), "a|b", 400, "limit: 1h"},
		{"length: b alone has none", `/loki/api/v1/query_range?query={app="web"}&limit=2&start=` + fmt.Sprint(now.Add(-2*time.Hour).Unix()), "b", 200, ""},
		{"series: b's", `/loki/api/v1/query?query=sum by (__tenant_id__) (count_over_time({app="web"}[5m]))`, "a|b", 400, "maximum number of series (1)"},
		{"series: narrowed to a, still b's bound", `/loki/api/v1/query?query=count_over_time({__tenant_id__="a"}[5m])`, "a|b", 400, "maximum number of series (1)"},
		{"drilldown limits", `/loki/api/v1/drilldown-limits`, "a|b", 200, `"max_entries_limit_per_query":2,`},
		{"length of labels: a's", `/loki/api/v1/labels?start=` + fmt.Sprint(now.Add(-2*time.Hour).Unix()), "a|b", 400, "limit: 1h"},
		{"length of series: a's", `/loki/api/v1/series?match[]={app="web"}&start=` + fmt.Sprint(now.Add(-2*time.Hour).Unix()), "a|b", 400, "limit: 1h"},
		{"length of labels: b alone has none", `/loki/api/v1/labels?start=` + fmt.Sprint(now.Add(-2*time.Hour).Unix()), "b", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := doTenant(h, "GET", tt.target, tt.tenant, "")
			if res.status != tt.status || !strings.Contains(res.body, tt.want) {
				t.Fatalf("%d %q, want %d with %q", res.status, res.body, tt.status, tt.want)
			}
		})
	}
}

func TestMergedLimits(t *testing.T) {
	mk := func(entries, series int, length, timeout time.Duration) *overrides.Limits {
		l := overrides.DefaultLimits()
		l.MaxEntriesLimitPerQuery, l.MaxQuerySeries = entries, series
		l.MaxQueryLength, l.QueryTimeout = overrides.Duration(length), overrides.Duration(timeout)
		return &l
	}
	tests := []struct {
		name string
		in   []*overrides.Limits
		want *overrides.Limits
	}{
		{"one", []*overrides.Limits{mk(10, 5, time.Hour, time.Minute)}, mk(10, 5, time.Hour, time.Minute)},
		{"smallest of each", []*overrides.Limits{mk(10, 5, time.Hour, time.Minute), mk(20, 3, 2*time.Hour, 30*time.Second)},
			mk(10, 3, time.Hour, 30*time.Second)},
		{"zero is no limit", []*overrides.Limits{mk(0, 5, 0, time.Minute), mk(20, 7, 2*time.Hour, 0)}, mk(20, 5, 2*time.Hour, time.Minute)},
		{"zero when all have none", []*overrides.Limits{mk(0, 5, 0, time.Minute), mk(0, 7, 0, time.Minute)}, mk(0, 5, 0, time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergedLimits(tt.in)
			if got.MaxEntriesLimitPerQuery != tt.want.MaxEntriesLimitPerQuery || got.MaxQuerySeries != tt.want.MaxQuerySeries ||
				got.MaxQueryLength != tt.want.MaxQueryLength || got.QueryTimeout != tt.want.QueryTimeout {
				t.Fatalf("got entries %d series %d length %v timeout %v, want %d %d %v %v", got.MaxEntriesLimitPerQuery, got.MaxQuerySeries,
					got.MaxQueryLength, got.QueryTimeout, tt.want.MaxEntriesLimitPerQuery, tt.want.MaxQuerySeries, tt.want.MaxQueryLength, tt.want.QueryTimeout)
			}
		})
	}
}

// TestMultiTenantTail: a tail of a|b sends the history of both tenants,
// tagged, and not c's.
func TestMultiTenantTail(t *testing.T) {
	h := tenantsServer(t, Options{MultiTenantQueries: true})
	srv := httptest.NewServer(h)
	defer srv.Close()
	q := url.Values{"query": {`{app="web"} | logfmt | keep level`}, "start": {fmt.Sprint(now.Add(-time.Hour).UnixNano())}}
	hdr := http.Header{"X-Scope-OrgID": {"a|b"}}
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/loki/api/v1/tail?"+q.Encode(), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got strings.Builder
	for !strings.Contains(got.String(), "tenant=a n=3") || !strings.Contains(got.String(), "tenant=b n=2") {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%v; read so far: %s", err, got.String())
		}
		got.Write(msg)
	}
	for _, want := range []string{`{"__tenant_id__":"a","level":"info"}`, `{"__tenant_id__":"b","level":"warn"}`} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("tail lacks %s: %s", want, got.String())
		}
	}
	if strings.Contains(got.String(), "tenant=c") {
		t.Errorf("tail holds tenant c: %s", got.String())
	}
}
