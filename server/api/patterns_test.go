package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/wal"
)

// newStoreServer starts the API on a store in a temporary directory, with
// the real clock: the distributor refuses lines far from now.
func newStoreServer(t *testing.T) http.Handler { return newStoreServerWith(t, Options{}) }

// newStoreServerWith is newStoreServer with opts.
func newStoreServerWith(t *testing.T, opts Options) http.Handler {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: t.TempDir(), WAL: wal.Options{SyncPolicy: wal.SyncNever},
		Logger: logger, MaxHeadAge: time.Hour, IdleFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	a := New(opts, logger, reg, reg)
	a.Serve(distributor.New(a.opts.Limits, st, nil), st)
	return a.Handler()
}

// pushLines pushes lines to one stream of tenant, one second apart from
// first, in Loki's JSON push format.
func pushLines(t *testing.T, h http.Handler, tenant, stream string, first time.Time, lines []string) {
	t.Helper()
	type jsonStream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	ls := map[string]string{}
	for _, kv := range strings.Split(stream, ",") {
		k, v, _ := strings.Cut(kv, "=")
		ls[k] = v
	}
	s := jsonStream{Stream: ls}
	for i, l := range lines {
		s.Values = append(s.Values, [2]string{strconv.FormatInt(first.Add(time.Duration(i)*time.Second).UnixNano(), 10), l})
	}
	body, _ := json.Marshal(map[string]any{"streams": []jsonStream{s}})
	r := httptest.NewRequest("POST", "/loki/api/v1/push", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Scope-OrgID", tenant)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("push to %s: %d %s", stream, w.Code, w.Body)
	}
}

func linesOf(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// patternsAnswer is the answer of /loki/api/v1/patterns, checked against
// Loki's layout: every pattern has exactly the fields pattern, level and
// samples, and each sample is [unix seconds, count] in integers.
type patternsAnswer []struct {
	Pattern string     `json:"pattern"`
	Level   string     `json:"level"`
	Samples [][2]int64 `json:"samples"`
}

func getPatterns(t *testing.T, h http.Handler, tenant string, q url.Values) patternsAnswer {
	t.Helper()
	r := httptest.NewRequest("GET", "/loki/api/v1/patterns?"+q.Encode(), nil)
	r.Header.Set("X-Scope-OrgID", tenant)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return decodePatterns(t, w)
}

func decodePatterns(t *testing.T, w *httptest.ResponseRecorder) patternsAnswer {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("patterns: %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var raw struct {
		Status string                       `json:"status"`
		Data   []map[string]json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("answer not in Loki's layout: %v\n%s", err, w.Body)
	}
	if raw.Status != "success" || raw.Data == nil {
		t.Fatalf("status %q, data %v: want success and an array\n%s", raw.Status, raw.Data, w.Body)
	}
	var out patternsAnswer
	for _, p := range raw.Data {
		var keys []string
		for k := range p {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"level", "pattern", "samples"}) {
			t.Fatalf("pattern fields %q, want level, pattern, samples", keys)
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &struct {
		Data *patternsAnswer `json:"data"`
	}{&out}); err != nil {
		t.Fatalf("samples are not [integer, integer] pairs: %v\n%s", err, w.Body)
	}
	return out
}

func (p patternsAnswer) summary() []string {
	var out []string
	for _, s := range p {
		var total int64
		for _, x := range s.Samples {
			total += x[1]
		}
		out = append(out, fmt.Sprintf("%d %s %s", total, s.Level, s.Pattern))
	}
	return out
}

func TestPatterns(t *testing.T) {
	h := newStoreServer(t)
	first := time.Now().Add(-20 * time.Minute).Truncate(time.Minute)
	start, end := first.Add(-time.Minute), first.Add(10*time.Minute)

	pushLines(t, h, "team-a", "app=api,env=prod", first, slices.Concat(
		linesOf(60, func(i int) string {
			return fmt.Sprintf(`level=info ts=%s caller=server.go:201 msg="request served" path=/api/orders/%d status=200 duration=%dms`,
				first.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), 1000+i*7, 3+i%40)
		}),
		linesOf(40, func(i int) string {
			return fmt.Sprintf(`level=warn ts=%s caller=retry.go:77 msg="retrying request" attempt=%d backoff=%dms`,
				first.Add(time.Duration(60+i)*time.Second).Format(time.RFC3339Nano), 1+i%5, 100*(1+i%7))
		}),
		// Seen fewer than 30 times: not answered, as in Loki.
		linesOf(10, func(i int) string {
			return fmt.Sprintf(`level=error ts=%s caller=db.go:12 msg="query failed" err="deadlock detected" table=orders_%d`,
				first.Add(time.Duration(100+i)*time.Second).Format(time.RFC3339Nano), i)
		}),
	))
	// The same lines in a second stream add up with the first.
	pushLines(t, h, "team-a", "app=api,env=dev", first, linesOf(25, func(i int) string {
		return fmt.Sprintf(`level=warn ts=%s caller=retry.go:77 msg="retrying request" attempt=%d backoff=%dms`,
			first.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), 1+i%5, 100*(1+i%7))
	}))
	pushLines(t, h, "team-a", "app=web", first, linesOf(35, func(i int) string {
		return fmt.Sprintf(`{"level":"error","ts":"%s","msg":"upstream %s timed out after %dms","request_id":"%08x"}`,
			first.Add(time.Duration(i)*time.Second).Format(time.RFC3339), []string{"10.0.0.1:8080", "10.0.0.2:8080"}[i%2], 1000+i, i*7919)
	}))
	pushLines(t, h, "team-b", "app=api,env=prod", first, linesOf(50, func(i int) string {
		return fmt.Sprintf("tenant b line number %d of many", i)
	}))

	q := func(query, step string) url.Values {
		v := url.Values{"query": {query}, "start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)}}
		if step != "" {
			v.Set("step", step)
		}
		return v
	}
	check := func(t *testing.T) {
		t.Run("selector", func(t *testing.T) {
			got := getPatterns(t, h, "team-a", q(`{app="api"}`, "1m"))
			want := []string{
				`65 warn level=warn ts=<_> caller=retry.go:77 msg="retrying request" attempt=<_> backoff=<_>`,
				`60 info level=info ts=<_> caller=server.go:201 msg="request served" path=<_> status=200 duration=<_>`,
			}
			if !slices.Equal(got.summary(), want) {
				t.Fatalf("patterns:\n%s\nwant:\n%s", strings.Join(got.summary(), "\n"), strings.Join(want, "\n"))
			}
			// One sample per minute from the first line's minute to the
			// last's, timestamps in seconds.
			info := got[1].Samples
			wantInfo := [][2]int64{{first.Unix(), 60}}
			if !slices.Equal(info, wantInfo) {
				t.Fatalf("samples %v, want %v", info, wantInfo)
			}
			warn := got[0].Samples
			wantWarn := [][2]int64{{first.Unix(), 25}, {first.Unix() + 60, 40}}
			if !slices.Equal(warn, wantWarn) {
				t.Fatalf("samples %v, want %v", warn, wantWarn)
			}
		})
		t.Run("line filter", func(t *testing.T) {
			got := getPatterns(t, h, "team-a", q(`{app="api", env="prod"} |= "retrying" != "attempt=9"`, "1m"))
			want := []string{`40 warn level=warn ts=<_> caller=retry.go:77 msg="retrying request" attempt=<_> backoff=<_>`}
			if !slices.Equal(got.summary(), want) {
				t.Fatalf("patterns %q, want %q", got.summary(), want)
			}
		})
		t.Run("JSON", func(t *testing.T) {
			got := getPatterns(t, h, "team-a", q(`{app="web"}`, "30s"))
			want := []string{`35 error <_>upstream <_> timed out after <_>`}
			if !slices.Equal(got.summary(), want) {
				t.Fatalf("patterns %q, want %q", got.summary(), want)
			}
			want2 := [][2]int64{{first.Unix(), 30}, {first.Unix() + 30, 5}}
			if !slices.Equal(got[0].Samples, want2) {
				t.Fatalf("samples %v, want %v", got[0].Samples, want2)
			}
		})
		t.Run("default step", func(t *testing.T) {
			// Loki's default: the range over 250, in whole seconds: 11m → 2s.
			got := getPatterns(t, h, "team-a", q(`{app="web"}`, ""))
			s := got[0].Samples
			if len(s) != 18 || s[0] != [2]int64{first.Unix(), 2} || s[17] != [2]int64{first.Unix() + 34, 1} {
				t.Fatalf("samples %v, want 18 of 2s from %d", s, first.Unix())
			}
		})
		t.Run("tenants", func(t *testing.T) {
			got := getPatterns(t, h, "team-c", q(`{app="api"}`, ""))
			if len(got) != 0 {
				t.Fatalf("another tenant's patterns: %q", got.summary())
			}
			got = getPatterns(t, h, "team-b", q(`{app="api"}`, ""))
			if want := []string{"50 unknown tenant b line number <_> of many"}; !slices.Equal(got.summary(), want) {
				t.Fatalf("patterns %q, want %q", got.summary(), want)
			}
		})
		t.Run("POST", func(t *testing.T) {
			r := httptest.NewRequest("POST", "/loki/api/v1/patterns", strings.NewReader(q(`{app="web"}`, "1h").Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Scope-OrgID", "team-a")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := decodePatterns(t, w); len(got) != 1 || len(got[0].Samples) != 1 || got[0].Samples[0][1] != 35 {
				t.Fatalf("POST: %s", w.Body)
			}
		})
		// What Logs Drilldown does with a pattern: filter the logs with it.
		t.Run("patterns filter their lines", func(t *testing.T) {
			for _, p := range getPatterns(t, h, "team-a", q(`{app=~"api|web"}`, "1m")) {
				var total int64
				for _, s := range p.Samples {
					total += s[1]
				}
				v := q(`{app=~"api|web"} |> `+strconv.Quote(p.Pattern), "")
				v.Set("limit", "1000")
				r := httptest.NewRequest("GET", "/loki/api/v1/query_range?"+v.Encode(), nil)
				r.Header.Set("X-Scope-OrgID", "team-a")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Fatalf("query_range with pattern %q: %d %s", p.Pattern, w.Code, w.Body)
				}
				var res struct {
					Data struct {
						Result []struct {
							Values [][2]string `json:"values"`
						} `json:"result"`
					} `json:"data"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, s := range res.Data.Result {
					n += len(s.Values)
				}
				if int64(n) != total {
					t.Errorf("|> %q keeps %d lines, the pattern counts %d", p.Pattern, n, total)
				}
			}
		})
	}
	t.Run("head", check)
	// The same answers once the lines are in blocks on disk.
	if res := do(h, "POST", "/flush", ""); res.status != http.StatusNoContent {
		t.Fatalf("flush: %d %s", res.status, res.body)
	}
	t.Run("blocks", check)
}

func TestPatternsBadRequests(t *testing.T) {
	tests := []struct {
		name, target, tenant string
		body                 string
	}{
		{"no query", "/loki/api/v1/patterns", "", "missing query parameter"},
		{"bad selector", `/loki/api/v1/patterns?query={app=}`, "", "parse error"},
		{"parser stage", `/loki/api/v1/patterns?query={app="x"} | json`, "", "stream selector with optional line filters"},
		{"zero step", `/loki/api/v1/patterns?query={app="x"}&step=0`, "", "zero or negative query resolution step"},
		{"negative step", `/loki/api/v1/patterns?query={app="x"}&step=-30s`, "", `invalid step "-30s"`},
		{"bad step", `/loki/api/v1/patterns?query={app="x"}&step=fast`, "", `invalid step "fast"`},
		{"NaN step", `/loki/api/v1/patterns?query={app="x"}&step=NaN`, "", `invalid step "NaN"`},
		{"huge step", `/loki/api/v1/patterns?query={app="x"}&step=9999999999999999999y`, "", `invalid step`},
		{"too many points", `/loki/api/v1/patterns?query={app="x"}&start=0&end=86400&step=1s`, "", "maximum resolution of 11,000 points"},
		{"end before start", `/loki/api/v1/patterns?query={app="x"}&start=2&end=1`, "", "end timestamp must not be before start time"},
		{"bad start", `/loki/api/v1/patterns?query={app="x"}&start=yesterday`, "", `invalid start "yesterday"`},
		{"bad tenant", `/loki/api/v1/patterns?query={app="x"}`, "a/b", `holds "/"`},
	}
	h := newStoreServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", escape(tt.target), nil)
			if tt.tenant != "" {
				r.Header.Set("X-Scope-OrgID", tt.tenant)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.body) {
				t.Fatalf("%d %q, want 400 with %q", w.Code, w.Body.String(), tt.body)
			}
		})
	}
}

func TestParsePatternStep(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"15", 15 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"1e2", 100 * time.Second},
		{"30s", 30 * time.Second},
		{"5m", 5 * time.Minute},
		{"1m30s", 90 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"1h", time.Hour},
		{"2d", 48 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1y", 365 * 24 * time.Hour},
	}
	for _, tt := range tests {
		got, err := parseStep(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseStep(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "s", "1x", "1.5m", "m1", "1 m", "Inf", "-Inf", "1e300"} {
		if got, err := parseStep(in); err == nil {
			t.Errorf("parseStep(%q) = %v, want an error", in, got)
		}
	}
}

func TestPatternsBeforeServe(t *testing.T) {
	_, h, _ := newTestServer(t)
	res := do(h, "GET", `/loki/api/v1/patterns?query={app="x"}`, "")
	if res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "not ready") {
		t.Fatalf("%d %q, want 503 not ready", res.status, res.body)
	}
}
