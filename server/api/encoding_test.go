package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/internal/golden"

	"github.com/gorilla/websocket"

	"github.com/loam-logs/loam/server/push"
)

func TestRequestEncodingFlags(t *testing.T) {
	for _, tc := range []struct {
		header     []string // values of the header, in order
		want       encodingFlags
		categorize bool
	}{
		{nil, nil, false},
		{[]string{""}, nil, false},
		{[]string{"categorize-labels"}, encodingFlags{"categorize-labels"}, true},
		{[]string{"foo,categorize-labels,foo"}, encodingFlags{"foo", "categorize-labels"}, true},
		{[]string{"foo"}, encodingFlags{"foo"}, false},
		// Loki neither trims nor folds case: these are other flags.
		{[]string{"foo, categorize-labels"}, encodingFlags{"foo", " categorize-labels"}, false},
		{[]string{"Categorize-Labels"}, encodingFlags{"Categorize-Labels"}, false},
		// Only the first value of the header counts, as Header.Get reads it.
		{[]string{"foo", "categorize-labels"}, encodingFlags{"foo"}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for _, v := range tc.header {
			r.Header.Add("x-loki-response-encoding-flags", v)
		}
		got := requestEncodingFlags(r)
		if !slices.Equal(got, tc.want) || got.categorize() != tc.categorize {
			t.Errorf("%q: got %q (categorize %v), want %q (%v)", tc.header, got, got.categorize(), tc.want, tc.categorize)
		}
	}
}

// encodingData pushes the entries the encoding tests query, base + offsets:
//
//	{app="api", env="prod"}  JSON lines, some with structured metadata, one
//	                         not JSON, one with a key that is a stream label
//	{app="web", env="prod"}  logfmt lines, no metadata
func encodingData(t *testing.T) (http.Handler, time.Time) {
	t.Helper()
	h := newStoreServer(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	pushEntries(t, h, "t1", map[string]string{"app": "api", "env": "prod"}, []metaLine{
		{at(1000), `{"level":"info","msg":"ok"}`, nil},
		{at(2000), `{"level":"error","msg":"boom"}`, map[string]string{"trace_id": "abc"}},
		{at(3000), `{"level":"info","msg":"ok","status":200}`, map[string]string{"trace_id": "def", "user": "u1"}},
		{at(4000), `not json`, nil},
		{at(5000), `{"app":"other","level":"debug"}`, nil},
	})
	pushEntries(t, h, "t1", map[string]string{"app": "web", "env": "prod"}, []metaLine{
		{at(1500), `level=info path=/`, nil},
		{at(2500), `level=warn path=/login user=bob`, nil},
		{at(3500), `level=info path=/health`, nil},
	})
	return h, base
}

// queryAs runs a query of tenant t1 with the encoding flags header set to
// flags (none when empty).
func queryAs(h http.Handler, path string, q url.Values, flags string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path+"?"+q.Encode(), nil)
	r.Header.Set("X-Scope-OrgID", "t1")
	if flags != "" {
		r.Header.Set(encodingFlagsHeader, flags)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var nsTimestamp = regexp.MustCompile(`"(\d{19})"`)

// normalize makes an answer comparable from run to run: it checks that data
// has resultType, encodingFlags (when wantFlags), result and stats in that
// order, stats last, and replaces stats with "…" and nanosecond timestamps
// with their offset from base. It returns the answer indented.
func normalize(t *testing.T, body []byte, base time.Time, wantFlags bool) string {
	t.Helper()
	prefix := `{"status":"success","data":{"resultType":`
	if !bytes.HasPrefix(body, []byte(prefix)) {
		t.Fatalf("answer does not start with %s:\n%s", prefix, body)
	}
	iFlags := bytes.Index(body, []byte(`,"encodingFlags":[`))
	iResult := bytes.Index(body, []byte(`,"result":`))
	iStats := bytes.LastIndex(body, []byte(`,"stats":{`))
	if iResult < 0 || iStats < iResult {
		t.Fatalf("data is not resultType, result, stats:\n%s", body)
	}
	if wantFlags != (iFlags >= 0 && iFlags < iResult) {
		t.Fatalf("encodingFlags present %v (at %d, result at %d), want %v:\n%s", iFlags >= 0, iFlags, iResult, wantFlags, body)
	}
	// stats is the last member of data: the rest is its object and "}}".
	rest := body[iStats+len(`,"stats":`):]
	var stats json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(rest))
	if err := dec.Decode(&stats); err != nil {
		t.Fatalf("stats: %v\n%s", err, body)
	}
	if tail := strings.TrimSpace(string(rest[dec.InputOffset():])); tail != "}}" {
		t.Fatalf("stats is not the last member of data: %q follows it", tail)
	}
	out := slices.Concat(body[:iStats], []byte(`,"stats":"…"}}`))
	out = nsTimestamp.ReplaceAllFunc(out, func(m []byte) []byte {
		ns, _ := strconv.ParseInt(string(m[1:len(m)-1]), 10, 64)
		return []byte(fmt.Sprintf(`"base+%dms"`, (ns-base.UnixNano())/1e6))
	})
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	return buf.String()
}

// TestCategorizeLabelsGolden pins the JSON of log queries with and without
// the categorize-labels encoding against testdata/categorize-labels.golden.
// Run with -update to rewrite it.
func TestCategorizeLabelsGolden(t *testing.T) {
	h, base := encodingData(t)
	const cat = "categorize-labels"
	for _, tc := range []struct {
		name, query, direction, flags string
		limit                         int
	}{
		{"no metadata, no parsed labels", `{app="web"}`, "backward", cat, 0},
		{"no metadata, no parsed labels, plain", `{app="web"}`, "backward", "", 0},
		{"metadata only", `{app="api"}`, "backward", cat, 0},
		{"metadata only, plain", `{app="api"}`, "backward", "", 0},
		{"parsed only, one stream however the parsed labels differ", `{app="web"} | logfmt`, "forward", cat, 0},
		{"parsed only, plain", `{app="web"} | logfmt`, "forward", "", 0},
		{"metadata and parsed, backward", `{app="api"} | json`, "backward", cat, 0},
		{"metadata and parsed, forward", `{app="api"} | json`, "forward", cat, 0},
		{"metadata and parsed, plain", `{app="api"} | json`, "backward", "", 0},
		{"label_format moves a stream label to parsed, drop removes labels", `{app="api"} | json | label_format env="staging" | drop level, __error__, __error_details__`, "forward", cat, 0},
		{"keep removes stream labels too", `{app="web"} | logfmt | keep app, path`, "backward", cat, 0},
		{"two streams, in order of first entry", `{env="prod"}`, "forward", cat, 4},
		{"two streams with parsed labels, limit", `{env="prod"} | logfmt | json`, "backward", cat, 5},
		{"unknown flags are listed back", `{app="web"}`, "backward", "foo,categorize-labels,foo", 2},
		{"only unknown flags: listed, values plain", `{app="web"}`, "backward", "foo, categorize-labels", 2},
		{"empty result", `{app="none"}`, "backward", cat, 0},
	} {
		q := url.Values{
			"query":     {tc.query},
			"start":     {nsParam(base)},
			"end":       {nsParam(base.Add(10 * time.Second))},
			"direction": {tc.direction},
		}
		if tc.limit > 0 {
			q.Set("limit", strconv.Itoa(tc.limit))
		}
		w := queryAs(h, "/loki/api/v1/query_range", q, tc.flags)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n# query=%s direction=%s", tc.name, tc.query, tc.direction)
		if tc.limit > 0 {
			fmt.Fprintf(&b, " limit=%d", tc.limit)
		}
		if tc.flags != "" {
			fmt.Fprintf(&b, "\n# %s: %s", encodingFlagsHeader, tc.flags)
		}
		got := normalize(t, w.Body.Bytes(), base, tc.flags != "")
		b.WriteString("\n" + got + "\n")
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, tc.name, b.String())
		})
	}
}

// goldens collects the sections of testdata/categorize-labels.golden, one
// per case, in the order of the table.
var goldens = struct {
	names    []string
	sections map[string]string
}{sections: map[string]string{}}

const goldenFile = "testdata/categorize-labels.golden"

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	if golden.Update() {
		goldens.names = append(goldens.names, name)
		goldens.sections[name] = got
		var all strings.Builder
		for _, n := range goldens.names {
			all.WriteString(goldens.sections[n] + "\n")
		}
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	for _, sec := range strings.Split(string(data), "\n\n") {
		if strings.HasPrefix(sec, "# "+name+"\n") {
			if want := strings.TrimSpace(sec); strings.TrimSpace(got) != want {
				t.Errorf("answer differs from %s:\n--- got\n%s\n--- want\n%s", goldenFile, got, want)
			}
			return
		}
	}
	t.Errorf("no section %q in %s (run with -update)", name, goldenFile)
}

// TestCategorizeLabelsMetric: metric answers are the same with the flags or
// without, and list no flags, as Loki's query frontend answers.
func TestCategorizeLabelsMetric(t *testing.T) {
	h, base := encodingData(t)
	for _, tc := range []struct {
		path string
		q    url.Values
	}{
		{"/loki/api/v1/query_range", url.Values{"query": {`count_over_time({app="api"} | json | __error__="" [2s])`},
			"start": {nsParam(base)}, "end": {nsParam(base.Add(6 * time.Second))}, "step": {"1"}}},
		{"/loki/api/v1/query", url.Values{"query": {`sum by (app) (count_over_time({env="prod"}[1m]))`},
			"time": {nsParam(base.Add(10 * time.Second))}}},
		{"/loki/api/v1/query", url.Values{"query": {`2 * 3`}, "time": {nsParam(base)}}},
	} {
		plain := queryAs(h, tc.path, tc.q, "")
		flagged := queryAs(h, tc.path, tc.q, "categorize-labels,foo")
		if plain.Code != http.StatusOK || flagged.Code != http.StatusOK {
			t.Fatalf("%s %v: %d %s / %d %s", tc.path, tc.q, plain.Code, plain.Body, flagged.Code, flagged.Body)
		}
		a, b := normalize(t, plain.Body.Bytes(), base, false), normalize(t, flagged.Body.Bytes(), base, false)
		if a != b {
			t.Errorf("%s %v: the flags changed the answer:\n--- without\n%s\n--- with\n%s", tc.path, tc.q, a, b)
		}
	}
}

// TestCategorizeLabelsSameEntries: with the flag, an answer holds the same
// entries, in the same order, with the same labels once the categories are
// merged back, as without it; only the grouping differs.
func TestCategorizeLabelsSameEntries(t *testing.T) {
	h, base := encodingData(t)
	type flat struct {
		ts, line, labels string
	}
	read := func(t *testing.T, w *httptest.ResponseRecorder) []flat {
		var resp struct {
			Data struct {
				Result []struct {
					Stream map[string]string `json:"stream"`
					Values [][]json.RawMessage
				}
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		var out []flat
		for _, s := range resp.Data.Result {
			for _, v := range s.Values {
				var ts, line string
				json.Unmarshal(v[0], &ts)
				json.Unmarshal(v[1], &line)
				all := map[string]string{}
				for k, x := range s.Stream {
					all[k] = x
				}
				if len(v) == 3 {
					var el struct {
						StructuredMetadata map[string]string `json:"structuredMetadata"`
						Parsed             map[string]string `json:"parsed"`
					}
					dec := json.NewDecoder(bytes.NewReader(v[2]))
					dec.DisallowUnknownFields()
					if err := dec.Decode(&el); err != nil {
						t.Fatalf("third element %s: %v", v[2], err)
					}
					for _, m := range []map[string]string{el.StructuredMetadata, el.Parsed} {
						for k, x := range m {
							if _, dup := all[k]; dup {
								t.Errorf("label %s in two categories: %s", k, w.Body)
							}
							all[k] = x
						}
					}
				}
				out = append(out, flat{ts, line, fmt.Sprint(all)})
			}
		}
		// Streams are listed whole, one after the other: put the entries
		// back in time order to compare.
		slices.SortStableFunc(out, func(a, b flat) int { return strings.Compare(a.ts, b.ts) })
		return out
	}
	for _, query := range []string{
		`{env="prod"}`,
		`{app="api"} | json`,
		`{env="prod"} | logfmt | json`,
		`{app="api"} | json | label_format env="staging", level_out=level | drop msg`,
		`{app="web"} | logfmt | keep app, path`,
	} {
		for _, dir := range []string{"forward", "backward"} {
			t.Run(query+" "+dir, func(t *testing.T) {
				q := url.Values{"query": {query}, "start": {nsParam(base)}, "end": {nsParam(base.Add(10 * time.Second))}, "direction": {dir}}
				plain, flagged := read(t, queryAs(h, "/loki/api/v1/query_range", q, "")), read(t, queryAs(h, "/loki/api/v1/query_range", q, "categorize-labels"))
				if !slices.Equal(plain, flagged) {
					t.Errorf("entries differ:\n without %v\n    with %v", plain, flagged)
				}
			})
		}
	}
}

// TestTailCategorizeLabels: the tail honours the flags as Loki's querier
// does: streams by stream labels, values with their third element, and the
// flags listed last in every message.
func TestTailCategorizeLabels(t *testing.T) {
	env := newTailEnv(t)
	u := "ws" + strings.TrimPrefix(env.srv.URL, "http") + "/loki/api/v1/tail?" +
		url.Values{"query": {`{app="api"} | logfmt`}, "start": {nsParam(env.base)}}.Encode()
	dial := func(flags string) *websocket.Conn {
		h := http.Header{}
		if flags != "" {
			h.Set(encodingFlagsHeader, flags)
		}
		c, _, err := websocket.DefaultDialer.Dial(u, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	env.push(t, "", `{app="api", env="prod"}`, []time.Duration{ms(1), ms(2)}, []string{"level=info", "level=error"})
	flagged, plain, unknown := dial("categorize-labels"), dial(""), dial("foo")
	read := func(c *websocket.Conn) string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return nsTimestamp.ReplaceAllStringFunc(string(b), func(m string) string {
			ns, _ := strconv.ParseInt(m[1:len(m)-1], 10, 64)
			return fmt.Sprintf(`"base+%dms"`, (ns-env.base.UnixNano())/1e6)
		})
	}
	for _, tc := range []struct {
		c    *websocket.Conn
		want string
	}{
		{flagged, `{"streams":[{"stream":{"app":"api","env":"prod"},"values":[["base+1ms","level=info",{"parsed":{"level":"info"}}],["base+2ms","level=error",{"parsed":{"level":"error"}}]]}],"encodingFlags":["categorize-labels"]}`},
		{plain, `{"streams":[{"stream":{"app":"api","env":"prod","level":"info"},"values":[["base+1ms","level=info"]]},{"stream":{"app":"api","env":"prod","level":"error"},"values":[["base+2ms","level=error"]]}]}`},
		{unknown, `{"streams":[{"stream":{"app":"api","env":"prod","level":"info"},"values":[["base+1ms","level=info"]]},{"stream":{"app":"api","env":"prod","level":"error"},"values":[["base+2ms","level=error"]]}],"encodingFlags":["foo"]}`},
	} {
		if got := read(tc.c); got != tc.want {
			t.Errorf("history:\n got %s\nwant %s", got, tc.want)
		}
	}
	// Live entries, with structured metadata.
	env.push(t, "", `{app="api", env="prod"}`, []time.Duration{ms(10)}, []string{"msg=hi"}, push.LabelPair{Name: "trace_id", Value: "abc"})
	want := `{"streams":[{"stream":{"app":"api","env":"prod"},"values":[["base+10ms","msg=hi",{"structuredMetadata":{"trace_id":"abc"},"parsed":{"msg":"hi"}}]]}],"encodingFlags":["categorize-labels"]}`
	if got := read(flagged); got != want {
		t.Errorf("live:\n got %s\nwant %s", got, want)
	}
	want = `{"streams":[{"stream":{"app":"api","env":"prod","msg":"hi","trace_id":"abc"},"values":[["base+10ms","msg=hi"]]}]}`
	if got := read(plain); got != want {
		t.Errorf("live, plain:\n got %s\nwant %s", got, want)
	}
}
