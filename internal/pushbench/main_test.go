package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
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
		{"-rate", "-1"}, {"-line-bytes", "-1"}, {"-duration", "0s"}, {"extra"}, {"-nope"},
		{"-url", ""}, {"-url", "127.0.0.1:3100"}, {"-url", "http://a:1,,http://b:2"}, {"-url", "ftp://a:1"},
		{"-pid", ""}, {"-pid", "-3"}, {"-pid", "0,12"}, {"-pid", "12,x"}, {"-pid", "12,"},
		{"-user", "u"}, {"-password", "p"}, {"-user", "u", "-password", "p", "-token", "t"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestParseFlagsLists(t *testing.T) {
	for _, tc := range []struct {
		args []string
		urls []string
		pids []int
	}{
		{nil, []string{"http://127.0.0.1:3100"}, nil},
		{[]string{"-pid", "0"}, []string{"http://127.0.0.1:3100"}, nil},
		{[]string{"-url", "https://h:1/p", "-pid", "42"}, []string{"https://h:1/p"}, []int{42}},
		{[]string{"-url", "http://a:1, http://b:2,http://c:3", "-pid", "7, 8,9"},
			[]string{"http://a:1", "http://b:2", "http://c:3"}, []int{7, 8, 9}},
	} {
		c, err := parseFlags(tc.args)
		if err != nil || !slices.Equal(c.urls, tc.urls) || !slices.Equal(c.pids, tc.pids) {
			t.Errorf("parseFlags(%q) = %+v, %v; want urls %q, pids %v", tc.args, c, err, tc.urls, tc.pids)
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
		tenants[r.Header.Get("X-Scope-OrgID")+" "+r.Header.Get("Authorization")]++
		for _, s := range req.Streams {
			lines += len(s.Entries)
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c, err := parseFlags([]string{"-url", srv.URL, "-tenant", "bench", "-user", "u", "-password", "p w", "-pid", "0", "-streams", "50",
		"-batch", "100", "-per-stream", "5", "-total", "2050", "-span", "1h", "-unique", "-duration", "1m"})
	if err != nil {
		t.Fatal(err)
	}
	c.pids = []int{os.Getpid()} // this process stands in for the server
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
	if lines != 2000 || tenants["bench Basic dTpwIHc="] != 20 || len(tenants) != 1 {
		t.Errorf("server got %d lines in pushes by tenant and credential %v", lines, tenants)
	}

	// A server that refuses: the failures are counted and the first shown.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "rate limited", 429)
	})
	c.pids, c.total, c.duration = nil, 0, 200*time.Millisecond
	out.Reset()
	if err := run(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`accepted 0 lines .* (\d+)/(\d+) pushes failed\npush latency: [^\n]+\n(needle: \w+\n)?first failure: HTTP 429: rate limited\n$`).MatchString(out.String()) {
		t.Errorf("report of a refusing server:\n%s", out.String())
	}
}

// TestRunSeveral pushes to three servers in turn and reports three
// processes (this one three times over).
func TestRunSeveral(t *testing.T) {
	var mu sync.Mutex
	pushes := map[int]int{}
	var urls []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			mu.Lock()
			pushes[i]++
			mu.Unlock()
			w.WriteHeader(204)
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	pid := strconv.Itoa(os.Getpid())
	c, err := parseFlags([]string{"-url", strings.Join(urls, ","), "-pid", pid + "," + pid + "," + pid,
		"-streams", "50", "-batch", "100", "-per-stream", "5", "-total", "3000", "-workers", "4"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	if pushes[0] != 10 || pushes[1] != 10 || pushes[2] != 10 {
		t.Errorf("pushes per server: %v, want 10 each", pushes)
	}
	report := out.String()
	for _, re := range []string{
		`(?m)^accepted 3000 lines in [^:]+: \d+ lines/s, [\d.]+ MB/s raw \(avg line \d+ B\), 0/30 pushes failed$`,
		`(?m)^server ` + pid + `: [\d.]+ CPU-s \([\d.]+ cores\), RSS \d+ MiB, peak RSS \d+ MiB\n` +
			`server ` + pid + `: .*\nserver ` + pid + `: .*\n` +
			`all 3 servers: [\d.]+ CPU-s \([\d.]+ cores\), (\d+|\+Inf) lines per CPU-s, RSS \d+ MiB, peak RSS \d+ MiB$`,
	} {
		if !regexp.MustCompile(re).MatchString(report) {
			t.Errorf("report lacks %s:\n%s", re, report)
		}
	}
	if strings.Contains(report, "\nserver: ") {
		t.Errorf("report of several servers has the line of one:\n%s", report)
	}
}
