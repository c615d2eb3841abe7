package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loam-logs/loam/server/cluster"
	"github.com/loam-logs/loam/server/deletes"
)

// clusterDeletes is the delete API of a clustered node: requests are added
// and cancelled here, then sent to every other member at once; a member
// that did not get them (down, unreachable) catches up at the next
// exchange (run). Safe for concurrent use.
type clusterDeletes struct {
	local  *deletes.Manager
	client *cluster.DeletesClient
	view   *ringView
	log    *slog.Logger
}

// deletesEvery is how often a node fetches the others' delete requests.
const deletesEvery = 30 * time.Second

func (d *clusterDeletes) Add(tenant string, p deletes.Params) (deletes.Request, error) {
	r, err := d.local.Add(tenant, p)
	if err == nil {
		d.spread()
	}
	return r, err
}

func (d *clusterDeletes) List(tenant string, p deletes.ListParams) ([]deletes.Request, error) {
	return d.local.List(tenant, p)
}

func (d *clusterDeletes) Cancel(tenant, id string, force bool) error {
	err := d.local.Cancel(tenant, id, force)
	if err == nil {
		d.spread()
	}
	return err
}

// spread sends this node's requests to every healthy member and waits
// (a few seconds at most), so that reads through any node hide the lines
// of a request once its API call answered.
func (d *clusterDeletes) spread() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range d.view.Peers() {
		if !d.view.Healthy(p.Name) {
			continue
		}
		wg.Go(func() {
			if err := d.client.Send(ctx, p); err != nil {
				d.log.Warn("delete requests not sent; the node gets them at a later exchange", "node", p.Name, "err", err)
			}
		})
	}
	wg.Wait()
}

// run fetches every healthy member's requests, after settle and then every
// deletesEvery, until ctx ends.
func (d *clusterDeletes) run(ctx context.Context, settle time.Duration) {
	wait := settle
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = deletesEvery
		d.fetchAll(ctx)
	}
}

// deletesCatchUp bounds how long a starting node waits for another member
// to fetch delete requests from.
const deletesCatchUp = 5 * time.Second

// fetchFirst waits until some other member is healthy and merges the
// requests of every healthy member; it reports whether one answered. It
// gives up when ctx ends.
func (d *clusterDeletes) fetchFirst(ctx context.Context) bool {
	for {
		if d.fetchAll(ctx) > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fetchAll merges the requests of every healthy member, in parallel, and
// returns how many answered.
func (d *clusterDeletes) fetchAll(ctx context.Context) int {
	var wg sync.WaitGroup
	var answered atomic.Int32
	for _, p := range d.view.Peers() {
		if !d.view.Healthy(p.Name) {
			continue
		}
		wg.Go(func() {
			added, removed, err := d.client.Fetch(ctx, p)
			switch {
			case err != nil:
				if ctx.Err() == nil {
					d.log.Warn("fetching delete requests", "node", p.Name, "err", err)
				}
				return
			case added+removed > 0:
				d.log.Info("delete requests caught up", "node", p.Name, "added", added, "removed", removed)
			}
			answered.Add(1)
		})
	}
	wg.Wait()
	return int(answered.Load())
}
