package e2e

import (
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/internal/conformance"
)

// conformanceDir holds the corpus and Grafana Loki's recorded answers; see
// its README.md.
var conformanceDir = filepath.Join("testdata", "conformance")

// TestConformance pushes the conformance corpus into a fresh loam and
// compares every answer with the one Grafana Loki gave: from the head, from
// blocks after a restart (SIGTERM flushes the head), and from the blocks the
// cold compaction merged. CONFORMANCE_ONLY=id,prefix*,… narrows the cases;
// LOAM_ARGS adds flags to the server's.
func TestConformance(t *testing.T) {
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	all, err := conformance.LoadCases(filepath.Join(conformanceDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	only := os.Getenv("CONFORMANCE_ONLY")
	cases := conformance.Select(all, only)
	if len(cases) == 0 {
		t.Fatalf("CONFORMANCE_ONLY=%q selects none of the %d cases", only, len(all))
	}
	dir := t.TempDir()
	args := append([]string{"-compaction.cold-after", "2s"}, strings.Fields(os.Getenv("LOAM_ARGS"))...)
	l := startLoam(t, dir, args...)
	shift := conformance.AutoShift(time.Now())
	start := time.Now()
	st, err := conformance.PushFile(t.Context(), conformance.Target{URL: l.base}, filepath.Join(conformanceDir, "corpus.jsonl.gz"), shift)
	if err != nil {
		t.Fatalf("push the corpus: %v", err)
	}
	t.Logf("pushed %d lines (%d bytes) in %d batches, shifted by %d h, in %s",
		st.Entries, st.LineBytes, st.Batches, shift.Hours(), time.Since(start).Round(time.Millisecond))

	check := func(stage string, l *loam) {
		t.Run(stage, func(t *testing.T) {
			start := time.Now()
			rs := conformance.Check(t.Context(), conformance.Target{URL: l.base}, cases, shift)
			for _, r := range rs {
				if !r.OK() {
					t.Errorf("%s\n     query: %s", r, r.Case.Query())
				}
			}
			_, _, summary := conformance.Summary(rs)
			t.Logf("answers from %s: %s in %s", stage, summary, time.Since(start).Round(time.Millisecond))
		})
	}
	check("head", l)

	l.stop()
	l = startLoam(t, dir, args...)
	check("blocks", l)

	waitFor(t, time.Minute, "the cold day's compaction", func() bool {
		v, _ := l.metrics(t).value("loam_compactions_total")
		return v >= 1
	})
	size := blockBytes(t, filepath.Join(dir, "blocks"))
	t.Logf("blocks on disk: %d bytes, %.2fx smaller than the corpus' raw lines (%d bytes)",
		size, float64(st.LineBytes)/float64(size), st.LineBytes)
	check("compacted blocks", l)
}

// blockBytes is the size of the block files under dir.
func blockBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".blk" {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil || n == 0 {
		t.Fatalf("block files under %s: %d bytes, %v", dir, n, err)
	}
	return n
}

// TestConformanceCluster is TestConformance against three nodes with a
// replication factor of 3: the corpus is pushed through one node and every
// case is asked of another, so each answer merges the replicas. Then the
// nodes are restarted one by one and the cases asked again of the third,
// from blocks.
func TestConformanceCluster(t *testing.T) {
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	all, err := conformance.LoadCases(filepath.Join(conformanceDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := conformance.Select(all, os.Getenv("CONFORMANCE_ONLY"))
	if len(cases) == 0 {
		t.Fatalf("CONFORMANCE_ONLY selects none of the %d cases", len(all))
	}
	c := startCluster(t, 3, 3, strings.Fields(os.Getenv("LOAM_ARGS"))...)
	shift := conformance.AutoShift(time.Now())
	st, err := conformance.PushFile(t.Context(), conformance.Target{URL: c.nodes[0].proc.base}, filepath.Join(conformanceDir, "corpus.jsonl.gz"), shift)
	if err != nil {
		t.Fatalf("push the corpus: %v", err)
	}
	t.Logf("pushed %d lines through %s", st.Entries, c.nodes[0].name)
	check := func(stage string, l *loam) {
		t.Run(stage, func(t *testing.T) {
			rs := conformance.Check(t.Context(), conformance.Target{URL: l.base}, cases, shift)
			for _, r := range rs {
				if !r.OK() {
					t.Errorf("%s\n     query: %s", r, r.Case.Query())
				}
			}
			_, _, summary := conformance.Summary(rs)
			t.Logf("answers from %s: %s", stage, summary)
		})
	}
	// Once every node has made a repair pass after the ring settled,
	// reads are split with one owner per stream (cluster.OneOwner): the
	// first stage asks that way, the second, right after the restarts,
	// mostly from two owners.
	ones := func() float64 {
		v, _ := c.nodes[1].proc.metrics(t).value("loam_fanout_split_reads_total", "owners", "one")
		return v
	}
	waitFor(t, 60*time.Second, "a read from one owner per stream", func() bool {
		before := ones()
		q := url.Values{"query": {`{job=~".+"}`}, "limit": {"1"}}
		c.nodes[1].proc.get(t, "/loki/api/v1/query_range", q, "")
		return ones() > before
	})
	before := ones()
	check("head, through another node", c.nodes[1].proc)
	if ones() == before {
		t.Errorf("no read of the cases was split with one owner per stream")
	}
	for i := range c.nodes {
		c.nodes[i].proc.stop()
		c.restart(i)
	}
	check("blocks, after a rolling restart", c.nodes[2].proc)
}
