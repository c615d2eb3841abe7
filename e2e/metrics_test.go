package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestMetrics checks that /metrics tells an operator what the server did:
// lines and bytes received per tenant, lines rejected by reason, WAL writes
// and fsyncs, replay, head size, flushes, blocks on disk and HTTP requests
// by route and status.
func TestMetrics(t *testing.T) {
	l := startLoam(t, t.TempDir(), "-head.idle-flush", "2s", "-compaction.cold-after", "1s", "-limits.max-line-size", "50")
	now := time.Now()
	ts := now.Add(-time.Minute).UnixNano()
	m1 := map[string]string{"app": "m1"}
	m2 := map[string]string{"app": "m2"}

	var linesFake, bytesFake, stored, storedBytes, pushes204, pushes400 int
	push := func(tenant, ct string, es []entry, wantCode int) {
		t.Helper()
		body := jsonBody(es)
		if ct == ctProto {
			body = protoBody(es)
		}
		code, msg := l.pushRaw(t, tenant, ct, "", body)
		if code != wantCode {
			t.Fatalf("push %v: got %d %q, want %d", es, code, msg, wantCode)
		}
		if code == 204 {
			pushes204++
			stored += len(es)
			for _, e := range es {
				storedBytes += len(e.Line)
			}
		} else {
			pushes400++
		}
		if tenant == "" {
			linesFake += len(es)
			for _, e := range es {
				bytesFake += len(e.Line)
			}
		}
	}
	push("", ctJSON, []entry{{Labels: m1, T: ts, Line: "one"}, {Labels: m1, T: ts + 1, Line: "two"}, {Labels: m1, T: ts + 2, Line: "three"},
		{Labels: m2, T: ts, Line: "four"}, {Labels: m2, T: ts + 1, Line: "five"}}, 204)
	push("metrics-t", ctProto, []entry{{Labels: m1, T: ts, Line: "tenant line 1"}, {Labels: m1, T: ts + 1, Line: "tenant line 2"}}, 204)
	// One rejected line per reason.
	push("", ctJSON, []entry{{Labels: m1, T: ts, Line: strings.Repeat("x", 51)}}, 400)
	push("", ctJSON, []entry{{Labels: m1, T: now.Add(-8 * 24 * time.Hour).UnixNano(), Line: "old"}}, 400)
	push("", ctJSON, []entry{{Labels: m1, T: now.Add(time.Hour).UnixNano(), Line: "future"}}, 400)
	push("", ctJSON, []entry{{Labels: map[string]string{"a": ""}, T: ts, Line: "no labels"}}, 400)
	many := map[string]string{}
	for _, c := range "abcdefghijklmnop" {
		many[string(c)] = "v"
	}
	push("", ctJSON, []entry{{Labels: many, T: ts, Line: "many labels"}}, 400)
	push("", ctJSON, []entry{{Labels: m1, T: ts - int64(2*time.Hour), Line: "behind"}}, 400)

	q := url.Values{"query": {`{app=~"m.*"}`}, "start": {ns(now.Add(-time.Hour))}, "end": {ns(now.Add(time.Minute))}}
	if got := l.queryRange(t, "", q); got.count() != 5 {
		t.Errorf("query answered %d entries, want 5", got.count())
	}
	l.queryRange(t, "", q)
	var names []string
	l.getData(t, "/loki/api/v1/labels", nil, "", &names)
	l.get(t, "/loki/api/v1/nope", nil, "")

	m := l.metrics(t)
	expect := func(name string, want float64, match ...string) {
		t.Helper()
		got, ok := m.value(name, match...)
		if !ok {
			t.Errorf("metric %s%v missing", name, match)
		} else if got != want {
			t.Errorf("metric %s%v = %v, want %v", name, match, got, want)
		}
	}
	atLeast := func(name string, min float64, match ...string) {
		t.Helper()
		got, ok := m.value(name, match...)
		if !ok {
			t.Errorf("metric %s%v missing", name, match)
		} else if got < min {
			t.Errorf("metric %s%v = %v, want >= %v", name, match, got, min)
		}
	}

	expect("loam_distributor_lines_received_total", float64(linesFake), "tenant", "fake")
	expect("loam_distributor_bytes_received_total", float64(bytesFake), "tenant", "fake")
	expect("loam_distributor_lines_received_total", 2, "tenant", "metrics-t")
	expect("loam_distributor_bytes_received_total", float64(len("tenant line 1")+len("tenant line 2")), "tenant", "metrics-t")
	for _, reason := range []string{"line_too_long", "greater_than_max_sample_age", "too_far_in_future", "invalid_labels",
		"max_label_names_per_series", "too_far_behind"} {
		expect("loam_discarded_lines_total", 1, "tenant", "fake", "reason", reason)
	}
	expect("loam_discarded_lines_total", 6, "tenant", "fake")

	atLeast("loam_wal_bytes_written_total", float64(storedBytes))
	// Every acknowledged push is one record. (A push whose entries were all
	// refused as too far behind still writes an empty record today.)
	atLeast("loam_wal_records_written_total", float64(pushes204))
	atLeast("loam_wal_fsync_duration_seconds_count", 1)
	atLeast("loam_wal_fsync_duration_seconds_sum", 0)
	atLeast("loam_wal_fsync_duration_seconds_bucket", 1, "le", "+Inf")
	atLeast("loam_wal_replay_duration_seconds", 0)
	atLeast("loam_wal_segments", 1)

	if flushes, _ := m.value("loam_flushes_total"); flushes == 0 {
		expect("loam_head_streams", 3) // m1 and m2 of fake, m1 of metrics-t
		expect("loam_head_entries", float64(stored))
		expect("loam_head_bytes", float64(storedBytes))
		expect("loam_blocks", 0)
	} else {
		t.Logf("the head was flushed before the first scrape; head gauges checked after the flush only")
	}

	route := func(r, method, status string) []string {
		return []string{"route", r, "method", method, "status", status}
	}
	expect("loam_request_duration_seconds_count", float64(pushes204), route("/loki/api/v1/push", "POST", "204")...)
	expect("loam_request_duration_seconds_count", float64(pushes400), route("/loki/api/v1/push", "POST", "400")...)
	expect("loam_request_duration_seconds_count", 2, route("/loki/api/v1/query_range", "GET", "200")...)
	expect("loam_request_duration_seconds_count", 1, route("/loki/api/v1/labels", "GET", "200")...)
	atLeast("loam_request_duration_seconds_bucket", 1, append(route("/loki/api/v1/push", "POST", "204"), "le", "+Inf")...)
	atLeast("go_goroutines", 1)
	atLeast("process_resident_memory_bytes", 1)

	// The idle head (2s without pushes) is flushed into blocks.
	waitFor(t, 15*time.Second, "an idle flush (loam_flushes_total >= 1)", func() bool {
		v, _ := l.metrics(t).value("loam_flushes_total")
		return v >= 1
	})
	// The level-0 block (no filters) is merged once its day is cold.
	waitFor(t, 15*time.Second, "a compaction (loam_compactions_total >= 1)", func() bool {
		v, _ := l.metrics(t).value("loam_compactions_total")
		return v >= 1
	})
	// Queries now read chunks from blocks; a substring no chunk holds lets
	// the n-gram filter skip them.
	if got := l.queryRange(t, "", q); got.count() != 5 {
		t.Errorf("query after the flush answered %d entries, want 5", got.count())
	}
	q.Set("query", `{app=~"m.*"} |= "qqqzzzxxx"`)
	if got := l.queryRange(t, "", q); got.count() != 0 {
		t.Errorf("query for an absent needle answered %d entries", got.count())
	}
	m = l.metrics(t)
	atLeast("loam_flushes_total", 1)
	expect("loam_flush_failures_total", 0)
	atLeast("loam_flush_duration_seconds_count", 1)
	atLeast("loam_flush_duration_seconds_bucket", 1, "le", "+Inf")
	atLeast("loam_blocks", 2) // one per tenant
	atLeast("loam_block_bytes", 1)
	expect("loam_head_streams", 0)
	expect("loam_head_entries", 0)
	expect("loam_head_bytes", 0)
	atLeast("loam_query_chunks_read_total", 1)
	atLeast("loam_query_chunks_skipped_total", 1, "reason", "filter")
	// Disk space of the data directory's file system, refreshed by flushes.
	expect("loam_disk_full", 0)
	atLeast("loam_disk_usage_bytes", 1)
	atLeast("loam_disk_capacity_bytes", 1)
	atLeast("loam_data_bytes", 1, "kind", "blocks")
	atLeast("loam_data_bytes", 8, "kind", "wal") // a segment header at least
	if b, _ := m.value("loam_data_bytes", "kind", "blocks"); b != func() float64 { v, _ := m.value("loam_block_bytes"); return v }() {
		t.Errorf("loam_data_bytes{kind=blocks} = %v differs from loam_block_bytes", b)
	}

	t.Run("404 and 405 counted", func(t *testing.T) {
		l.do(t, "DELETE", "/loki/api/v1/push", nil, nil)
		m := l.metrics(t)
		_, ok404 := m.value("loam_request_duration_seconds_count", "status", "404")
		_, ok405 := m.value("loam_request_duration_seconds_count", "status", "405")
		if !ok404 || !ok405 {
			t.Errorf("unknown routes (404: %v) and wrong methods (405: %v) must be counted in loam_request_duration_seconds", ok404, ok405)
		}
	})
	l.stop()

	// After a restart the replay duration is reported.
	l2 := startLoam(t, l.dataDir)
	m = l2.metrics(t)
	if _, ok := m.value("loam_wal_replay_duration_seconds"); !ok {
		t.Errorf("loam_wal_replay_duration_seconds missing after a restart")
	}
	atLeast("loam_blocks", 2)
	l2.stop()
}
