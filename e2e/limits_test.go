package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestIngestionLimits: each rate and stream limit of the runtime
// configuration file, hit over HTTP, answers Loki's status (429) and
// message, counts what it refused in loam_discarded_samples_total and
// loam_discarded_bytes_total, stores the rest of the push, and leaves the
// other tenants alone.
func TestIngestionLimits(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runtime.yaml")
	// 0.001 MB/s is 1048 bytes a second; bursts of 2097 bytes.
	err := os.WriteFile(file, []byte(`overrides:
  rate:
    ingestion_rate_mb: 0.001
    ingestion_burst_size_mb: 0.002
  stream:
    per_stream_rate_limit: 1KB
    per_stream_rate_limit_burst: 2KB
  streams:
    max_global_streams_per_user: 2
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	l := startLoam(t, filepath.Join(dir, "data"), "-runtime-config.file", file)

	line := strings.Repeat("x", 1500)
	now := time.Now().UnixNano()
	n := int64(0)
	body := func(streams ...string) []byte {
		var es []entry
		for _, s := range streams {
			n++
			es = append(es, entry{Labels: map[string]string{"app": s}, T: now + n, Line: line})
		}
		return jsonBody(es)
	}
	type step struct {
		tenant  string
		streams []string
		status  int
		msg     string // a part of the answer, for a refusal
	}
	tests := []struct {
		name   string
		steps  []step
		tenant string
		reason string
		lines  float64 // discarded
		stored int     // lines of the tenant a query returns afterwards
	}{
		{"ingestion_rate_mb", []step{
			{"rate", []string{"a"}, http.StatusNoContent, ""},
			{"rate", []string{"a"}, http.StatusTooManyRequests,
				"ingestion rate limit exceeded for user rate (limit: 1048 bytes/sec) while attempting to ingest '1' lines totaling '1500' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased"},
			{"rate", []string{"a", "b", "c"}, http.StatusTooManyRequests, "while attempting to ingest '3' lines totaling '4500' bytes"},
		}, "rate", "rate_limited", 4, 1},
		{"per_stream_rate_limit", []step{
			{"stream", []string{"a"}, http.StatusNoContent, ""},
			{"stream", []string{"a", "b"}, http.StatusTooManyRequests,
				`Per stream rate limit exceeded (limit: 1KB/sec) while attempting to ingest for stream '{app="a"}' totaling 1500B, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased`},
		}, "stream", "per_stream_rate_limit", 1, 2},
		{"max_global_streams_per_user", []step{
			{"streams", []string{"a", "b"}, http.StatusNoContent, ""},
			{"streams", []string{"c"}, http.StatusTooManyRequests,
				`maximum active stream limit exceeded when trying to create stream {app="c"}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: 'streams'`},
			{"streams", []string{"a"}, http.StatusNoContent, ""},
		}, "streams", "stream_limit", 1, 3},
		// Another tenant, with the defaults, pushes what each of the
		// limited ones could not.
		{"other tenant", []step{
			{"other", []string{"a", "a", "a", "b", "c", "d"}, http.StatusNoContent, ""},
			{"other", []string{"a", "b", "c", "d", "e"}, http.StatusNoContent, ""},
		}, "other", "", 0, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, s := range tt.steps {
				code, msg := l.pushRaw(t, s.tenant, ctJSON, "", body(s.streams...))
				if code != s.status || !strings.Contains(msg, s.msg) {
					t.Fatalf("step %d: push %v to %s: %d %q, want %d with %q", i, s.streams, s.tenant, code, msg, s.status, s.msg)
				}
			}
			m := l.metrics(t)
			if tt.reason != "" {
				lines, _ := m.value("loam_discarded_samples_total", "tenant", tt.tenant, "reason", tt.reason)
				bytes, _ := m.value("loam_discarded_bytes_total", "tenant", tt.tenant, "reason", tt.reason)
				old, _ := m.value("loam_discarded_lines_total", "tenant", tt.tenant, "reason", tt.reason)
				if lines != tt.lines || bytes != tt.lines*1500 || old != tt.lines {
					t.Errorf("discarded %v lines, %v bytes (loam_discarded_lines_total %v); want %v and %v", lines, bytes, old, tt.lines, tt.lines*1500)
				}
			}
			if v, ok := m.value("loam_discarded_samples_total", "tenant", tt.tenant); tt.reason == "" && ok {
				t.Errorf("tenant %s: %v lines discarded, want none", tt.tenant, v)
			}
			q := url.Values{"query": {`{app=~".+"}`}, "start": {fmt.Sprint(now)}, "end": {fmt.Sprint(now + n + 1)}, "limit": {"100"}}
			if got := l.queryRange(t, tt.tenant, q).count(); got != tt.stored {
				t.Errorf("tenant %s holds %d lines, want %d", tt.tenant, got, tt.stored)
			}
		})
	}
}

// TestShapeAndQueryLimits: every other per-tenant limit of the runtime
// configuration file, hit over HTTP, answers Loki's status (400 for the
// shape of a push and of a query, 504 for query_timeout) and Loki's
// message, word for word; what a push refused is counted under Loki's
// reason, and the tenants without the setting are not held to it.
func TestShapeAndQueryLimits(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runtime.yaml")
	err := os.WriteFile(file, []byte(`overrides:
  shape:
    max_line_size: 100
    max_label_names_per_series: 3
    reject_old_samples_max_age: 1h
    creation_grace_period: 1m
  any-age:
    reject_old_samples: false
  query:
    max_query_length: 1h
    max_query_series: 2
    max_entries_limit_per_query: 10
  slow:
    query_timeout: 1ns
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	l := startLoam(t, filepath.Join(dir, "data"), "-runtime-config.file", file)
	now := time.Now().Truncate(time.Millisecond)
	app := map[string]string{"app": "a"}
	secs := func(ts time.Time) string { return ts.UTC().Format(time.RFC3339) }

	pushes := []struct {
		name   string
		tenant string
		e      entry
		status int
		msg    *regexp.Regexp // the whole answer
		reason string         // of loam_discarded_samples_total
	}{
		{"max_line_size", "shape", entry{Labels: app, T: now.UnixNano(), Line: strings.Repeat("x", 101)}, 400,
			exact(`max entry size '100' bytes exceeded for stream '{app="a"}' while adding an entry with length '101' bytes`), "line_too_long"},
		{"max_line_size, at the limit", "shape", entry{Labels: app, T: now.UnixNano() + 1, Line: strings.Repeat("x", 100)}, 204, nil, ""},
		{"max_label_names_per_series", "shape", entry{Labels: map[string]string{"d": "4", "c": "3", "b": "2", "a": "1"}, T: now.UnixNano(), Line: "x"}, 400,
			exact(`entry for stream '{a="1", b="2", c="3", d="4"}' has 4 label names; limit 3`), "max_label_names_per_series"},
		// Loki adds service_name to every stream and does not count it.
		{"max_label_names_per_series without service_name", "shape", entry{Labels: map[string]string{"service_name": "s", "a": "1", "b": "2", "c": "3"}, T: now.UnixNano(), Line: "x"}, 204, nil, ""},
		{"reject_old_samples_max_age", "shape", entry{Labels: app, T: now.Add(-2 * time.Hour).UnixNano(), Line: "old"}, 400,
			regexp.MustCompile(`^` + regexp.QuoteMeta(`entry for stream '{app="a"}' has timestamp too old: `+secs(now.Add(-2*time.Hour))+`, oldest acceptable timestamp is: `) +
				`(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$`), "greater_than_max_sample_age"},
		// Within the retention (2w), which the store holds to.
		{"reject_old_samples false", "any-age", entry{Labels: app, T: now.Add(-10 * 24 * time.Hour).UnixNano(), Line: "10 days old"}, 204, nil, ""},
		{"reject_old_samples_max_age default", "other", entry{Labels: app, T: now.Add(-8 * 24 * time.Hour).UnixNano(), Line: "8 days old"}, 400,
			regexp.MustCompile(`^entry for stream '\{app="a"\}' has timestamp too old: `), "greater_than_max_sample_age"},
		{"creation_grace_period", "shape", entry{Labels: app, T: now.Add(5 * time.Minute).UnixNano(), Line: "new"}, 400,
			exact(`entry for stream '{app="a"}' has timestamp too new: ` + secs(now.Add(5*time.Minute))), "too_far_in_future"},
		{"creation_grace_period default", "other", entry{Labels: app, T: now.Add(5 * time.Minute).UnixNano(), Line: "new"}, 204, nil, ""},
	}
	for _, p := range pushes {
		t.Run("push/"+p.name, func(t *testing.T) {
			code, msg := l.pushRaw(t, p.tenant, ctJSON, "", jsonBody([]entry{p.e}))
			msg = strings.TrimSuffix(msg, "\n")
			if code != p.status || p.msg != nil && !p.msg.MatchString(msg) {
				t.Fatalf("%d %q, want %d matching %s", code, msg, p.status, p.msg)
			}
			if p.name == "reject_old_samples_max_age" {
				// The oldest time accepted is an hour before the server's now.
				oldest, _ := time.Parse(time.RFC3339, p.msg.FindStringSubmatch(msg)[1])
				if d := now.Add(-time.Hour).Sub(oldest); d < -time.Minute || d > time.Minute {
					t.Errorf("oldest acceptable timestamp %s, want about %s", oldest, now.Add(-time.Hour))
				}
			}
			if p.reason != "" {
				if v, _ := l.metrics(t).value("loam_discarded_samples_total", "tenant", p.tenant, "reason", p.reason); v < 1 {
					t.Errorf("loam_discarded_samples_total{tenant=%q,reason=%q} = %v", p.tenant, p.reason, v)
				}
			}
		})
	}

	// Five streams of three lines each, in tenant query and another.
	var es []entry
	for i := 0; i < 15; i++ {
		es = append(es, entry{Labels: map[string]string{"app": fmt.Sprint("app", i%5)}, T: now.Add(-time.Minute).UnixNano() + int64(i), Line: fmt.Sprint("line ", i)})
	}
	for _, tenant := range []string{"query", "slow", "other"} {
		l.mustPush(t, tenant, ctJSON, "", jsonBody(es))
	}
	from, to := now.Add(-2*time.Hour), now
	rng := url.Values{"start": {ns(from)}, "end": {ns(to)}}
	with := func(q url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, v := range q {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	lastMinute := url.Values{"start": {ns(now.Add(-5 * time.Minute))}, "end": {ns(now)}}
	tooLong := "the query time range exceeds the limit (query length: 2h0m0s, limit: 1h)"
	timeout := "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed"
	queries := []struct {
		name   string
		tenant string
		path   string
		q      url.Values
		status int
		msg    string // the whole answer of a refusal
	}{
		// (A log query's limit is checked first, as Loki does.)
		{"max_query_length query_range", "query", "/loki/api/v1/query_range", with(rng, "query", `{app="app1"}`, "limit", "10"), 400, tooLong},
		{"max_query_length metric", "query", "/loki/api/v1/query_range", with(rng, "query", `count_over_time({app="app1"}[1m])`, "step", "60"), 400, tooLong},
		{"max_query_length labels", "query", "/loki/api/v1/labels", rng, 400, tooLong},
		{"max_query_length label values", "query", "/loki/api/v1/label/app/values", rng, 400, tooLong},
		{"max_query_length series", "query", "/loki/api/v1/series", with(rng, "match[]", `{app="app1"}`), 400, tooLong},
		{"max_query_length index stats", "query", "/loki/api/v1/index/stats", with(rng, "query", `{app="app1"}`), 400, tooLong},
		{"max_query_length detected labels", "query", "/loki/api/v1/detected_labels", with(rng, "query", `{app="app1"}`), 400, tooLong},
		{"max_query_length detected fields", "query", "/loki/api/v1/detected_fields", with(rng, "query", `{app="app1"}`, "line_limit", "10"), 400, tooLong},
		{"max_query_length detected field values", "query", "/loki/api/v1/detected_field/level/values", with(rng, "query", `{app="app1"}`, "line_limit", "10"), 400, tooLong},
		{"max_query_length volume", "query", "/loki/api/v1/index/volume", with(rng, "query", `{app="app1"}`), 400, tooLong},
		{"max_query_length volume_range", "query", "/loki/api/v1/index/volume_range", with(rng, "query", `{app="app1"}`, "step", "60"), 400, tooLong},
		{"max_query_length patterns", "query", "/loki/api/v1/patterns", with(rng, "query", `{app="app1"}`), 400, tooLong},
		{"max_query_length other tenant", "other", "/loki/api/v1/query_range", with(rng, "query", `{app="app1"}`), 200, ""},
		{"max_query_series", "query", "/loki/api/v1/query", url.Values{"query": {`count_over_time({app=~"app.*"}[10m])`}, "time": {ns(now)}}, 400,
			"maximum number of series (2) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"},
		{"max_query_series range", "query", "/loki/api/v1/query_range", with(lastMinute, "query", `count_over_time({app=~"app.*"}[1m])`, "step", "60"), 400,
			"maximum number of series (2) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"},
		{"max_query_series at the limit", "query", "/loki/api/v1/query", url.Values{"query": {`count_over_time({app=~"app[12]"}[10m])`}, "time": {ns(now)}}, 200, ""},
		{"max_query_series other tenant", "other", "/loki/api/v1/query", url.Values{"query": {`count_over_time({app=~"app.*"}[10m])`}, "time": {ns(now)}}, 200, ""},
		{"max_entries_limit_per_query", "query", "/loki/api/v1/query_range", with(lastMinute, "query", `{app=~"app.*"}`, "limit", "11"), 400,
			"max entries limit per query exceeded, limit > max_entries_limit_per_query (11 > 10)"},
		{"max_entries_limit_per_query at the limit", "query", "/loki/api/v1/query_range", with(lastMinute, "query", `{app=~"app.*"}`, "limit", "10"), 200, ""},
		{"max_entries_limit_per_query metric", "query", "/loki/api/v1/query_range", with(lastMinute, "query", `count_over_time({app="app1"}[1m])`, "limit", "11"), 200, ""},
		{"query_timeout query_range", "slow", "/loki/api/v1/query_range", with(lastMinute, "query", `{app=~"app.*"}`), 504, timeout},
		{"query_timeout query", "slow", "/loki/api/v1/query", url.Values{"query": {`count_over_time({app="app1"}[10m])`}, "time": {ns(now)}}, 504, timeout},
		{"query_timeout labels", "slow", "/loki/api/v1/labels", lastMinute, 504, timeout},
		{"query_timeout series", "slow", "/loki/api/v1/series", with(lastMinute, "match[]", `{app="app1"}`), 504, timeout},
		{"query_timeout other tenant", "other", "/loki/api/v1/query_range", with(lastMinute, "query", `{app=~"app.*"}`), 200, ""},
	}
	for _, q := range queries {
		t.Run("query/"+q.name, func(t *testing.T) {
			code, body := l.get(t, q.path, q.q, q.tenant)
			msg := strings.TrimSuffix(string(body), "\n")
			if code != q.status || q.msg != "" && msg != q.msg {
				t.Fatalf("%s %v as %s: %d %q, want %d %q", q.path, q.q, q.tenant, code, msg, q.status, q.msg)
			}
			if q.name == "max_entries_limit_per_query at the limit" {
				if n := parseStreams(t, q.q, body).count(); n != 10 {
					t.Errorf("%d entries, want 10", n)
				}
			}
		})
	}
}

// exact matches s and nothing else.
func exact(s string) *regexp.Regexp { return regexp.MustCompile("^" + regexp.QuoteMeta(s) + "$") }
