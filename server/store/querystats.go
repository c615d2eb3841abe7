package store

import (
	"sync/atomic"
	"time"

	"github.com/loam-logs/loam/server/block"
)

// Stats counts the work of a query, in the terms of Loki's query
// statistics: the head stands for Loki's ingesters (entries held in
// memory, never compressed), the blocks for its chunk store (entries read
// from disk). One Stats may be shared by every Select of a query, from
// several goroutines: the fields are atomic, and Select adds to them once
// per chunk, head source or stream, never once per entry.
//
// "Bytes" are line bytes plus structured metadata bytes, the latter
// counted as the length of each name and value; "lines" are entries.
// Figures count what Select did, so a read that stops early (a log query's
// limit) counts the chunks and entries it opened, not all it could have;
// the head only hands over entries in range, chunks are read whole (or by
// their head and tail frames).
type Stats struct {
	// The head.
	HeadReached    atomic.Int64 // 1 once a Select consulted the head
	HeadChunks     atomic.Int64 // streams with head entries in range, one per stream and head
	HeadBatches    atomic.Int64 // of those, the ones handed to the query (opened)
	HeadLines      atomic.Int64 // entries in range of the opened ones
	HeadBytes      atomic.Int64 // their bytes
	HeadMetaBytes  atomic.Int64 // of which structured metadata
	HeadSent       atomic.Int64 // head entries the iterator returned, duplicates dropped
	HeadDuplicates atomic.Int64 // head entries dropped as duplicates of an entry returned
	HeadPostFilter atomic.Int64 // head entries the query's pipeline kept (see Kept)

	// The blocks.
	ChunksRef        atomic.Int64 // chunks of matching streams overlapping the range
	ChunksTested     atomic.Int64 // of those, tested against their n-gram filter
	ChunksFiltered   atomic.Int64 // of those, skipped by it, unread
	ChunksDownloaded atomic.Int64 // chunks read from disk (each once, whichever parts)
	ChunksNoMatch    atomic.Int64 // of those, found by their text to lack a needle: no entry decoded
	CompressedBytes  atomic.Int64 // compressed size of the chunk parts read: timestamps and lines
	// Lines are the entries of the chunk parts read, in range or not:
	// decoded, searched for needles (rebuilt or not), or read as
	// timestamps alone. Bytes are theirs, none for timestamps alone;
	// MetaBytes, of which structured metadata, are those of the entries
	// rebuilt.
	Lines      atomic.Int64
	Bytes      atomic.Int64
	MetaBytes  atomic.Int64
	Duplicates atomic.Int64 // block entries dropped as duplicates of an entry returned
	PostFilter atomic.Int64 // block entries the query's pipeline kept (see Kept)

	// Time, in nanoseconds, summed over the goroutines that read.
	IndexTime  atomic.Int64 // finding the chunks: block postings, chunk tables, n-gram filters
	FilterTime atomic.Int64 // of which testing n-gram filters
	ReadTime   atomic.Int64 // reading and decoding chunks

	Streams atomic.Int64 // streams matched, with entries or chunks in range, per Select
	Selects atomic.Int64 // Select calls: a range aggregation makes one per shard
}

// ProcessedLines is every entry read, from the head and the blocks.
func (s *Stats) ProcessedLines() int64 { return s.HeadLines.Load() + s.Lines.Load() }

// ProcessedBytes is the bytes of every entry read, structured metadata
// included.
func (s *Stats) ProcessedBytes() int64 { return s.HeadBytes.Load() + s.Bytes.Load() }

// sizes returns the line and the structured metadata bytes of es.
func sizes(es []block.Entry) (lines, meta int64) {
	for i := range es {
		lines += int64(len(es[i].Line))
		for _, l := range es[i].Meta {
			meta += int64(len(l.Name) + len(l.Value))
		}
	}
	return lines, meta
}

// since returns the nanoseconds from t0 to now.
func since(t0 time.Time) int64 { return int64(time.Since(t0)) }

// Kept counts the entries of one iterator that a query keeps after its
// pipeline, into HeadPostFilter or PostFilter by where each came from. Add
// is called once per kept entry, right after the iterator's Next and
// before the following one; Flush adds the counts to the Stats once, when
// the iterator is done. A Kept belongs to the goroutine reading the
// iterator.
type Kept struct {
	cur          **streamIter // the iterator's current stream; nil if not a store iterator
	head, blocks int64
	stats        *Stats
}

// CountKept returns a Kept for it, adding to st (which may be nil).
func CountKept(it EntryIterator, st *Stats) *Kept {
	k := &Kept{stats: st}
	switch x := it.(type) {
	case *mergeIter:
		k.cur = &x.cur
	case *concatIter:
		k.cur = &x.cur
	}
	return k
}

// Add counts the iterator's current entry as kept.
func (k *Kept) Add() {
	if k.cur != nil && (*k.cur).curHead {
		k.head++
	} else {
		k.blocks++
	}
}

// Flush adds the counts to the Stats and zeroes them.
func (k *Kept) Flush() {
	if k.stats != nil {
		k.stats.HeadPostFilter.Add(k.head)
		k.stats.PostFilter.Add(k.blocks)
	}
	k.head, k.blocks = 0, 0
}
