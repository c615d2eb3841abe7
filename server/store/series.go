package store

import (
	"context"
	"slices"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// Series calls fn once for every distinct stream of tenant that matches one
// of the matcher sets (or any stream, when sets is empty) and has entries in
// [start, end] that its retention has not passed.
func (s *Store) Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error {
	seen := map[string]struct{}{}
	emit := func(ls labels.Labels) {
		key := ls.String()
		if _, ok := seen[key]; ok {
			return
		}
		seen[key] = struct{}{}
		fn(ls)
	}
	matches := func(ls labels.Labels) bool {
		if len(sets) == 0 {
			return true
		}
		for _, ms := range sets {
			if ls.Matches(ms) {
				return true
			}
		}
		return false
	}
	// from is where the stream's visible entries start.
	vis := s.visibility(tenant, start, end+1)
	from := func(ls labels.Labels) int64 {
		if vis.retention == nil {
			return start
		}
		return vis.from(ls.String(), ls)
	}
	heads, parts, blocks := s.sources(tenant, start, end+1)
	defer blocks.release()
	for _, h := range heads {
		h.forEachStream(tenant, func(ms *memStream) {
			snap := ms.snapshot()
			if snap.minT <= end && snap.maxT >= start && len(snap.ts) > 0 && matches(ms.ls) && snap.maxT >= from(ms.ls) {
				emit(ms.ls)
			}
		})
	}
	for _, b := range parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		inRange := func(sm *block.StreamMeta) error {
			lo := from(sm.Labels)
			for _, c := range sm.Chunks {
				if c.Overlaps(lo, end) {
					emit(sm.Labels)
					break
				}
			}
			return nil
		}
		if len(sets) == 0 {
			// Every stream: a walk that leaves the index cache alone.
			it := b.Iter()
			for it.Next() {
				inRange(it.At())
			}
			if err := it.Err(); err != nil {
				return err
			}
			continue
		}
		for _, ms := range sets {
			if err := b.Select(ms, inRange); err != nil {
				return err
			}
		}
	}
	return nil
}

// LabelNames returns the sorted label names of the matching streams.
func (s *Store) LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	set := map[string]struct{}{}
	err := s.Series(ctx, tenant, setsOf(ms), start, end, func(ls labels.Labels) {
		for _, l := range ls {
			set[l.Name] = struct{}{}
		}
	})
	return sortedKeys(set), err
}

// LabelValues returns the sorted values of label name in the matching streams.
func (s *Store) LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	set := map[string]struct{}{}
	err := s.Series(ctx, tenant, setsOf(ms), start, end, func(ls labels.Labels) {
		if v := ls.Get(name); v != "" {
			set[v] = struct{}{}
		}
	})
	return sortedKeys(set), err
}

func setsOf(ms []*labels.Matcher) [][]*labels.Matcher {
	if len(ms) == 0 {
		return nil
	}
	return [][]*labels.Matcher{ms}
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
