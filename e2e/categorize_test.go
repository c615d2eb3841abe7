package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// catValue is one value of a categorize-labels answer.
type catValue struct {
	T, Line      string
	Meta, Parsed map[string]string // nil when the answer has no such key
}

func (v catValue) String() string {
	return fmt.Sprintf("[%s %q meta=%v parsed=%v]", v.T, v.Line, v.Meta, v.Parsed)
}

// catResult is a categorize-labels answer: stream labels → values in order.
type catResult map[string][]catValue

// TestCategorizeLabels pushes entries with structured metadata and queries
// them with and without the X-Loki-Response-Encoding-Flags header, before
// and after a restart (the answers then come from blocks on disk).
func TestCategorizeLabels(t *testing.T) {
	dir := t.TempDir()
	l := startLoam(t, dir)

	base := time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	prod := map[string]string{"app": "cat", "env": "prod"}
	dev := map[string]string{"app": "cat", "env": "dev"}
	var all []entry
	add := func(ls map[string]string, line string, meta map[string]string) {
		all = append(all, entry{Labels: ls, Meta: meta, T: base.Add(time.Duration(len(all)+1) * time.Second).UnixNano(), Line: line})
	}
	add(prod, "level=info msg=ok", nil)
	add(prod, "level=error msg=boom", map[string]string{"trace_id": "abc"})
	add(dev, "level=info path=/", nil)
	add(prod, "level=info status=200", map[string]string{"trace_id": "def", "user": "u1"})
	add(dev, "level=warn path=/login", map[string]string{"user": "bob"})
	add(prod, "level=info msg=ok", map[string]string{"trace_id": "ghi"})
	l.mustPush(t, "", ctJSON, "", jsonBody(all))
	start, end := base.UnixNano(), base.Add(time.Minute).UnixNano()

	check := func(t *testing.T, l *loam) {
		for _, query := range []string{`{app="cat"}`, `{app="cat"} | logfmt`} {
			parse := strings.Contains(query, "logfmt")
			for _, backward := range []bool{true, false} {
				for _, limit := range []int{100, 3} {
					dir := map[bool]string{true: "backward", false: "forward"}[backward]
					q := url.Values{"query": {query}, "start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)},
						"direction": {dir}, "limit": {strconv.Itoa(limit)}}
					want := expectCategorized(all, start, end, backward, limit, parse)

					got := l.queryCategorized(t, q)
					if d := diffCategorized(got, want); d != "" {
						t.Errorf("%s %s limit %d with the header:\n%s", query, dir, limit, d)
					}

					code, body := l.get(t, "/loki/api/v1/query_range", q, "")
					if code != http.StatusOK {
						t.Fatalf("%s without the header: %d %s", query, code, body)
					}
					if bytes.Contains(body, []byte("encodingFlags")) {
						t.Errorf("%s without the header lists encodingFlags:\n%s", query, body)
					}
					if d := diffStreams(parseStreams(t, q, body), flatten(want)); d != "" {
						t.Errorf("%s %s limit %d without the header:\n%s", query, dir, limit, d)
					}
				}
			}
		}

		// A metric answer is the same with the header: no flags, no third
		// element (Grafana reads it either way).
		h := tenantHeader("")
		h["X-Loki-Response-Encoding-Flags"] = []string{"categorize-labels"}
		q := url.Values{"query": {`sum by (env) (count_over_time({app="cat"} | logfmt [1m]))`}, "time": {strconv.FormatInt(end, 10)}}
		code, _, body := l.do(t, http.MethodGet, "/loki/api/v1/query?"+q.Encode(), h, nil)
		if code != http.StatusOK || bytes.Contains(body, []byte("encodingFlags")) || !bytes.Contains(body, []byte(`"resultType":"vector"`)) {
			t.Errorf("metric query with the header: %d %s", code, body)
		}
	}
	t.Run("head", func(t *testing.T) { check(t, l) })
	l.stop()
	l = startLoam(t, dir)
	t.Run("after restart", func(t *testing.T) { check(t, l) })
}

// queryCategorized runs a log query with the categorize-labels header (its
// name in lower case, as some proxies send it) and checks Loki's layout:
// data.encodingFlags before data.result, stats after it, three elements in
// every value.
func (p *loam) queryCategorized(t *testing.T, q url.Values) catResult {
	t.Helper()
	h := tenantHeader("")
	h["x-loki-response-encoding-flags"] = []string{"categorize-labels"}
	code, _, body := p.do(t, http.MethodGet, "/loki/api/v1/query_range?"+q.Encode(), h, nil)
	if code != http.StatusOK {
		t.Fatalf("query_range %v with the header: %d %s", q, code, body)
	}
	iType, iFlags := bytes.Index(body, []byte(`"resultType":"streams"`)), bytes.Index(body, []byte(`"encodingFlags":["categorize-labels"]`))
	iResult, iStats := bytes.Index(body, []byte(`"result":[`)), bytes.LastIndex(body, []byte(`"stats":{`))
	if iType < 0 || iFlags < iType || iResult < iFlags || iStats < iResult {
		t.Fatalf("query_range %v: data is not resultType, encodingFlags, result, stats:\n%s", q, body)
	}
	var resp struct {
		Data struct {
			Result []struct {
				Stream map[string]string   `json:"stream"`
				Values [][]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("query_range %v: %v\n%s", q, err, body)
	}
	out := catResult{}
	for _, s := range resp.Data.Result {
		k := labelsText(s.Stream)
		if _, dup := out[k]; dup {
			t.Errorf("query_range %v: stream %s twice", q, k)
		}
		for _, v := range s.Values {
			if len(v) != 3 {
				t.Fatalf("query_range %v: value of %s has %d elements, want 3:\n%s", q, k, len(v), body)
			}
			var cv catValue
			var el struct {
				StructuredMetadata map[string]string `json:"structuredMetadata"`
				Parsed             map[string]string `json:"parsed"`
			}
			dec := json.NewDecoder(bytes.NewReader(v[2]))
			dec.DisallowUnknownFields()
			if json.Unmarshal(v[0], &cv.T) != nil || json.Unmarshal(v[1], &cv.Line) != nil || dec.Decode(&el) != nil {
				t.Fatalf("query_range %v: value %s of %s not [\"<ns>\", \"<line>\", {…}]", q, v, k)
			}
			if (el.StructuredMetadata != nil && len(el.StructuredMetadata) == 0) || (el.Parsed != nil && len(el.Parsed) == 0) {
				t.Errorf("query_range %v: value %s of %s has an empty category; Loki leaves it out", q, v, k)
			}
			cv.Meta, cv.Parsed = el.StructuredMetadata, el.Parsed
			out[k] = append(out[k], cv)
		}
	}
	return out
}

// expectCategorized computes the categorize-labels answer from the model:
// entries grouped by stream labels alone, in query order, with their
// metadata and (when parse) the labels logfmt finds in "k=v k=v" lines.
func expectCategorized(all []entry, start, end int64, backward bool, limit int, parse bool) catResult {
	var es []entry
	for _, e := range all {
		if e.T >= start && e.T < end {
			es = append(es, e)
		}
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		if backward {
			return cmpInt64(b.T, a.T)
		}
		return cmpInt64(a.T, b.T)
	})
	es = es[:min(limit, len(es))]
	out := catResult{}
	for _, e := range es {
		v := catValue{T: strconv.FormatInt(e.T, 10), Line: e.Line, Meta: e.Meta}
		if parse {
			v.Parsed = map[string]string{}
			for _, kv := range strings.Fields(e.Line) {
				k, x, _ := strings.Cut(kv, "=")
				v.Parsed[k] = x
			}
		}
		k := labelsText(e.Labels)
		out[k] = append(out[k], v)
	}
	return out
}

// flatten is the answer without the header: every label in the stream.
func flatten(r catResult) streamsResult {
	out := streamsResult{}
	// Entries of a categorized stream may belong to several plain ones;
	// each keeps its order.
	for stream, vs := range r {
		ls, err := parseLabelsText(stream)
		if err != nil {
			panic(err)
		}
		for _, v := range vs {
			m := maps.Clone(ls)
			maps.Copy(m, v.Meta)
			maps.Copy(m, v.Parsed)
			k := labelsText(m)
			out[k] = append(out[k], [2]string{v.T, v.Line})
		}
	}
	return out
}

// parseLabelsText reverses labelsText.
func parseLabelsText(s string) (map[string]string, error) {
	m := map[string]string{}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	for s != "" {
		name, rest, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("no = in %q", s)
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, err
		}
		m[name], _ = strconv.Unquote(q)
		s = strings.TrimPrefix(rest[len(q):], ", ")
	}
	return m, nil
}

// diffCategorized describes how got differs from want, or returns "".
func diffCategorized(got, want catResult) string {
	var b strings.Builder
	keys := slices.Sorted(maps.Keys(got))
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.EqualFunc(got[k], want[k], func(a, b catValue) bool {
			return a.T == b.T && a.Line == b.Line && maps.Equal(a.Meta, b.Meta) && maps.Equal(a.Parsed, b.Parsed)
		}) {
			fmt.Fprintf(&b, "stream %s:\n  got  %v\n  want %v\n", k, got[k], want[k])
		}
	}
	return b.String()
}
