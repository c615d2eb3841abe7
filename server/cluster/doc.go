// Package cluster connects the nodes of a Loam cluster over HTTP.
//
// The write side (replicate*.go): a Replicator takes a validated push,
// places each stream on its owners of the ring, appends this node's share
// to the local store and sends the others theirs at /internal/push, and
// returns once a quorum of every stream's owners has stored it (or
// ErrUnavailable when one cannot).
//
// Repair (repair*.go) is anti-entropy: a Repairer compares, with each
// peer, per stream and hour, digests of the entries both hold, and for the
// hours that differ the two exchange the entries either lacks at
// /internal/repair/*, which stores them with Store.Restore. It also hands
// a leaving node's data to the nodes that own it without that node.
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
// A Share, sent with a Select or Timestamps, splits a read among the
// replicas: each reads only some of the streams it holds, enough of them
// that every acknowledged entry is still met (read_share.go says why), or
// from one owner alone when every member's ReadState, served at
// /internal/readstate, shows that owner holds them all (readstate.go): a
// writer records in its MissLog the pushes an owner may lack before it
// acknowledges them, and repair passes clear them.
//
// Calls carry the caller's context: closing a remote iterator early, or
// the context ending, cancels the call, and the peer stops reading. An
// answer that breaks off is an error, never a short success. Errors of a
// peer that did not answer wrap ErrUnreachable, so that a fan-out can skip
// the replica. With a cluster secret, calls carry a token derived from it
// (auth.go) and the endpoints refuse others with a 401.
package cluster
