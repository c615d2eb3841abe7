// Command sizingfit fits the sizing formula of docs/sizing.md to the table
// of runs scripts/sizing.sh measured, prints it, and prints each run's
// figures next to the formula's; the runs named check-* are left out of the
// fit and their errors are the formula's check.
//
//	sizingfit [-head.max-bytes N] [-head.max-age D] [-compaction.fan-in N] sizing.tsv
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

func main() {
	fs := flag.NewFlagSet("sizingfit", flag.ContinueOnError)
	st := store{}
	fs.Float64Var(&st.maxBytes, "head.max-bytes", 8<<20, "loam's -head.max-bytes in the runs")
	fs.DurationVar(&st.maxAge, "head.max-age", 2*time.Minute, "loam's -head.max-age in the runs")
	fs.Float64Var(&st.fanIn, "compaction.fan-in", 16, "loam's -compaction.fan-in in the runs")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() != 1 || st.maxBytes <= 0 || st.maxAge <= 0 || st.fanIn < 2 {
		fmt.Fprintln(os.Stderr, "usage: sizingfit [flags] sizing.tsv (positive head bounds, a fan-in of 2 or more)")
		os.Exit(2)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizingfit:", err)
		os.Exit(1)
	}
	defer f.Close()
	runs, err := readRuns(f)
	if err == nil {
		err = report(os.Stdout, runs, st)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizingfit:", err)
		os.Exit(1)
	}
}

const mib = 1 << 20

// report fits the model and prints it, then every run against it and the
// check runs' errors.
func report(w io.Writer, runs []run, st store) error {
	m, err := fit(runs, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "per node; L: lines/s it stores (rate·RF/nodes), B: bytes per line, S: streams,\n")
	fmt.Fprintf(w, "H: head bytes = min(%.0f MiB, L·B·%s)\n", st.maxBytes/mib, st.maxAge)
	fmt.Fprintf(w, "  cores        = %.4f + %.3g·S + L·(%.3g + %.3g·B)   (a node of a replicated cluster: + %.4f, and ×%.2f on the L term)\n",
		m.CPUBase, m.CPUStream, m.CPULine, m.CPUByte, m.ClusterBase, m.Repl)
	fmt.Fprintf(w, "  merges       = levels·(L·(%.3g + %.3g·B) + %.3g·S·M) + L·(%.3g + %.3g·B) + %.3g·S/3600 cores,\n",
		m.FastCPU[0], m.FastCPU[1], m.FastCPU[2], m.ColdCPU[0], m.ColdCPU[1], m.ColdCPU[2])
	fmt.Fprintf(w, "                 levels = ⌊log_%.0f(86400 s / flush interval)⌋, M = merges/s = 1/(flush interval·%.0f):\n", st.fanIn, st.fanIn-1)
	fmt.Fprintf(w, "                 the live merges, then the cold one into hourly blocks\n")
	for _, c := range []struct {
		name string
		c    []float64
	}{{"peak RSS MiB", m.Mem}, {"mean RSS MiB", m.MemMean}} {
		fmt.Fprintf(w, "  %-12s = %.1f + %.3g·H/MiB + %.4f·S + %.3g·L·B/(MB/s)", c.name, c.c[0], c.c[1]*mib, c.c[2], c.c[3]*1e6)
		if len(c.c) > 4 {
			fmt.Fprintf(w, " + %.1f if RF > 1", c.c[4])
		}
		fmt.Fprintln(w)
	}
	for _, c := range []struct {
		name string
		c    []float64
	}{{"flushed", m.Live}, {"merged live", m.Fast}, {"merged cold", m.Disk}} {
		fmt.Fprintf(w, "  %-12s = %.4f·line bytes + %.0f B·S per block\n", c.name, c.c[0], c.c[1])
	}
	fmt.Fprintf(w, "  query RSS    = %.1f + %.3g·stored line MiB + %.4f·S   (peak after four queries at once over all of it)\n", m.Query[0], m.Query[1], m.Query[2])
	fmt.Fprintf(w, "  WAL          = %.2f MiB + %.3g·H\n", m.WAL[0]/mib, m.WAL[1])
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-22s %6s %5s %5s  %13s  %13s  %13s  %13s  %11s  %11s  %11s  %11s\n", "run: measured/formula", "L", "B", "S",
		"cores", "peak RSS MiB", "mean RSS MiB", "query RSS MiB", "merged B/l", "cold B/l", "merge µs/l", "WAL MiB")
	type errs struct {
		name string
		e    []float64
	}
	var checks []errs
	for _, r := range runs {
		p := m.predict(&r)
		lines := r.stored() * r.Seconds
		fmt.Fprintf(w, "%-22s %6.0f %5.0f %5.0f  %6.3f/%-6.3f  %6.1f/%-6.1f  %6.1f/%-6.1f  %6.1f/%-6.1f  %5.0f/%-5.0f  %5.0f/%-5.0f  %5.1f/%-5.1f  %5.1f/%-5.1f\n",
			r.Name, r.stored(), r.LineBytes, r.Streams, r.Cores, p.Cores, r.RSSPeak, p.RSSPeak, r.RSSMean, p.RSSMean, r.RSSQuery, p.RSSQuery,
			r.Fast/lines, p.Fast/lines, r.Cold/lines, p.Cold/lines,
			1e6*(r.FastCPU+r.ColdCPU)/lines, 1e6*p.MergeCPU/lines, r.WALMax/mib, p.WAL/mib)
		if r.check() {
			checks = append(checks, errs{r.Name, []float64{rel(p.Cores, r.Cores), rel(p.RSSPeak, r.RSSPeak),
				rel(p.RSSMean, r.RSSMean), rel(p.RSSQuery, r.RSSQuery), rel(p.Fast, r.Fast), rel(p.Cold, r.Cold),
				rel(p.MergeCPU, r.FastCPU+r.ColdCPU), rel(p.WAL, r.WALMax)}})
		}
	}
	if len(checks) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "check runs, (formula − measured)/measured:")
		for _, c := range checks {
			fmt.Fprintf(w, "  %-22s cores %+.0f%%, peak RSS %+.0f%%, mean RSS %+.0f%%, query RSS %+.0f%%, disk merged live %+.0f%%, cold %+.0f%%, merge CPU %+.0f%%, WAL %+.0f%%\n",
				c.name, 100*c.e[0], 100*c.e[1], 100*c.e[2], 100*c.e[3], 100*c.e[4], 100*c.e[5], 100*c.e[6], 100*c.e[7])
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "steady loads of one node, merges included (a day's data: merged cold, and while it is today's):")
	fmt.Fprintf(w, "%7s %6s %7s %-5s  %7s %7s  %9s %9s  %9s %9s  %7s\n", "L", "B", "S", "RF>1", "cores", "merges",
		"peak MiB", "query MiB", "GB/day", "today GB", "WAL MiB")
	for _, ld := range exampleLoads {
		s := m.steady(ld)
		fmt.Fprintf(w, "%7.0f %6.0f %7.0f %-5v  %7.3f %7.3f  %9.0f %9.0f  %9.2f %9.2f  %7.1f\n", ld.L, ld.B, ld.S, ld.replicated,
			s.Cores, s.MergeCores, s.RSSPeak, s.RSSQuery, s.DayCold/1e9, s.DayLive/1e9, s.WAL/mib)
	}
	return nil
}

// exampleLoads are the loads docs/sizing.md sizes for.
var exampleLoads = []load{
	{L: 100, B: 500, S: 1000}, {L: 1000, B: 500, S: 5000}, {L: 1000, B: 500, S: 5000, replicated: true},
	{L: 5000, B: 500, S: 20000, replicated: true}, {L: 10000, B: 1000, S: 50000, replicated: true},
}

// rel is the relative error of a prediction; 0 against 0 is none.
func rel(pred, meas float64) float64 {
	if meas == 0 {
		if pred == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return (pred - meas) / meas
}
