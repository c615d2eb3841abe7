package cluster

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/klauspost/compress/s2"

	"github.com/loam-logs/loam/server/store"
)

// walRecorder is a local store that records the encoded pushes it is
// given for its WAL.
type walRecorder struct {
	st     *store.Store
	mu     sync.Mutex
	bodies [][]byte // one per AppendEncoded; nil for an Append
}

// Both record the append once the store has it.
func (w *walRecorder) Append(tenant string, s []store.Stream) ([]store.Rejected, error) {
	rej, err := w.st.Append(tenant, s)
	w.mu.Lock()
	w.bodies = append(w.bodies, nil)
	w.mu.Unlock()
	return rej, err
}

func (w *walRecorder) appends() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.bodies)
}

func (w *walRecorder) AppendEncoded(tenant string, s []store.Stream, body []byte) ([]store.Rejected, error) {
	rej, err := w.st.AppendEncoded(tenant, s, body)
	w.mu.Lock()
	w.bodies = append(w.bodies, bytes.Clone(body))
	w.mu.Unlock()
	return rej, err
}

// TestReplicaWALKeepsWireBody: with every node owning every stream, the
// node that takes a push and each replica give their store the push as it
// crossed the wire, the same bytes everywhere, for the WAL; a node whose
// share differs from every peer's encodes its own record.
func TestReplicaWALKeepsWireBody(t *testing.T) {
	ring := &fakeRing{rf: 3}
	recs := make([]*walRecorder, 3)
	for i := range recs {
		recs[i] = &walRecorder{st: openStore(t)}
		addr := "unused"
		if i > 0 {
			r := mux.NewRouter()
			NewPushServer(recs[i], nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(r)
			srv := httptest.NewServer(r)
			t.Cleanup(srv.Close)
			addr = strings.TrimPrefix(srv.URL, "http://")
		}
		ring.nodes = append(ring.nodes, Peer{Name: fmt.Sprintf("n%d", i), Addr: addr})
	}
	rep := NewReplicator(ReplicatorOptions{Self: "n0", Timeout: time.Second}, ring, recs[0], nil)
	streams := streamsOf(10, 3, 1000)
	if _, err := rep.Append("t1", streams); err != nil {
		t.Fatal(err)
	}
	fresh := streamsOf(10, 3, 1000)
	want := encodePush(fresh, labelTexts(fresh), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	for i, r := range recs {
		// A push is acknowledged at its quorum; the last copy may still
		// be on its way.
		for deadline := time.Now().Add(5 * time.Second); r.appends() == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		r.mu.Lock()
		if len(r.bodies) != 1 || !bytes.Equal(r.bodies[0], want) {
			t.Errorf("node %d: %d appends, body equal to the wire's: %v", i, len(r.bodies), len(r.bodies) == 1 && bytes.Equal(r.bodies[0], want))
		}
		r.mu.Unlock()
		if got := held(t, r.st, "t1"); len(got) != 10 {
			t.Errorf("node %d holds %d streams, want 10", i, len(got))
		}
	}

	// With four nodes and RF=3 the shares differ: no body fits this
	// node's, which appends without one.
	recs[0].mu.Lock()
	recs[0].bodies = nil
	recs[0].mu.Unlock()
	ring.nodes = append(ring.nodes, Peer{Name: "n3", Addr: "127.0.0.1:1"})
	ring.down.Store("n3", true)
	if _, err := rep.Append("t1", streamsOf(40, 1, 5000)); err != nil {
		t.Fatal(err)
	}
	recs[0].mu.Lock()
	defer recs[0].mu.Unlock()
	if len(recs[0].bodies) != 1 || recs[0].bodies[0] != nil {
		t.Errorf("this node's share matches no peer's, yet it was given a body (%d appends)", len(recs[0].bodies))
	}
}

// TestPushServerInput: the internal push endpoint stores a snappy protobuf
// body and answers anything else with a 4xx that says what is wrong.
func TestPushServerInput(t *testing.T) {
	rec := &walRecorder{st: openStore(t)}
	ps := NewPushServer(rec, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	streams := streamsOf(2, 2, 1000)
	good := encodePush(streams, labelTexts(streams), []int{0, 1})
	for _, tc := range []struct {
		name, tenant, encoding string
		body                   []byte
		status                 int
		says                   string
	}{
		{"stored", "t1", "", good, http.StatusNoContent, ""},
		{"snappy named", "t1", "snappy", good, http.StatusNoContent, ""},
		{"no tenant", "", "", good, http.StatusBadRequest, "X-Scope-OrgID"},
		{"re-encoded", "t1", "gzip", good, http.StatusUnsupportedMediaType, "re-encoded"},
		{"not snappy", "t1", "", []byte("{\"streams\": []}"), http.StatusBadRequest, "snappy"},
		{"not protobuf", "t1", "", s2.EncodeSnappy(nil, []byte{0xff, 0xff, 0xff}), http.StatusBadRequest, "internal push"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, pushPath, bytes.NewReader(tc.body))
			if tc.tenant != "" {
				req.Header.Set("X-Scope-OrgID", tc.tenant)
			}
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			w := httptest.NewRecorder()
			ps.serve(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.says) {
				t.Fatalf("got %d %q, want %d saying %q", w.Code, w.Body.String(), tc.status, tc.says)
			}
		})
	}
	if got := held(t, rec.st, "t1"); len(got) != 2 {
		t.Errorf("the store holds %d streams, want 2", len(got))
	}
}
