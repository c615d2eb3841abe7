package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/push"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-streams", "300000", "-per-stream", "2", "-tenant", "t1", "-duration", "30s"})
	if err != nil || c.streams != 300000 || c.perStream != 2 || c.batch != 1000 || c.tenant != "t1" || c.workers != 2 {
		t.Fatalf("parseFlags = %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		{"-streams", "0"}, {"-workers", "0"}, {"-per-stream", "0"}, {"-per-stream", "2000"},
		{"-rate", "-1"}, {"-duration", "0s"}, {"extra"}, {"-nope"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// TestRun pushes a fixed number of unique lines to a server that decodes
// them as Loam does, and reads the report.
func TestRun(t *testing.T) {
	var mu sync.Mutex
	lines := 0
	tenants := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := push.ReadBody(r.Body, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type"), 1<<20, 16<<20)
		req := &push.Request{}
		if err == nil {
			err = push.DecodeProto(body, req)
		}
		if err != nil || r.URL.Path != "/loki/api/v1/push" {
			http.Error(w, "bad push", 400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		tenants[r.Header.Get("X-Scope-OrgID")]++
		for _, s := range req.Streams {
			lines += len(s.Entries)
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c, err := parseFlags([]string{"-url", srv.URL, "-tenant", "bench", "-pid", "0", "-streams", "50",
		"-batch", "100", "-per-stream", "5", "-total", "2050", "-span", "1h", "-unique", "-duration", "1m"})
	if err != nil {
		t.Fatal(err)
	}
	c.pid = os.Getpid() // this process stands in for the server
	var out strings.Builder
	if err := run(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, re := range []string{
		`(?m)^accepted 2000 lines in [^:]+: \d+ lines/s, [\d.]+ MB/s raw \(avg line 1\d\d B\), 0/20 pushes failed$`,
		`(?m)^push latency: p50 [\dµmns.]+, p99 [\dµmns.]+, max [\dµmns.]+$`,
		`(?m)^needle: [0-9a-f]{32}$`,
		`(?m)^server: [\d.]+ CPU-s \([\d.]+ cores\), (\d+|\+Inf) lines per CPU-s, RSS \d+ MiB, peak RSS \d+ MiB$`,
	} {
		if !regexp.MustCompile(re).MatchString(report) {
			t.Errorf("report lacks %s:\n%s", re, report)
		}
	}
	if lines != 2000 || tenants["bench"] != 20 || len(tenants) != 1 {
		t.Errorf("server got %d lines in pushes by tenant %v", lines, tenants)
	}

	// A server that refuses: the failures are counted and the first shown.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "rate limited", 429)
	})
	c.pid, c.total, c.duration = 0, 0, 200*time.Millisecond
	out.Reset()
	if err := run(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`accepted 0 lines .* (\d+)/(\d+) pushes failed\npush latency: [^\n]+\n(needle: \w+\n)?first failure: HTTP 429: rate limited\n$`).MatchString(out.String()) {
		t.Errorf("report of a refusing server:\n%s", out.String())
	}
}
