package cluster

import (
	"slices"
	"sync"
	"time"
)

// MissLog records, as a writer, the pushes an owner may lack: those sent
// to it and not answered yet, and those it failed or refused part of (see
// OneOwner). It keeps one span of entry timestamps per owner for the
// failures, merged, so it stays small however long an owner fails; a
// span's At is its last failure, so a repair pass of the owner that began
// after it covers the whole span. Safe for concurrent use.
type MissLog struct {
	mu       sync.Mutex
	next     uint64
	inFlight map[uint64]Miss
	missed   map[string]Miss
	now      func() time.Time
}

// NewMissLog returns an empty MissLog.
func NewMissLog() *MissLog {
	return &MissLog{inFlight: map[uint64]Miss{}, missed: map[string]Miss{}, now: time.Now}
}

// Send records a push of entries in [lo, hi] about to be sent to node;
// Done must follow with the same id once it is answered.
func (l *MissLog) Send(node string, lo, hi int64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.inFlight[l.next] = Miss{Node: node, Min: lo, Max: hi, InFlight: true}
	return l.next
}

// Done records the answer to the push of id: failed when node did not
// store all of it.
func (l *MissLog) Done(id uint64, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.inFlight[id]
	if !ok {
		return
	}
	delete(l.inFlight, id)
	if failed {
		l.missLocked(m.Node, m.Min, m.Max)
	}
}

// Missed records a push of entries in [lo, hi] that node did not store.
func (l *MissLog) Missed(node string, lo, hi int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.missLocked(node, lo, hi)
}

func (l *MissLog) missLocked(node string, lo, hi int64) {
	if m, ok := l.missed[node]; ok {
		lo, hi = min(lo, m.Min), max(hi, m.Max)
	}
	l.missed[node] = Miss{Node: node, Min: lo, Max: hi, At: l.now().UnixNano()}
}

// Misses returns the failed spans, one per owner, and the pushes in
// flight, merged into one span per owner; sorted by node.
func (l *MissLog) Misses() []Miss {
	l.mu.Lock()
	out := make([]Miss, 0, len(l.missed)+4)
	for _, m := range l.missed {
		out = append(out, m)
	}
	flying := map[string]Miss{}
	for _, m := range l.inFlight {
		if f, ok := flying[m.Node]; ok {
			m.Min, m.Max = min(m.Min, f.Min), max(m.Max, f.Max)
		}
		flying[m.Node] = m
	}
	l.mu.Unlock()
	for _, m := range flying {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Miss) int {
		if a.Node != b.Node {
			if a.Node < b.Node {
				return -1
			}
			return 1
		}
		if a.InFlight == b.InFlight {
			return 0
		}
		if a.InFlight {
			return 1
		}
		return -1
	})
	return out
}
