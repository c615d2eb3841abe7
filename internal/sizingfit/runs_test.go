package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/internal/golden"
)

const header = "name\tnodes\trf\trate\tstreams\tline_bytes\tseconds\tlines\tcores\trss_idle_mib\trss_mean_mib\trss_peak_mib\trss_query_mib\twal_max_bytes\tlive_bytes\tfast_bytes\tfast_cpu_s\tcold_bytes\tcold_cpu_s\n"

func TestReadRuns(t *testing.T) {
	good := header + "r3\t3\t3\t1000\t100\t200\t60.5\t60500\t0.03\t22.7\t30\t40\t45\t1000\t2000\t800\t0.1\t700\t0.3\n"
	runs, err := readRuns(strings.NewReader(good))
	if err != nil || len(runs) != 1 {
		t.Fatalf("readRuns = %v, %v", runs, err)
	}
	r := runs[0]
	if r.Name != "r3" || r.Nodes != 3 || r.RF != 3 || r.Streams != 100 || r.RSSQuery != 45 || r.Cold != 700 || r.ColdCPU != 0.3 || r.check() {
		t.Errorf("run %+v", r)
	}
	if got := r.stored(); got != 1000 {
		t.Errorf("stored = %g lines/s, want 1000", got)
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"other header", strings.Replace(header, "cores", "cpu", 1)},
		{"short row", header + "a\t1\n"},
		{"not a number", header + "a\t1\t1\t1\t1\t1\t1\t1\tx\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\n"},
		{"negative", header + "a\t1\t1\t1\t1\t1\t1\t1\t-1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\n"},
		{"RF over nodes", header + "a\t1\t3\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\n"},
		{"no lines", header + "a\t1\t1\t1\t1\t1\t1\t0\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\n"},
	} {
		if _, err := readRuns(strings.NewReader(tc.in)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func FuzzReadRuns(f *testing.F) {
	f.Add(header + "r1\t1\t1\t500\t100\t200\t60\t30000\t0.01\t19\t25\t30\t35\t1e5\t6e6\t2e6\t0.1\t2e6\t0.3\n")
	f.Add(header + "a\t1\n")
	f.Fuzz(func(t *testing.T, in string) {
		runs, err := readRuns(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range runs {
			if r.Nodes < 1 || r.RF < 1 || r.RF > r.Nodes || r.Seconds <= 0 || r.Lines <= 0 {
				t.Fatalf("accepted %+v", r)
			}
		}
		report(&bytes.Buffer{}, runs, store{maxBytes: 8 << 20, maxAge: 2 * time.Minute, fanIn: 16}) // no panic
	})
}

// TestReport fits the runs measured for docs/sizing.md and compares the
// report with the golden one.
func TestReport(t *testing.T) {
	f, err := os.Open("testdata/runs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runs, err := readRuns(f)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := report(&out, runs, store{maxBytes: 8 << 20, maxAge: 2 * time.Minute, fanIn: 16}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report.golden", out.Bytes())
}

func TestLevels(t *testing.T) {
	s := store{maxBytes: 8 << 20, maxAge: 2 * time.Minute, fanIn: 16}
	for _, tc := range []struct{ L, B, want float64 }{
		{10, 200, 2},     // the age flushes: 720 blocks a day
		{1000, 200, 2},   // 8 MiB every 42 s: 2,060 a day
		{40000, 1000, 4}, // every 0.21 s: 412,000 a day
	} {
		if got := s.levels(tc.L, tc.B); got != tc.want {
			t.Errorf("levels(%g, %g) = %g, want %g", tc.L, tc.B, got, tc.want)
		}
	}
}
