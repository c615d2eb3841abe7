package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// TestGrafanaQueries drives query and query_range the way Grafana's Loki
// datasource does: its health check, metric queries with a step in ms and
// nanosecond times, log queries with the categorize-labels header.
func TestGrafanaQueries(t *testing.T) {
	l := startLoam(t, t.TempDir())
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var es []entry
	for i := 0; i < 60; i++ {
		level := "info"
		if i%4 == 0 {
			level = "error"
		}
		es = append(es, entry{
			Labels: map[string]string{"app": "api", "pod": fmt.Sprintf("p%d", i%2)},
			T:      base.Add(time.Duration(i) * time.Second).UnixNano(),
			Line:   fmt.Sprintf(`{"level":%q,"status":%d,"n":%d}`, level, 200+i%3*100, i),
		})
	}
	l.mustPush(t, "", "application/json", "", jsonBody(es))

	type result struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
			Stats      map[string]any  `json:"stats"`
		} `json:"data"`
	}
	get := func(path string, q url.Values) result {
		t.Helper()
		code, b := l.get(t, path, q, "")
		if code != http.StatusOK {
			t.Fatalf("%s %v: %d %s", path, q, code, b)
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
		return r
	}

	// "Save & test": ten digits are seconds, a time far ahead is fine.
	r := get("/loki/api/v1/query", url.Values{"direction": {"backward"}, "query": {"vector(1)+vector(1)"}, "time": {"4000000000"}})
	if r.Data.ResultType != "vector" || string(r.Data.Result) != `[{"metric":{},"value":[4000000000,"2"]}]` {
		t.Fatalf("health check: %s %s", r.Data.ResultType, r.Data.Result)
	}

	ns := func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
	start, end := base, base.Add(2*time.Minute)
	r = get("/loki/api/v1/query_range", url.Values{
		"query": {`sum by (pod) (count_over_time({app="api"} | json | level="error" [1m]))`},
		"start": {ns(start)}, "end": {ns(end)}, "step": {"60000ms"}, "limit": {"1000"}, "direction": {"backward"},
	})
	var matrix []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	if err := json.Unmarshal(r.Data.Result, &matrix); err != nil || r.Data.ResultType != "matrix" {
		t.Fatalf("matrix: %v %s", err, r.Data.Result)
	}
	// Lines 0,4,…,56 are errors, all on pod p0; windows are (t-1m, t]:
	// line 0 at base alone, then the 14 others.
	if len(matrix) != 1 || matrix[0].Metric["pod"] != "p0" {
		t.Fatalf("series: %s", r.Data.Result)
	}
	got, _ := json.Marshal(matrix[0].Values)
	if exp := fmt.Sprintf(`[[%d,"1"],[%d,"14"]]`, base.Unix(), base.Add(time.Minute).Unix()); string(got) != exp {
		t.Fatalf("points %s, want %s", got, exp)
	}
	if r.Data.Stats == nil {
		t.Fatal("no stats")
	}

	// An instant scalar: its time in milliseconds, as Loki's frontend writes it.
	r = get("/loki/api/v1/query", url.Values{"query": {"1 + 2 * 3"}, "time": {ns(end)}})
	if r.Data.ResultType != "scalar" || string(r.Data.Result) != fmt.Sprintf(`[%d,"7"]`, end.UnixMilli()) {
		t.Fatalf("scalar: %s %s", r.Data.ResultType, r.Data.Result)
	}

	// A log query with Grafana's header: the categorized shape, encodingFlags
	// before result, every value [ts, line, {parsed…}], streams by their
	// own labels only.
	q := url.Values{"query": {`{app="api"} | json | status >= 300 | line_format "{{.n}}"`},
		"start": {ns(start)}, "end": {ns(end)}, "limit": {"5"}, "direction": {"backward"}}
	code, _, b := l.do(t, "GET", "/loki/api/v1/query_range?"+q.Encode(),
		http.Header{"X-Loki-Response-Encoding-Flags": {"categorize-labels"}}, nil)
	if code != http.StatusOK {
		t.Fatalf("log query: %d %s", code, b)
	}
	flags, res := bytes.Index(b, []byte(`"encodingFlags":["categorize-labels"]`)), bytes.Index(b, []byte(`"result"`))
	if flags < 0 || flags > res {
		t.Fatalf("encodingFlags not before result: %s", b)
	}
	var lr result
	json.Unmarshal(b, &lr)
	var streams []struct {
		Stream map[string]string    `json:"stream"`
		Values [][3]json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(lr.Data.Result, &streams); err != nil || lr.Data.ResultType != "streams" {
		t.Fatalf("streams: %v %s", err, b)
	}
	n := 0
	for _, s := range streams {
		if len(s.Stream) != 2 || s.Stream["pod"] == "" {
			t.Fatalf("stream labels %v, want app and pod only", s.Stream)
		}
		for _, v := range s.Values {
			var cat struct {
				Parsed map[string]string `json:"parsed"`
			}
			if err := json.Unmarshal(v[2], &cat); err != nil || cat.Parsed["level"] == "" || cat.Parsed["status"] < "300" {
				t.Fatalf("value %s: parsed labels missing (%v)", v, err)
			}
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d entries, want the limit 5: %s", n, b)
	}

	// Without the header: [ts, line] values under the parsed labels too.
	code, plain := l.get(t, "/loki/api/v1/query_range", q, "")
	if code != http.StatusOK {
		t.Fatalf("log query: %d %s", code, plain)
	}
	json.Unmarshal(plain, &lr)
	var plainStreams []struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	if err := json.Unmarshal(lr.Data.Result, &plainStreams); err != nil || bytes.Contains(plain, []byte("encodingFlags")) {
		t.Fatalf("plain streams: %v %s", err, plain)
	}
	for _, s := range plainStreams {
		if s.Stream["level"] == "" || s.Stream["status"] < "300" {
			t.Fatalf("parsed labels missing: %v", s.Stream)
		}
	}
}
