package e2e

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hourData is a set of old hours pushed to one loam: perHour lines in
// the stream {app="ret", hour="<i>"} for each hour i, hour 0 the oldest,
// plus a few young lines in {app="ret", hour="young"}. Line j of an hour
// carries the tag " t<j%10> ", for deletes of a tenth of each hour.
type hourData struct {
	first   time.Time // the start of hour 0, on an hour boundary
	hours   int
	perHour int
	young   time.Time
}

// newHourData puts hour 0 at the start of the hour agoHours before now.
func newHourData(agoHours, hours, perHour int) *hourData {
	first := time.Now().Add(-time.Duration(agoHours) * time.Hour).Truncate(time.Hour)
	return &hourData{first: first, hours: hours, perHour: perHour, young: time.Now().Add(-5 * time.Minute)}
}

// push sends every hour, then the young lines, and flushes the head into
// blocks. Lines carry random hex so that blocks are about as large as the
// text: the byte budgets below are in the same units as the data.
func (d *hourData) push(t *testing.T, l *loam) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for h := 0; h < d.hours; h++ {
		var es []entry
		step := time.Hour / time.Duration(d.perHour)
		for i := 0; i < d.perHour; i++ {
			ts := d.first.Add(time.Duration(h)*time.Hour + time.Duration(i)*step)
			es = append(es, entry{Labels: map[string]string{"app": "ret", "hour": strconv.Itoa(h)},
				T: ts.UnixNano(), Line: fmt.Sprintf("h%d i%d t%d %016x%016x%016x", h, i, i%10, rng.Uint64(), rng.Uint64(), rng.Uint64())})
		}
		l.mustPush(t, "", "application/json", "", jsonBody(es))
	}
	var es []entry
	for i := 0; i < 10; i++ {
		es = append(es, entry{Labels: map[string]string{"app": "ret", "hour": "young"}, T: d.young.UnixNano() + int64(i), Line: fmt.Sprintf("young %d", i)})
	}
	l.mustPush(t, "", "application/json", "", jsonBody(es))
	if code, _, body := l.do(t, "POST", "/flush", nil, nil); code != 204 {
		t.Fatalf("POST /flush: %d %s", code, body)
	}
}

// counts returns the lines loam answers for, by hour label.
func (d *hourData) counts(t *testing.T, l *loam) map[string]int {
	t.Helper()
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	span := time.Since(d.first) + time.Hour
	l.getData(t, "/loki/api/v1/query", url.Values{
		"query": {fmt.Sprintf(`sum by (hour) (count_over_time({app="ret"}[%ds]))`, int(span.Seconds()))},
		"time":  {ns(time.Now())}}, "", &data)
	out := map[string]int{}
	for _, r := range data.Result {
		n, _ := strconv.Atoi(fmt.Sprint(r.Value[1]))
		out[r.Metric["hour"]] = n
	}
	return out
}

// expect checks that exactly the hours in kept (and the young lines) are
// answered, each whole.
func (d *hourData) expect(t *testing.T, l *loam, kept []int, when string) {
	t.Helper()
	want := map[string]int{"young": 10}
	for _, h := range kept {
		want[strconv.Itoa(h)] = d.perHour
	}
	if got := d.counts(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: lines by hour %v, want %v", when, got, want)
	}
}

// coldHours returns the bytes of the hourly cold blocks of the old hours
// under dir, by the hour they hold (Unix seconds).
func (d *hourData) coldHours(t *testing.T, dir string) map[int64]int64 {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "blocks", "*", "*", "H*.blk"))
	out := map[int64]int64{}
	for _, p := range paths {
		name := strings.TrimPrefix(filepath.Base(p), "H")
		hour, err := strconv.ParseInt(name[:strings.IndexByte(name, '-')], 10, 64)
		if err != nil {
			t.Fatalf("cold block %s: %v", p, err)
		}
		if hour < d.first.Unix() || hour >= d.first.Add(time.Duration(d.hours)*time.Hour).Unix() {
			continue // the young lines' hour
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		out[hour] += fi.Size()
	}
	return out
}

// waitCold waits until every old hour sits in its own cold block.
func (d *hourData) waitCold(t *testing.T, dir string) map[int64]int64 {
	t.Helper()
	var cold map[int64]int64
	waitFor(t, 30*time.Second, "the old hours to be compacted into hourly blocks", func() bool {
		cold = d.coldHours(t, dir)
		for h := 0; h < d.hours; h++ {
			if cold[d.first.Add(time.Duration(h)*time.Hour).Unix()] == 0 {
				return false
			}
		}
		return true
	})
	return cold
}

// TestRetentionBySize: past -retention.max-bytes the oldest hour goes
// first, and only as much as the budget needs; a budget nothing can meet
// still keeps everything younger than -retention.min-age. Each purge is
// logged and counted with reason "size".
func TestRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	d := newHourData(30, 6, 4000)
	base := append([]string{"-compaction.cold-after", "1s", "-retention.interval", "1s", "-retention.min-age", "2h"}, noIngestLimits...)
	l := startLoam(t, dir, base...)
	d.push(t, l)
	cold := d.waitCold(t, dir)
	d.expect(t, l, []int{0, 1, 2, 3, 4, 5}, "before any budget")
	l.stop()

	// A budget half an hour short: the oldest hour goes, nothing else.
	l = startLoam(t, dir, base...)
	m := l.metrics(t)
	blocks, _ := m.value("loam_data_bytes", "kind", "blocks")
	wal, _ := m.value("loam_data_bytes", "kind", "wal")
	oldest := cold[d.first.Unix()]
	l.stop()
	budget := int64(blocks+wal) - oldest/2
	l = startLoam(t, dir, append(base, "-retention.max-bytes", strconv.FormatInt(budget, 10))...)
	waitFor(t, 20*time.Second, "a size purge", func() bool {
		v, _ := l.metrics(t).value("loam_retention_purged_bytes_total", "reason", "size")
		return v > 0
	})
	d.expect(t, l, []int{1, 2, 3, 4, 5}, "after a budget half an hour short")
	if v, _ := l.metrics(t).value("loam_retention_purged_bytes_total", "reason", "size"); int64(v) != oldest {
		t.Errorf("purged %g bytes by size, want %d (the oldest hour's block)", v, oldest)
	}
	if got := d.coldHours(t, dir); got[d.first.Unix()] != 0 || len(got) != d.hours-1 {
		t.Errorf("cold blocks by hour after the purge: %v", got)
	}
	if !strings.Contains(l.out.String(), "level=WARN") || !strings.Contains(l.out.String(), `reason=size`) {
		t.Errorf("no WARN log line of the size purge")
	}
	wantOldest := float64(d.first.Add(time.Hour).Unix())
	if v, _ := l.metrics(t).value("loam_retention_oldest_timestamp_seconds", "tenant", "fake"); v < wantOldest || v > wantOldest+60 {
		t.Errorf("loam_retention_oldest_timestamp_seconds = %g, want about %g", v, wantOldest)
	}
	l.stop()

	// A budget of one byte: everything older than min-age goes, the young
	// lines stay, and loam says it cannot do more.
	l = startLoam(t, dir, append(base, "-retention.max-bytes", "1")...)
	waitFor(t, 20*time.Second, "the size purge to give up", func() bool {
		return strings.Contains(l.out.String(), "nothing is old enough to purge")
	})
	d.expect(t, l, nil, "after a budget of one byte")
	if got := d.coldHours(t, dir); len(got) != 0 {
		t.Errorf("cold blocks left after a budget of one byte: %v", got)
	}
}

// TestRetentionByDiskUsage fills a real 64 MiB file system past
// -retention.max-disk-usage with a file of someone else's: loam purges its
// oldest hours until the file system is back under the limit, and keeps
// the rest.
func TestRetentionByDiskUsage(t *testing.T) {
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	mnt := t.TempDir()
	mountTmpfs(t, mnt, "64m")
	dir := filepath.Join(mnt, "data")
	d := newHourData(30, 6, 30000)
	l := startLoam(t, dir, append([]string{"-compaction.cold-after", "1s", "-retention.interval", "1s", "-retention.min-age", "2h",
		"-retention.max-disk-usage", "80"}, noIngestLimits...)...)
	d.push(t, l)
	cold := d.waitCold(t, dir)
	d.expect(t, l, []int{0, 1, 2, 3, 4, 5}, "before the disk fills")
	hours := slices.Sorted(func(yield func(int64) bool) {
		for h := range cold {
			if !yield(h) {
				return
			}
		}
	})

	// Leave 17% of the file system free: 3% over the limit, less than the
	// two oldest hours.
	fillTo(t, filepath.Join(mnt, "filler"), 64<<20*17/100)
	waitFor(t, 20*time.Second, "a size purge", func() bool {
		v, _ := l.metrics(t).value("loam_retention_purged_bytes_total", "reason", "size")
		return v > 0
	})
	m := l.metrics(t)
	used, _ := m.value("loam_disk_usage_bytes")
	capacity, _ := m.value("loam_disk_capacity_bytes")
	if used > 0.8*capacity {
		t.Errorf("disk usage %.0f of %.0f after the purge, over the 80%% limit", used, capacity)
	}
	left := d.coldHours(t, dir)
	var gone []int
	for i, h := range hours {
		if left[h] == 0 {
			gone = append(gone, i)
		}
	}
	if len(gone) == 0 || len(gone) == len(hours) || gone[len(gone)-1] != len(gone)-1 {
		t.Fatalf("hours purged %v of %d: want the oldest first, and not all", gone, len(hours))
	}
	var kept []int
	for i := len(gone); i < d.hours; i++ {
		kept = append(kept, i)
	}
	d.expect(t, l, kept, "after the size purge")
}

// TestRetentionByAge: with per-tenant and per-stream retention from the
// runtime configuration file, lines pushed just inside their retention
// vanish from queries the moment they pass it and then from the disk: a
// tenant's expired hour is removed, a stream rule rewrites the hour
// without that stream, a head flushed after its lines expired writes
// none of them. A push already past its stream's retention is refused
// with a 400 naming the stream. A tenant's retention changed in the file
// is applied without a restart.
func TestRetentionByAge(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runtime.yaml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file+".tmp", []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write(`overrides:
  team-a:
    retention_period: 48h
    retention_stream:
      - selector: '{env="dev"}'
        priority: 1
        period: 24h
`)
	dataDir := filepath.Join(dir, "data")
	l := startLoam(t, dataDir, "-runtime-config.file", file, "-runtime-config.reload-period", "200ms",
		"-retention.period", "72h", "-retention.interval", "1s", "-compaction.cold-after", "1s")

	// Lines that expire margin from now, and lines that stay.
	const margin = 6 * time.Second
	now := time.Now()
	expiry := now.Add(margin)
	at := func(d time.Duration) int64 { return now.Add(margin - d).UnixNano() }
	type line struct {
		tenant, env, text string
		t                 int64
		expires           bool
	}
	flushed := []line{
		{"team-a", "prod", "a-prod-old", at(48 * time.Hour), true},    // the tenant's 48h
		{"team-a", "prod", "a-prod-keep", at(46 * time.Hour), false},  // another hour
		{"team-a", "dev", "a-dev-old", at(24 * time.Hour), true},      // the stream rule's 24h
		{"team-a", "prod", "a-prod-mid", at(24*time.Hour) + 1, false}, // beside it in its hour
		{"team-a", "dev", "a-dev-keep", at(22 * time.Hour), false},    // another hour
		{"team-b", "dev", "b-dev", at(24 * time.Hour), false},         // no rule for team-b
		{"team-b", "prod", "b-old", at(72 * time.Hour), true},         // the default 72h
		{"team-b", "prod", "b-keep", at(70 * time.Hour), false},       // another hour
	}
	// Oldest first: a stream refuses entries an hour behind its newest.
	push := func(ls []line, phase string) {
		t.Helper()
		ls = slices.Clone(ls)
		slices.SortFunc(ls, func(a, b line) int { return cmp.Compare(a.t, b.t) })
		for _, x := range ls {
			l.mustPush(t, x.tenant, "application/json", "", jsonBody([]entry{
				{Labels: map[string]string{"app": "age", "env": x.env, "phase": phase}, T: x.t, Line: x.text}}))
		}
	}
	push(flushed, "flushed")
	if code, _, body := l.do(t, "POST", "/flush", nil, nil); code != 204 {
		t.Fatalf("POST /flush: %d %s", code, body)
	}
	// Still in the head when they expire: the flush must not write them.
	inHead := []line{
		{"team-a", "dev", "a-dev-head-old", at(24*time.Hour) + 2, true},
		{"team-b", "prod", "b-head-old", at(72*time.Hour) + 2, true},
		{"team-b", "prod", "b-head-keep", at(70*time.Hour) + 2, false},
	}
	push(inHead, "head")
	all := append(slices.Clone(flushed), inHead...)

	answered := func(tenant string) []string {
		t.Helper()
		q := url.Values{"query": {`{app="age"}`}, "limit": {"100"}, "direction": {"forward"},
			"start": {ns(now.Add(-73 * time.Hour))}, "end": {ns(time.Now())}}
		var got []string
		for _, s := range l.queryRange(t, tenant, q) {
			for _, v := range s {
				got = append(got, v[1])
			}
		}
		slices.Sort(got)
		return got
	}
	want := func(tenant string, expired bool) []string {
		var w []string
		for _, x := range all {
			if x.tenant == tenant && (expired || !x.expires) {
				w = append(w, x.text)
			}
		}
		slices.Sort(w)
		return w
	}
	for _, tenant := range []string{"team-a", "team-b"} {
		if got := answered(tenant); !slices.Equal(got, want(tenant, true)) {
			t.Fatalf("%s before the expiry: %v, want %v", tenant, got, want(tenant, true))
		}
	}
	if time.Now().After(expiry) {
		t.Fatalf("pushing took longer than %s: the test cannot see the lines before they expire", margin)
	}
	time.Sleep(time.Until(expiry) + 100*time.Millisecond)
	// From the moment they expire, queries do not return them.
	for _, tenant := range []string{"team-a", "team-b"} {
		if got := answered(tenant); !slices.Equal(got, want(tenant, false)) {
			t.Errorf("%s after the expiry: %v, want %v", tenant, got, want(tenant, false))
		}
	}
	if code, _, body := l.do(t, "POST", "/flush", nil, nil); code != 204 {
		t.Fatalf("POST /flush: %d %s", code, body)
	}

	// Then they leave the disk: removed or rewritten hours, by reason.
	purged := func(tenant, reason string) float64 {
		v, _ := l.metrics(t).value("loam_retention_purged_bytes_total", "tenant", tenant, "reason", reason)
		return v
	}
	waitFor(t, 20*time.Second, "the expired lines to be purged", func() bool {
		return purged("team-a", "age") > 0 && purged("team-a", "stream") > 0 && purged("team-b", "age") > 0
	})
	onDisk := map[string]bool{}
	for _, ls := range blockLines(t, dataDir) {
		for _, x := range ls {
			onDisk[x] = true
		}
	}
	for _, x := range all {
		if onDisk[x.text] == x.expires {
			t.Errorf("line %q (tenant %s, expires %v) on disk: %v", x.text, x.tenant, x.expires, onDisk[x.text])
		}
	}
	for _, tenant := range []string{"team-a", "team-b"} {
		if got := answered(tenant); !slices.Equal(got, want(tenant, false)) {
			t.Errorf("%s after the purge: %v, want %v", tenant, got, want(tenant, false))
		}
	}
	out := l.out.String()
	for _, s := range []string{`msg="purged data" tenant=team-a reason=age`, `msg="purged data" tenant=team-a reason=stream`} {
		if !strings.Contains(out, s) {
			t.Errorf("no log line %s", s)
		}
	}

	// Past its stream's retention, a push is refused and named.
	code, msg := l.pushRaw(t, "team-a", "application/json", "", jsonBody([]entry{
		{Labels: map[string]string{"app": "age", "env": "dev"}, T: time.Now().Add(-25 * time.Hour).UnixNano(), Line: "late"}}))
	if code != 400 || !strings.Contains(msg, "entry too old") || !strings.Contains(msg, `env="dev"`) {
		t.Errorf("push past the stream's retention: %d %q, want 400 naming the stream, \"entry too old\"", code, msg)
	}

	// A shorter retention for team-b, without a restart: its dev line,
	// 24h old, goes now.
	write(`overrides:
  team-a:
    retention_period: 48h
    retention_stream:
      - selector: '{env="dev"}'
        priority: 1
        period: 24h
  team-b:
    retention_period: 24h
`)
	waitFor(t, 10*time.Second, "team-b's new retention", func() bool { return len(answered("team-b")) == 0 })
	before := purged("team-b", "age")
	waitFor(t, 20*time.Second, "team-b's lines to be purged", func() bool { return purged("team-b", "age") > before })
	for app, ls := range blockLines(t, dataDir) {
		for _, x := range ls {
			if strings.HasPrefix(x, "b-") {
				t.Errorf("team-b line %q (app %s) still on disk after its retention was cut to 24h", x, app)
			}
		}
	}
}

// TestRestartMidPurge kills loam with SIGKILL while it applies a delete
// (rewriting every block) and while it purges by size, at several points
// of the work. After each restart the store is consistent: no deleted
// line is answered, every other line is answered exactly once, a size
// purge took whole hours, oldest first; and once the work is done again,
// the blocks on disk hold every kept line once and no deleted line.
func TestRestartMidPurge(t *testing.T) {
	dir := t.TempDir()
	d := newHourData(30, 3, 20000)
	args := []string{"-compaction.cold-after", "1s", "-retention.interval", "1s", "-retention.delete-delay", "0s",
		"-retention.min-age", "2h"}
	l := startLoam(t, dir, args...)
	d.push(t, l)
	d.waitCold(t, dir)

	deleted := map[int]bool{} // tags deleted
	present := []int{0, 1, 2} // hours not purged
	check := func(when string) {
		t.Helper()
		want := map[string]int{"young": 10}
		for _, h := range present {
			want[strconv.Itoa(h)] = d.perHour - d.perHour/10*len(deleted)
		}
		if got := d.counts(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: lines by hour %v, want %v", when, got, want)
		}
	}
	for round, delay := range []time.Duration{0, 40 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond} {
		deleted[round] = true
		del := url.Values{"query": {fmt.Sprintf(`{app="ret"} |= " t%d "`, round)},
			"start": {strconv.FormatInt(d.first.Add(-time.Minute).Unix(), 10)},
			"end":   {strconv.FormatInt(d.first.Add(time.Duration(d.hours)*time.Hour).Unix(), 10)}}
		if code, _, body := l.addDelete(t, "POST", "", del); code != 204 {
			t.Fatalf("POST delete: %d %s", code, body)
		}
		time.Sleep(delay)
		l.kill9()
		l = startLoam(t, dir, args...)
		check(fmt.Sprintf("restarted %s into delete %d", delay, round))
	}
	waitFor(t, 30*time.Second, "every delete to be processed", func() bool {
		rs, _ := l.listDeletes(t, "")
		for _, r := range rs {
			if r.Status != "processed" {
				return false
			}
		}
		return len(rs) == len(deleted)
	})
	check("after the deletes")

	// A size purge cut short: a budget under the data, then SIGKILL at
	// once and again a little later.
	for _, delay := range []time.Duration{0, 100 * time.Millisecond} {
		l.stop()
		l = startLoam(t, dir, append(args, "-retention.max-bytes", "1")...)
		time.Sleep(delay)
		l.kill9()
		l = startLoam(t, dir, args...)
		c := d.counts(t, l)
		present = present[:0]
		for h := 0; h < d.hours; h++ {
			if c[strconv.Itoa(h)] > 0 {
				present = append(present, h)
			}
		}
		if len(present) > 0 && present[len(present)-1]-present[0] != len(present)-1 || len(present) > 0 && present[len(present)-1] != d.hours-1 {
			t.Fatalf("after a size purge cut short after %s, hours left %v: not the newest ones", delay, present)
		}
		check(fmt.Sprintf("restarted %s into a size purge", delay))
	}

	// On disk, once merges are done: each kept line once, no deleted one.
	waitFor(t, 30*time.Second, "the blocks to hold each kept line once", func() bool {
		seen := map[string]int{}
		for _, ls := range blockLines(t, dir) {
			for _, x := range ls {
				seen[x]++
			}
		}
		kept := 10 // the young lines
		for x, n := range seen {
			var h, i, tag int
			if _, err := fmt.Sscanf(x, "h%d i%d t%d ", &h, &i, &tag); err != nil {
				continue
			}
			if deleted[tag] || n != 1 || !slices.Contains(present, h) {
				return false
			}
			kept++
		}
		return kept == 10+len(present)*(d.perHour-d.perHour/10*len(deleted))
	})
}
