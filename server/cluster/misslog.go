package cluster

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// MissLog records, as a writer, the acknowledged pushes an owner may lack:
// those acknowledged while still on their way to it, and those it failed
// or refused part of (see OneOwner). It keeps one span of entry timestamps
// per owner for the failures, merged, so it stays small however long an
// owner fails. A span's At is the acknowledgement of its last push, when
// the other owners of a quorum had stored it: a repair pass of the owner
// that began after that finds every entry of the span on them. Safe for
// concurrent use.
type MissLog struct {
	mu       sync.Mutex
	next     uint64
	inFlight map[uint64]flight
	missed   map[string]Miss
	now      func() time.Time
}

// flight is a push on its way to an owner.
type flight struct {
	Miss
	acked bool // the push was acknowledged
}

// NewMissLog returns an empty MissLog.
func NewMissLog() *MissLog {
	return &MissLog{inFlight: map[uint64]flight{}, missed: map[string]Miss{}, now: time.Now}
}

// Send records a push of entries in [lo, hi] about to be sent to node;
// Done must follow with the same id once it is answered.
func (l *MissLog) Send(node string, lo, hi int64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.inFlight[l.next] = flight{Miss: Miss{Node: node, Min: lo, Max: hi, InFlight: true}}
	return l.next
}

// Acked records that the pushes of ids, sent and not answered yet, were
// acknowledged, and restamps the failures of failed: call it before the
// acknowledgement leaves. A push in flight matters to reads only from
// then on.
func (l *MissLog) Acked(ids []uint64, failed []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if f, ok := l.inFlight[id]; ok {
			f.acked = true
			l.inFlight[id] = f
		}
	}
	at := l.now().UnixNano()
	for _, node := range failed {
		if m, ok := l.missed[node]; ok {
			m.At = max(m.At, at)
			l.missed[node] = m
		}
	}
}

// Forget drops what is recorded of the nodes keep refuses: those that left
// the ring own nothing any more.
func (l *MissLog) Forget(keep func(node string) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for node := range l.missed {
		if !keep(node) {
			delete(l.missed, node)
		}
	}
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

// Misses returns the failed spans, one per owner, and the acknowledged
// pushes in flight, merged into one span per owner; sorted by node.
func (l *MissLog) Misses() []Miss {
	l.mu.Lock()
	out := make([]Miss, 0, len(l.missed)+4)
	for _, m := range l.missed {
		out = append(out, m)
	}
	flying := map[string]Miss{}
	for _, fl := range l.inFlight {
		if !fl.acked {
			continue
		}
		m := fl.Miss
		if f, ok := flying[m.Node]; ok {
			m.Min, m.Max = min(m.Min, f.Min), max(m.Max, f.Max)
		}
		flying[m.Node] = m
	}
	l.mu.Unlock()
	for _, m := range flying {
		out = append(out, m)
	}
	// A node's failed span first, then its pushes in flight.
	slices.SortFunc(out, func(a, b Miss) int {
		return cmp.Or(strings.Compare(a.Node, b.Node), cmp.Compare(btoi(a.InFlight), btoi(b.InFlight)))
	})
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
