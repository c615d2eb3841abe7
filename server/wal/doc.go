// Package wal is Loam's write-ahead log. Every accepted push is appended here
// before the server answers 2xx, so that a crash between the answer and the
// flush of the head to a block loses nothing.
//
// The log is a directory of numbered segment files (00000001, 00000002, …),
// each a header followed by length-prefixed, CRC-32C-checked records.
// FORMAT.md beside this file is the byte-level specification. Records are
// opaque []byte payloads: the caller encodes and decodes them, and wal knows
// nothing of what they contain.
//
// # Durability
//
// Append returns only after its record has been written to the segment file,
// so a crash of the process (SIGKILL included) never loses an acknowledged
// record, whatever the SyncPolicy. The policy decides what power loss or a
// kernel crash can lose: nothing under SyncAlways (fsync before Append
// returns, shared by concurrent appenders: group commit), up to
// Options.SyncInterval of acknowledged records under SyncInterval, and
// whatever the kernel had not written back under SyncNever. Segment creation
// and removal fsync the directory.
//
// # Errors and a full disk
//
// A write that fails (ENOSPC, EDQUOT, EIO, a short write) is cut off its
// segment with ftruncate, so the next record follows the last good one.
// After a failed fsync the kernel may have discarded the unsynced data, so
// the records written since the last good fsync are refused and that
// segment is never fsynced again. In both cases, if the segment cannot be
// trusted to end at a record boundary, it is retired and the next append
// starts a new segment: Replay ends a segment at its first torn record, and
// no acknowledged record may sit behind one. The WAL never stops for good:
// as soon as the file system has room again, appends succeed. IsNoSpace
// tells a full file system from other failures.
//
// # Life cycle
//
//	stats, err := wal.Replay(dir, opts, func(p []byte) error { ... }) // rebuild state
//	w, err := wal.Open(dir, opts) // always starts a new segment
//	err = w.Append(rec)           // on every push, before answering
//	n, err := w.Cut()             // before flushing the head to a block
//	err = w.Truncate(n)           // once that block is durable
//	err = w.Close()
//
// Replay truncates each segment at its first torn or corrupt record, so a
// segment left torn by a crash is clean on the next start; Open never
// appends to an existing segment.
//
// # Dependencies
//
// wal imports nothing from the rest of this repository: only the standard
// library and github.com/prometheus/client_golang.
package wal
