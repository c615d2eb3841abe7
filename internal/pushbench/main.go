// Command pushbench loads a Loki-compatible push endpoint with protobuf +
// snappy pushes, the way Promtail and Alloy send them, and reports the
// accepted lines/s and — given the server's PID — its CPU seconds, lines per
// CPU-second and peak RSS, read from /proc. With -unique it prints one
// request id it pushed as "needle: <id>" for a needle query. SIGINT or
// SIGTERM ends the run early, with its figures printed as at the end.
//
// For a cluster, -url lists the nodes' base URLs and pushes go to them in
// turn; -pid lists their PIDs, and each node's CPU seconds and RSS are
// reported, then the sums and the lines per CPU-second of them all.
//
//	pushbench -url http://127.0.0.1:3100 -pid PID -streams 1000 -duration 20s
//	pushbench -url http://127.0.0.1:3101,http://127.0.0.1:3102 -pid PID1,PID2
//	pushbench -pid PID -streams 1000 -rate 10000 -duration 60s
//	pushbench -streams 1000 -total 6500000 -span 1h -unique -duration 30m
//	pushbench -user fluent-bit -password "$PW" -tenant team-a   (or -token T)
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	urls      []string // base URLs, pushed to in turn
	tenant    string
	user      string // basic auth, with password
	password  string
	token     string // Authorization: Bearer
	pids      []int  // server processes to read /proc of; none when empty
	streams   int
	batch     int
	perStream int
	duration  time.Duration
	workers   int
	rate      int
	unique    bool
	lineBytes int
	total     int64
	span      time.Duration
	ago       time.Duration
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	var urls, pids string
	fs := flag.NewFlagSet("pushbench", flag.ContinueOnError)
	fs.StringVar(&urls, "url", "http://127.0.0.1:3100", "server base URL; several, comma-separated, are pushed to in turn")
	fs.StringVar(&c.tenant, "tenant", "", "X-Scope-OrgID to send (none when empty)")
	fs.StringVar(&c.user, "user", "", "HTTP basic auth user (a server with -auth.enabled); needs -password")
	fs.StringVar(&c.password, "password", "", "HTTP basic auth password of -user")
	fs.StringVar(&c.token, "token", "", "bearer token to send as Authorization: Bearer (not with -user)")
	fs.StringVar(&pids, "pid", "0", "server PID, for its CPU seconds and RSS (0: not reported); several, comma-separated, are reported each and summed")
	fs.IntVar(&c.streams, "streams", 100, "distinct streams")
	fs.IntVar(&c.batch, "batch", 1000, "lines per push")
	fs.IntVar(&c.perStream, "per-stream", 10, "lines per stream in one push")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long to push")
	fs.IntVar(&c.workers, "workers", 2, "concurrent pushers")
	fs.IntVar(&c.rate, "rate", 0, "target lines/s in total (0: as fast as possible)")
	fs.BoolVar(&c.unique, "unique", false, "generate every line afresh (unique request ids, for needle queries); costs client CPU")
	fs.IntVar(&c.lineBytes, "line-bytes", 0, "pad every line to this many bytes with a JSON field of words (0: about 190 bytes, unpadded)")
	fs.Int64Var(&c.total, "total", 0, "stop after this many lines (0: run for -duration)")
	fs.DurationVar(&c.span, "span", 0, "with -total: spread the timestamps evenly over this much of the past")
	fs.DurationVar(&c.ago, "ago", 0, "with -span: the span ends this long before now")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if c.urls, err = parseURLs(urls); err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if c.pids, err = parsePIDs(pids); err != nil {
		return nil, fmt.Errorf("-pid: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.streams < 1 || c.workers < 1 || c.duration <= 0:
		return nil, errors.New("-streams, -workers and -duration must be positive")
	case c.perStream < 1 || c.batch < c.perStream:
		return nil, errors.New("-per-stream must be at least 1 and at most -batch")
	case c.rate < 0 || c.total < 0 || c.span < 0 || c.ago < 0 || c.lineBytes < 0:
		return nil, errors.New("-rate, -total, -span, -ago and -line-bytes must not be negative")
	case (c.user == "") != (c.password == ""):
		return nil, errors.New("-user and -password go together")
	case c.user != "" && c.token != "":
		return nil, errors.New("-user and -token exclude each other: one credential per push")
	}
	return c, nil
}

// parseURLs splits a comma-separated list of base URLs.
func parseURLs(s string) ([]string, error) {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		v = strings.TrimSpace(v)
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("%q is not an http(s) base URL", v)
		}
		out = append(out, v)
	}
	return out, nil
}

// parsePIDs splits a comma-separated list of PIDs; a lone 0 means none.
func parsePIDs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "0" {
		return nil, nil
	}
	var out []int
	for v := range strings.SplitSeq(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || pid < 1 {
			return nil, fmt.Errorf("%q is not a process id", v)
		}
		out = append(out, pid)
	}
	return out, nil
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pushbench:", err)
		os.Exit(1)
	}
}

// counters are what the workers add up.
type counters struct {
	reserved  atomic.Int64 // lines workers took on, for -total
	lines     atomic.Int64 // lines accepted
	lineBytes atomic.Int64 // their bytes
	pushes    atomic.Int64
	fails     atomic.Int64
	firstErr  atomic.Value // string
}

// run pushes until -duration has passed, -total lines were pushed or ctx
// is done, and prints the figures.
func run(ctx context.Context, c *config, out io.Writer) error {
	nStreams := c.batch / c.perStream
	perPush := nStreams * c.perStream // -batch rounded down to whole streams
	sh := newShared(c.streams, c.unique, c.lineBytes, 1)
	start := time.Now().Add(-2 * time.Minute).UnixNano()
	if c.span > 0 {
		sh.total, sh.span = c.total, int64(c.span)
		sh.spanStart = time.Now().Add(-c.ago - c.span - time.Minute).UnixNano()
		start = sh.spanStart
	}
	before, err := readProcs(c.pids)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: c.workers, DisableCompression: true}}
	var n counters
	t0 := time.Now()
	deadline := t0.Add(c.duration)
	var wg sync.WaitGroup
	lat := make([][]time.Duration, c.workers) // each worker's push latencies
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGenerator(sh, int64(w+2), nStreams, c.perStream, start+int64(w)*1e6)
			next := w * nStreams
			var sent int64
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if c.total > 0 && n.reserved.Add(int64(perPush)) > c.total {
					return
				}
				if c.rate > 0 {
					want := time.Duration(float64(sent) / (float64(c.rate) / float64(c.workers)) * float64(time.Second))
					if d := want - time.Since(t0); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				body, size := g.batch(next)
				next = (next + nStreams*c.workers) % c.streams
				sent += int64(perPush)
				i := n.pushes.Add(1) - 1
				p0 := time.Now()
				err := pushOnce(client, c, c.urls[i%int64(len(c.urls))], body)
				lat[w] = append(lat[w], time.Since(p0))
				if err != nil {
					n.fails.Add(1)
					n.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				n.lines.Add(int64(perPush))
				n.lineBytes.Add(size)
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	l, b := float64(n.lines.Load()), float64(n.lineBytes.Load())
	fmt.Fprintf(out, "accepted %.0f lines in %s: %.0f lines/s, %.1f MB/s raw (avg line %.0f B), %d/%d pushes failed\n",
		l, el.Round(time.Millisecond), l/el.Seconds(), b/el.Seconds()/1e6, b/max(l, 1), n.fails.Load(), n.pushes.Load())
	if all := slices.Concat(lat...); len(all) > 0 {
		slices.Sort(all)
		q := func(f float64) time.Duration { return all[min(len(all)-1, int(f*float64(len(all))))] }
		fmt.Fprintf(out, "push latency: p50 %s, p99 %s, max %s\n", q(0.5).Round(time.Microsecond*10),
			q(0.99).Round(time.Microsecond*10), all[len(all)-1].Round(time.Microsecond*10))
	}
	if id, ok := sh.needle.Load().(string); ok {
		fmt.Fprintf(out, "needle: %s\n", id)
	}
	if e := n.firstErr.Load(); e != nil {
		fmt.Fprintf(out, "first failure: %v\n", e)
	}
	if len(c.pids) == 0 {
		return nil
	}
	after, err := readProcs(c.pids)
	if err != nil {
		return err
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	if len(c.pids) == 1 {
		cpu := after[0].CPU - before[0].CPU
		fmt.Fprintf(out, "server: %.2f CPU-s (%.2f cores), %.0f lines per CPU-s, RSS %.0f MiB, peak RSS %.0f MiB\n",
			cpu, cpu/el.Seconds(), l/cpu, mib(after[0].RSS), mib(after[0].HWM))
		return nil
	}
	var sum procStats
	for i, pid := range c.pids {
		cpu := after[i].CPU - before[i].CPU
		fmt.Fprintf(out, "server %d: %.2f CPU-s (%.2f cores), RSS %.0f MiB, peak RSS %.0f MiB\n",
			pid, cpu, cpu/el.Seconds(), mib(after[i].RSS), mib(after[i].HWM))
		sum.CPU += cpu
		sum.RSS += after[i].RSS
		sum.HWM += after[i].HWM
	}
	fmt.Fprintf(out, "all %d servers: %.2f CPU-s (%.2f cores), %.0f lines per CPU-s, RSS %.0f MiB, peak RSS %.0f MiB\n",
		len(c.pids), sum.CPU, sum.CPU/el.Seconds(), l/sum.CPU, mib(sum.RSS), mib(sum.HWM))
	return nil
}

// readProcs reads /proc of each process.
func readProcs(pids []int) ([]procStats, error) {
	out := make([]procStats, len(pids))
	for i, pid := range pids {
		var err error
		if out[i], err = readProc(pid); err != nil {
			return nil, fmt.Errorf("server process %d: %w", pid, err)
		}
	}
	return out, nil
}

// pushOnce sends one push to base and requires a 2xx answer.
func pushOnce(client *http.Client, c *config, base string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, base+"/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if c.tenant != "" {
		req.Header.Set("X-Scope-OrgID", c.tenant)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}
