// Package fanout reads several replicas as one: a Fanout is a Reader over
// Readers (the local store, other nodes) that each hold some or all of the
// entries of a tenant's streams, and answers as a single store holding
// their union would, every entry once.
//
// # Identity
//
// Two entries are the same when their stream's labels, their timestamp and
// their line are equal. Structured metadata belongs to an entry but is not
// part of its identity (as Loki de-duplicates by timestamp and line): of
// copies that differ only in metadata, the first merged is kept.
//
//   - Select merges the replicas' iterators, k-way, in the order asked
//     for (by time in the direction, ties by stream labels; or, Unordered,
//     stream after stream in label order). The entries of one (stream,
//     timestamp) are consecutive in every replica's order, so also in the
//     merge, and only they are compared: each distinct line is returned
//     once. Exact.
//   - Timestamps with a line filter (keep) reads a hash of each kept line
//     along with its timestamp (HashedTimestamper, or HashTimestamps over a
//     replica's Select) and counts each (stream, timestamp, line hash)
//     once: exact but for 64-bit hash collisions between two lines of one
//     stream and nanosecond.
//   - Timestamps without a filter, and Select with NoLines, do not read
//     lines. Per stream and timestamp they count as many entries as the
//     replica holding that timestamp most often. This is the one inexact
//     case: different lines of one stream at the same nanosecond that no
//     single replica holds all of (say two, each written while the
//     replica holding the other was down, and not yet repaired) count as
//     the most one replica holds, fewer than they are. Replicas holding
//     whole streams, as a ring places them, are exact.
//   - Series, label names and values: the union.
//   - Stats (index stats, volume): per stream and bucket, each figure the
//     largest of the replicas' (see Fanout.Stats).
//   - Subscribe: one tail over the replicas' tails, each entry once, by a
//     hash of (stream, timestamp, line) remembered for the last 65,536
//     entries.
//
// # Order contract
//
// The merges rely on the store's orders, which a remote replica must pass
// through unchanged: Select's entries by time in the direction, ties in
// labels.Compare order of their streams; Unordered, and Timestamps, the
// streams one after another in labels.Compare order, each in time order.
// The labels an iterator returns for a stream stay valid and unchanged
// for the iterator's life. A replica found breaking the order is counted
// as failed.
//
// # Failures
//
// A replica that is unhealthy when a read starts is not asked; one whose
// call fails, or whose answer fails midway, is left out of the rest of the
// read. Both count as missing. A read may miss Config.MaxMissing replicas;
// one more and it fails with an error wrapping ErrUnavailable that names
// them, except when the caller's context ended, whose error is returned
// instead.
package fanout
