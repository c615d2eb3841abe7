package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// lowQuorum remembers that this node holds entries acknowledged with fewer
// copies than a quorum of the replication factor (pushed while the ring
// had fewer members than it), until a repair pass has copied them to their
// owners. Meanwhile the node answers split reads whole (cluster.Share).
// The mark is a file in the data directory, so that it outlives a
// restart; it is written once when set, not at every push. Safe for
// concurrent use.
type lowQuorum struct {
	path string
	rf   int
	log  *slog.Logger

	mu    sync.Mutex
	since time.Time // the last low-quorum push (or start, after a restart); zero: none
}

// lowQuorumFile is the mark's name in the data directory.
const lowQuorumFile = "cluster-low-quorum"

func newLowQuorum(dataDir string, rf int, log *slog.Logger) *lowQuorum {
	q := &lowQuorum{path: filepath.Join(dataDir, lowQuorumFile), rf: rf, log: log}
	if _, err := os.Stat(q.path); err == nil {
		// What was pushed before the restart is older than any pass
		// that starts from now on.
		q.since = time.Now()
	}
	return q
}

// Mark records a low-quorum push about to be stored.
func (q *lowQuorum) Mark() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.since.IsZero() {
		if err := os.WriteFile(q.path, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
			q.log.Warn("cannot write the low-quorum mark; reads stay whole until restart", "path", q.path, "err", err)
		}
		q.log.Info("took a push with fewer copies than a quorum of the replication factor (the ring has fewer members); reads ask this node for everything until repair has copied it", "replication_factor", q.rf)
	}
	q.since = time.Now()
}

// Whole reports whether the node must answer split reads whole.
func (q *lowQuorum) Whole() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.since.IsZero()
}

// Repaired is told of a repair pass without failures, begun at begin,
// that compared with peers others. One that began after the last
// low-quorum push and compared with RF-1 peers or more clears the mark.
func (q *lowQuorum) Repaired(begin time.Time, peers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.since.IsZero() || !begin.After(q.since) || peers < q.rf-1 {
		return
	}
	if err := os.Remove(q.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		q.log.Warn("cannot remove the low-quorum mark", "path", q.path, "err", err)
		return
	}
	q.since = time.Time{}
	q.log.Info("repair copied the low-quorum pushes to their owners: reads are split again")
}
