package api

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMount: a mounted handler answers before the store is open, for its
// methods only, instrumented under its path.
func TestMount(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, reg)
	a.Mount("/ring", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ring page") }), "GET")
	a.Mount("/any", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Method) }))
	h := a.Handler()
	if r := do(h, "GET", "/ring", ""); r.status != 200 || r.body != "ring page" {
		t.Errorf("GET /ring: %d %q", r.status, r.body)
	}
	if r := do(h, "POST", "/ring", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /ring: %d %q", r.status, r.body)
	}
	if r := do(h, "DELETE", "/any", ""); r.status != 200 || r.body != "DELETE" {
		t.Errorf("DELETE /any: %d %q", r.status, r.body)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				found = found || mf.GetName() == "loam_request_duration_seconds" && l.GetName() == "route" && l.GetValue() == "/ring"
			}
		}
	}
	if !found {
		t.Error("no loam_request_duration_seconds{route=\"/ring\"}")
	}
}
