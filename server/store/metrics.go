package store

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/block"
)

// Metrics are the store's collectors. Create them with NewMetrics.
type Metrics struct {
	flushes              prometheus.Counter
	flushFailures        prometheus.Counter
	flushDuration        prometheus.Histogram
	headStreams          prometheus.Gauge
	headEntries          prometheus.Gauge
	headBytes            prometheus.Gauge
	blocks               prometheus.Gauge
	blockBytes           prometheus.Gauge
	blockReaders         prometheus.Gauge
	blocksRemovedPending prometheus.Gauge
	indexCacheBytes      prometheus.GaugeFunc
	appendsHeldBack      *prometheus.CounterVec
	unreadableBlocks     prometheus.Counter
	compactions          prometheus.Counter
	compactionFailures   prometheus.Counter
	chunksRead           prometheus.Counter
	chunksSkipped        *prometheus.CounterVec
	purgedBytes          *prometheus.CounterVec
	oldest               *prometheus.GaugeVec
	disk                 *diskMetrics // disk.go
}

// NewMetrics creates the collectors and registers them with reg, if not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_flushes_total", Help: "Head flushes into blocks that completed."}),
		flushFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_flush_failures_total", Help: "Head flushes that failed and will be retried."}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "loam_flush_duration_seconds", Help: "Time to write a frozen head into blocks.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		headStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_head_streams", Help: "Streams in the in-memory head."}),
		headEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_head_entries", Help: "Entries in the in-memory head (its chunks, not yet in blocks)."}),
		headBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_head_bytes", Help: "Line bytes in the in-memory head."}),
		blocks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_blocks", Help: "Block files on disk."}),
		blockBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_block_bytes", Help: "Bytes of block files on disk."}),
		blockReaders: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_block_readers_open", Help: "Block files open for reading (idle ones beyond the limit are closed)."}),
		blocksRemovedPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loam_blocks_removed_pending", Help: "Blocks taken out of their partition (by compaction) whose files wait for the queries reading them to finish."}),
		indexCacheBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "loam_block_index_cache_bytes", Help: "Decompressed block index pages cached for queries (bounded by -block.index-cache-bytes)."},
			func() float64 { n, _ := block.IndexCacheUsed(); return float64(n) }),
		unreadableBlocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_unreadable_blocks_total", Help: "Times a query skipped a block whose index could not be read."}),
		appendsHeldBack: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_appends_held_back_total", Help: "Pushes that waited for a flush, by tenant and reason (share: the heads are over their soft limit and the tenant holds its fair share of it; limit: the heads are at their hard limit)."},
			[]string{"tenant", "reason"}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_compactions_total", Help: "Block compactions that completed."}),
		compactionFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_compaction_failures_total", Help: "Block compactions that failed and will be retried."}),
		chunksRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loam_query_chunks_read_total", Help: "Chunks decompressed by queries."}),
		chunksSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_query_chunks_skipped_total", Help: "Chunks skipped by queries without decoding their lines, by reason (filter: the n-gram filter proved a needle absent; text: the decompressed text lacks one)."},
			[]string{"reason"}),
		purgedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_retention_purged_bytes_total", Help: "Bytes of blocks removed from disk, by tenant and reason (age, stream, size, delete)."},
			[]string{"tenant", "reason"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loam_retention_oldest_timestamp_seconds", Help: "Time of the oldest entry a tenant's blocks hold."},
			[]string{"tenant"}),
	}
	m.disk = newDiskMetrics(reg)
	if reg != nil {
		reg.MustRegister(m.purgedBytes, m.oldest)
		reg.MustRegister(m.flushes, m.flushFailures, m.flushDuration, m.headStreams, m.headEntries,
			m.headBytes, m.blocks, m.blockBytes, m.blockReaders, m.blocksRemovedPending, m.indexCacheBytes, m.appendsHeldBack, m.unreadableBlocks, m.compactions, m.compactionFailures, m.chunksRead, m.chunksSkipped)
	}
	return m
}

// updateGauges refreshes the gauges of blocks on disk, and those of disk
// space (disk.go).
func (s *Store) updateGauges() {
	defer s.refreshDisk() // runs after the unlock below
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int
	var size int64
	for _, ps := range s.parts {
		for _, p := range ps {
			for _, b := range p.blocks {
				n++
				size += b.meta.Size
			}
		}
	}
	s.m.blocks.Set(float64(n))
	s.m.blockBytes.Set(float64(size))
}

func (s *Store) allHeadsLocked() []*head {
	hs := []*head{s.head}
	for _, f := range s.frozen {
		hs = append(hs, f.h)
	}
	return hs
}
