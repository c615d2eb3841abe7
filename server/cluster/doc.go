// Package cluster connects the nodes of a Loam cluster over HTTP.
//
// The read side: a ReadServer serves a node's own store to the other nodes
// at /internal/select, /internal/timestamps, /internal/series,
// /internal/labels, /internal/stats, /internal/tail and
// /internal/subscribers, and a Remote reads another node through them,
// with the read methods of the store (Select, Timestamps,
// HashedTimestamps, Series, LabelNames, LabelValues, Stats, Subscribe,
// Subscribers), so that a fan-out can treat a peer like the local store.
// Answers are streamed in a compact binary encoding (FORMAT.md): frames of
// entries, timestamps and line hashes, label sets or figures, each stream's
// labels sent once, ending with the statistics of the peer's read.
//
// Calls carry the caller's context: closing a remote iterator early, or
// the context ending, cancels the call, and the peer stops reading. An
// answer that breaks off is an error, never a short success. Errors of a
// peer that did not answer wrap ErrUnreachable, so that a fan-out can skip
// the replica. With a cluster secret, calls carry a token derived from it
// (auth.go) and the endpoints refuse others with a 401.
package cluster
