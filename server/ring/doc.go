// Package ring is the cluster's membership and its token ring: which
// nodes there are, in which state, and which of them own a stream.
//
// # Membership
//
// A Ring runs hashicorp/memberlist (SWIM gossip over UDP, with TCP for
// push/pull and fallbacks). Memberlist decides who is alive; on top of it
// every node gossips one entry about itself, a Member: name, HTTP address,
// gossip address, state, tokens and heartbeat. Gossip carries these
// entries only, never log data. They travel three ways:
//
//   - broadcasts: an entry that changed (a state, a heartbeat) is queued
//     in a memberlist.TransmitLimitedQueue and piggybacked on memberlist's
//     UDP packets to random members, a few times; a node that learns
//     something new from it queues it in turn (epidemic spread). A queued
//     entry replaces an older one of the same member. An entry too large
//     for a packet (more than about 270 tokens) is sent over TCP to a few
//     random members instead;
//   - push/pull: every PushPullInterval, and on join, two nodes exchange
//     their whole ring state (memberlist's LocalState/MergeRemoteState), so
//     that anything a broadcast missed is repaired;
//   - Leave sends the final LEFT entry over TCP to every live member.
//
// The encoding is binary (see AppendDesc): a member of 128 tokens takes
// about 560 bytes, so a broadcast fits in a UDP packet. With
// Config.Secret memberlist encrypts and authenticates every packet with
// AES-256 keyed by the SHA-256 of the secret: a node without the secret
// cannot join, read or inject ring state.
//
// # Merge rules
//
// Only a node writes its own entry, with one exception (Forget). The
// entry's Heartbeat, unix nanoseconds of the owner's clock raised at every
// heartbeat and every change and never lowered, is its version: of two
// entries of a member the one with the greater heartbeat wins, then the
// later state (JOINING < ACTIVE < LEAVING < LEFT), then, only to make the
// order total, the addresses and tokens. A Desc merge takes the winner
// per member, so it is idempotent, commutative and associative: nodes
// that have received the same entries agree, whatever the order.
//
// Forget writes a gone member's entry as LEFT with its heartbeat plus one:
// it wins over every entry the member wrote, and loses to any it writes
// if it comes back. A node that receives an entry about itself newer than
// its own (a Forget, or its entry from before a restart with a clock
// that was ahead) refutes it with a newer one. LEFT entries are
// tombstones: kept TombstoneTTL (1 h) so that stale gossip cannot bring
// the member back, then dropped, and a LEFT entry older than that is not
// taken from a peer.
//
// # Tokens and lookup
//
// Each member has Config.Tokens (128) tokens, 32-bit positions on the
// ring derived from its name alone (Tokens: a splitmix64 sequence seeded
// by the name's xxhash), so a node restarted under its name owns what it
// owned without storing anything. The key of a stream is StreamKey(tenant,
// labels). Its owners are the first RF distinct members met walking the
// ring clockwise from the key, counting only JOINING and ACTIVE members
// (a LEAVING member hands its data over and owns nothing). Lookups read an
// immutable snapshot (a sorted token array with its owners, searched by
// binary search), rebuilt when a member, its state, tokens or liveness
// change; they take no lock and allocate nothing.
//
// # Health
//
// Healthy(name) is memberlist's verdict (alive: not suspected to death,
// not left) and a fresh heartbeat: one that advanced within
// HeartbeatTimeout (3 heartbeats of 5 s) by this node's monotonic clock,
// so clock skew between nodes does not matter. Failure detection is tuned
// for a LAN: probes every 500 ms with a 300 ms timeout; a member that
// does not answer a probe (nor indirect probes through others) is
// suspected, and declared dead 4 probe intervals (memberlist's
// SuspicionMult; times log10 of the cluster size from 10 members on)
// later, unless it refutes. In a cluster of three a killed node is
// unhealthy everywhere within about 3 s (the tests measure it); from four
// members on, 2 s needs two other members to confirm the suspicion, and
// without them it takes up to 6 times that. The heartbeat catches a node
// whose memberlist still answers but whose ring stopped. Changed wakes waiters on every change of membership,
// state, or health.
//
// # Joining
//
// Config.Join names members to join (host:port, or a DNS name whose every
// address is joined, such as a Kubernetes headless Service). Joining runs
// in the background and is retried, with backoff up to 10 s, until another
// member answers, so nodes start in any order; a node's own address in the
// list is skipped. Afterwards the members of the ring that memberlist
// counts dead but that did not leave are joined again every
// RejoinInterval, which heals partitions that outlasted memberlist's own
// retries.
package ring
