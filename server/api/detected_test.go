package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDetectedLabels(t *testing.T) {
	h := newStoreServer(t)
	first := time.Now().Add(-10 * time.Minute)
	for i := range 3 {
		pushEntries(t, h, "t1", map[string]string{
			"app":        []string{"api", "web", "api"}[i],
			"namespace":  fmt.Sprint(100 + i),                                     // IDs, but kept: static
			"request_id": fmt.Sprint(5000 + i),                                    // IDs: left out
			"trace":      fmt.Sprintf("8c2a7e7e-2bd0-4b43-9d4c-5a8cb4f1c1a%d", i), // UUIDs: left out
			"canary":     []string{"0", "1", "0"}[i],                              // a flag, kept
		}, []metaLine{{t: first, line: "x"}})
	}
	pushEntries(t, h, "t1", map[string]string{"app": "old"}, []metaLine{{t: first.Add(-5 * time.Minute), line: "x"}})
	q := url.Values{"start": {nsParam(first.Add(-time.Minute))}, "end": {nsParam(first.Add(time.Minute))}}
	var got detectedLabelsAnswer
	decodeStrict(t, getAs(h, "t1", "/loki/api/v1/detected_labels", q), &got)
	want := []detectedLabel{{"app", 2}, {"canary", 2}, {"namespace", 3}}
	if !slices.Equal(got.DetectedLabels, want) {
		t.Fatalf("labels %v, want %v", got.DetectedLabels, want)
	}
	q.Set("query", `{app="web"}`)
	decodeStrict(t, getAs(h, "t1", "/loki/api/v1/detected_labels", q), &got)
	if want := []detectedLabel{{"app", 1}, {"canary", 1}, {"namespace", 1}}; !slices.Equal(got.DetectedLabels, want) {
		t.Fatalf("labels of {app=\"web\"}: %v, want %v", got.DetectedLabels, want)
	}
	// Loki leaves an empty list out: the answer is {}.
	if w := getAs(h, "t2", "/loki/api/v1/detected_labels", nil); w.Code != http.StatusOK || w.Body.String() != "{}" {
		t.Fatalf("no labels: %d %q, want {}", w.Code, w.Body)
	}
	q.Set("query", `{app="web"} |= "x"`)
	if w := getAs(h, "t1", "/loki/api/v1/detected_labels", q); w.Code != http.StatusBadRequest {
		t.Fatalf("pipeline: %d %s", w.Code, w.Body)
	}
}

// fieldsData pushes JSON lines to one stream and logfmt lines with
// structured metadata to another.
func fieldsData(t *testing.T) (http.Handler, url.Values) {
	h := newStoreServer(t)
	first := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	var js, lf []metaLine
	for i := range 6 {
		js = append(js, metaLine{t: first.Add(time.Duration(i) * time.Second),
			line: fmt.Sprintf(`{"level":"%s","app":"checkout","http":{"status":%d,"took":"%dms"},"size":"%d KiB"}`,
				[]string{"info", "error"}[i%2], 200+i%3, 10*i, 1+i)})
		lf = append(lf, metaLine{t: first.Add(time.Duration(i) * time.Second),
			line: fmt.Sprintf(`level=%s msg="order placed" amount=%d.5`, []string{"info", "warn", "debug"}[i%3], i),
			meta: map[string]string{"trace_id": fmt.Sprintf("t%d", i%4)}})
	}
	pushEntries(t, h, "t1", map[string]string{"app": "web", "env": "prod"}, js)
	pushEntries(t, h, "t1", map[string]string{"app": "api", "env": "prod"}, lf)
	q := url.Values{"query": {`{env="prod"}`}, "start": {nsParam(first.Add(-time.Minute))}, "end": {nsParam(first.Add(time.Minute))}}
	return h, q
}

func TestDetectedFields(t *testing.T) {
	h, q := fieldsData(t)
	w := getAs(h, "t1", "/loki/api/v1/detected_fields", q)
	var got detectedFieldsAnswer
	decodeStrict(t, w, &got)
	want := []detectedField{
		{"amount", "float", 6, []string{"logfmt"}, nil},
		{"app_extracted", "string", 1, []string{"json"}, []string{"app"}},
		{"http_status", "int", 3, []string{"json"}, []string{"http", "status"}},
		{"http_took", "duration", 6, []string{"json"}, []string{"http", "took"}},
		{"level", "string", 4, []string{"logfmt", "json"}, []string{"level"}},
		{"msg", "string", 1, []string{"logfmt"}, nil},
		{"size", "bytes", 6, []string{"json"}, []string{"size"}},
		{"trace_id", "string", 4, nil, nil},
	}
	if fmt.Sprint(got.Fields) != fmt.Sprint(want) || got.Limit != 1000 {
		t.Fatalf("fields (limit %d):\n%v\nwant (limit 1000):\n%v", got.Limit, got.Fields, want)
	}
	// Structured metadata has "parsers": null, as in Loki; jsonPath is left
	// out when there is none.
	body := w.Body.String()
	if !strings.Contains(body, `{"label":"trace_id","type":"string","cardinality":4,"parsers":null}`) ||
		!strings.Contains(body, `{"label":"msg","type":"string","cardinality":1,"parsers":["logfmt"]}`) {
		t.Fatalf("layout: %s", body)
	}

	// The newest line_limit lines only: the last second of each stream.
	q2 := cloneValues(q)
	q2.Set("line_limit", "2")
	q2.Set("limit", "3")
	decodeStrict(t, getAs(h, "t1", "/loki/api/v1/detected_fields", q2), &got)
	if len(got.Fields) != 3 || got.Limit != 3 {
		t.Fatalf("limit 3: %v (limit %d)", got.Fields, got.Limit)
	}
	// The query's pipeline runs first.
	q2 = cloneValues(q)
	q2.Set("query", `{env="prod"} |= "order" | logfmt | level="warn"`)
	decodeStrict(t, getAs(h, "t1", "/loki/api/v1/detected_fields", q2), &got)
	names := []string{}
	for _, f := range got.Fields {
		names = append(names, fmt.Sprintf("%s:%d", f.Label, f.Cardinality))
	}
	if !slices.Equal(names, []string{"amount:2", "level:1", "msg:1", "trace_id:2"}) {
		t.Fatalf("fields of the warn lines: %v", names)
	}
	// Nothing found: {} (Loki gives the limit only with fields).
	q2.Set("query", `{env="none"}`)
	if w := getAs(h, "t1", "/loki/api/v1/detected_fields", q2); w.Code != http.StatusOK || w.Body.String() != "{}" {
		t.Fatalf("no fields: %d %q", w.Code, w.Body)
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

func TestDetectedFieldValues(t *testing.T) {
	h, q := fieldsData(t)
	tests := []struct {
		name  string
		limit string
		want  []string
	}{
		{"level", "", []string{"debug", "error", "info", "warn"}},
		{"trace_id", "", []string{"t0", "t1", "t2", "t3"}},
		{"http_status", "", []string{"200", "201", "202"}},
		// Sizes are rewritten the way Loki does, ready for a label filter.
		{"size", "", []string{"1.0kB", "2.0kB", "3.1kB", "4.1kB", "5.1kB", "6.1kB"}},
		{"nope", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := getAs(h, "t1", "/loki/api/v1/detected_field/"+tt.name+"/values", q)
			var got detectedFieldsAnswer
			decodeStrict(t, w, &got)
			if !slices.Equal(got.Values, tt.want) {
				t.Fatalf("values %q, want %q", got.Values, tt.want)
			}
			if tt.want == nil && w.Body.String() != "{}" {
				t.Fatalf("no values: %s, want {}", w.Body)
			}
			if tt.want != nil && !strings.HasPrefix(w.Body.String(), `{"limit":1000,"values":[`) {
				t.Fatalf("layout: %s", w.Body)
			}
		})
	}
	q.Set("limit", "2")
	var got detectedFieldsAnswer
	decodeStrict(t, getAs(h, "t1", "/loki/api/v1/detected_field/level/values", q), &got)
	if len(got.Values) < 2 || got.Limit != 2 {
		t.Fatalf("limit 2: %v (limit %d)", got.Values, got.Limit)
	}
}

func TestDetectedBadRequests(t *testing.T) {
	h := newStoreServer(t)
	tests := []struct{ path, query, want string }{
		{"/loki/api/v1/detected_fields", "", "missing query parameter"},
		{"/loki/api/v1/detected_fields", "query=" + url.QueryEscape(`sum(count_over_time({a="b"}[1m]))`), "a log query is expected"},
		{"/loki/api/v1/detected_fields", "query=" + url.QueryEscape(`{a=~".*"}`), "at least one regexp or equality matcher"},
		{"/loki/api/v1/detected_fields", "query=" + url.QueryEscape(`{a="b"}`) + "&line_limit=5001", "(5001 > 5000)"},
		{"/loki/api/v1/detected_fields", "query=" + url.QueryEscape(`{a="b"}`) + "&line_limit=0", `invalid line_limit "0"`},
		{"/loki/api/v1/detected_fields", "query=" + url.QueryEscape(`{a="b"}`) + "&limit=x", `invalid limit "x"`},
		{"/loki/api/v1/detected_fields", "query=" + url.QueryEscape(`{a="b"}`) + "&step=0", "zero or negative query resolution step"},
		{"/loki/api/v1/detected_field/a/values", "query=" + url.QueryEscape(`{a="b"}`) + "&field_limit=-1", `invalid field_limit "-1"`},
		{"/loki/api/v1/detected_labels", "query=" + url.QueryEscape(`{a=~".*"}`), "at least one regexp or equality matcher"},
		{"/loki/api/v1/detected_labels", "start=2&end=1", "end timestamp must not be before start time"},
	}
	for _, tt := range tests {
		t.Run(tt.path+"?"+tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			w := getAs(h, "", tt.path, q)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.want) {
				t.Fatalf("%d %q, want 400 with %q", w.Code, w.Body, tt.want)
			}
		})
	}
}

// The answers decode into Loki's own field names.
func TestDetectedFieldsJSONNames(t *testing.T) {
	b, _ := json.Marshal(detectedFieldsAnswer{Fields: []detectedField{{Label: "a", Type: "int", Cardinality: 2, Parsers: []string{"json"}, JSONPath: []string{"a"}}}, Limit: 5})
	if string(b) != `{"fields":[{"label":"a","type":"int","cardinality":2,"parsers":["json"],"jsonPath":["a"]}],"limit":5}` {
		t.Fatalf("%s", b)
	}
}
