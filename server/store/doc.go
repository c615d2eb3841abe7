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
// store imports block, wal, ngram and labels; never logql, api or ring.
package store
