package ring

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/memberlist"
)

// maxBroadcast is the largest entry sent as a UDP broadcast: memberlist
// packs broadcasts into packets of 1400 bytes, less its own headers and
// encryption. A member of the default 128 tokens takes about 560 bytes;
// one of more than about 270 tokens goes over TCP instead (sendLoop).
const maxBroadcast = 1200

// reliableFanout is how many live members a too-large entry is sent to
// over TCP; they pass it on the same way when it is news to them.
const reliableFanout = 3

// encodeMember is the encoding of a Desc of m alone.
func encodeMember(m Member) []byte {
	b := make([]byte, 0, 64+len(m.Name)+len(m.Addr)+len(m.GossipAddr)+4*len(m.Tokens))
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, 1)
	return appendMember(b, m)
}

// spreadLocked gossips m: queued as a broadcast, which replaces an older
// one of the same member still in the queue, or handed to sendLoop when
// too large. Called under mu so that the queue's order is the ring's.
func (r *Ring) spreadLocked(m Member) {
	msg := encodeMember(m)
	if len(msg) <= maxBroadcast {
		r.queue.QueueBroadcast(&broadcast{name: m.Name, msg: msg})
		return
	}
	select {
	case r.reliable <- msg:
	default: // full: the periodic push/pull carries it
	}
}

// receive merges an encoded Desc from a peer: a broadcast or reliable
// message (kind "broadcast"), or its whole state (kind "state").
func (r *Ring) receive(b []byte, kind string) {
	d, err := DecodeDesc(b)
	if err != nil {
		r.met.invalid.Inc()
		r.log.Warn("invalid ring state from a peer", "kind", kind, "err", err)
		return
	}
	r.met.received.WithLabelValues(kind).Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return
	}
	// A tombstone this node no longer has (or never had) and that is
	// past its TTL is not news: taking it would undo the pruning.
	now := time.Now().UnixNano()
	for name, m := range d {
		if _, known := r.desc[name]; !known && m.State == Left && now-m.Heartbeat > int64(r.cfg.TombstoneTTL) {
			delete(d, name)
		}
	}
	rebuild := false
	for name, m := range d {
		old, had := r.desc[name]
		if had && !m.Supersedes(old) {
			continue
		}
		if name == r.name {
			// Gossip about this node that is newer than what it knows (a
			// Forget, or its own entry from before a restart with a clock
			// ahead): this node's word is the only one that counts about
			// itself, so it answers with a still newer entry.
			r.log.Warn("refuting gossip about this node", "state", m.State, "heartbeat", m.Heartbeat)
			r.self.Heartbeat = max(r.self.Heartbeat, m.Heartbeat)
			r.bumpSelfLocked()
			continue
		}
		r.putLocked(m)
		rebuild = rebuild || !had || structural(old, m)
		r.spreadLocked(m) // news to this node may be news to others
	}
	if rebuild {
		r.rebuildLocked()
		r.notifyLocked()
	}
}

// setAlive records memberlist's verdict about a member.
func (r *Ring) setAlive(name string, alive bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.alive[name] == alive {
		return
	}
	if alive {
		r.alive[name] = true
	} else {
		delete(r.alive, name)
	}
	r.numAlive.Store(int32(len(r.alive)))
	r.rebuildLocked()
	r.notifyLocked()
}

// sendLoop sends the entries too large for a broadcast over TCP to a few
// random live members.
func (r *Ring) sendLoop() {
	defer r.wg.Done()
	for {
		var msg []byte
		select {
		case <-r.stop:
			return
		case msg = <-r.reliable:
		}
		r.mu.Lock()
		var peers []*memberlist.Node
		for name := range r.alive {
			if name != r.name {
				if n := gossipNode(r.desc[name]); n != nil {
					peers = append(peers, n)
				}
			}
		}
		r.mu.Unlock()
		rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
		for _, n := range peers[:min(len(peers), reliableFanout)] {
			if err := r.ml.SendReliable(n, msg); err != nil {
				r.log.Debug("ring entry not sent", "member", n.Name, "err", err)
			}
		}
	}
}

// broadcast is one member's entry in the broadcast queue. Named by the
// member, so a newer entry replaces an older one still queued.
type broadcast struct {
	name string
	msg  []byte
}

func (b *broadcast) Invalidates(o memberlist.Broadcast) bool {
	ob, ok := o.(*broadcast)
	return ok && ob.name == b.name
}
func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}

// delegate receives memberlist's calls, which come from its goroutines,
// concurrently (the event ones in order, under memberlist's node lock: they
// must not call back into memberlist).
type delegate struct{ r *Ring }

func (delegate) NodeMeta(limit int) []byte { return nil }

func (d delegate) NotifyMsg(b []byte) { d.r.receive(b, "broadcast") }

func (d delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.r.queue.GetBroadcasts(overhead, limit)
}

func (d delegate) LocalState(join bool) []byte {
	d.r.mu.Lock()
	defer d.r.mu.Unlock()
	return AppendDesc(nil, d.r.desc)
}

func (d delegate) MergeRemoteState(b []byte, join bool) { d.r.receive(b, "state") }

func (d delegate) NotifyJoin(n *memberlist.Node)   { d.r.setAlive(n.Name, true) }
func (d delegate) NotifyLeave(n *memberlist.Node)  { d.r.setAlive(n.Name, false) }
func (d delegate) NotifyUpdate(n *memberlist.Node) {}

// logWriter passes memberlist's log lines ("[WARN] memberlist: …") to
// slog at their level.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, l := range []struct {
		prefix string
		level  slog.Level
	}{{"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelError}} {
		if bytes.HasPrefix(line, []byte(l.prefix)) {
			level, line = l.level, bytes.TrimSpace(line[len(l.prefix):])
			break
		}
	}
	w.log.Log(context.Background(), level, string(line))
	return len(p), nil
}
