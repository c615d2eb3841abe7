package store

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// head holds the entries appended since the last flush, per tenant and
// stream, in memory. A head is active (taking appends) until a flush freezes
// it; a frozen head is only read, until its blocks are on disk.
type head struct {
	mu      sync.RWMutex
	tenants map[string]*tenantHead

	arena   arena        // the lines of every stream
	bytes   atomic.Int64 // line bytes held
	entries atomic.Int64
	streams atomic.Int64
	created time.Time
	last    atomic.Int64 // unix ns of the last append
}

type tenantHead struct {
	mu      sync.RWMutex
	streams map[uint64][]*memStream // by labels hash; collisions chained
	bytes   atomic.Int64            // line bytes held, for the fair share (backpressure.go)
}

// memStream is one stream's entries in the head. Entries are appended in
// arrival order; ts and refs only grow and lines in the arena never move, so
// a reader that copied the slice headers under mu can read them without it.
type memStream struct {
	ls   labels.Labels
	hash uint64

	mu       sync.Mutex
	arena    *arena
	ts       []int64
	refs     []lineRef             // where entry i's line is in the arena
	meta     map[int]labels.Labels // sparse: most entries have none
	minT     int64
	maxT     int64
	unsorted bool                // an entry arrived older than maxT
	seen     map[uint64]struct{} // hashes of (ts, line), built once entries arrive out of order
}

func newHead() *head {
	return &head{tenants: map[string]*tenantHead{}, created: time.Now()}
}

func (h *head) tenant(name string, create bool) *tenantHead {
	h.mu.RLock()
	t := h.tenants[name]
	h.mu.RUnlock()
	if t != nil || !create {
		return t
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if t = h.tenants[name]; t == nil {
		t = &tenantHead{streams: map[uint64][]*memStream{}}
		h.tenants[name] = t
	}
	return t
}

// stream returns the stream of ls, creating it.
func (h *head) stream(t *tenantHead, ls labels.Labels, hash uint64) (_ *memStream, created bool) {
	t.mu.RLock()
	for _, s := range t.streams[hash] {
		if s.ls.Equal(ls) {
			t.mu.RUnlock()
			return s, false
		}
	}
	t.mu.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.streams[hash] {
		if s.ls.Equal(ls) {
			return s, false
		}
	}
	s := &memStream{ls: slices.Clone(ls), hash: hash, arena: &h.arena, minT: 1<<63 - 1, maxT: -1 << 63}
	t.streams[hash] = append(t.streams[hash], s)
	h.streams.Add(1)
	return s, true
}

// append adds entries, dropping exact duplicates of entries already in the
// head. It returns the number of entries and bytes added.
func (s *memStream) append(es []block.Entry) (n, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range es {
		e := &es[i]
		if e.T <= s.maxT && s.isDuplicate(e) {
			continue
		}
		if e.T < s.maxT {
			s.unsorted = true
		}
		s.ts = append(s.ts, e.T)
		s.refs = append(s.refs, s.arena.add(e.Line))
		if len(e.Meta) > 0 {
			if s.meta == nil {
				s.meta = map[int]labels.Labels{}
			}
			// Metadata may alias a request body: copy it, strings too.
			meta := make(labels.Labels, len(e.Meta))
			for j, l := range e.Meta {
				meta[j] = labels.Label{Name: strings.Clone(l.Name), Value: strings.Clone(l.Value)}
			}
			s.meta[len(s.ts)-1] = meta
		}
		if s.seen != nil {
			s.seen[entryHash(e.T, e.Line)] = struct{}{}
		}
		s.minT = min(s.minT, e.T)
		s.maxT = max(s.maxT, e.T)
		n++
		bytes += len(e.Line)
	}
	return n, bytes
}

// isDuplicate reports whether (e.T, e.Line) is already held. In-order
// streams only need to look at the entries sharing the newest timestamp;
// once a stream receives out-of-order entries it keeps a hash set.
func (s *memStream) isDuplicate(e *block.Entry) bool {
	if !s.unsorted && e.T == s.maxT {
		for i := len(s.ts) - 1; i >= 0 && s.ts[i] == e.T; i-- {
			if string(s.line(i)) == string(e.Line) {
				return true
			}
		}
		return false
	}
	if s.seen == nil {
		s.seen = make(map[uint64]struct{}, len(s.ts))
		for i := range s.ts {
			s.seen[entryHash(s.ts[i], s.line(i))] = struct{}{}
		}
	}
	if _, ok := s.seen[entryHash(e.T, e.Line)]; ok {
		// A hash hit is confirmed against the lines: a collision must
		// never drop a line.
		for i := range s.ts {
			if s.ts[i] == e.T && string(s.line(i)) == string(e.Line) {
				return true
			}
		}
	}
	return false
}

func entryHash(t int64, line []byte) uint64 {
	d := xxhash.New()
	var b [8]byte
	for i := range b {
		b[i] = byte(t >> (8 * i))
	}
	d.Write(b[:])
	d.Write(line)
	return d.Sum64()
}

// line returns entry i's line; the caller holds s.mu.
func (s *memStream) line(i int) []byte {
	return s.arena.line(s.refs[i])
}

// memSnapshot is a consistent, lock-free view of a memStream.
type memSnapshot struct {
	ts       []int64
	refs     []lineRef
	pages    []*page
	meta     map[int]labels.Labels
	minT     int64
	maxT     int64
	unsorted bool
}

func (s *memStream) snapshot() memSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var meta map[int]labels.Labels
	if s.meta != nil {
		meta = make(map[int]labels.Labels, len(s.meta))
		for k, v := range s.meta {
			meta[k] = v
		}
	}
	// The pages are read after the refs: every ref taken is in them.
	return memSnapshot{ts: s.ts, refs: s.refs, pages: s.arena.view(), meta: meta,
		minT: s.minT, maxT: s.maxT, unsorted: s.unsorted}
}

// entries returns the snapshot's entries in [start, end), sorted by time
// (ties in arrival order). Lines alias the head's memory.
func (m *memSnapshot) entries(start, end int64) []block.Entry {
	return m.appendEntries(nil, start, end)
}

// appendEntries is entries appending to out.
func (m *memSnapshot) appendEntries(out []block.Entry, start, end int64) []block.Entry {
	first := len(out)
	for i, t := range m.ts {
		if t < start || t >= end {
			continue
		}
		r := m.refs[i]
		out = append(out, block.Entry{T: t, Line: m.pages[r.page].buf[r.off : r.off+r.len : r.off+r.len], Meta: m.meta[i]})
	}
	if m.unsorted {
		slices.SortStableFunc(out[first:], func(a, b block.Entry) int {
			switch {
			case a.T < b.T:
				return -1
			case a.T > b.T:
				return 1
			}
			return 0
		})
	}
	return out
}

// forEachStream calls fn for every stream of tenant in h.
func (h *head) forEachStream(tenant string, fn func(*memStream)) {
	t := h.tenant(tenant, false)
	if t == nil {
		return
	}
	t.mu.RLock()
	list := make([]*memStream, 0, len(t.streams))
	for _, ss := range t.streams {
		list = append(list, ss...)
	}
	t.mu.RUnlock()
	for _, s := range list {
		fn(s)
	}
}

func (h *head) tenantNames() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.tenants))
	for n := range h.tenants {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// arena holds the lines of a head in large pages shared by all its streams,
// so that memory grows with the bytes held, without the slack of a growing
// slice per stream. A page's buffer never moves or changes length: readers
// slice it without the lock, at offsets written before they got the ref.
type arena struct {
	mu    sync.Mutex
	pages []*page
}

type page struct {
	buf  []byte // fixed length
	used int    // guarded by arena.mu
}

// pageSize is the arena's page; a longer line gets a page of its own.
const pageSize = 1 << 20

type lineRef struct{ page, off, len uint32 }

// add copies b into the arena.
func (a *arena) add(b []byte) lineRef {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.pages)
	if n == 0 || len(a.pages[n-1].buf)-a.pages[n-1].used < len(b) {
		a.pages = append(a.pages, &page{buf: make([]byte, max(pageSize, len(b)))})
		n++
	}
	p := a.pages[n-1]
	off := p.used
	p.used += copy(p.buf[off:], b)
	return lineRef{page: uint32(n - 1), off: uint32(off), len: uint32(len(b))}
}

// line returns the bytes of r.
func (a *arena) line(r lineRef) []byte {
	a.mu.Lock()
	p := a.pages[r.page]
	a.mu.Unlock()
	return p.buf[r.off : r.off+r.len : r.off+r.len]
}

// view returns the pages as they are now; lines added before stay valid in it.
func (a *arena) view() []*page {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pages[:len(a.pages):len(a.pages)]
}
