package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDrilldownEndpoints drives the read endpoints Grafana's Loki data
// source and Logs Drilldown call besides queries — index stats and volume,
// detected labels, fields and field values, drilldown-limits, format_query
// and buildinfo — against the real binary, before and after the head is
// flushed into blocks, and checks each answer against Loki's layout.
func TestDrilldownEndpoints(t *testing.T) {
	l := startLoam(t, t.TempDir())
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	checkout := map[string]string{"service_name": "checkout", "env": "prod", "pod": "checkout-1"}
	cart := map[string]string{"service_name": "cart", "env": "prod", "pod": "cart-1"}
	var es []entry
	var checkoutBytes, cartBytes int
	for i := 0; i < 20; i++ {
		ts := base.Add(time.Duration(i) * time.Second).UnixNano()
		line := fmt.Sprintf(`{"level":"%s","msg":"order %d placed","user":{"id":%d},"took":"%dms"}`, []string{"info", "error"}[i%2], i, 100+i%5, 10+i)
		checkoutBytes += len(line)
		es = append(es, entry{Labels: checkout, T: ts, Line: line, Meta: map[string]string{"trace_id": fmt.Sprintf("tr%04x", i%7)}})
		line = fmt.Sprintf(`level=warn msg="cart updated" items=%d size="%d KiB"`, i%3, 1+i%4)
		cartBytes += len(line)
		es = append(es, entry{Labels: cart, T: ts + 1, Line: line})
	}
	l.mustPush(t, "", ctJSON, "", jsonBody(es))
	l.mustPush(t, "other", ctJSON, "", jsonBody(es[:1]))
	rangeQ := func(query string, kv ...string) url.Values {
		q := url.Values{"query": {query}, "start": {ns(base.Add(-time.Minute))}, "end": {ns(base.Add(time.Minute))}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}

	checkData := func(t *testing.T, stage string) {
		t.Run(stage+"/index_stats", func(t *testing.T) {
			var got struct{ Streams, Chunks, Bytes, Entries int }
			body := l.getJSON(t, "/loki/api/v1/index/stats", rangeQ(`{env="prod"}`), "", &got)
			if !bytes.HasPrefix(body, []byte(`{"streams":2,"chunks":`)) {
				t.Fatalf("layout: %s", body)
			}
			if got.Entries != 40 || got.Bytes != checkoutBytes+cartBytes || got.Chunks < 2 {
				t.Fatalf("stats %+v, want 40 entries and %d bytes", got, checkoutBytes+cartBytes)
			}
		})
		t.Run(stage+"/index_volume", func(t *testing.T) {
			var got struct {
				ResultType string `json:"resultType"`
				Result     []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			}
			// Drilldown's service list: limit 5000, metric[service_name],
			// times in ISO 8601.
			q := rangeQ(`{service_name=~".+"}`, "limit", "5000")
			q.Set("start", base.Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"))
			q.Set("end", base.Add(time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"))
			l.getData(t, "/loki/api/v1/index/volume", q, "", &got)
			want := []string{fmt.Sprintf("checkout %d", checkoutBytes), fmt.Sprintf("cart %d", cartBytes)}
			if checkoutBytes < cartBytes {
				want[0], want[1] = want[1], want[0]
			}
			var summary []string
			for _, s := range got.Result {
				summary = append(summary, fmt.Sprintf("%s %s", s.Metric["service_name"], s.Value[1]))
				if len(s.Metric) != 1 {
					t.Errorf("metric %v, want service_name only", s.Metric)
				}
			}
			if got.ResultType != "vector" || !slices.Equal(summary, want) {
				t.Fatalf("%s %v, want vector %v", got.ResultType, summary, want)
			}
		})
		t.Run(stage+"/index_volume_range", func(t *testing.T) {
			var got struct {
				ResultType string `json:"resultType"`
				Result     []struct {
					Metric map[string]string `json:"metric"`
					Values [][2]any          `json:"values"`
				} `json:"result"`
			}
			q := rangeQ(`{env="prod"}`, "step", "10s", "aggregateBy", "labels", "targetLabels", "pod")
			q.Set("start", ns(base))
			q.Set("end", ns(base.Add(20*time.Second)))
			l.getData(t, "/loki/api/v1/index/volume_range", q, "", &got)
			if got.ResultType != "matrix" || len(got.Result) != 1 || len(got.Result[0].Values) != 2 {
				t.Fatalf("%s %+v, want a matrix of one series {pod:\"\"} with 2 buckets", got.ResultType, got.Result)
			}
			total := 0
			for _, v := range got.Result[0].Values {
				n, _ := strconv.Atoi(v[1].(string))
				total += n
			}
			if _, ok := got.Result[0].Metric["pod"]; !ok || total != checkoutBytes+cartBytes {
				t.Fatalf("metric %v total %d, want {pod:\"\"} and %d", got.Result[0].Metric, total, checkoutBytes+cartBytes)
			}
		})
		t.Run(stage+"/detected_labels", func(t *testing.T) {
			var got struct {
				DetectedLabels []struct {
					Label       string `json:"label"`
					Cardinality int    `json:"cardinality"`
				} `json:"detectedLabels"`
			}
			l.getJSON(t, "/loki/api/v1/detected_labels", rangeQ(`{env="prod"}`), "", &got)
			var summary []string
			for _, d := range got.DetectedLabels {
				summary = append(summary, fmt.Sprintf("%s:%d", d.Label, d.Cardinality))
			}
			if !slices.Equal(summary, []string{"env:1", "pod:2", "service_name:2"}) {
				t.Fatalf("detected labels %v", summary)
			}
		})
		t.Run(stage+"/detected_fields", func(t *testing.T) {
			var got struct {
				Fields []struct {
					Label       string   `json:"label"`
					Type        string   `json:"type"`
					Cardinality int      `json:"cardinality"`
					Parsers     []string `json:"parsers"`
					JSONPath    []string `json:"jsonPath"`
				} `json:"fields"`
				Limit int `json:"limit"`
			}
			body := l.getJSON(t, "/loki/api/v1/detected_fields", rangeQ(`{env="prod"}`, "line_limit", "1000"), "", &got)
			var summary []string
			for _, f := range got.Fields {
				// The parsers' order is that of the streams in the answer.
				slices.Sort(f.Parsers)
				summary = append(summary, fmt.Sprintf("%s %s %d %v %v", f.Label, f.Type, f.Cardinality, f.Parsers, f.JSONPath))
			}
			want := []string{
				"items int 3 [logfmt] []",
				"level string 3 [json logfmt] [level]",
				"msg string 21 [json logfmt] [msg]",
				"size bytes 4 [logfmt] []",
				"took duration 20 [json] [took]",
				"trace_id string 7 [] []",
				"user_id int 5 [json] [user id]",
			}
			if !slices.Equal(summary, want) || got.Limit != 1000 {
				t.Fatalf("fields (limit %d):\n%s\nwant:\n%s", got.Limit, strings.Join(summary, "\n"), strings.Join(want, "\n"))
			}
			if !bytes.Contains(body, []byte(`{"label":"trace_id","type":"string","cardinality":7,"parsers":null}`)) {
				t.Fatalf("structured metadata field not in Loki's layout: %s", body)
			}
		})
		t.Run(stage+"/detected_field_values", func(t *testing.T) {
			var got struct {
				Values []string `json:"values"`
				Limit  int      `json:"limit"`
			}
			l.getJSON(t, "/loki/api/v1/detected_field/size/values", rangeQ(`{env="prod"}`, "line_limit", "1000"), "", &got)
			if !slices.Equal(got.Values, []string{"1.0kB", "2.0kB", "3.1kB", "4.1kB"}) || got.Limit != 1000 {
				t.Fatalf("values %q (limit %d)", got.Values, got.Limit)
			}
			l.getJSON(t, "/loki/api/v1/detected_field/level/values", rangeQ(`{service_name="checkout"} |= "error"`), "", &got)
			if !slices.Equal(got.Values, []string{"error"}) {
				t.Fatalf("level values of the error lines: %q", got.Values)
			}
		})
	}
	checkData(t, "head")
	if code, _, body := l.do(t, "POST", "/flush", nil, nil); code != http.StatusNoContent {
		t.Fatalf("POST /flush: %d %s", code, body)
	}
	checkData(t, "blocks")

	t.Run("drilldown_limits", func(t *testing.T) {
		var got struct {
			Limits                 map[string]any `json:"limits"`
			PatternIngesterEnabled bool           `json:"pattern_ingester_enabled"`
			Version                string         `json:"version"`
		}
		l.getJSON(t, "/loki/api/v1/drilldown-limits", nil, "", &got)
		if got.Limits["max_entries_limit_per_query"] != 5000.0 || got.Limits["retention_period"] != "2w" ||
			!got.PatternIngesterEnabled || !strings.HasPrefix(got.Version, "3.") {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("format_query", func(t *testing.T) {
		var got struct{ Status, Data string }
		l.getJSON(t, "/loki/api/v1/format_query", url.Values{"query": {`{app="a"}|="x"|json`}}, "", &got)
		if got.Status != "success" || got.Data != `{app="a"} |= "x" | json` {
			t.Fatalf("%+v", got)
		}
		code, body := l.get(t, "/loki/api/v1/format_query", url.Values{"query": {`{app=`}}, "")
		if code != http.StatusBadRequest || !bytes.HasPrefix(body, []byte(`{"status":"invalid-query","error":"parse error`)) {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("buildinfo", func(t *testing.T) {
		var got map[string]string
		l.getJSON(t, "/loki/api/v1/status/buildinfo", nil, "", &got)
		if !strings.HasPrefix(got["version"], "3.") || !strings.HasPrefix(got["loam"], "loam ") || !strings.HasPrefix(got["goVersion"], "go") {
			t.Fatalf("%v", got)
		}
		for _, k := range []string{"revision", "branch", "buildUser", "buildDate"} {
			if _, ok := got[k]; !ok {
				t.Fatalf("no %s: %v", k, got)
			}
		}
	})
	t.Run("bad_requests", func(t *testing.T) {
		for _, tt := range []struct {
			path string
			q    url.Values
			want string
		}{
			{"/loki/api/v1/index/stats", url.Values{"query": {`{env=~".*"}`}}, "at least one regexp or equality matcher"},
			{"/loki/api/v1/index/volume", rangeQ(`{env="prod"}`, "aggregateBy", "pods"), "invalid aggregation option"},
			{"/loki/api/v1/index/volume_range", rangeQ(`{env="prod"}`, "step", "1ms"), "11,000 points"},
			{"/loki/api/v1/detected_fields", rangeQ(`{env="prod"}`, "line_limit", "5001"), "max_entries_limit_per_query"},
		} {
			if code, body := l.get(t, tt.path, tt.q, ""); code != http.StatusBadRequest || !strings.Contains(string(body), tt.want) {
				t.Errorf("%s %v: %d %s, want 400 with %q", tt.path, tt.q, code, body, tt.want)
			}
		}
	})
}

// getJSON does a GET, requires 200 and a JSON body, decodes it into v and
// returns the body.
func (p *loam) getJSON(t testing.TB, path string, q url.Values, tenant string, v any) []byte {
	t.Helper()
	code, body := p.get(t, path, q, tenant)
	if code != http.StatusOK {
		t.Fatalf("GET %s %v: %d %s", path, q, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s %v: %v\n%s", path, q, err, body)
	}
	return body
}
