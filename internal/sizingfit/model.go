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
//	cores      = CPUBase + CPUStream·S + L·(CPULine + CPUByte·B)      push and flush, one node
//	           (+ ClusterBase, and the L term ×Repl)                 a node of a cluster
//	           + levels·(L·(FastCPU[0] + FastCPU[1]·B) + FastCPU[2]·S·M)   live merges, averaged (M: merges/s)
//	           + L·(ColdCPU[0] + ColdCPU[1]·B) + ColdCPU[2]·S/3600 s                the cold merge, averaged
//	RSS (MiB)  = Mem[0] + Mem[1]·H + Mem[2]·S + Mem[3]·L·B           peak; MemMean: mean
//	           (+ Mem[4] if RF > 1)
//	disk       = Disk[0]·line bytes + Disk[1]·S per hourly block      past days (Fast: today's)
//	query RSS  = Query[0] + Query[1]·stored MiB + Query[2]·S         peak after the queries
//	WAL        = WAL[0] + WAL[1]·H
type model struct {
	store                     store
	CPUBase, CPULine, CPUByte float64
	CPUStream                 float64   // cores per stream pushed to
	ClusterBase               float64   // cores a node of a replicated cluster takes beyond CPUBase
	Repl                      float64   // CPU per stored line of a replicated node over a single one's
	FastCPU, ColdCPU          []float64 // CPU-s of a merge at the live and the cold effort: per line, per line byte, per stream of the merged blocks
	Mem, MemMean              []float64
	Query                     []float64 // peak RSS MiB after the queries: constant, per MiB of stored line bytes, per stream
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
	if len(single) < 4 {
		return nil, errors.New("fewer than 4 runs of one node to fit the CPU to")
	}
	m := &model{store: st}
	var x [][]float64
	var y []float64
	for _, r := range single {
		L := r.stored()
		x = append(x, []float64{1, L, L * r.LineBytes, r.Streams})
		y = append(y, r.Cores)
	}
	b, err := lstsqNonNeg(x, y)
	if err != nil {
		return nil, fmt.Errorf("CPU: %w", err)
	}
	m.CPUBase, m.CPULine, m.CPUByte, m.CPUStream = b[0], b[1], b[2], b[3]
	// A node of a cluster: a constant of its own (gossip, the ring) and its
	// lines dearer by a factor (the forwarding between replicas); with a
	// single run of a cluster, the factor alone.
	m.Repl = 1
	switch {
	case len(repl) >= 2:
		x, y = x[:0], y[:0]
		for _, r := range repl {
			x = append(x, []float64{1, m.perLine(&r)})
			y = append(y, r.Cores-m.CPUBase-m.CPUStream*r.Streams)
		}
		if b, err = lstsqNonNeg(x, y); err != nil {
			return nil, fmt.Errorf("CPU of a cluster: %w", err)
		}
		m.ClusterBase, m.Repl = b[0], b[1]
	case len(repl) == 1:
		m.Repl = (repl[0].Cores - m.CPUBase - m.CPUStream*repl[0].Streams) / m.perLine(&repl[0])
	}
	var xm, xd, xw, xq, xc [][]float64
	var peak, mean, query, live, fast, cold, wal, fastCPU, coldCPU []float64
	for _, r := range all {
		xc = append(xc, []float64{r.stored() * r.Seconds, r.storedBytes(), r.Streams})
		fastCPU, coldCPU = append(fastCPU, r.FastCPU), append(coldCPU, r.ColdCPU)
		row := []float64{1, st.headBytes(&r), r.Streams, r.stored() * r.LineBytes}
		if len(repl) > 0 {
			row = append(row, 0)
			if r.RF > 1 {
				row[4] = 1
			}
		}
		xm = append(xm, row)
		peak, mean = append(peak, r.RSSPeak), append(mean, r.RSSMean)
		xd = append(xd, []float64{r.storedBytes(), r.Streams})
		live, fast, cold = append(live, r.Live), append(fast, r.Fast), append(cold, r.Cold)
		xq = append(xq, []float64{1, r.storedBytes() / mib, r.Streams})
		query = append(query, r.RSSQuery)
		xw = append(xw, []float64{1, st.headBytes(&r)})
		wal = append(wal, r.WALMax)
	}
	// Each fit keeps its terms at 0 or above; a constant (free) may be
	// negative.
	for _, f := range []struct {
		what string
		x    [][]float64
		y    []float64
		to   *[]float64
		free []int
	}{
		{"peak RSS", xm, peak, &m.Mem, []int{0}}, {"mean RSS", xm, mean, &m.MemMean, []int{0}},
		{"RSS after queries", xq, query, &m.Query, []int{0}},
		{"flushed blocks", xd, live, &m.Live, nil}, {"blocks merged live", xd, fast, &m.Fast, nil},
		{"blocks merged cold", xd, cold, &m.Disk, nil}, {"WAL", xw, wal, &m.WAL, []int{0}},
		{"CPU of merges at the live effort", xc, fastCPU, &m.FastCPU, nil}, {"CPU of cold merges", xc, coldCPU, &m.ColdCPU, nil},
	} {
		if *f.to, err = lstsqNonNeg(f.x, f.y, f.free...); err != nil {
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
	p := prediction{Cores: m.CPUBase + m.CPUStream*r.Streams + m.perLine(r)}
	if r.RF > 1 {
		p.Cores = m.CPUBase + m.CPUStream*r.Streams + m.ClusterBase + m.perLine(r)*m.Repl
	}
	h := m.store.headBytes(r)
	mem := func(c []float64) float64 {
		v := c[0] + c[1]*h + c[2]*r.Streams + c[3]*r.stored()*r.LineBytes
		if len(c) > 4 && r.RF > 1 {
			v += c[4]
		}
		return v
	}
	p.RSSPeak, p.RSSMean = mem(m.Mem), mem(m.MemMean)
	p.RSSQuery = m.Query[0] + m.Query[1]*r.storedBytes()/mib + m.Query[2]*r.Streams
	disk := func(c []float64) float64 { return c[0]*r.storedBytes() + c[1]*r.Streams }
	p.Live, p.Fast, p.Cold = disk(m.Live), disk(m.Fast), disk(m.Disk)
	lines := r.stored() * r.Seconds
	p.MergeCPU = lines*(m.FastCPU[0]+m.ColdCPU[0]) + r.storedBytes()*(m.FastCPU[1]+m.ColdCPU[1]) +
		r.Streams*(m.FastCPU[2]+m.ColdCPU[2])
	p.WAL = m.WAL[0] + m.WAL[1]*h
	return p
}

// load is a steady load of one node: L lines/s of B bytes over S streams.
type load struct {
	L, B, S    float64
	replicated bool // a node of a cluster with RF > 1
}

// steady is what the model says of a node under a steady load, its merges
// included: every day's data is merged live about levels times, then once
// cold into hourly blocks.
type steady struct {
	Cores, MergeCores float64 // push and flush; the merges, averaged over the day
	RSSPeak, RSSQuery float64 // MiB
	DayCold, DayLive  float64 // bytes a day of data takes once cold, and while it is today's
	WAL               float64 // bytes
}

func (m *model) steady(ld load) steady {
	st := m.store
	r := run{Nodes: 1, RF: 1, Streams: ld.S, LineBytes: ld.B, Seconds: st.maxAge.Seconds(), Lines: ld.L * st.maxAge.Seconds()}
	if ld.replicated {
		r.Nodes, r.RF = 3, 3
	}
	p := m.predict(&r)
	every := min(st.maxAge.Seconds(), st.maxBytes/(ld.L*ld.B)) // s between flushes
	// A merge writes a block per fan-in blocks of the level below: about
	// 1/(fan-in − 1) of the flushes, each over the S streams.
	merges := 1 / every / (st.fanIn - 1)
	out := steady{Cores: p.Cores, RSSPeak: p.RSSPeak, RSSQuery: p.RSSQuery, WAL: p.WAL}
	out.MergeCores = st.levels(ld.L, ld.B)*(ld.L*(m.FastCPU[0]+m.FastCPU[1]*ld.B)+m.FastCPU[2]*ld.S*merges) +
		ld.L*(m.ColdCPU[0]+m.ColdCPU[1]*ld.B) + m.ColdCPU[2]*ld.S*24/86400
	out.DayCold = 86400*ld.L*ld.B*m.Disk[0] + 24*ld.S*m.Disk[1]
	out.DayLive = 86400*ld.L*ld.B*m.Fast[0] + 86400*merges*ld.S*m.Fast[1]
	return out
}
