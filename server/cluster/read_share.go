package cluster

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/ring"
	"github.com/loam-logs/loam/server/store"
)

// A Share is one replica's part of a split read: the streams it reads of
// what it holds, so that a full scan reads each stream from as few
// replicas as still see every acknowledged entry, not from all of them.
//
// A push is acknowledged once a quorum W = n/2+1 of the n owners of each
// of its streams has it (n = the replication factor, or the members when
// fewer). Reading R = n-W+1 of those owners therefore meets every
// acknowledged entry at least once (R+W > n): the first R in ring order
// are read. That holds for entries written under the placement the read
// was planned with; an entry written under an earlier one (before a member
// joined, left or was forgotten) sits on nodes that may no longer own its
// stream. So a replica reads, besides the streams it is chosen for, every
// stream it holds but does not own: of an entry's W copies, either one is
// on such a node, or all are on current owners, and then one is on a
// chosen one. Two things the argument needs are the planner's to ensure:
// every member holding data is asked (a read is split only when all are
// healthy), and an entry acknowledged with fewer than the full quorum's
// copies (pushed while the ring had fewer members than the replication
// factor) is read from every node holding it, which then answers whole
// until a repair pass has copied it to its owners (ServerOptions.Whole).
//
// When every owner is known to hold all acknowledged entries of the read's
// range (OneOwner, readstate.go), One reads each stream from its first
// owner alone.
//
// A Share is immutable once used, and safe for concurrent use.
type Share struct {
	Self string // the replica this share is for
	RF   int    // the replication factor
	// Members are the members that own keys, as the read's planner saw
	// them: a name and a number of tokens each, the tokens being
	// ring.Tokens(name, n).
	Members []ShareMember
	// One, set before the share is used, reads each stream from its first
	// owner alone, not from R of them: the planner found with OneOwner
	// that every owner holds all of the read's acknowledged entries.
	One bool

	place *ring.Placement
}

// ShareMember is a member of a Share's placement.
type ShareMember struct {
	Name   string
	Tokens int
}

// NewShare returns the share of replica self of a read planned on the
// owning members ms.
func NewShare(self string, rf int, ms []ShareMember) *Share {
	return &Share{Self: self, RF: rf, Members: ms, place: placements.get(ms)}
}

// placements keeps the few placements reads are planned on, so that a
// read does not rebuild its members' tokens: the ring changes seldom.
var placements = &placementCache{m: map[string]*ring.Placement{}}

// placementCache maps members (as "name:tokens," text) to their placement.
// It is safe for concurrent use, and forgets everything when it would hold
// more than placementCacheSize.
type placementCache struct {
	mu sync.Mutex
	m  map[string]*ring.Placement
}

const placementCacheSize = 16

func (c *placementCache) get(ms []ShareMember) *ring.Placement {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Name)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(m.Tokens))
		b.WriteByte(',')
	}
	key := b.String()
	c.mu.Lock()
	p := c.m[key]
	c.mu.Unlock()
	if p != nil {
		return p
	}
	rm := make([]ring.Member, len(ms))
	for i, m := range ms {
		rm[i] = ring.Member{Name: m.Name, State: ring.Active, Tokens: ring.Tokens(m.Name, m.Tokens)}
	}
	p = ring.NewPlacement(rm)
	c.mu.Lock()
	if len(c.m) >= placementCacheSize {
		clear(c.m)
	}
	c.m[key] = p
	c.mu.Unlock()
	return p
}

var _ store.StreamFilter = (*Share)(nil)

// Keep reports whether the replica reads the stream: it is one of its
// first R owners (its first, with One), or not an owner at all.
func (s *Share) Keep(tenant string, ls labels.Labels) bool {
	var buf [8]ring.Member
	owners := s.place.Owners(ring.StreamKey(tenant, ls.String()), s.RF, buf[:0])
	for i, o := range owners {
		if o.Name == s.Self {
			if s.One {
				return i == 0
			}
			return i < ReadReplicas(len(owners))
		}
	}
	return true
}

// ReadReplicas is how many of n owners a split read reads: n less the
// write quorum, plus one.
func ReadReplicas(n int) int { return n - (n/2 + 1) + 1 }

// Share parameters: share_self, share_rf, share_member=name:tokens
// (repeated, at most maxShareMembers) and share_one=1.
const maxShareMembers = 1024

// putShare adds a share's parameters.
func putShare(v url.Values, s *Share) {
	v.Set("share_self", s.Self)
	putInt(v, "share_rf", int64(s.RF))
	for _, m := range s.Members {
		v.Add("share_member", m.Name+":"+strconv.Itoa(m.Tokens))
	}
	if s.One {
		v.Set("share_one", "1")
	}
}

// share reads a share's parameters; nil when there are none.
func (f *form) share() *Share {
	self := f.one("share_self")
	if self == "" {
		if len(f.v["share_member"]) > 0 || f.one("share_rf") != "" || f.one("share_one") != "" {
			f.fail(badf("parameter share_self is required with share_member, share_rf and share_one"))
		}
		return nil
	}
	rf := f.int("share_rf", 0)
	if rf < 1 || rf > 255 {
		f.fail(badf("parameter share_rf: %d is not in [1, 255]", rf))
		return nil
	}
	raw := f.v["share_member"]
	if len(raw) == 0 || len(raw) > maxShareMembers {
		f.fail(badf("parameter share_member: %d given, want 1 to %d", len(raw), maxShareMembers))
		return nil
	}
	ms := make([]ShareMember, 0, len(raw))
	for _, m := range raw {
		i := strings.LastIndexByte(m, ':')
		if i < 0 {
			i = len(m)
		}
		name, n := m[:i], m[min(i+1, len(m)):]
		tokens, err := strconv.Atoi(n)
		if name == "" || err != nil || tokens < 1 || tokens > ring.MaxTokens {
			f.fail(badf("parameter share_member: %q is not name:tokens with 1 to %d tokens", m, ring.MaxTokens))
			return nil
		}
		if slices.ContainsFunc(ms, func(o ShareMember) bool { return o.Name == name }) {
			f.fail(badf("parameter share_member: %s given twice", name))
			return nil
		}
		ms = append(ms, ShareMember{Name: name, Tokens: tokens})
	}
	sh := NewShare(self, int(rf), ms)
	switch one := f.one("share_one"); one {
	case "", "0":
	case "1":
		sh.One = true
	default:
		f.fail(badf("parameter share_one: %q is not 0 or 1", one))
		return nil
	}
	return sh
}

// String describes the share, for logs and errors.
func (s *Share) String() string {
	one := ""
	if s.One {
		one = ", one owner per stream"
	}
	return fmt.Sprintf("share of %s: rf %d, %d members%s", s.Self, s.RF, len(s.Members), one)
}
