package engine

import "github.com/loam-logs/loam/server/logql/pipeline"

// streamKeys identifies the stream of an entry by its stream labels alone
// (Params.Categorize), as Loki groups a log query's entries when the client
// asks for categorized labels. Entries with the same labels share one
// pipeline.Result, and entries of one stream come in runs, so the key of the
// last Result is kept rather than hashed again.
type streamKeys struct {
	last *pipeline.Result
	key  uint64
}

// of returns the key of r's stream labels. The entries of a Stream grouped
// by it all have equal r.Stream, so a Stream's Labels.Stream is the group's.
func (k *streamKeys) of(r *pipeline.Result) uint64 {
	if r != k.last {
		k.last, k.key = r, r.Stream.Hash()
	}
	return k.key
}
