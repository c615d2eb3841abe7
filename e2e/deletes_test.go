package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deleteReq is one element of GET /loki/api/v1/delete, as Loki writes it.
type deleteReq struct {
	RequestID string  `json:"request_id"`
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	Query     string  `json:"query"`
	Status    string  `json:"status"`
	CreatedAt float64 `json:"created_at"`
	UserID    *string `json:"user_id"`
}

func (p *loam) addDelete(t *testing.T, method, tenant string, q url.Values) (int, http.Header, string) {
	t.Helper()
	code, hdr, b := p.do(t, method, "/loki/api/v1/delete?"+q.Encode(), tenantHeader(tenant), nil)
	return code, hdr, string(b)
}

func (p *loam) listDeletes(t *testing.T, tenant string) ([]deleteReq, string) {
	t.Helper()
	code, hdr, b := p.do(t, http.MethodGet, "/loki/api/v1/delete", tenantHeader(tenant), nil)
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /loki/api/v1/delete: %d %q (%s)", code, b, hdr.Get("Content-Type"))
	}
	var rs []deleteReq
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatalf("GET /loki/api/v1/delete: %q: %v", b, err)
	}
	return rs, string(b)
}

func (p *loam) cancelDelete(t *testing.T, tenant, id string) (int, string) {
	t.Helper()
	code, _, b := p.do(t, http.MethodDelete, "/loki/api/v1/delete?request_id="+url.QueryEscape(id), tenantHeader(tenant), nil)
	return code, string(b)
}

// TestDeleteAPI: Loki's delete endpoints on the real binary: a request is
// added (204 and its id), listed as received, kept across a restart,
// cancelled (204, then gone); bad requests are 400s, unknown ids 404s; a
// corrupt requests file stops the server from starting.
func TestDeleteAPI(t *testing.T) {
	dir := t.TempDir()
	l := startLoam(t, dir)
	now := time.Now()
	start := now.Add(-2 * time.Hour).Truncate(time.Second)
	end := now.Add(-time.Hour).Truncate(time.Second)
	idRe := regexp.MustCompile(`^[0-9a-f]{8}$`)

	q1 := url.Values{"query": {`{app="api"} |= "password"`}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {end.UTC().Format(time.RFC3339)}}
	code, hdr, body := l.addDelete(t, http.MethodPost, "team-a", q1)
	id1 := hdr.Get("X-Delete-Request-ID")
	if code != 204 || body != "" || !idRe.MatchString(id1) {
		t.Fatalf("POST: %d %q, X-Delete-Request-ID %q", code, body, id1)
	}
	q2 := url.Values{"query": {`{app="web"}`}, "start": {start.UTC().Format(time.RFC3339)}}
	code, hdr, body = l.addDelete(t, http.MethodPut, "team-a", q2)
	id2 := hdr.Get("X-Delete-Request-ID")
	if code != 204 || !idRe.MatchString(id2) || id2 == id1 {
		t.Fatalf("PUT: %d %q, X-Delete-Request-ID %q", code, body, id2)
	}

	rs, raw := l.listDeletes(t, "team-a")
	if len(rs) != 2 || rs[0].RequestID != id1 || rs[1].RequestID != id2 {
		t.Fatalf("list %s: want %s then %s", raw, id1, id2)
	}
	r := rs[0]
	if r.Query != q1.Get("query") || r.StartTime != float64(start.Unix()) || r.EndTime != float64(end.Unix()) ||
		r.Status != "received" || r.UserID == nil || *r.UserID != "" {
		t.Fatalf("listed %s", raw)
	}
	if created := time.UnixMilli(int64(r.CreatedAt * 1000)); created.Before(now.Add(-time.Minute)) || created.After(time.Now().Add(time.Second)) {
		t.Fatalf("created_at %v, want about now (%v)", created, now)
	}
	// The end defaults to now.
	if e := time.UnixMilli(int64(rs[1].EndTime * 1000)); e.Before(now.Add(-time.Minute)) || e.After(time.Now().Add(time.Second)) {
		t.Fatalf("end_time %v of a request without end, want about now", e)
	}
	if _, raw := l.listDeletes(t, "team-b"); raw != "null\n" {
		t.Fatalf("another tenant's list: %q, want null", raw)
	}

	for _, c := range []struct {
		q    url.Values
		want string
	}{
		{url.Values{"query": {`{app="api"`}, "start": {"1700000000"}}, "invalid query expression"},
		{url.Values{"query": {`{app="api"} | json | level="debug"`}, "start": {"1700000000"}}, "line filters only"},
		{url.Values{"start": {"1700000000"}}, "query not set"},
		{url.Values{"query": {`{app="api"}`}}, "start time not set"},
		{url.Values{"query": {`{app="api"}`}, "start": {"1700000000000"}}, "invalid start time"},
		{url.Values{"query": {`{app="api"}`}, "start": {"1700000000"}, "end": {strconv.FormatInt(now.Add(time.Hour).Unix(), 10)}}, "deletes in the future are not allowed"},
	} {
		if code, _, body := l.addDelete(t, http.MethodPost, "team-a", c.q); code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("POST %s: %d %q, want 400 with %q", c.q.Encode(), code, body, c.want)
		}
	}
	if code, body := l.cancelDelete(t, "team-a", "ffffffff"); code != 404 || !strings.Contains(body, "could not find delete request with given id") {
		t.Fatalf("DELETE of an unknown id: %d %q", code, body)
	}
	if code, body := l.cancelDelete(t, "team-b", id1); code != 404 {
		t.Fatalf("DELETE of another tenant's request: %d %q", code, body)
	}

	// A restart keeps the requests, as they were.
	l.stop()
	if _, err := os.Stat(filepath.Join(dir, "deletes.json")); err != nil {
		t.Fatal(err)
	}
	l = startLoam(t, dir)
	if _, again := l.listDeletes(t, "team-a"); again != raw {
		t.Fatalf("after a restart the list is\n%s\nwant\n%s", again, raw)
	}

	if code, body := l.cancelDelete(t, "team-a", id1); code != 204 || body != "" {
		t.Fatalf("DELETE: %d %q", code, body)
	}
	if rs, raw := l.listDeletes(t, "team-a"); len(rs) != 1 || rs[0].RequestID != id2 {
		t.Fatalf("after DELETE the list is %s, want only %s", raw, id2)
	}
	if code, _ := l.cancelDelete(t, "team-a", id1); code != 404 {
		t.Fatalf("DELETE again: %d, want 404", code)
	}

	// A requests file that cannot be read back: no start, and a message
	// that names the file.
	l.stop()
	if err := os.WriteFile(filepath.Join(dir, "deletes.json"), []byte(`{"version":1,"requests":[{`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runLoam(t, "-http.addr", freeAddr(t), "-data.dir", dir)
	if code == 0 || !strings.Contains(out, "deletes.json is corrupt") {
		t.Fatalf("start with a corrupt deletes.json: exit %d:\n%s", code, out)
	}
}
