package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pusher pushes small batches to a few streams of its own and remembers
// every entry it sent and every entry the server acknowledged (2xx).
type pusher struct {
	id      int
	streams []map[string]string
	lastT   []int64
	seq     int
	batches int

	// by stream index: line → timestamp
	sent  []map[string]int64
	acked []map[string]int64

	ackedPushes, failedPushes int
	badStatus                 []string // non-2xx answers from a live server
}

const (
	killPushers          = 4
	killStreamsPerPusher = 3
	killEntriesPerStream = 8
)

func newPusher(id int) *pusher {
	p := &pusher{id: id}
	for s := 0; s < killStreamsPerPusher; s++ {
		p.streams = append(p.streams, map[string]string{"job": "kill9", "pusher": fmt.Sprintf("p%d", id), "stream": fmt.Sprintf("s%d", s)})
		p.lastT = append(p.lastT, 0)
		p.sent = append(p.sent, map[string]int64{})
		p.acked = append(p.acked, map[string]int64{})
	}
	return p
}

// padding makes lines ~130 bytes so that -head.max-bytes 200000 flushes
// several times a second.
const padding = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore"

// run pushes until ctx ends. Errors after the server was killed are expected:
// those entries were not acknowledged and are only allowed, not required.
func (p *pusher) run(ctx context.Context, base string, serverDead func() bool) {
	c := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		var es []entry
		idx := make([]int, 0, killStreamsPerPusher*killEntriesPerStream)
		for s := range p.streams {
			for i := 0; i < killEntriesPerStream; i++ {
				p.seq++
				t := max(time.Now().UnixNano(), p.lastT[s]+1)
				p.lastT[s] = t
				line := fmt.Sprintf("p%d s%d seq=%08d %s", p.id, s, p.seq, padding)
				es = append(es, entry{Labels: p.streams[s], T: t, Line: line})
				idx = append(idx, s)
				p.sent[s][line] = t
			}
		}
		p.batches++
		var body []byte
		ct := ctJSON
		if p.batches%2 == 0 {
			body, ct = protoBody(es), ctProto
		} else {
			body = jsonBody(es)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/loki/api/v1/push", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := c.Do(req)
		if err != nil {
			p.failedPushes++
			time.Sleep(5 * time.Millisecond)
			continue
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			p.failedPushes++
			if !serverDead() {
				p.badStatus = append(p.badStatus, fmt.Sprintf("%d %s", resp.StatusCode, msg))
			}
			continue
		}
		p.ackedPushes++
		for i, e := range es {
			p.acked[idx[i]][e.Line] = e.T
		}
	}
}

// TestKillNineLosesNothing: concurrent pushers, SIGKILL in the middle,
// restart on the same data directory; every acknowledged entry must be
// there exactly once. Three kill/restart cycles, one right after a flush
// (small -head.max-bytes makes flushes, WAL truncation and block writes
// happen while the pushes go on), then a clean restart.
func TestKillNineLosesNothing(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"-head.max-bytes", "200000"}, noIngestLimits...)
	rangeStart := time.Now().Add(-time.Minute)
	pushers := make([]*pusher, killPushers)
	for i := range pushers {
		pushers[i] = newPusher(i)
	}

	sleep := func(d time.Duration) func(*testing.T, *loam) {
		return func(*testing.T, *loam) { time.Sleep(d) }
	}
	afterFlush := func(t *testing.T, l *loam) {
		// Flushes of this process: the first may be of the replayed WAL
		// alone; the second holds pushes made while it runs. The head
		// reached 200 kB, was written to a block and the WAL behind it was
		// removed. Kill right after.
		waitFor(t, 20*time.Second, "two flushes (loam_flushes_total >= 2)", func() bool {
			v, _ := l.metrics(t).value("loam_flushes_total")
			return v >= 2
		})
	}
	cycles := []struct {
		name string
		kill func(*testing.T, *loam)
	}{
		{"kill after 1s", sleep(time.Second)},
		{"kill right after a flush", afterFlush},
		// The flush loop ticks each second: this is about when the replayed
		// WAL (megabytes) is being flushed, so the kill may land mid-flush.
		{"kill 1s after restart", sleep(950 * time.Millisecond)},
	}

	l := startLoam(t, dir, args...)
	for ci, cyc := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		var dead atomic.Bool
		var wg sync.WaitGroup
		before := make([]int, len(pushers))
		for i, p := range pushers {
			before[i] = p.ackedPushes
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.run(ctx, l.base, dead.Load)
			}()
		}
		time.Sleep(50 * time.Millisecond) // let the pushes start
		cyc.kill(t, l)
		dead.Store(true)
		l.kill9()
		// Pushers now fail; let them see it for a moment, then stop them.
		time.Sleep(50 * time.Millisecond)
		cancel()
		wg.Wait()
		acked := 0
		for i, p := range pushers {
			acked += p.ackedPushes - before[i]
			for _, s := range p.badStatus {
				t.Errorf("cycle %d (%s): pusher %d got %s from a live server", ci, cyc.name, i, s)
			}
			p.badStatus = nil
		}
		if acked == 0 {
			t.Fatalf("cycle %d (%s): no push was acknowledged before the kill", ci, cyc.name)
		}
		t.Logf("cycle %d (%s): %d pushes acknowledged before SIGKILL", ci, cyc.name, acked)

		l = startLoam(t, dir, args...)
		verifyPushers(t, l, pushers, rangeStart, fmt.Sprintf("after %s", cyc.name))
	}
	// A clean stop and start: everything now comes from blocks.
	l.stop()
	l = startLoam(t, dir, args...)
	verifyPushers(t, l, pushers, rangeStart, "after a clean restart")
	l.stop()
}

// verifyPushers reads every pusher stream back and checks that each
// acknowledged entry is present exactly once, and that nothing else is. It
// returns the number of entries read back.
func verifyPushers(t *testing.T, l *loam, pushers []*pusher, rangeStart time.Time, when string) int {
	t.Helper()
	end := time.Now().Add(time.Minute)
	var problems []string
	total, totalAcked := 0, 0
	for _, p := range pushers {
		for s, ls := range p.streams {
			got := queryAllForward(t, l, labelsText(ls), rangeStart.UnixNano(), end.UnixNano())
			total += len(got)
			totalAcked += len(p.acked[s])
			count := map[string]int{}
			for _, v := range got {
				ts, line := v[0], v[1]
				count[line]++
				sentT, ok := p.sent[s][line]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: entry never sent: %s %q", labelsText(ls), ts, line))
					continue
				}
				if strconv.FormatInt(sentT, 10) != ts {
					problems = append(problems, fmt.Sprintf("%s: %q has timestamp %s, sent %d", labelsText(ls), line, ts, sentT))
				}
			}
			for line, n := range count {
				if n > 1 {
					problems = append(problems, fmt.Sprintf("%s: %q returned %d times", labelsText(ls), line, n))
				}
			}
			missing := 0
			for line := range p.acked[s] {
				if count[line] == 0 {
					if missing < 3 {
						problems = append(problems, fmt.Sprintf("%s: acknowledged entry lost: %q", labelsText(ls), line))
					}
					missing++
				}
			}
			if missing > 3 {
				problems = append(problems, fmt.Sprintf("%s: %d acknowledged entries lost in all", labelsText(ls), missing))
			}
		}
	}
	if len(problems) > 0 {
		if len(problems) > 30 {
			problems = append(problems[:30], fmt.Sprintf("… and %d more problems", len(problems)-30))
		}
		t.Errorf("%s: %d entries read back, %d acknowledged:\n%s", when, total, totalAcked, strings.Join(problems, "\n"))
		return total
	}
	t.Logf("%s: all %d acknowledged entries present exactly once (%d entries read back)", when, totalAcked, total)
	return total
}

// queryAllForward reads every entry of a selector in [start, end) with
// forward pages of at most 2000 entries. The next page starts at the last
// timestamp seen (inclusive), and the entries at that timestamp are taken
// from the newer page only, so duplicates are neither created nor hidden.
func queryAllForward(t *testing.T, l *loam, selector string, start, end int64) [][2]string {
	t.Helper()
	const limit = 2000
	var all [][2]string
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatalf("query %s: too many pages", selector)
		}
		q := url.Values{"query": {selector}, "direction": {"forward"}, "limit": {strconv.Itoa(limit)},
			"start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)}}
		res := l.queryRange(t, "", q)
		var vals [][2]string
		for _, v := range res {
			vals = append(vals, v...)
		}
		if len(res) > 1 {
			t.Fatalf("query %s answered %d streams", selector, len(res))
		}
		if len(vals) < limit {
			return dropFrom(all, start, vals)
		}
		lastT, _ := strconv.ParseInt(vals[len(vals)-1][0], 10, 64)
		firstT, _ := strconv.ParseInt(vals[0][0], 10, 64)
		if lastT == firstT {
			t.Fatalf("query %s: more than %d entries at one timestamp", selector, limit)
		}
		all = dropFrom(all, start, vals)
		start = lastT
	}
}

// dropFrom removes the entries of all at or after from, then appends page.
func dropFrom(all [][2]string, from int64, page [][2]string) [][2]string {
	for len(all) > 0 {
		ts, _ := strconv.ParseInt(all[len(all)-1][0], 10, 64)
		if ts < from {
			break
		}
		all = all[:len(all)-1]
	}
	return append(all, page...)
}
