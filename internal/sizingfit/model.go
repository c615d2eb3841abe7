package main

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// store is what bounds the in-memory head and shapes the merges: loam's
// -head.max-bytes, -head.max-age and -compaction.fan-in in the runs.
type store struct {
	maxBytes float64
	maxAge   time.Duration
	fanIn    float64
}

// headBytes is the most line bytes the head held in a run: it fills at the
// node's stored byte rate until either bound flushes it.
func (s store) headBytes(r *run) float64 {
	return min(s.maxBytes, r.stored()*r.LineBytes*min(r.Seconds, s.maxAge.Seconds()))
}

// levels is how many times a live merge rewrites a line of the day at a
// steady L lines/s of B bytes: a flush every min(max-age, max-bytes/(L·B)),
// fan-in blocks of a level merged into one of the next.
func (s store) levels(L, B float64) float64 {
	every := min(s.maxAge.Seconds(), s.maxBytes/(L*B))
	return math.Floor(math.Log(86400/every) / math.Log(s.fanIn))
}

// model is the sizing formula of docs/sizing.md, per node, with
// L = stored lines/s, B = bytes per line, S = streams, H = head bytes:
//
//	cores      = CPUBase + L·(CPULine + CPUByte·B)·(Repl if RF > 1)   push and flush
//	           + L·B·(levels·FastCPU + ColdCPU)                      merges, averaged over the day
//	RSS (MiB)  = Mem[0] + Mem[1]·H + Mem[2]·S (+ Mem[3] if RF > 1)   peak; MemMean: mean
//	disk       = Disk[0]·line bytes + Disk[1]·S per hourly block      past days (Fast: today's)
//	query RSS  = Query[0] + Query[1]·stored MiB                      peak after the queries
//	WAL        = WAL[0] + WAL[1]·H
type model struct {
	store                     store
	CPUBase, CPULine, CPUByte float64
	Repl                      float64 // CPU per stored line of a replicated node over a single one's
	FastCPU, ColdCPU          float64 // CPU-s per line byte of a merge at the live and the cold effort
	Mem, MemMean              []float64
	Query                     []float64 // peak RSS MiB after the queries: constant, per MiB of stored line bytes
	Live, Fast, Disk          []float64 // flushed, merged at the live and the cold effort: per line byte, per stream
	WAL                       []float64
}

// fit fits the model to the runs that are not checks.
func fit(runs []run, st store) (*model, error) {
	var single, repl, all []run
	for _, r := range runs {
		if r.check() {
			continue
		}
		all = append(all, r)
		if r.RF > 1 {
			repl = append(repl, r)
		} else {
			single = append(single, r)
		}
	}
	if len(single) < 3 {
		return nil, errors.New("fewer than 3 runs of one node to fit the CPU to")
	}
	m := &model{store: st}
	var x [][]float64
	var y []float64
	for _, r := range single {
		L := r.stored()
		x = append(x, []float64{1, L, L * r.LineBytes})
		y = append(y, r.Cores)
	}
	b, err := lstsq(x, y)
	if err != nil {
		return nil, fmt.Errorf("CPU: %w", err)
	}
	m.CPUBase, m.CPULine, m.CPUByte = b[0], b[1], b[2]
	m.Repl = 1
	if len(repl) > 0 {
		var num, den float64
		for _, r := range repl {
			p := m.perLine(&r)
			num += (r.Cores - m.CPUBase) * p
			den += p * p
		}
		m.Repl = num / den
	}
	var fastCPU, coldCPU, raw float64
	var xm, xd, xw, xq [][]float64
	var peak, mean, query, live, fast, cold, wal []float64
	for _, r := range all {
		fastCPU += r.FastCPU
		coldCPU += r.ColdCPU
		raw += r.storedBytes()
		row := []float64{1, st.headBytes(&r), r.Streams}
		if len(repl) > 0 {
			row = append(row, 0)
			if r.RF > 1 {
				row[3] = 1
			}
		}
		xm = append(xm, row)
		peak, mean = append(peak, r.RSSPeak), append(mean, r.RSSMean)
		xd = append(xd, []float64{r.storedBytes(), r.Streams})
		live, fast, cold = append(live, r.Live), append(fast, r.Fast), append(cold, r.Cold)
		xq = append(xq, []float64{1, r.storedBytes() / mib})
		query = append(query, r.RSSQuery)
		xw = append(xw, []float64{1, st.headBytes(&r)})
		wal = append(wal, r.WALMax)
	}
	m.FastCPU, m.ColdCPU = fastCPU/raw, coldCPU/raw
	for _, f := range []struct {
		what string
		x    [][]float64
		y    []float64
		to   *[]float64
	}{
		{"peak RSS", xm, peak, &m.Mem}, {"mean RSS", xm, mean, &m.MemMean}, {"RSS after queries", xq, query, &m.Query},
		{"flushed blocks", xd, live, &m.Live}, {"blocks merged live", xd, fast, &m.Fast},
		{"blocks merged cold", xd, cold, &m.Disk}, {"WAL", xw, wal, &m.WAL},
	} {
		if *f.to, err = lstsqNonNeg(f.x, f.y, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", f.what, err)
		}
	}
	return m, nil
}

// perLine is the CPU of a run's lines on one node alone: the push part of
// the model's cores less its constant.
func (m *model) perLine(r *run) float64 {
	return r.stored() * (m.CPULine + m.CPUByte*r.LineBytes)
}

// prediction is what the model says of a run, per node.
type prediction struct {
	Cores                      float64 // push and flush
	MergeCPU                   float64 // the two merges of the run's data, CPU-s
	RSSPeak, RSSMean, RSSQuery float64
	Live, Fast, Cold, WAL      float64
}

func (m *model) predict(r *run) prediction {
	p := prediction{Cores: m.CPUBase + m.perLine(r)}
	if r.RF > 1 {
		p.Cores = m.CPUBase + m.perLine(r)*m.Repl
	}
	h := m.store.headBytes(r)
	mem := func(c []float64) float64 {
		v := c[0] + c[1]*h + c[2]*r.Streams
		if len(c) > 3 && r.RF > 1 {
			v += c[3]
		}
		return v
	}
	p.RSSPeak, p.RSSMean = mem(m.Mem), mem(m.MemMean)
	p.RSSQuery = m.Query[0] + m.Query[1]*r.storedBytes()/mib
	disk := func(c []float64) float64 { return c[0]*r.storedBytes() + c[1]*r.Streams }
	p.Live, p.Fast, p.Cold = disk(m.Live), disk(m.Fast), disk(m.Disk)
	p.MergeCPU = (m.FastCPU + m.ColdCPU) * r.storedBytes()
	p.WAL = m.WAL[0] + m.WAL[1]*h
	return p
}

// mergeCores is the CPU the merges take at a steady L lines/s of B bytes,
// averaged over the day.
func (m *model) mergeCores(L, B float64) float64 {
	return L * B * (m.store.levels(L, B)*m.FastCPU + m.ColdCPU)
}
