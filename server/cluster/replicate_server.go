package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/gorilla/mux"
	jsoniter "github.com/json-iterator/go"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// pushPath is the internal endpoint a node's share of a push is sent to.
const pushPath = "/internal/push"

// maxInternalPush bounds an internal push body, compressed and after
// decompression: a share is at most the client's whole push, itself
// bounded by the coordinator's -push.max-decompressed-bytes.
const maxInternalPush = 1 << 30

// maxPooledBody keeps a rare huge push from pinning its memory in the pool.
const maxPooledBody = 16 << 20

// maxPooledEntries does the same for the entries and metadata of scratch
// memory (about 50 bytes each).
const maxPooledEntries = 1 << 18

// PushServer serves /internal/push: the streams of a push another node
// validated and placed here, stored in the local store as they are (the
// sender's validation and limits apply, not this node's). Safe for
// concurrent use.
type PushServer struct {
	local  Appender
	token  string
	log    *slog.Logger
	labels *labelCache
	reqs   sync.Pool // of *push.Request, whose slices are kept for the next push
	// Of *[]byte: bodies, compressed and decoded (kept apart, so that
	// each form's buffers keep their own size), free once the store has
	// the push.
	compressed, decoded sync.Pool
	scratch             sync.Pool // of *streamScratch, free once the store has the push
	// LowQuorum, when set (before Register), is called before a push
	// whose sender marked it as acknowledged with fewer copies than a
	// quorum of the replication factor is stored.
	LowQuorum func()
}

// NewPushServer returns the internal push endpoint over local.
func NewPushServer(local Appender, secret []byte, log *slog.Logger) *PushServer {
	return &PushServer{local: local, token: authToken(secret), log: log, labels: newLabelCache(labelCacheEntries),
		reqs: sync.Pool{New: func() any { return new(push.Request) }}, compressed: sync.Pool{New: func() any { return new([]byte) }}, decoded: sync.Pool{New: func() any { return new([]byte) }},
		scratch: sync.Pool{New: func() any { return new(streamScratch) }}}
}

// Register adds the endpoint to r.
func (s *PushServer) Register(r *mux.Router) {
	r.Handle(pushPath, requireAuth(s.token, http.HandlerFunc(s.serve))).Methods(http.MethodPost)
}

func (s *PushServer) serve(w http.ResponseWriter, r *http.Request) {
	tenant := r.Header.Get("X-Scope-OrgID")
	if tenant == "" {
		http.Error(w, "internal push without X-Scope-OrgID", http.StatusBadRequest)
		return
	}
	// A sender sends snappy's block format and nothing else; a proxy
	// that re-encodes requests between nodes is told so.
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity", "snappy":
	default:
		http.Error(w, fmt.Sprintf("internal push: Content-Encoding %q: node-to-node pushes are snappy-compressed protobuf; something between the nodes re-encoded it", enc), http.StatusUnsupportedMediaType)
		return
	}
	// Both forms of the body are reused for the next push once the store
	// has this one: the store copies lines and metadata, and the labels
	// come from the cache, not the body. The compressed form becomes the
	// WAL record as it is (store.AppendEncoded).
	raw, buf := s.compressed.Get().(*[]byte), s.decoded.Get().(*[]byte)
	compressed, body, err := push.ReadSnappyBody(*raw, *buf, r.Body, maxInternalPush, maxInternalPush)
	defer func() {
		if cap(compressed) <= maxPooledBody {
			*raw = compressed[:0]
			s.compressed.Put(raw)
		}
		if cap(body) <= maxPooledBody {
			*buf = body[:0]
			s.decoded.Put(buf)
		}
	}()
	if err != nil {
		http.Error(w, "internal push: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := s.reqs.Get().(*push.Request)
	defer func() { req.Reset(); s.reqs.Put(req) }()
	if err := push.DecodeProto(body, req); err != nil {
		http.Error(w, "internal push: "+err.Error(), http.StatusBadRequest)
		return
	}
	sc := s.scratch.Get().(*streamScratch)
	defer func() {
		if sc.release() {
			s.scratch.Put(sc)
		}
	}()
	streams, err := toStreams(req, s.labels, sc)
	if err != nil {
		http.Error(w, "internal push: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.Header.Get(lowQuorumHeader) != "" && s.LowQuorum != nil {
		s.LowQuorum()
	}
	rej, err := appendEncoded(s.local, tenant, streams, compressed)
	switch {
	case errors.Is(err, store.ErrDiskFull):
		w.Header().Set(diskFullHeader, "1")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case errors.Is(err, store.ErrClosed):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		s.log.Error("internal push failed", "tenant", tenant, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if len(rej) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	out, _ := jsoniter.Marshal(pushAnswer{Rejected: rejectedText(rej)})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// streamScratch is the memory toStreams carves a push's streams, entries
// and metadata from. A push server keeps it for its next push once the
// store has the push: the store copies what it keeps.
type streamScratch struct {
	streams []store.Stream
	entries []block.Entry
	meta    labels.Labels
}

// release empties sc, so that it does not keep a push's memory alive, and
// reports whether it is small enough to keep for the next push.
func (sc *streamScratch) release() bool {
	clear(sc.streams[:cap(sc.streams)])
	clear(sc.entries)
	clear(sc.meta)
	return cap(sc.streams) <= maxPooledEntries && cap(sc.entries) <= maxPooledEntries && cap(sc.meta) <= maxPooledEntries
}

// toStreams converts a decoded push into the store's streams, their labels
// parsed through lc (nil: none), in sc's memory (nil: new memory). Lines
// and metadata alias the request body, which the store copies; with a
// cache, the labels do not (the store keeps them).
func toStreams(req *push.Request, lc *labelCache, sc *streamScratch) ([]store.Stream, error) {
	if sc == nil {
		sc = new(streamScratch)
	}
	n, nm := 0, 0
	for i := range req.Streams {
		n += len(req.Streams[i].Entries)
		for j := range req.Streams[i].Entries {
			nm += len(req.Streams[i].Entries[j].Metadata)
		}
	}
	sc.streams = slices.Grow(sc.streams[:0], len(req.Streams))
	sc.entries = slices.Grow(sc.entries[:0], n)[:n]
	sc.meta = slices.Grow(sc.meta[:0], nm)[:nm]
	streams, all, metas := sc.streams, sc.entries, sc.meta
	for i := range req.Streams {
		ps := &req.Streams[i]
		ls, err := lc.parse(ps.Labels)
		if err != nil {
			return nil, fmt.Errorf("stream %d: %v", i, err)
		}
		es := all[:len(ps.Entries):len(ps.Entries)]
		all = all[len(ps.Entries):]
		for j := range ps.Entries {
			e := &ps.Entries[j]
			es[j] = block.Entry{T: e.Timestamp, Line: unsafe.Slice(unsafe.StringData(e.Line), len(e.Line))}
			if len(e.Metadata) > 0 {
				meta := metas[:len(e.Metadata):len(e.Metadata)]
				metas = metas[len(e.Metadata):]
				for k, p := range e.Metadata {
					meta[k] = labels.Label{Name: p.Name, Value: p.Value}
				}
				es[j].Meta = meta
			}
		}
		streams = append(streams, store.Stream{Labels: ls, Entries: es})
	}
	return streams, nil
}

// labelCacheEntries bounds a push server's label cache: tens of thousands
// of label sets take a few MiB.
const labelCacheEntries = 1 << 16

// labelCache maps the label text of pushed streams to their parsed labels:
// peers send the same streams push after push, and parsing is a good part
// of an internal push's cost. Once it holds max entries it starts afresh,
// so streams gone leave it. The labels do not alias the text parsed. Safe
// for concurrent use.
type labelCache struct {
	max int
	mu  sync.RWMutex
	m   map[string]labels.Labels
}

func newLabelCache(max int) *labelCache {
	return &labelCache{max: max, m: map[string]labels.Labels{}}
}

// parse returns the labels of text, which may alias memory that is reused.
// A nil cache parses text every time, into labels that alias it.
func (lc *labelCache) parse(text string) (labels.Labels, error) {
	if lc == nil {
		return labels.Parse(text)
	}
	lc.mu.RLock()
	ls, ok := lc.m[text]
	lc.mu.RUnlock()
	if ok {
		return ls, nil
	}
	// The copy is the key, and the parsed labels share its memory.
	text = strings.Clone(text)
	ls, err := labels.Parse(text)
	if err != nil {
		return nil, err
	}
	lc.mu.Lock()
	if len(lc.m) >= lc.max {
		lc.m = map[string]labels.Labels{}
	}
	lc.m[text] = ls
	lc.mu.Unlock()
	return ls, nil
}
