// Package store keeps every tenant's log streams: the write path (WAL, then
// the in-memory head), the flush of the head into immutable blocks per tenant
// and day, and the read contract the query layer uses.
//
// The read contract is one call, Select, in the spirit of Prometheus'
// storage.Querier: "entries of the streams matching these label matchers, in
// this time range, in this direction, skipping chunks that cannot contain
// these substrings", answered by an iterator. Everything else a query does
// (line filters, parsing, aggregation) happens above, in logql.
//
// Blocks live in <data.dir>/blocks/t-<tenant>/<YYYYMMDD>/, one directory per
// tenant and UTC day. A flush writes a level-0 block per tenant and day;
// compaction merges blocks of a level into the next while the day is live,
// and once the day got no new block for Options.CompactionColdAfter it
// merges everything into cold blocks, one per hour of data, named
// "H<hour, Unix seconds>-…". Hours, not the whole day, because retention
// removes data a block at a time: a size purge takes the oldest hour,
// never a whole day when less will do, and age retention frees each hour
// as soon as it has expired, without rewriting anything. Late data for a
// cold day is merged again into the hourly blocks it touches.
//
// Appends wait for a flush while the flusher lags behind (backpressure.go),
// per tenant: once the heads (the active one and those being flushed) hold
// 4 × Options.MaxHeadBytes of lines, a tenant holding at least its fair
// share of that (divided by the tenants with lines in the heads) waits,
// and the others go on until the heads hold 8 × MaxHeadBytes. One tenant
// flooding pushes thus waits alone, and memory stays bounded.
//
// Retention (retention.go) runs in the background: by age (the Retention
// policy, per tenant and per stream rule: expired hourly blocks are removed,
// blocks holding streams whose shorter rule has passed are rewritten), by
// size (the oldest blocks of all tenants, never younger than
// RetentionOptions.MinAge) and for delete requests (PurgeDeleted rewrites
// the blocks holding deleted lines). Reads hide what a policy or a
// tombstone says is gone before it leaves the disk. New blocks are durable
// before those they replace are removed; a crash in between leaves both,
// and reads drop the duplicate entries until the next merge.
//
// store imports block, wal, ngram, labels and push (a cluster's pushes are
// kept in the WAL as they cross the wire); never logql, api or ring.
package store
