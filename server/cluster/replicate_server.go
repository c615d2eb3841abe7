package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// maxInternalPush bounds an internal push body after decompression: a
// share is at most the client's whole push, itself bounded by the
// coordinator's -push.max-decompressed-bytes.
const maxInternalPush = 1 << 30

// PushServer serves /internal/push: the streams of a push another node
// validated and placed here, stored in the local store as they are (the
// sender's validation and limits apply, not this node's). Safe for
// concurrent use.
type PushServer struct {
	local Appender
	token string
	log   *slog.Logger
	// LowQuorum, when set (before Register), is called before a push
	// whose sender marked it as acknowledged with fewer copies than a
	// quorum of the replication factor is stored.
	LowQuorum func()
}

// NewPushServer returns the internal push endpoint over local.
func NewPushServer(local Appender, secret []byte, log *slog.Logger) *PushServer {
	return &PushServer{local: local, token: authToken(secret), log: log}
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
	body, err := push.ReadBody(r.Body, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type"), 0, maxInternalPush)
	if err != nil {
		http.Error(w, "internal push: "+err.Error(), http.StatusBadRequest)
		return
	}
	var req push.Request
	if err := push.DecodeProto(body, &req); err != nil {
		http.Error(w, "internal push: "+err.Error(), http.StatusBadRequest)
		return
	}
	streams, err := toStreams(&req)
	if err != nil {
		http.Error(w, "internal push: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.Header.Get(lowQuorumHeader) != "" && s.LowQuorum != nil {
		s.LowQuorum()
	}
	rej, err := s.local.Append(tenant, streams)
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

// toStreams converts a decoded push into the store's streams. Lines alias
// the request body, which the store copies.
func toStreams(req *push.Request) ([]store.Stream, error) {
	streams := make([]store.Stream, 0, len(req.Streams))
	for i := range req.Streams {
		ps := &req.Streams[i]
		ls, err := labels.Parse(ps.Labels)
		if err != nil {
			return nil, fmt.Errorf("stream %d: %v", i, err)
		}
		es := make([]block.Entry, len(ps.Entries))
		for j := range ps.Entries {
			e := &ps.Entries[j]
			es[j] = block.Entry{T: e.Timestamp, Line: unsafe.Slice(unsafe.StringData(e.Line), len(e.Line))}
			if len(e.Metadata) > 0 {
				meta := make(labels.Labels, len(e.Metadata))
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
