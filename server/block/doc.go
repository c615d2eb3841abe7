// Package block reads and writes immutable block files: the compressed,
// label-indexed form in which one tenant's log lines of one time partition
// rest on disk. FORMAT.md beside this file is the byte-level specification.
//
// A block is written once by a Writer (temp file, fsync, rename, fsync of the
// directory, so it is never visible half-written) and then only read. The
// Reader keeps the label index and chunk table in memory (they grow with
// streams and chunks, not with lines) and reads columns with pread on demand.
//
// block imports labels and ngram from this repository and nothing above the
// storage layer (never logql, api or ring).
package block
