package conformance

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const corpus = `{"streams":[{"stream":{"app":"a"},"values":[["1793491200000000001","first <line>"],["1793491200000000002","second",{"trace":"t1"}]]}]}
{"streams":[{"stream":{"app":"b"},"values":[["1793491260000000000","café"]]}]}

`

func TestShiftBody(t *testing.T) {
	line := strings.SplitN(corpus, "\n", 2)[0]
	out, n, size, err := shiftBody([]byte(line), hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || size != int64(len("first <line>")+len("second")) {
		t.Errorf("counted %d entries of %d bytes", n, size)
	}
	var body struct {
		Streams []struct {
			Stream map[string]string
			Values [][]any
		}
	}
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatal(err)
	}
	v := body.Streams[0].Values
	if body.Streams[0].Stream["app"] != "a" || v[0][0] != "1793494800000000001" || v[0][1] != "first <line>" ||
		v[1][0] != "1793494800000000002" || v[1][2].(map[string]any)["trace"] != "t1" {
		t.Errorf("shifted body %s", out)
	}
	for _, bad := range []string{`{}`, `{"streams":{}}`, `{"streams":[{"values":[["x","l"]]}]}`,
		`{"streams":[{"values":[[1,"l"]]}]}`, `{"streams":[{"values":[["1",2]]}]}`, `{"streams":[{"values":[["1"]]}]}`, `[`,
		`{"streams":[{"values":[["9223372036854775807","l"]]}]}`} {
		if _, _, _, err := shiftBody([]byte(bad), hour); err == nil {
			t.Errorf("shiftBody(%s) accepted", bad)
		}
	}
}

// fakeLoki keeps pushed entries and answers query_range and labels from
// them, as a Loki would.
type fakeLoki struct {
	mu      sync.Mutex
	tenants []string
	entries []fakeEntry
	fail    bool // answer queries with 500
}

type fakeEntry struct {
	app  string
	ts   int64
	line string
}

func (f *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants = append(f.tenants, r.Header.Get("X-Scope-OrgID"))
	switch {
	case r.URL.Path == "/loki/api/v1/push":
		var body struct {
			Streams []struct {
				Stream map[string]string `json:"stream"`
				Values [][]any           `json:"values"`
			} `json:"streams"`
		}
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad push", 400)
			return
		}
		for _, s := range body.Streams {
			for _, v := range s.Values {
				ts, _ := strconv.ParseInt(v[0].(string), 10, 64)
				f.entries = append(f.entries, fakeEntry{s.Stream["app"], ts, v[1].(string)})
			}
		}
		w.WriteHeader(204)
	case f.fail:
		http.Error(w, "query failed", 500)
	case r.URL.Path == "/loki/api/v1/labels":
		w.Write([]byte(`{"status":"success","data":["app"]}`))
	case r.URL.Path == "/loki/api/v1/query_range":
		start, end := fakeTime(r.FormValue("start")), fakeTime(r.FormValue("end"))
		type stream struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		}
		byApp := map[string]*stream{}
		res := []*stream{}
		for _, e := range f.entries {
			if e.ts < start || e.ts >= end {
				continue
			}
			s := byApp[e.app]
			if s == nil {
				s = &stream{Stream: map[string]string{"app": e.app}}
				byApp[e.app] = s
				res = append(res, s)
			}
			s.Values = append(s.Values, [2]string{strconv.FormatInt(e.ts, 10), e.line})
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success",
			"data": map[string]any{"resultType": "streams", "result": res, "stats": map[string]any{}}})
	default:
		http.NotFound(w, r)
	}
}

// fakeTime reads integer nanoseconds or an RFC 3339 time, as Loki does.
func fakeTime(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t.UnixNano()
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestPushAndCheck(t *testing.T) {
	cases, err := DecodeCases([]byte(`[
 {"id":"all","endpoint":"/loki/api/v1/query_range","params":{"query":"{}","start":"1793491200000000000","end":"2026-11-01T01:00:00Z"},
  "expected":{"resultType":"streams","streams":{
   "{\"app\": \"a\"}":[["1793491200000000001","first <line>"],["1793491200000000002","second"]],
   "{\"app\": \"b\"}":[["1793491260000000000","caf\u00e9"]]}}},
 {"id":"first_minute","endpoint":"/loki/api/v1/query_range","params":{"query":"{}","start":"1793491200000000000","end":"1793491260000000000"},
  "expected":{"resultType":"streams","streams":{"{\"app\": \"a\"}":[["1793491200000000001","first <line>"],["1793491200000000002","second"]]}}},
 {"id":"wrong","endpoint":"/loki/api/v1/query_range","params":{"query":"{}","start":"1793491200000000000","end":"1793491260000000000"},
  "expected":{"resultType":"streams","streams":{"{\"app\": \"a\"}":[["1793491200000000001","first <line>"]]}}},
 {"id":"labels","endpoint":"/loki/api/v1/labels","params":{},"expected":{"list":["app"]}}
]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, compressed := range []bool{false, true} {
		f := &fakeLoki{}
		srv := httptest.NewServer(f)
		target := Target{URL: srv.URL + "/", Tenant: "team-a"}
		in := []byte(corpus)
		if compressed {
			in = gzipped(corpus)
		}
		st, err := Push(context.Background(), target, bytes.NewReader(in), ShiftHours(865))
		if err != nil {
			t.Fatal(err)
		}
		if st != (PushStats{Batches: 2, Entries: 3, LineBytes: int64(len("first <line>second") + len("café"))}) {
			t.Errorf("push stats %+v", st)
		}
		rs := Check(context.Background(), target, cases, ShiftHours(865))
		var lines []string
		for _, r := range rs {
			lines = append(lines, r.String())
		}
		want := []string{"ok   all", "ok   first_minute",
			`FAIL wrong: stream {"app": "a"}: 2 entries, expected 1`, "ok   labels"}
		if !slices.Equal(lines, want) {
			t.Errorf("results:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if p, n, s := Summary(rs); p != 3 || n != 1 || s != "3 passed, 1 failed" {
			t.Errorf("Summary = %d, %d, %q", p, n, s)
		}
		// Without the shift the questions miss the pushed hour.
		if r := CheckOne(context.Background(), target, &cases[0], 0); r.OK() {
			t.Errorf("an unshifted question matched a shifted corpus")
		}
		f.fail = true
		if r := CheckOne(context.Background(), target, &cases[3], 0); r.OK() || r.Error != "query failed" ||
			r.String() != "FAIL labels: status 500, expected 200 (query failed)" {
			t.Errorf("a failed query: %s", r)
		}
		for _, tenant := range f.tenants {
			if tenant != "team-a" {
				t.Fatalf("a request carried tenant %q", tenant)
			}
		}
		srv.Close()
		if r := CheckOne(context.Background(), target, &cases[3], 0); r.OK() || r.Diff != "no answer" {
			t.Errorf("a server that is gone: %s", r)
		}
		if _, err := Push(context.Background(), target, strings.NewReader(corpus), 0); err == nil {
			t.Errorf("a push to a server that is gone succeeded")
		}
	}
}

func TestPushRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too old", 400)
	}))
	defer srv.Close()
	_, err := Push(context.Background(), Target{URL: srv.URL}, strings.NewReader(corpus), 0)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: too old") {
		t.Errorf("Push = %v, want the server's 400", err)
	}
}
