package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
)

// Reading each stream from one owner alone.
//
// A split read meets every acknowledged entry by reading R = n-W+1 of a
// stream's n owners (Share). One owner is enough when it holds every
// acknowledged entry of the stream in the read's range, and a node can
// tell that only with help: the planner of a read asks every member for
// its ReadState and reads from one owner when OneOwner finds that:
//
//   - every member made a full repair pass (compared with every peer,
//     without failure) that began after the last start of any member and
//     the last change of the ring any member saw, and after the pushes
//     placed before it had landed (a push timeout later): what was missed
//     while a node was down, empty or not yet an owner was copied then,
//     and
//   - the read starts no earlier than the window those passes compared,
//     and
//   - no member, as a writer, knows of a push it acknowledged that an
//     owner may lack in the read's range: one still in flight to that
//     owner, or one the owner failed (or refused part of) and that was
//     acknowledged after the owner's last full pass began. The Replicator
//     records these (MissLog) before a push is acknowledged. Passes compare
//     entries of any time to come, so that the read's end needs no check.
//
// A writer that restarted forgot its misses, but its start makes every
// member's pass before it too old. Times are compared across nodes, so
// each comparison allows ClockSkew.

// PathReadState is the endpoint of a node's ReadState.
const PathReadState = "/internal/readstate"

// ClockSkew is how far apart the clocks of two nodes may be.
const ClockSkew = 2 * time.Second

// ReadState is what a node tells a read's planner (Unix nanoseconds).
type ReadState struct {
	Node        string `json:"node"`
	Started     int64  `json:"started"`      // this process' start
	RingChanged int64  `json:"ring_changed"` // the last change of the ring it saw
	// Repaired is when its last full repair pass began (0: none yet),
	// and Window how far back before that the pass compared.
	Repaired int64 `json:"repaired"`
	Window   int64 `json:"window"`
	// PushTimeout is how long a push this node writes may stay on its way
	// to an owner (-cluster.push-timeout): one placed on the ring before
	// a change may land after it.
	PushTimeout int64 `json:"push_timeout"`
	// Foreign is set when that pass found streams with entries in its
	// window that the node holds without owning them; Whole when the node
	// reads everything it holds for a split read (see Share).
	Foreign bool `json:"foreign,omitempty"`
	Whole   bool `json:"whole,omitempty"`
	// Misses are the pushes this node wrote and acknowledged that an
	// owner may lack.
	Misses []Miss `json:"misses,omitempty"`
}

// Miss is a span of entry timestamps, [Min, Max], that Node may lack.
type Miss struct {
	Node     string `json:"node"`
	Min      int64  `json:"min"`
	Max      int64  `json:"max"`
	At       int64  `json:"at"`                  // when the last push of the span failed
	InFlight bool   `json:"in_flight,omitempty"` // a push to Node has not been answered yet
}

// OneOwner returns nil when a read of entries in [start, end] may read each
// stream from one owner, given the ReadState of every member; otherwise
// why not.
func OneOwner(states []ReadState, start, end int64) error {
	skew := int64(ClockSkew)
	var epoch int64 // the last start or ring change any member saw
	var flight int64
	by := make(map[string]*ReadState, len(states))
	for i := range states {
		s := &states[i]
		epoch = max(epoch, s.Started, s.RingChanged)
		flight = max(flight, s.PushTimeout)
		by[s.Node] = s
	}
	for i := range states {
		s := &states[i]
		if s.Repaired <= epoch+flight+skew {
			return fmt.Errorf("%s has made no full repair pass since %s", s.Node, time.Unix(0, epoch).UTC().Format(time.RFC3339))
		}
		if start < s.Repaired-s.Window+skew {
			return fmt.Errorf("the read starts before what %s's last repair pass compared", s.Node)
		}
	}
	for i := range states {
		for _, m := range states[i].Misses {
			if m.Max < start || m.Min > end {
				continue
			}
			if m.InFlight {
				return fmt.Errorf("a push from %s to %s is in flight", states[i].Node, m.Node)
			}
			if t := by[m.Node]; t == nil || t.Repaired <= m.At+skew {
				return fmt.Errorf("%s may lack a push %s acknowledged", m.Node, states[i].Node)
			}
		}
	}
	return nil
}

// Disjoint reports whether, in a read OneOwner allows, each stream is read
// from one replica alone: no member holds streams it does not own or
// answers whole. The replicas' answers then need no de-duplication, and a
// count with a line filter needs no line hashes.
func Disjoint(states []ReadState) bool {
	for _, s := range states {
		if s.Foreign || s.Whole {
			return false
		}
	}
	return true
}

// ReadStateHandler serves a node's ReadState, as state returns it, at
// PathReadState; calls must carry the token of secret when set.
func ReadStateHandler(secret []byte, state func() ReadState) http.Handler {
	return requireAuth(authToken(secret), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "the read state takes GET", http.StatusMethodNotAllowed)
			return
		}
		b, err := jsoniter.Marshal(state())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
}

// ReadState asks the peer for its ReadState.
func (r *Remote) ReadState(ctx context.Context) (ReadState, error) {
	var s ReadState
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+PathReadState, nil)
	if err != nil {
		return s, err
	}
	setAuth(req, r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		return s, r.unreachable(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return s, r.unreachable(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return s, &PeerError{Peer: r.name, Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))}
	}
	if err := jsoniter.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("node %s: bad read state: %v", r.name, err)
	}
	if s.Node != r.name {
		return s, fmt.Errorf("node %s answered for %q", r.name, s.Node)
	}
	return s, nil
}
