package e2e

import (
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
// plus a few young lines in {app="ret", hour="young"}.
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
				T: ts.UnixNano(), Line: fmt.Sprintf("h%d i%d %016x%016x%016x", h, i, rng.Uint64(), rng.Uint64(), rng.Uint64())})
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
	base := []string{"-compaction.cold-after", "1s", "-retention.interval", "1s", "-retention.min-age", "2h"}
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
	l := startLoam(t, dir, "-compaction.cold-after", "1s", "-retention.interval", "1s", "-retention.min-age", "2h",
		"-retention.max-disk-usage", "80")
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
