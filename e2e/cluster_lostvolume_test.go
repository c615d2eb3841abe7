package e2e

import (
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"
)

// TestClusterLostVolume: a node whose volume is lost comes back empty and
// its first repair pass copies everything it owns from the others, also
// entries older than the periodic repair window: alone, it then answers
// every line.
func TestClusterLostVolume(t *testing.T) {
	c := startCluster(t, 3, 3, "-ring.repair-window", "1h")
	now := time.Now()
	var es []entry
	for s := range 10 {
		for i, age := range []time.Duration{48 * time.Hour, 3 * time.Hour, time.Minute} {
			// A stream per age: a stream takes entries at most an hour behind its newest.
			es = append(es, entry{Labels: map[string]string{"job": "lost", "s": fmt.Sprint(s), "age": age.String()},
				T: now.Add(-age).UnixNano() + int64(i), Line: fmt.Sprintf("stream %d, %s old", s, age)})
		}
	}
	c.nodes[1].proc.mustPush(t, "", ctProto, "", protoBody(es))

	c.nodes[0].proc.kill9()
	if err := os.RemoveAll(c.nodes[0].dataDir); err != nil {
		t.Fatal(err)
	}
	c.restart(0)
	waitFor(t, 30*time.Second, "node-0's first repair pass", func() bool {
		v, _ := c.nodes[0].proc.metrics(t).value("loam_repair_passes_total", "result", "ok")
		return v >= 1
	})
	c.nodes[1].proc.kill9()
	c.nodes[2].proc.kill9()
	q := url.Values{"query": {`{job="lost"}`}, "start": {ns(now.Add(-72 * time.Hour))}, "end": {ns(now.Add(time.Minute))},
		"limit": {"1000"}}
	if got := c.nodes[0].proc.queryRange(t, "", q).count(); got != len(es) {
		t.Fatalf("node-0 alone after losing its volume: %d lines, want %d", got, len(es))
	}
}
