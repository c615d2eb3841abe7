package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/deletes"
)

func newDeletesServer(t *testing.T, d Deletes) http.Handler {
	t.Helper()
	a := New(Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	if d != nil {
		a.ServeDeletes(d)
	}
	return a.Handler()
}

func doTenant(h http.Handler, method, target, tenant, body string) result {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, escape(target), rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if tenant != "" {
		r.Header.Set("X-Scope-OrgID", tenant)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return result{w.Code, w.Body.String(), w.Header()}
}

// TestDeleteEndpoints runs a request's life through the endpoints of a real
// Manager: added (POST or PUT), listed, cancelled, gone.
func TestDeleteEndpoints(t *testing.T) {
	m, err := deletes.Open(deletes.Options{Dir: t.TempDir(), Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := newDeletesServer(t, m)
	idRe := regexp.MustCompile(`^[0-9a-f]{8}$`)

	res := doTenant(h, "POST", `/loki/api/v1/delete?query={app="a"} |= "secret"&start=1714561200&end=1714564800`, "t1", "")
	if res.status != 204 || res.body != "" || !idRe.MatchString(res.header.Get("X-Delete-Request-ID")) {
		t.Fatalf("POST: %d %q, id %q", res.status, res.body, res.header.Get("X-Delete-Request-ID"))
	}
	id1 := res.header.Get("X-Delete-Request-ID")
	res = doTenant(h, "PUT", `/loki/api/v1/delete?query={app="b"}&start=2024-05-01T11:00:00Z`, "t1", "")
	if res.status != 204 {
		t.Fatalf("PUT: %d %q", res.status, res.body)
	}
	id2 := res.header.Get("X-Delete-Request-ID")

	res = doTenant(h, "GET", "/loki/api/v1/delete", "t1", "")
	if res.status != 200 || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %q (%s)", res.status, res.body, res.header.Get("Content-Type"))
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(res.body), &got); err != nil {
		t.Fatalf("GET body %q: %v", res.body, err)
	}
	if len(got) != 2 || got[0]["request_id"] != id1 || got[1]["request_id"] != id2 {
		t.Fatalf("GET lists %v, want %s then %s", got, id1, id2)
	}
	want := map[string]any{"request_id": id1, "start_time": 1714561200.0, "end_time": 1714564800.0,
		"query": `{app="a"} |= "secret"`, "status": "received", "user_id": ""}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("%s = %v, want %v", k, got[0][k], v)
		}
	}
	if c, ok := got[0]["created_at"].(float64); !ok || time.Since(time.UnixMilli(int64(c*1000))) > time.Minute {
		t.Errorf("created_at = %v, want now in Unix seconds", got[0]["created_at"])
	}

	// Another tenant sees none: null, as Loki answers; a range that
	// overlaps none gives [].
	if res := doTenant(h, "GET", "/loki/api/v1/delete", "t2", ""); res.status != 200 || res.body != "null\n" {
		t.Fatalf("GET of another tenant: %d %q", res.status, res.body)
	}
	if res := doTenant(h, "GET", "/loki/api/v1/delete?start=0000000000&end=0000000001", "t1", ""); res.status != 200 || res.body != "[]\n" {
		t.Fatalf("GET of a range without requests: %d %q", res.status, res.body)
	}

	if res := doTenant(h, "DELETE", "/loki/api/v1/delete?request_id="+id1, "t2", ""); res.status != 404 || res.body != "could not find delete request with given id\n" {
		t.Fatalf("DELETE from another tenant: %d %q", res.status, res.body)
	}
	if res := doTenant(h, "DELETE", "/loki/api/v1/delete?request_id="+id1, "t1", ""); res.status != 204 || res.body != "" {
		t.Fatalf("DELETE: %d %q", res.status, res.body)
	}
	if res := doTenant(h, "DELETE", "/loki/api/v1/delete?request_id="+id1, "t1", ""); res.status != 404 {
		t.Fatalf("DELETE again: %d %q", res.status, res.body)
	}
	res = doTenant(h, "GET", "/loki/api/v1/delete", "t1", "")
	if err := json.Unmarshal([]byte(res.body), &got); err != nil || len(got) != 1 || got[0]["request_id"] != id2 {
		t.Fatalf("GET after DELETE: %q", res.body)
	}
}

func TestDeleteErrors(t *testing.T) {
	m, err := deletes.Open(deletes.Options{Dir: t.TempDir(), Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := newDeletesServer(t, m)
	tests := []struct {
		method, target, tenant, body string
		status                       int
		msg                          string
	}{
		{"POST", "/loki/api/v1/delete?start=1714561200", "", "", 400, "query not set\n"},
		{"POST", "/loki/api/v1/delete?query=nope&start=1714561200", "", "", 400, "invalid query expression: "},
		{"POST", `/loki/api/v1/delete?query={a="b"} | logfmt&start=1714561200`, "", "", 400, "line filters only"},
		{"POST", `/loki/api/v1/delete?query={a="b"}`, "", "", 400, "start time not set\n"},
		{"POST", `/loki/api/v1/delete?query={a="b"}&start=1714561200000`, "", "", 400, "invalid start time: require unix seconds or RFC3339 format\n"},
		{"POST", `/loki/api/v1/delete?query={a="b"}&start=1714561200&end=9999999999`, "", "", 400, "deletes in the future are not allowed\n"},
		{"POST", `/loki/api/v1/delete?query={a="b"} |= "x"&start=1714561200&max_interval=1ms`, "", "", 400, "invalid max_interval: valid time units are 's', 'm', 'h'\n"},
		// Loki reads the URL only, not a form body.
		{"POST", "/loki/api/v1/delete", "", `query={a="b"}&start=1714561200`, 400, "query not set\n"},
		{"POST", `/loki/api/v1/delete?query={a="b"}&start=1714561200`, "a|b", "", 400, `multiple org IDs present`},
		{"GET", "/loki/api/v1/delete?start=x&end=1714561200", "", "", 400, "invalid start time: require unix seconds or RFC3339 format\n"},
		{"GET", "/loki/api/v1/delete", "..", "", 400, `".." is not allowed`},
		{"DELETE", "/loki/api/v1/delete", "", "", 404, "could not find delete request with given id\n"},
		{"PATCH", "/loki/api/v1/delete", "", "", 405, "method PATCH is not allowed on /loki/api/v1/delete"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			res := doTenant(h, tt.method, tt.target, tt.tenant, tt.body)
			if res.status != tt.status || !strings.Contains(res.body, tt.msg) {
				t.Fatalf("%d %q, want %d with %q", res.status, res.body, tt.status, tt.msg)
			}
			if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// failingDeletes fails every call as a disk would.
type failingDeletes struct{}

var errDisk = errors.New("save delete requests: no space left on device")

func (failingDeletes) Add(string, deletes.Params) (deletes.Request, error) {
	return deletes.Request{}, errDisk
}
func (failingDeletes) List(string, deletes.ListParams) ([]deletes.Request, error) {
	return nil, errDisk
}
func (failingDeletes) Cancel(string, string, bool) error { return errDisk }

func TestDeleteServerErrors(t *testing.T) {
	h := newDeletesServer(t, failingDeletes{})
	for _, method := range []string{"POST", "GET", "DELETE"} {
		res := doTenant(h, method, "/loki/api/v1/delete?request_id=x", "", "")
		if res.status != 500 || res.body != errDisk.Error()+"\n" {
			t.Errorf("%s: %d %q, want 500 with the disk's error", method, res.status, res.body)
		}
	}
	// Without ServeDeletes there are no delete endpoints.
	h = newDeletesServer(t, nil)
	if res := doTenant(h, "GET", "/loki/api/v1/delete", "", ""); res.status != 404 {
		t.Errorf("GET without deletes: %d %q", res.status, res.body)
	}
}
