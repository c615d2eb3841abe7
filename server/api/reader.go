package api

import (
	"context"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Reader is what every read endpoint reads from: the local store (through
// store.Local) on a single node, a fan-out over the replicas in a cluster.
// Its methods are called from many requests at once; each must honour its
// context. Their contracts are those of the store's methods of the same
// names.
type Reader interface {
	Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error)
	Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error
	Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error
	LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error)
	LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error)
	Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error
	Subscribe(tenant string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error)
	Subscribers(tenant string) int
}

// Flusher writes what is buffered in memory to disk (/flush).
type Flusher interface {
	Flush(ctx context.Context) error
}

var (
	_ Reader  = store.Local{}
	_ Flusher = (*store.Store)(nil)
)
