package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metaLine is one pushed entry: its time, line and structured metadata.
type metaLine struct {
	t    time.Time
	line string
	meta map[string]string
}

// pushEntries pushes entries to one stream of tenant in Loki's JSON format,
// with structured metadata when an entry has some.
func pushEntries(t *testing.T, h http.Handler, tenant string, stream map[string]string, es []metaLine) {
	t.Helper()
	var values [][]any
	for _, e := range es {
		v := []any{strconv.FormatInt(e.t.UnixNano(), 10), e.line}
		if e.meta != nil {
			v = append(v, e.meta)
		}
		values = append(values, v)
	}
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": stream, "values": values}}})
	r := httptest.NewRequest("POST", "/loki/api/v1/push", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Scope-OrgID", tenant)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("push to %v: %d %s", stream, w.Code, w.Body)
	}
}

// get does GET path?q for tenant and returns the recorder.
func getAs(h http.Handler, tenant, path string, q url.Values) *httptest.ResponseRecorder {
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	r := httptest.NewRequest("GET", target, nil)
	if tenant != "" {
		r.Header.Set("X-Scope-OrgID", tenant)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodeStrict decodes a 200 JSON answer into v, refusing unknown fields.
func decodeStrict(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("answer not in Loki's layout: %v\n%s", err, w.Body)
	}
}

func nsParam(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// indexData is a stream of known lines: 10 lines of "a" of 10 + i bytes
// one second apart, 4 lines of "b", and a line of another tenant.
type indexData struct {
	h     http.Handler
	first time.Time
}

func newIndexData(t *testing.T) indexData {
	h := newStoreServer(t)
	first := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	var a, b []metaLine
	for i := range 10 {
		a = append(a, metaLine{t: first.Add(time.Duration(i) * time.Second), line: strings.Repeat("a", 10+i)})
	}
	for i := range 4 {
		b = append(b, metaLine{t: first.Add(time.Duration(i) * time.Second), line: strings.Repeat("b", 100)})
	}
	pushEntries(t, h, "t1", map[string]string{"app": "a", "env": "prod", "pod": "p1"}, a[:5])
	pushEntries(t, h, "t1", map[string]string{"app": "a", "env": "prod", "pod": "p2"}, a[5:])
	pushEntries(t, h, "t1", map[string]string{"app": "b", "env": "prod", "pod": "p1"}, b)
	pushEntries(t, h, "t2", map[string]string{"app": "a", "env": "prod", "pod": "p1"}, a[:1])
	return indexData{h, first}
}

func (d indexData) flush(t *testing.T) {
	t.Helper()
	w := httptest.NewRecorder()
	d.h.ServeHTTP(w, httptest.NewRequest("POST", "/flush", nil))
	if w.Code != http.StatusNoContent {
		t.Fatalf("flush: %d %s", w.Code, w.Body)
	}
}

func TestIndexStats(t *testing.T) {
	d := newIndexData(t)
	q := func(sel string, from, to time.Time) url.Values {
		return url.Values{"query": {sel}, "start": {nsParam(from)}, "end": {nsParam(to)}}
	}
	all := func(sel string) url.Values { return q(sel, d.first.Add(-time.Minute), d.first.Add(time.Minute)) }
	// Bytes of the a lines: 10+11+…+19 = 145; of the b lines 4 × 100.
	tests := []struct {
		name, tenant string
		query        url.Values
		want         string // chunks aside
	}{
		{"one app", "t1", all(`{app="a"}`), `"streams":2,"bytes":145,"entries":10`},
		{"all", "t1", all(`{env="prod"}`), `"streams":3,"bytes":545,"entries":14`},
		{"regexp", "t1", all(`{app=~"a|b", pod="p1"}`), `"streams":2,"bytes":460,"entries":9`},
		{"none", "t1", all(`{app="c"}`), `"streams":0,"bytes":0,"entries":0`},
		{"other tenant", "t2", all(`{app="a"}`), `"streams":1,"bytes":10,"entries":1`},
		// The range is closed: lines 2 to 6 of a, and b's 2 and 3.
		{"cut", "t1", q(`{env="prod"}`, d.first.Add(2*time.Second), d.first.Add(6*time.Second)), `"streams":3,"bytes":`},
	}
	check := func(t *testing.T, flushed bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := getAs(d.h, tt.tenant, "/loki/api/v1/index/stats", tt.query)
				var got indexStats
				decodeStrict(t, w, &got)
				// Loki's layout: a bare object, these four fields in this order.
				if !strings.HasPrefix(w.Body.String(), fmt.Sprintf(`{"streams":%d,"chunks":%d,"bytes":`, got.Streams, got.Chunks)) {
					t.Fatalf("layout: %s", w.Body)
				}
				body := strings.Replace(w.Body.String(), fmt.Sprintf(`"chunks":%d,`, got.Chunks), "", 1)
				if !strings.Contains(body, tt.want) {
					t.Fatalf("%s, want %s", w.Body, tt.want)
				}
				// In the head each stream counts as one chunk; a flush
				// writes each stream of this small test as one chunk too.
				if got.Chunks != got.Streams {
					t.Fatalf("%d chunks for %d streams", got.Chunks, got.Streams)
				}
			})
		}
	}
	t.Run("head", func(t *testing.T) { check(t, false) })
	d.flush(t)
	t.Run("blocks", func(t *testing.T) { check(t, true) })
	// The cut range: exact entries from the timestamp columns; bytes of a
	// cut chunk are shared out by entries (a's average line is 14.5 bytes).
	w := getAs(d.h, "t1", "/loki/api/v1/index/stats", q(`{env="prod"}`, d.first.Add(2*time.Second), d.first.Add(6*time.Second)))
	var got indexStats
	decodeStrict(t, w, &got)
	if got.Entries != 7 {
		t.Fatalf("cut range, flushed: %d entries, want 7", got.Entries)
	}
}

func TestIndexBadRequests(t *testing.T) {
	h := newStoreServer(t)
	tests := []struct{ path, query, extra, want string }{
		{"/loki/api/v1/index/stats", "", "", "missing query parameter"},
		{"/loki/api/v1/index/stats", `{}`, "", "invalid query"},
		{"/loki/api/v1/index/stats", `{app=~".*"}`, "", "at least one regexp or equality matcher"},
		{"/loki/api/v1/index/stats", `{app="a"} |= "x"`, "", "only a stream selector is allowed"},
		{"/loki/api/v1/index/stats", `{app="a"}`, "start=x", `invalid start "x"`},
		{"/loki/api/v1/index/volume", `{app="a"}`, "aggregateBy=pods", "invalid aggregation option"},
		{"/loki/api/v1/index/volume", `{app="a"}`, "limit=-1", "limit must be a positive value"},
		{"/loki/api/v1/index/volume", `{app="a"}`, "limit=x", `invalid limit "x"`},
		{"/loki/api/v1/index/volume", `sum(rate({app="a"}[1m]))`, "", "invalid query"},
		{"/loki/api/v1/index/volume_range", `{app="a"}`, "step=0", "zero or negative query resolution step"},
		{"/loki/api/v1/index/volume_range", `{app="a"}`, "step=1ms", "exceeded maximum resolution of 11,000 points"},
		{"/loki/api/v1/index/volume_range", `{app="a"}`, "end=1&start=2", "end timestamp must not be before start time"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.query+" "+tt.extra, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.extra)
			if tt.query != "" {
				q.Set("query", tt.query)
			}
			w := getAs(h, "", tt.path, q)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.want) {
				t.Fatalf("%d %q, want 400 with %q", w.Code, w.Body, tt.want)
			}
		})
	}
}

// volumeAnswer is the answer of the volume endpoints, checked against
// Loki's layout.
type volumeAnswer struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
		Stats      json.RawMessage   `json:"stats"`
	} `json:"data"`
}

type volumePoint struct {
	metric string // labels as text
	t      float64
	v      string
}

func (p volumePoint) String() string { return fmt.Sprintf("%s %v %s", p.metric, p.t, p.v) }

func getVolume(t *testing.T, h http.Handler, path string, q url.Values) (resultType string, points []string) {
	t.Helper()
	var ans volumeAnswer
	decodeStrict(t, getAs(h, "t1", path, q), &ans)
	if ans.Status != "success" || ans.Data.Result == nil {
		t.Fatalf("status %q, result %v", ans.Status, ans.Data.Result)
	}
	metricText := func(m map[string]string) string {
		b, _ := json.Marshal(m) // sorted keys
		return string(b)
	}
	for _, raw := range ans.Data.Result {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		switch ans.Data.ResultType {
		case "vector":
			var s struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			}
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("vector sample %s: %v", raw, err)
			}
			points = append(points, volumePoint{metricText(s.Metric), s.Value[0].(float64), s.Value[1].(string)}.String())
		case "matrix":
			var s struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			}
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("matrix series %s: %v", raw, err)
			}
			for _, v := range s.Values {
				points = append(points, volumePoint{metricText(s.Metric), v[0].(float64), v[1].(string)}.String())
			}
		default:
			t.Fatalf("result type %q", ans.Data.ResultType)
		}
	}
	return ans.Data.ResultType, points
}

func TestVolume(t *testing.T) {
	d := newIndexData(t)
	end := d.first.Add(time.Minute)
	endS := float64(end.UnixMilli()) / 1000
	q := func(sel string, kv ...string) url.Values {
		v := url.Values{"query": {sel}, "start": {nsParam(d.first.Add(-time.Minute))}, "end": {nsParam(end)}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	at := func(metric string, v int) string { return volumePoint{metric, endS, strconv.Itoa(v)}.String() }
	// a: p1 holds 10..14 (60 bytes), p2 15..19 (85); b: 400 bytes on p1.
	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"series named by the selector's labels", q(`{env="prod"}`), []string{at(`{"env":"prod"}`, 545)}},
		{"largest first", q(`{app=~".+"}`), []string{at(`{"app":"b"}`, 400), at(`{"app":"a"}`, 145)}},
		{"two labels", q(`{app=~".+", pod=~"p.*"}`), []string{
			at(`{"app":"b","pod":"p1"}`, 400), at(`{"app":"a","pod":"p2"}`, 85), at(`{"app":"a","pod":"p1"}`, 60)}},
		{"limit", q(`{app=~".+"}`, "limit", "1"), []string{at(`{"app":"b"}`, 400)}},
		{"target labels", q(`{env="prod"}`, "targetLabels", "pod"), []string{at(`{"pod":"p1"}`, 460), at(`{"pod":"p2"}`, 85)}},
		{"match anything", q(`{}`, "limit", "2"), []string{
			at(`{"app":"b","env":"prod","pod":"p1"}`, 400), at(`{"app":"a","env":"prod","pod":"p2"}`, 85)}},
		{"by labels", q(`{app="a"}`, "aggregateBy", "labels"), []string{
			at(`{"app":""}`, 145), at(`{"env":""}`, 145), at(`{"pod":""}`, 145)}},
		{"by target labels", q(`{env="prod"}`, "aggregateBy", "labels", "targetLabels", "app,pod"), []string{
			at(`{"app":""}`, 545), at(`{"pod":""}`, 545)}},
		{"nothing", q(`{app="c"}`), nil},
	}
	check := func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				typ, got := getVolume(t, d.h, "/loki/api/v1/index/volume", tt.query)
				if typ != "vector" || strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Fatalf("%s:\n%s\nwant vector:\n%s", typ, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
			})
		}
	}
	t.Run("head", check)
	d.flush(t)
	t.Run("blocks", check)

	// Loki's exact bytes for one answer.
	w := getAs(d.h, "t1", "/loki/api/v1/index/volume", q(`{app="b"}`))
	want := fmt.Sprintf(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"app":"b"},"value":[%s,"400"]}],"stats":`,
		strconv.FormatFloat(endS, 'f', -1, 64))
	if !strings.HasPrefix(w.Body.String(), want) {
		t.Fatalf("body %s\nwant prefix %s", w.Body, want)
	}
}

func TestVolumeRange(t *testing.T) {
	d := newIndexData(t)
	f := d.first // on a minute
	sec := func(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
	// Buckets of 4s from f-2s to f+9s: [f-2s, f), [f, f+4s), [f+4s, f+8s),
	// [f+8s, f+9s]; stamped with their last millisecond, the last with end.
	q := url.Values{"query": {`{app=~".+"}`}, "start": {nsParam(f.Add(-2 * time.Second))}, "end": {nsParam(f.Add(9 * time.Second))}, "step": {"4s"}}
	typ, got := getVolume(t, d.h, "/loki/api/v1/index/volume_range", q)
	want := []string{
		// b (400 bytes, all in the second bucket) sorts first by its first sample.
		volumePoint{`{"app":"b"}`, sec(f.Add(4*time.Second - time.Millisecond)), "400"}.String(),
		volumePoint{`{"app":"a"}`, sec(f.Add(4*time.Second - time.Millisecond)), "46"}.String(), // 10..13
		volumePoint{`{"app":"a"}`, sec(f.Add(8*time.Second - time.Millisecond)), "62"}.String(), // 14..17
		volumePoint{`{"app":"a"}`, sec(f.Add(9 * time.Second)), "37"}.String(),                  // 18, 19
	}
	if typ != "matrix" || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n%s\nwant matrix:\n%s", typ, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each bucket keeps its own largest names.
	q.Set("limit", "1")
	_, got = getVolume(t, d.h, "/loki/api/v1/index/volume_range", q)
	if len(got) != 3 || !strings.Contains(got[0], `"b"`) || !strings.Contains(got[1], `"a"`) {
		t.Fatalf("limit 1 per bucket:\n%s", strings.Join(got, "\n"))
	}
	// One bucket only: Loki answers a vector.
	q.Set("step", "1h")
	q.Set("limit", "100")
	if typ, got := getVolume(t, d.h, "/loki/api/v1/index/volume_range", q); typ != "vector" || len(got) != 2 {
		t.Fatalf("one bucket: %s %v, want a vector of 2", typ, got)
	}
}

func TestVolumeBuckets(t *testing.T) {
	s := time.Unix(100, 500_000_000) // 100.5s
	bounds, stamps := volumeBuckets(s, time.Unix(110, 0), 4*time.Second)
	wantBounds := []int64{100_500_000_000, 104e9, 108e9, 110e9 + 1}
	wantStamps := []int64{104e9 - 1e6, 108e9 - 1e6, 110e9}
	if fmt.Sprint(bounds) != fmt.Sprint(wantBounds) || fmt.Sprint(stamps) != fmt.Sprint(wantStamps) {
		t.Fatalf("bounds %v stamps %v, want %v %v", bounds, stamps, wantBounds, wantStamps)
	}
	bounds, stamps = volumeBuckets(s, time.Unix(110, 0), 0)
	if len(bounds) != 2 || len(stamps) != 1 || stamps[0] != 110e9 {
		t.Fatalf("instant: %v %v", bounds, stamps)
	}
	// As in Loki, an empty range on a step boundary has no bucket; off
	// a boundary it has the one from the boundary.
	if _, stamps = volumeBuckets(time.Unix(100, 0), time.Unix(100, 0), time.Second); len(stamps) != 0 {
		t.Fatalf("empty range has buckets %v", stamps)
	}
	if _, stamps = volumeBuckets(s, s, time.Second); len(stamps) != 1 {
		t.Fatalf("empty range off a boundary has buckets %v", stamps)
	}
}

func TestVolumeMaxSeries(t *testing.T) {
	h := newStoreServer(t)
	first := time.Now().Add(-time.Minute)
	var streams []any
	for i := range volumeMaxSeries + 1 {
		streams = append(streams, map[string]any{"stream": map[string]string{"app": fmt.Sprint("app", i)},
			"values": [][]string{{strconv.FormatInt(first.UnixNano(), 10), "x"}}})
	}
	body, _ := json.Marshal(map[string]any{"streams": streams})
	r := httptest.NewRequest("POST", "/loki/api/v1/push", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("push: %d %s", w.Code, w.Body)
	}
	q := url.Values{"query": {`{app=~".+"}`}, "start": {nsParam(first.Add(-time.Minute))}}
	w = getAs(h, "", "/loki/api/v1/index/volume", q)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "max number of series limit (limit: 1000 series)") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Summed per label name, the same streams are one series.
	q.Set("aggregateBy", "labels")
	if _, got := getVolume(t, h, "/loki/api/v1/index/volume", q); len(got) != 0 {
		// tenant t1 has nothing; the data is the default tenant's
		t.Fatalf("t1: %v", got)
	}
	var ans volumeAnswer
	decodeStrict(t, getAs(h, "", "/loki/api/v1/index/volume", q), &ans)
	if len(ans.Data.Result) != 1 || !strings.Contains(string(ans.Data.Result[0]), `"1001"`) {
		t.Fatalf("by labels: %s", ans.Data.Result)
	}
}
