package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/overrides"
)

// now is the fixed clock of the tests.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParseTime(t *testing.T) {
	def := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Time
		err  bool
	}{
		{"empty is the default", "", def, false},
		// Integers of at most ten digits are seconds, longer ones
		// nanoseconds, as in Loki.
		{"seconds", "1700000000", time.Unix(1700000000, 0), false},
		{"zero seconds", "0", time.Unix(0, 0), false},
		{"small seconds", "42", time.Unix(42, 0), false},
		{"negative seconds", "-1", time.Unix(-1, 0), false},
		{"ten digits are seconds", "9999999999", time.Unix(9999999999, 0), false},
		{"eleven digits are nanoseconds", "10000000000", time.Unix(0, 10000000000), false},
		{"nanoseconds", "1700000000123456789", time.Unix(1700000000, 123456789), false},
		{"negative nanoseconds", "-1700000000123456789", time.Unix(0, -1700000000123456789), false},
		// A dot makes float seconds, rounded to the millisecond.
		{"float seconds", "1700000000.5", time.Unix(1700000000, 500_000_000), false},
		{"float milliseconds", "1700000000.123", time.Unix(1700000000, 123_000_000), false},
		{"float rounded to ms", "1700000000.1234567", time.Unix(1700000000, 123_000_000), false},
		{"float rounding up to the next second", "1700000000.9999", time.Unix(1700000001, 0), false},
		{"small float", "1.5", time.Unix(1, 500_000_000), false},
		{"float without fraction digits", "1700000000.", time.Unix(1700000000, 0), false},
		{"negative float", "-1.5", time.Unix(-2, 500_000_000), false},
		{"RFC3339", "2024-01-02T03:04:05Z", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{"RFC3339 with offset", "2024-01-02T05:04:05+02:00", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{"RFC3339Nano", "2024-01-02T03:04:05.123456789Z", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), false},
		{"RFC3339 milliseconds", "2024-01-02T03:04:05.5Z", time.Date(2024, 1, 2, 3, 4, 5, 500_000_000, time.UTC), false},
		{"garbage", "yesterday", time.Time{}, true},
		{"date only", "2024-01-02", time.Time{}, true},
		{"exponent", "1e9", time.Time{}, true},
		{"two dots", "1.2.3", time.Time{}, true},
		{"space", " 1700000000", time.Time{}, true},
		{"too large for int64", "99999999999999999999", time.Time{}, true},
		{"duration", "1h", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTime("start", tt.in, def)
			if tt.err {
				if err == nil {
					t.Fatalf("parseTime(%q) = %v, want an error", tt.in, got)
				}
				// A 400 that names the parameter, the value and the formats.
				var br *badRequest
				if !errors.As(err, &br) {
					t.Fatalf("error %v is %T, want *badRequest", err, err)
				}
				for _, w := range []string{`invalid start "` + tt.in + `"`, "nanoseconds", "RFC3339"} {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("parseTime(%q) = %v, want %v", tt.in, got.UTC(), tt.want.UTC())
			}
		})
	}
}

// form returns a request whose form holds the given query parameters.
func form(t *testing.T, query string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/?"+query, nil)
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTimeRange(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		start, end time.Time
		err        string
	}{
		{"defaults: the last hour", "", now.Add(-time.Hour), now, ""},
		{"start defaults to an hour before end", "end=1700000000", time.Unix(1700000000-3600, 0), time.Unix(1700000000, 0), ""},
		{"end defaults to now", "start=1748775600", time.Unix(1748775600, 0), now, ""},
		{"both", "start=1700000000&end=1700000100", time.Unix(1700000000, 0), time.Unix(1700000100, 0), ""},
		{"empty range", "start=1700000000&end=1700000000", time.Unix(1700000000, 0), time.Unix(1700000000, 0), ""},
		{"mixed formats", "start=2024-01-02T03:04:05Z&end=1704164646000000000", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), time.Unix(0, 1704164646000000000), ""},
		{"end before start", "start=1700000100&end=1700000000", time.Time{}, time.Time{}, "end timestamp must not be before start time"},
		{"start in the future", "start=1900000000", time.Time{}, time.Time{}, "end timestamp must not be before start time"},
		{"bad start", "start=x", time.Time{}, time.Time{}, `invalid start "x"`},
		{"bad end", "end=x", time.Time{}, time.Time{}, `invalid end "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end, err := timeRange(form(t, tt.query), now)
			if tt.err != "" {
				var br *badRequest
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &br) {
					t.Fatalf("timeRange(%q) error = %v, want a bad request containing %q", tt.query, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("timeRange(%q): %v", tt.query, err)
			}
			if !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Fatalf("timeRange(%q) = %v, %v; want %v, %v", tt.query, start.UTC(), end.UTC(), tt.start.UTC(), tt.end.UTC())
			}
		})
	}
}

func TestValidTenant(t *testing.T) {
	tests := []struct {
		tenant string
		err    string // substring; "" for valid
	}{
		{"fake", ""},
		{"tenant-1", ""},
		{"Team_A.prod", ""},
		{"a!-_.*'()", ""},
		{"...", ""},
		{strings.Repeat("a", 150), ""},
		{strings.Repeat("a", 151), "is 151 characters long; the limit is 150"},
		// Tenant IDs become directory names: no path tricks.
		{".", `tenant ID (X-Scope-OrgID) "." is not allowed`},
		{"..", `".." is not allowed`},
		{"a/b", `holds "/"`},
		{`a\b`, `holds "\\"`},
		{"a b", `holds " "`},
		{"a|b", `holds "|"`},
		{"a:b", `holds ":"`},
		{"a\x00", `holds "\x00"`},
		// The message shows the character as sent, not one of its bytes.
		{"zürich", `holds "ü"`},
		{"🦀", `holds "🦀"`},
		{"a\xff", "holds \"\uFFFD\""},
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			err := ValidTenant(tt.tenant)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("ValidTenant(%q) = %v, want nil", tt.tenant, err)
				}
				return
			}
			var br *badRequest
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &br) {
				t.Fatalf("ValidTenant(%q) = %v, want a bad request containing %q", tt.tenant, err, tt.err)
			}
		})
	}
}

func newTestAPI(opts Options) *API {
	a := New(opts, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	a.now = func() time.Time { return now }
	return a
}

func TestParseLogParams(t *testing.T) {
	const q = `query={app="x"}`
	tests := []struct {
		name     string
		opts     Options
		query    string
		limit    int
		backward bool
		err      string
	}{
		{"defaults", Options{}, q, 100, true, ""},
		{"limit", Options{}, q + "&limit=10", 10, true, ""},
		{"limit at the maximum", Options{}, q + "&limit=5000", 5000, true, ""},
		{"limit over the maximum", Options{}, q + "&limit=5001", 0, false,
			"max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)"},
		{"configured maximum", Options{Limits: fixedLimits(func(l *overrides.Limits) { l.MaxEntriesLimitPerQuery = 20 })}, q + "&limit=21", 0, false, "(21 > 20)"},
		{"configured maximum above the default", Options{Limits: fixedLimits(func(l *overrides.Limits) { l.MaxEntriesLimitPerQuery = 10000 })}, q + "&limit=10000", 10000, true, ""},
		{"no maximum", Options{Limits: fixedLimits(func(l *overrides.Limits) { l.MaxEntriesLimitPerQuery = 0 })}, q + "&limit=1000000", 1000000, true, ""},
		{"zero limit", Options{}, q + "&limit=0", 0, false, `invalid limit "0": must be a positive integer`},
		{"negative limit", Options{}, q + "&limit=-5", 0, false, `invalid limit "-5"`},
		{"non-numeric limit", Options{}, q + "&limit=ten", 0, false, `invalid limit "ten"`},
		{"backward", Options{}, q + "&direction=backward", 100, true, ""},
		{"forward", Options{}, q + "&direction=forward", 100, false, ""},
		{"direction is case-insensitive", Options{}, q + "&direction=FORWARD", 100, false, ""},
		{"bad direction", Options{}, q + "&direction=sideways", 0, false, `invalid direction "sideways": use forward or backward`},
		{"missing query", Options{}, "limit=10", 0, false, "missing query parameter"},
		{"empty query", Options{}, "query=", 0, false, "missing query parameter"},
		{"bad time", Options{}, q + "&start=soon", 0, false, `invalid start "soon"`},
		{"end before start", Options{}, q + "&start=1700000100&end=1700000000", 0, false, "end timestamp must not be before start time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAPI(tt.opts)
			r := httptest.NewRequest(http.MethodGet, "/loki/api/v1/query_range?"+tt.query, nil)
			p, err := a.parseQueryParams(r, false)
			if tt.err != "" {
				var br *badRequest
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &br) {
					t.Fatalf("parseQueryParams(%q) error = %v, want a bad request containing %q", tt.query, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseQueryParams(%q): %v", tt.query, err)
			}
			if p.query != `{app="x"}` || p.limit != tt.limit || p.backward != tt.backward {
				t.Fatalf("parseQueryParams(%q) = %+v, want limit %d, backward %v", tt.query, p, tt.limit, tt.backward)
			}
			if !p.end.Equal(now) || !p.start.Equal(now.Add(-time.Hour)) {
				t.Fatalf("range %v–%v, want the last hour before %v", p.start, p.end, now)
			}
		})
	}
}

// Grafana sends long queries as a POST form: it must read the same.
func TestParseLogParamsPostForm(t *testing.T) {
	a := newTestAPI(Options{})
	body := url.Values{"query": {`{app="x"} |= "y"`}, "limit": {"7"}, "direction": {"forward"},
		"start": {"1700000000"}, "end": {"1700000100"}}.Encode()
	r := httptest.NewRequest(http.MethodPost, "/loki/api/v1/query_range", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p, err := a.parseQueryParams(r, false)
	if err != nil {
		t.Fatal(err)
	}
	want := queryParams{query: `{app="x"} |= "y"`, start: time.Unix(1700000000, 0), end: time.Unix(1700000100, 0), limit: 7}
	if p.query != want.query || p.limit != want.limit || p.backward || !p.start.Equal(want.start) || !p.end.Equal(want.end) {
		t.Fatalf("parseQueryParams = %+v, want %+v", p, want)
	}
}

func TestOptionsDefaults(t *testing.T) {
	got := newTestAPI(Options{}).opts
	if l := got.Limits.For("anyone"); !reflect.DeepEqual(*l, overrides.DefaultLimits()) || got.Limits.Defaults() != l || got.Limits.Tenants() != nil {
		t.Fatalf("limits without Options.Limits: %+v", l)
	}
	got.Limits = nil
	if got != DefaultOptions {
		t.Fatalf("opts = %+v, want %+v", got, DefaultOptions)
	}
	set := Options{MaxPushBodyBytes: 1, MaxPushDecompressedBytes: 2, MaxConcurrentQueries: 7, MaxQueuedQueriesPerTenant: 3, DefaultTenant: "t",
		Limits: fixedLimits(nil), Config: "c", DefaultConfig: "d"}
	if got := newTestAPI(set).opts; got != set {
		t.Fatalf("opts = %+v, want %+v", got, set)
	}
	// Loki's defaults, which clients and Grafana are tuned for.
	if overrides.DefaultLimits().MaxEntriesLimitPerQuery != 5000 || DefaultOptions.DefaultTenant != "fake" {
		t.Fatalf("DefaultOptions = %+v", DefaultOptions)
	}
}

// TestQuerySlots: past -query.max-concurrent, a query waits for a slot
// and gives up when its context ends.
func TestQuerySlots(t *testing.T) {
	a := newTestAPI(Options{MaxConcurrentQueries: 1})
	release, err := a.acquireQuery(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.acquireQuery(ctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second query got a slot: %v", err)
	}
	release()
	r2, err := a.acquireQuery(context.Background(), "b")
	if err != nil {
		t.Fatalf("slot not released: %v", err)
	}
	r2()
}
