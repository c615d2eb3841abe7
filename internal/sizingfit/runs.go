package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// run is one row of the table scripts/sizing.sh writes: one push at a
// fixed rate, its figures per node.
type run struct {
	Name                      string
	Nodes, RF                 int
	Rate                      float64 // lines/s asked for, in total
	Streams                   float64
	LineBytes                 float64 // mean bytes per line
	Seconds                   float64 // the push's length
	Lines                     float64 // accepted, in total
	Cores                     float64 // CPU-s per second of push, per node
	RSSIdle, RSSMean, RSSPeak float64 // MiB per node
	RSSQuery                  float64 // MiB, the most of any node after the queries
	WALMax                    float64 // bytes per node
	Live                      float64 // block bytes per node once flushed
	Fast, Cold                float64 // block bytes per node merged at the live and the cold effort
	FastCPU, ColdCPU          float64 // CPU-s per node of those merges
}

// check reports whether the run is one to check the formula against,
// rather than one to fit it to.
func (r *run) check() bool { return strings.HasPrefix(r.Name, "check") }

// stored is the lines per second each node stores: every line goes to RF
// of the nodes.
func (r *run) stored() float64 { return r.Lines / r.Seconds * float64(r.RF) / float64(r.Nodes) }

// storedBytes is the line bytes each node stored in the run.
func (r *run) storedBytes() float64 { return r.stored() * r.Seconds * r.LineBytes }

// columns are the table's, in order.
var columns = []string{"name", "nodes", "rf", "rate", "streams", "line_bytes", "seconds", "lines", "cores",
	"rss_idle_mib", "rss_mean_mib", "rss_peak_mib", "rss_query_mib", "wal_max_bytes", "live_bytes", "fast_bytes", "fast_cpu_s", "cold_bytes", "cold_cpu_s"}

// readRuns reads the tab-separated table with its header line.
func readRuns(r io.Reader) ([]run, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		return nil, fmt.Errorf("no header line: %v", sc.Err())
	}
	if h := sc.Text(); h != strings.Join(columns, "\t") {
		return nil, fmt.Errorf("header %q, want %q", h, strings.Join(columns, "\t"))
	}
	var runs []run
	for n := 2; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != len(columns) {
			return nil, fmt.Errorf("line %d: %d fields, want %d", n, len(f), len(columns))
		}
		v := make([]float64, len(f))
		for i := 1; i < len(f); i++ {
			var err error
			if v[i], err = strconv.ParseFloat(f[i], 64); err != nil || v[i] < 0 {
				return nil, fmt.Errorf("line %d: %s %q is not a number ≥ 0", n, columns[i], f[i])
			}
		}
		r := run{Name: f[0], Nodes: int(v[1]), RF: int(v[2]), Rate: v[3], Streams: v[4], LineBytes: v[5],
			Seconds: v[6], Lines: v[7], Cores: v[8], RSSIdle: v[9], RSSMean: v[10], RSSPeak: v[11], RSSQuery: v[12],
			WALMax: v[13], Live: v[14], Fast: v[15], FastCPU: v[16], Cold: v[17], ColdCPU: v[18]}
		if r.Nodes < 1 || r.RF < 1 || r.RF > r.Nodes || r.Seconds <= 0 || r.Lines <= 0 {
			return nil, fmt.Errorf("line %d: %d nodes, replication factor %d, %g s, %g lines", n, r.Nodes, r.RF, r.Seconds, r.Lines)
		}
		runs = append(runs, r)
	}
	return runs, sc.Err()
}
