package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// Every node keeps every delete request, so that a read through any node,
// split or not, hides the same lines, and each node purges its own disk: a
// request added or cancelled on one node is sent at once to the others
// (POST /internal/deletes with the node's whole export), and nodes fetch
// each other's exports now and then (GET /internal/deletes), so that one
// that was away catches up. The exports are server/deletes' own JSON.

// PathDeletes is the endpoint of delete request exchanges.
const PathDeletes = "/internal/deletes"

// maxDeletesExport bounds an export read: delete requests are few.
const maxDeletesExport = 64 << 20

// DeleteLog is a node's delete requests as nodes exchange them
// (*deletes.Manager). Safe for concurrent use.
type DeleteLog interface {
	Export() ([]byte, error)
	Merge(b []byte) (added, removed int, err error)
}

// DeletesServer serves /internal/deletes: GET answers this node's export,
// POST merges another's.
type DeletesServer struct {
	log   DeleteLog
	token string
}

// NewDeletesServer returns the endpoint over log.
func NewDeletesServer(log DeleteLog, secret []byte) *DeletesServer {
	return &DeletesServer{log: log, token: authToken(secret)}
}

// Register adds the endpoint to r.
func (s *DeletesServer) Register(r *mux.Router) {
	r.Handle(PathDeletes, requireAuth(s.token, http.HandlerFunc(s.serve))).Methods(http.MethodGet, http.MethodPost)
}

func (s *DeletesServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		b, err := s.log.Export()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxDeletesExport+1))
	if err != nil {
		http.Error(w, "delete requests: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(b) > maxDeletesExport {
		http.Error(w, "delete requests: the export is over 64 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	if _, _, err := s.log.Merge(b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DeletesClient exchanges this node's delete requests with other nodes.
// Safe for concurrent use.
type DeletesClient struct {
	local  DeleteLog
	client *http.Client
	token  string
	scheme string
}

// NewDeletesClient returns a client exchanging local's requests over
// scheme ("http" or "https"; "" is "http"); client nil makes one.
func NewDeletesClient(local DeleteLog, client *http.Client, scheme string, secret []byte) *DeletesClient {
	if client == nil {
		client = newClient()
	}
	if scheme == "" {
		scheme = "http"
	}
	return &DeletesClient{local: local, client: client, token: authToken(secret), scheme: scheme}
}

// Send gives p this node's export, for it to merge.
func (c *DeletesClient) Send(ctx context.Context, p Peer) error {
	b, err := c.local.Export()
	if err != nil {
		return err
	}
	_, err = c.call(ctx, p, http.MethodPost, b)
	return err
}

// Fetch merges p's export into this node's requests.
func (c *DeletesClient) Fetch(ctx context.Context, p Peer) (added, removed int, err error) {
	b, err := c.call(ctx, p, http.MethodGet, nil)
	if err != nil {
		return 0, 0, err
	}
	return c.local.Merge(b)
}

func (c *DeletesClient) call(ctx context.Context, p Peer, method string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := callNode(ctx, c.client, method, c.scheme+"://"+p.Addr+PathDeletes, c.token, body, maxDeletesExport)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", p.Name, err)
	}
	return out, nil
}
