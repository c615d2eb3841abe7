package api

import (
	"time"

	"github.com/loam-logs/loam/server/store"
)

// queryStats is the stats object of a query answer (data.stats), with
// every member Loki 3 emits, named, nested and typed as Loki's: Grafana's
// query inspector shows it. Loki's ingesters are Loam's head (entries in
// memory, never compressed: Loki's "head chunk"), Loki's chunk store is
// Loam's blocks. A figure with no counterpart in Loam is 0 (false), as
// Loki reports it when the part is unused. store.Stats holds the figures;
// "head" and "blocks" below are its two halves.
//
//	summary.bytesProcessedPerSecond   totalBytesProcessed / execTime
//	summary.linesProcessedPerSecond   totalLinesProcessed / execTime
//	summary.totalBytesProcessed       bytes of the entries read, head and blocks, metadata included
//	summary.totalLinesProcessed       entries read, head and blocks
//	summary.execTime                  seconds from the request to the answer
//	summary.queueTime                 seconds waiting for a query slot (-query.max-concurrent)
//	summary.subqueries                0: deprecated by Loki, set by nothing
//	summary.totalEntriesReturned      entries of a log query's answer
//	summary.splits                    0: Loam does not split queries by time
//	summary.shards                    store reads (Select calls): 1 per log query, one per shard
//	                                  (engine Limits.Parallelism, default min(CPUs, 4)) per range aggregation
//	summary.totalPostFilterLines      entries the pipeline kept, head and blocks
//	summary.totalStructuredMetadataBytesProcessed   metadata bytes of the entries read
//	querier.querierExecTime           seconds the engine took
//	querier.store.totalChunksRef      block chunks of the matching streams overlapping the range
//	querier.store.totalChunksDownloaded  block chunks read from disk
//	querier.store.chunksDownloadTime  ns reading and decoding chunks, summed over goroutines
//	querier.store.chunkRefsFetchTime  ns finding the chunks: postings, chunk tables, n-gram filters
//	querier.store.chunk.compressedBytes    compressed size of the chunk parts read
//	querier.store.chunk.decompressedBytes  bytes of those lines, metadata included
//	querier.store.chunk.decompressedLines  entries of the chunks read: decoded, searched for needles,
//	                                       or timestamps alone (no bytes) when no line is needed
//	querier.store.chunk.decompressedStructuredMetadataBytes  metadata bytes of the entries decoded
//	querier.store.chunk.postFilterLines    block entries the pipeline kept
//	querier.store.chunk.totalDuplicates    block entries dropped as duplicates of one returned
//	querier.store.chunk.headChunk*         0: blocks have no uncompressed part
//	ingester.totalReached             1 when the head was consulted
//	ingester.totalChunksMatched       head streams with entries in range (one chunk per stream and head)
//	ingester.totalBatches             of those, the ones handed to the query
//	ingester.totalLinesSent           head entries the store returned, duplicates dropped
//	ingester.store.chunk.headChunkBytes    bytes of the head entries read, metadata included
//	ingester.store.chunk.headChunkLines    head entries read
//	ingester.store.chunk.headChunkStructuredMetadataBytes  their metadata bytes
//	ingester.store.chunk.postFilterLines   head entries the pipeline kept
//	ingester.store.chunk.totalDuplicates   head entries dropped as duplicates of one returned
//	ingester.store.chunk.decompressed*, compressedBytes, ingester.store.totalChunks*, *Time
//	                                  0: the head is never compressed, and needs no index
//	index.totalChunks                 = querier.store.totalChunksRef
//	index.postFilterChunks            of those, the ones the n-gram filters did not rule out
//	index.totalStreams                streams matched with entries or chunks in range
//	index.chunkRefsLookupTime         chunkRefsFetchTime, in seconds
//	index.usedBloomFilters            some chunk was tested against its n-gram filter (a bloom filter)
//	index.bloomFilterTime             seconds testing n-gram filters
//	index.shardsDuration              0: shards are not planned from the index
//	*.store.congestionControlLatency, pipelineWrapperFilteredLines, dataobj.*, queryUsedV2Engine
//	                                  0 (false): no such part in Loam
//	*.store.queryReferencedStructuredMetadata  false: the pipeline does not report it
//	cache.*                           0: Loam has no chunk, index or results cache
//
// Bytes of structured metadata are the lengths of its names and values.
// Figures summed over several goroutines (the times, and everything a
// range aggregation reads in shards) may exceed what a wall clock shows.
type queryStats struct {
	Summary  statsSummary  `json:"summary"`
	Querier  statsQuerier  `json:"querier"`
	Ingester statsIngester `json:"ingester"`
	Cache    statsCaches   `json:"cache"`
	Index    statsIndex    `json:"index"`
}

type statsSummary struct {
	BytesProcessedPerSecond               int64   `json:"bytesProcessedPerSecond"`
	LinesProcessedPerSecond               int64   `json:"linesProcessedPerSecond"`
	TotalBytesProcessed                   int64   `json:"totalBytesProcessed"`
	TotalLinesProcessed                   int64   `json:"totalLinesProcessed"`
	ExecTime                              float64 `json:"execTime"`
	QueueTime                             float64 `json:"queueTime"`
	Subqueries                            int64   `json:"subqueries"`
	TotalEntriesReturned                  int64   `json:"totalEntriesReturned"`
	Splits                                int64   `json:"splits"`
	Shards                                int64   `json:"shards"`
	TotalPostFilterLines                  int64   `json:"totalPostFilterLines"`
	TotalStructuredMetadataBytesProcessed int64   `json:"totalStructuredMetadataBytesProcessed"`
}

type statsQuerier struct {
	Store           statsStore `json:"store"`
	QuerierExecTime float64    `json:"querierExecTime"`
}

type statsIngester struct {
	TotalReached       int32      `json:"totalReached"`
	TotalChunksMatched int64      `json:"totalChunksMatched"`
	TotalBatches       int64      `json:"totalBatches"`
	TotalLinesSent     int64      `json:"totalLinesSent"`
	Store              statsStore `json:"store"`
}

type statsStore struct {
	TotalChunksRef               int64        `json:"totalChunksRef"`
	TotalChunksDownloaded        int64        `json:"totalChunksDownloaded"`
	ChunksDownloadTime           int64        `json:"chunksDownloadTime"`
	QueryReferencedStructured    bool         `json:"queryReferencedStructuredMetadata"`
	QueryUsedV2Engine            bool         `json:"queryUsedV2Engine"`
	Chunk                        statsChunk   `json:"chunk"`
	ChunkRefsFetchTime           int64        `json:"chunkRefsFetchTime"`
	CongestionControlLatency     int64        `json:"congestionControlLatency"`
	PipelineWrapperFilteredLines int64        `json:"pipelineWrapperFilteredLines"`
	Dataobj                      statsDataobj `json:"dataobj"`
}

type statsChunk struct {
	HeadChunkBytes                      int64 `json:"headChunkBytes"`
	HeadChunkLines                      int64 `json:"headChunkLines"`
	DecompressedBytes                   int64 `json:"decompressedBytes"`
	DecompressedLines                   int64 `json:"decompressedLines"`
	CompressedBytes                     int64 `json:"compressedBytes"`
	TotalDuplicates                     int64 `json:"totalDuplicates"`
	PostFilterLines                     int64 `json:"postFilterLines"`
	HeadChunkStructuredMetadataBytes    int64 `json:"headChunkStructuredMetadataBytes"`
	DecompressedStructuredMetadataBytes int64 `json:"decompressedStructuredMetadataBytes"`
}

// statsDataobj is Loki's data object reader: always zero in Loam.
type statsDataobj struct {
	PrePredicateDecompressedRows                    int64 `json:"prePredicateDecompressedRows"`
	PrePredicateDecompressedBytes                   int64 `json:"prePredicateDecompressedBytes"`
	PrePredicateDecompressedStructuredMetadataBytes int64 `json:"prePredicateDecompressedStructuredMetadataBytes"`
	PostPredicateRows                               int64 `json:"postPredicateRows"`
	PostPredicateDecompressedBytes                  int64 `json:"postPredicateDecompressedBytes"`
	PostPredicateStructuredMetadataBytes            int64 `json:"postPredicateStructuredMetadataBytes"`
	PostFilterRows                                  int64 `json:"postFilterRows"`
	PagesScanned                                    int64 `json:"pagesScanned"`
	PagesDownloaded                                 int64 `json:"pagesDownloaded"`
	PagesDownloadedBytes                            int64 `json:"pagesDownloadedBytes"`
	PageBatches                                     int64 `json:"pageBatches"`
	TotalRowsAvailable                              int64 `json:"totalRowsAvailable"`
	TotalPageDownloadTime                           int64 `json:"totalPageDownloadTime"`
	WireBytesTransferred                            int64 `json:"wireBytesTransferred"`
}

// statsCaches are Loki's caches: always zero in Loam, which has none.
type statsCaches struct {
	Chunk               statsCache `json:"chunk"`
	Index               statsCache `json:"index"`
	Result              statsCache `json:"result"`
	StatsResult         statsCache `json:"statsResult"`
	VolumeResult        statsCache `json:"volumeResult"`
	SeriesResult        statsCache `json:"seriesResult"`
	LabelResult         statsCache `json:"labelResult"`
	InstantMetricResult statsCache `json:"instantMetricResult"`
	LogResult           statsCache `json:"logResult"`
	TaskResult          statsCache `json:"taskResult"`
}

type statsCache struct {
	EntriesFound      int32 `json:"entriesFound"`
	EntriesRequested  int32 `json:"entriesRequested"`
	EntriesStored     int32 `json:"entriesStored"`
	BytesReceived     int64 `json:"bytesReceived"`
	BytesSent         int64 `json:"bytesSent"`
	Requests          int32 `json:"requests"`
	DownloadTime      int64 `json:"downloadTime"`
	QueryLengthServed int64 `json:"queryLengthServed"`
}

type statsIndex struct {
	TotalChunks         int64   `json:"totalChunks"`
	PostFilterChunks    int64   `json:"postFilterChunks"`
	ShardsDuration      int64   `json:"shardsDuration"`
	UsedBloomFilters    bool    `json:"usedBloomFilters"`
	TotalStreams        int64   `json:"totalStreams"`
	ChunkRefsLookupTime float64 `json:"chunkRefsLookupTime"`
	BloomFilterTime     float64 `json:"bloomFilterTime"`
}

// queryTimes are the durations of a request the stats report.
type queryTimes struct {
	exec   time.Duration // the whole request
	queue  time.Duration // waiting for a query slot
	engine time.Duration // evaluating the query
}

// summary builds the stats object of an answer from what the query cost
// and the number of entries it returned. st must no longer change.
func summary(st *store.Stats, returned int, t queryTimes) *queryStats {
	secs := t.exec.Seconds()
	perSec := func(v int64) int64 {
		if secs <= 0 {
			return 0
		}
		return int64(float64(v) / secs)
	}
	q := &queryStats{}
	q.Querier.QuerierExecTime = t.engine.Seconds()
	blocks := &q.Querier.Store
	blocks.TotalChunksRef = st.ChunksRef.Load()
	blocks.TotalChunksDownloaded = st.ChunksDownloaded.Load()
	blocks.ChunksDownloadTime = st.ReadTime.Load()
	blocks.ChunkRefsFetchTime = st.IndexTime.Load()
	blocks.Chunk = statsChunk{
		DecompressedBytes:                   st.Bytes.Load(),
		DecompressedLines:                   st.Lines.Load(),
		CompressedBytes:                     st.CompressedBytes.Load(),
		TotalDuplicates:                     st.Duplicates.Load(),
		PostFilterLines:                     st.PostFilter.Load(),
		DecompressedStructuredMetadataBytes: st.MetaBytes.Load(),
	}

	q.Ingester = statsIngester{
		TotalReached:       int32(st.HeadReached.Load()),
		TotalChunksMatched: st.HeadChunks.Load(),
		TotalBatches:       st.HeadBatches.Load(),
		TotalLinesSent:     st.HeadSent.Load(),
	}
	q.Ingester.Store.Chunk = statsChunk{
		HeadChunkBytes:                   st.HeadBytes.Load(),
		HeadChunkLines:                   st.HeadLines.Load(),
		TotalDuplicates:                  st.HeadDuplicates.Load(),
		PostFilterLines:                  st.HeadPostFilter.Load(),
		HeadChunkStructuredMetadataBytes: st.HeadMetaBytes.Load(),
	}

	q.Index = statsIndex{
		TotalChunks:         blocks.TotalChunksRef,
		PostFilterChunks:    blocks.TotalChunksRef - st.ChunksFiltered.Load(),
		UsedBloomFilters:    st.ChunksTested.Load() > 0,
		TotalStreams:        st.Streams.Load(),
		ChunkRefsLookupTime: time.Duration(blocks.ChunkRefsFetchTime).Seconds(),
		BloomFilterTime:     time.Duration(st.FilterTime.Load()).Seconds(),
	}

	// The summary adds up the sections, as Loki's does.
	head, ch := &q.Ingester.Store.Chunk, &blocks.Chunk
	s := &q.Summary
	s.TotalBytesProcessed = head.HeadChunkBytes + head.DecompressedBytes + ch.HeadChunkBytes + ch.DecompressedBytes
	s.TotalLinesProcessed = head.HeadChunkLines + head.DecompressedLines + ch.HeadChunkLines + ch.DecompressedLines
	s.TotalStructuredMetadataBytesProcessed = head.HeadChunkStructuredMetadataBytes + head.DecompressedStructuredMetadataBytes +
		ch.HeadChunkStructuredMetadataBytes + ch.DecompressedStructuredMetadataBytes
	s.TotalPostFilterLines = head.PostFilterLines + ch.PostFilterLines
	s.BytesProcessedPerSecond = perSec(s.TotalBytesProcessed)
	s.LinesProcessedPerSecond = perSec(s.TotalLinesProcessed)
	s.ExecTime = secs
	s.QueueTime = t.queue.Seconds()
	s.TotalEntriesReturned = int64(returned)
	s.Shards = st.Selects.Load()
	return q
}
