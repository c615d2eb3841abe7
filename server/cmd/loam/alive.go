package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// A node that comes back has missed what was written while it was away,
// whatever the entries' age, and a node whose volume was lost has missed
// everything: its first repair passes must look back further than the
// periodic ones (-ring.repair-window). The alive mark says how far: a file
// in the data directory whose modification time is when the node was last
// up and caught up with the other replicas, refreshed every aliveEvery
// from its first repair pass without failure on. Without it (a new or lost
// volume, or a node that never caught up) the first passes compare
// everything.

// aliveFile is the alive mark's name in the data directory.
const aliveFile = "cluster-alive"

// aliveEvery is how often the alive mark is refreshed.
const aliveEvery = time.Minute

// everything is a repair window that reaches the oldest entry.
const everything = 100 * 365 * 24 * time.Hour

// firstRepairWindow is how far back the first repair passes compare: the
// periodic window, plus the time since the node was last alive and caught
// up; everything without an alive mark.
func firstRepairWindow(dataDir string, window time.Duration, now time.Time) time.Duration {
	fi, err := os.Stat(filepath.Join(dataDir, aliveFile))
	if err != nil {
		return everything
	}
	return window + max(now.Sub(fi.ModTime()), 0) + aliveEvery
}

// keepAlive refreshes the alive mark every aliveEvery once caughtUp says
// so, until ctx ends. The mark need not be synced: one lost in a crash is
// older or missing, which only makes the next first pass look further.
func keepAlive(ctx context.Context, dataDir string, caughtUp func() bool, log *slog.Logger) {
	path := filepath.Join(dataDir, aliveFile)
	t := time.NewTicker(aliveEvery)
	defer t.Stop()
	warned := false
	for {
		if caughtUp() {
			err := os.WriteFile(path, []byte(strconv.FormatInt(time.Now().Unix(), 10)+"\n"), 0o644)
			if err != nil && !warned {
				log.Warn("cannot write the alive mark; after a restart, repair compares everything", "path", path, "err", err)
			}
			warned = err != nil
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
