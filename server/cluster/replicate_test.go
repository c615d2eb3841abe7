package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gorilla/mux"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// fakeRing places keys on a fixed list of nodes: the owners of a key are
// rf nodes starting at key modulo the node count.
type fakeRing struct {
	nodes []Peer
	rf    int
	down  sync.Map // name → true
}

func (f *fakeRing) Owners(key uint32, dst []Peer) []Peer {
	n := min(f.rf, len(f.nodes))
	for i := range n {
		dst = append(dst, f.nodes[(int(key)+i)%len(f.nodes)])
	}
	return dst
}

func (f *fakeRing) Healthy(name string) bool { _, down := f.down.Load(name); return !down }

func (f *fakeRing) StreamKey(tenant, ls string) uint32 {
	h := fnv.New32a()
	io.WriteString(h, tenant+"\x00"+ls)
	return h.Sum32()
}

// node is one member of a test cluster: a store and, for peers, the HTTP
// server of its internal push endpoint.
type node struct {
	st  *store.Store
	srv *httptest.Server
	app Appender // what the push server appends to (st unless replaced)
}

// testCluster builds n nodes; node 0 is the one the replicator runs on.
func testCluster(t testing.TB, n, rf int, secret []byte) (*Replicator, *fakeRing, []*node) {
	t.Helper()
	nodes := make([]*node, n)
	ring := &fakeRing{rf: rf}
	for i := range nodes {
		nd := &node{st: openStore(t)}
		nd.app = nd.st
		nodes[i] = nd
		name := fmt.Sprintf("n%d", i)
		addr := "unused"
		if i > 0 {
			r := mux.NewRouter()
			NewPushServer(nodeAppender{nd}, secret, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(r)
			nd.srv = httptest.NewServer(r)
			t.Cleanup(nd.srv.Close)
			addr = strings.TrimPrefix(nd.srv.URL, "http://")
		}
		ring.nodes = append(ring.nodes, Peer{Name: name, Addr: addr})
	}
	rep := NewReplicator(ReplicatorOptions{Self: "n0", Secret: secret, Timeout: 500 * time.Millisecond}, ring, nodes[0].st, nil)
	return rep, ring, nodes
}

// nodeAppender appends to a test node's current appender (tests replace
// it), with the push's wire body when it takes one, as the store does.
type nodeAppender struct{ nd *node }

func (a nodeAppender) Append(tenant string, s []store.Stream) ([]store.Rejected, error) {
	return a.nd.app.Append(tenant, s)
}

func (a nodeAppender) AppendEncoded(tenant string, s []store.Stream, body []byte) ([]store.Rejected, error) {
	return appendEncoded(a.nd.app, tenant, s, body)
}

type appenderFunc func(string, []store.Stream) ([]store.Rejected, error)

func (f appenderFunc) Append(tenant string, s []store.Stream) ([]store.Rejected, error) {
	return f(tenant, s)
}

// streamsOf builds n streams of k entries each, starting at t0.
func streamsOf(n, k int, t0 int64) []store.Stream {
	out := make([]store.Stream, n)
	for i := range out {
		out[i].Labels = labels.FromMap(map[string]string{"app": "a", "pod": fmt.Sprintf("p%d", i)})
		for j := range k {
			out[i].Entries = append(out[i].Entries, block.Entry{T: t0 + int64(j), Line: fmt.Appendf(nil, "line %d of %d", j, i),
				Meta: labels.FromMap(map[string]string{"trace": fmt.Sprint(j)})})
		}
	}
	return out
}

// held returns, per stream label text, the lines a store holds for tenant.
func held(t *testing.T, st *store.Store, tenant string) map[string][]string {
	t.Helper()
	it, err := st.Select(context.Background(), store.SelectParams{Tenant: tenant, Start: 0, End: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[string][]string{}
	for it.Next() {
		ls, e := it.At()
		out[ls.String()] = append(out[ls.String()], string(e.Line)+"|"+e.Meta.String())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReplicateToAllOwners(t *testing.T) {
	rep, _, nodes := testCluster(t, 3, 3, []byte("s3cret"))
	streams := streamsOf(20, 5, 1000)
	if _, err := rep.Append("t1", streams); err != nil {
		t.Fatal(err)
	}
	want := held(t, nodes[0].st, "t1")
	if len(want) != 20 {
		t.Fatalf("local store holds %d streams, want 20", len(want))
	}
	for i, nd := range nodes[1:] {
		// A peer may still be storing its share when the quorum was reached.
		eventually(t, func() bool { return len(held(t, nd.st, "t1")) == 20 })
		if got := held(t, nd.st, "t1"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("node %d holds %v, want %v", i+1, got, want)
		}
	}
}

func TestReplicateOwnersOnly(t *testing.T) {
	rep, ring, nodes := testCluster(t, 4, 2, nil)
	streams := streamsOf(40, 2, 1000)
	if _, err := rep.Append("t1", streams); err != nil {
		t.Fatal(err)
	}
	for si, s := range streams {
		owners := ring.Owners(ring.StreamKey("t1", s.Labels.String()), nil)
		for ni, nd := range nodes {
			owner := false
			for _, o := range owners {
				owner = owner || o.Name == fmt.Sprintf("n%d", ni)
			}
			got := len(held(t, nd.st, "t1")[s.Labels.String()])
			if !owner && got != 0 {
				t.Errorf("stream %d is on node %d, which does not own it", si, ni)
			}
			if owner && ni == 0 && got != 2 {
				t.Errorf("stream %d: local owner holds %d entries, want 2", si, got)
			}
		}
	}
}

func TestReplicateQuorum(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(ring *fakeRing, nodes []*node)
		wantErr error
	}{
		{name: "one peer down", prepare: func(_ *fakeRing, nodes []*node) { nodes[2].srv.Close() }},
		{name: "one peer down by gossip", prepare: func(r *fakeRing, _ []*node) { r.down.Store("n1", true) }},
		{name: "two peers down", wantErr: ErrUnavailable,
			prepare: func(_ *fakeRing, nodes []*node) { nodes[1].srv.Close(); nodes[2].srv.Close() }},
		{name: "a peer down, a peer hanging", wantErr: ErrUnavailable,
			prepare: func(_ *fakeRing, nodes []*node) {
				nodes[1].srv.Close()
				nodes[2].app = appenderFunc(func(string, []store.Stream) ([]store.Rejected, error) {
					time.Sleep(2 * time.Second)
					return nil, nil
				})
			}},
		{name: "peers' disks full", wantErr: store.ErrDiskFull,
			prepare: func(_ *fakeRing, nodes []*node) {
				for _, nd := range nodes[1:] {
					nd.app = appenderFunc(func(string, []store.Stream) ([]store.Rejected, error) { return nil, store.ErrDiskFull })
				}
			}},
		{name: "local store fails, peers store", prepare: func(_ *fakeRing, nodes []*node) { nodes[0].st.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, ring, nodes := testCluster(t, 3, 3, nil)
			tc.prepare(ring, nodes)
			begin := time.Now()
			_, err := rep.Append("t1", streamsOf(3, 3, 1000))
			if took := time.Since(begin); took > time.Second {
				t.Errorf("Append took %s; a peer's timeout is 500ms", took)
			}
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Append: %v, want success", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Append: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestReplicateWrongSecret(t *testing.T) {
	_, ring, nodes := testCluster(t, 3, 3, []byte("right"))
	rep := NewReplicator(ReplicatorOptions{Self: "n0", Secret: []byte("wrong"), Timeout: time.Second}, ring, nodes[0].st, nil)
	_, err := rep.Append("t1", streamsOf(1, 1, 1000))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Append with the wrong secret: %v, want a 401 from both peers", err)
	}
	if n := len(held(t, nodes[1].st, "t1")); n != 0 {
		t.Fatalf("a peer stored %d streams pushed with the wrong secret", n)
	}
}

func TestReplicateRejected(t *testing.T) {
	rep, _, nodes := testCluster(t, 3, 3, nil)
	if _, err := rep.Append("t1", streamsOf(2, 1, int64(3*time.Hour))); err != nil {
		t.Fatal(err)
	}
	// The push was acknowledged by a quorum; let the third replica have it
	// too, or the next push may reach it first and be in order there.
	eventually(t, func() bool {
		n := 0
		for _, nd := range nodes {
			n += len(held(t, nd.st, "t1"))
		}
		return n == 2*len(nodes)
	})
	// Two hours behind the newest entry: past the out-of-order window on
	// every replica, reported once.
	rej, err := rep.Append("t1", streamsOf(2, 1, int64(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 2 {
		t.Fatalf("rejected %v, want one entry of each of the 2 streams", rej)
	}
	for _, nd := range nodes {
		for _, lines := range held(t, nd.st, "t1") {
			if len(lines) != 1 {
				t.Fatalf("a replica holds %v", lines)
			}
		}
	}
}

// TestReplicateRetry is a client re-sending a push whose answer it lost:
// every replica holds each entry once.
func TestReplicateRetry(t *testing.T) {
	rep, _, nodes := testCluster(t, 3, 3, nil)
	for range 3 {
		if _, err := rep.Append("t1", streamsOf(4, 10, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	for i, nd := range nodes {
		eventually(t, func() bool { return len(held(t, nd.st, "t1")) == 4 })
		for s, lines := range held(t, nd.st, "t1") {
			if len(lines) != 10 {
				t.Errorf("node %d, stream %s: %d entries, want 10", i, s, len(lines))
			}
		}
	}
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicateUnreachable: a peer that does not answer is reported, one
// that answers (even with an error) is not.
func TestReplicateUnreachable(t *testing.T) {
	_, ring, nodes := testCluster(t, 3, 3, nil)
	nodes[1].srv.Close()
	nodes[2].app = appenderFunc(func(string, []store.Stream) ([]store.Rejected, error) { return nil, store.ErrDiskFull })
	var told sync.Map
	rep := NewReplicator(ReplicatorOptions{Self: "n0", Timeout: time.Second, Unreachable: func(n string) { told.Store(n, true) }},
		ring, nodes[0].st, nil)
	if _, err := rep.Append("t1", streamsOf(1, 1, 1000)); err == nil {
		t.Fatal("a push with one peer gone and one full stored on a quorum")
	}
	if _, ok := told.Load("n1"); !ok {
		t.Error("the closed peer was not reported unreachable")
	}
	if _, ok := told.Load("n2"); ok {
		t.Error("a peer that answered was reported unreachable")
	}
}

// TestEncodePushRoundTrip: what a peer decodes from a share is the chosen
// streams, entries, timestamps and metadata as they were.
func TestEncodePushRoundTrip(t *testing.T) {
	awkward := []store.Stream{{
		Labels: labels.FromMap(map[string]string{"app": `quo"te\`, "z": "ünï"}),
		Entries: []block.Entry{
			{T: -1_500_000_001, Line: []byte("before 1970")},
			{T: 0, Line: nil},
			{T: 1<<62 + 7, Line: []byte("x\x00y\n"), Meta: labels.Labels{{Name: "b", Value: ""}, {Name: "a", Value: "1"}}},
		},
	}}
	for _, tc := range []struct {
		name    string
		streams []store.Stream
		which   []int
	}{
		{"all", streamsOf(5, 3, 1000), []int{0, 1, 2, 3, 4}},
		{"some, in order", streamsOf(5, 3, 1000), []int{1, 3}},
		{"awkward", awkward, []int{0}},
		{"the bench's", benchPush(), []int{0, 50, 99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := push.ReadBody(bytes.NewReader(encodePush(tc.streams, labelTexts(tc.streams), tc.which)), "", "application/x-protobuf", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var req push.Request
			if err := push.DecodeProto(body, &req); err != nil {
				t.Fatal(err)
			}
			got, err := toStreams(&req, newLabelCache(10), nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []store.Stream
			for _, si := range tc.which {
				want = append(want, tc.streams[si])
			}
			if fmt.Sprint(streamText(got)) != fmt.Sprint(streamText(want)) {
				t.Errorf("decoded\n%v\nwant\n%v", streamText(got), streamText(want))
			}
		})
	}
}

// streamText renders streams for comparison: labels, and each entry's
// timestamp, line and metadata.
func streamText(ss []store.Stream) []string {
	var out []string
	for _, s := range ss {
		for _, e := range s.Entries {
			out = append(out, fmt.Sprintf("%s %d %q %s", s.Labels, e.T, e.Line, e.Meta))
		}
	}
	return out
}

// TestEncodeSharesOnce: peers that own the same streams are sent one body,
// encoded once; a peer with other streams gets its own; this node the body
// of a peer that owns the same streams (for its WAL), and none when no
// peer does.
func TestEncodeSharesOnce(t *testing.T) {
	rep := NewReplicator(ReplicatorOptions{Self: "n1"}, &fakeRing{}, nil, nil)
	streams := streamsOf(4, 2, 1000)
	targets := []target{
		{peer: Peer{Name: "n0"}, streams: []int{0, 1, 2}},
		{peer: Peer{Name: "n1"}, streams: []int{0, 1, 2}},
		{peer: Peer{Name: "n2"}, streams: []int{0, 1, 2}},
		{peer: Peer{Name: "n3"}, streams: []int{1, 2, 3}},
		{peer: Peer{Name: "n4"}, streams: []int{0, 1}},
	}
	bodies, local := rep.encodeShares(streams, labelTexts(streams), targets)
	same := func(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }
	if local != 1 || !same(bodies[1], bodies[0]) {
		t.Fatalf("local = %d, want 1 with n0's body", local)
	}
	if !same(bodies[0], bodies[2]) {
		t.Error("n0 and n2 own the same streams but were encoded apart")
	}
	targets[1].streams = []int{0, 2}
	if bodies, _ := rep.encodeShares(streams, labelTexts(streams), targets); bodies[1] != nil {
		t.Error("this node owns streams no peer owns alike, yet got a body")
	}
	for _, i := range []int{3, 4} {
		if same(bodies[0], bodies[i]) || !bytes.Equal(bodies[i], encodePush(streams, labelTexts(streams), targets[i].streams)) {
			t.Errorf("n%d: its own streams were not encoded for it", i)
		}
	}
}

// TestReplicateReusedBodies: a peer decodes each push into memory it reuses
// for the next; what the store keeps of earlier pushes must not change.
func TestReplicateReusedBodies(t *testing.T) {
	rep, _, nodes := testCluster(t, 3, 3, nil)
	for i := range 5 {
		streams := streamsOf(10, 3, int64(1000*i))
		for j := range streams {
			streams[j].Labels = labels.FromMap(map[string]string{"app": "a", "pod": fmt.Sprintf("p%d-push%d", j, i)})
		}
		if _, err := rep.Append("t1", streams); err != nil {
			t.Fatal(err)
		}
	}
	want := held(t, nodes[0].st, "t1")
	if len(want) != 50 {
		t.Fatalf("local store holds %d streams, want 50", len(want))
	}
	for i, nd := range nodes[1:] {
		eventually(t, func() bool { return len(held(t, nd.st, "t1")) == 50 })
		if got := held(t, nd.st, "t1"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("node %d holds %v, want %v", i+1, got, want)
		}
	}
}

// TestLabelCache: answers as labels.Parse does, keeps nothing of the text's
// memory, and stays within its bound.
func TestLabelCache(t *testing.T) {
	lc := newLabelCache(4)
	buf := []byte(`{app="api", pod="p-0"}`)
	for i := range 20 {
		buf[len(buf)-3] = byte('0' + i%10)
		text := unsafe.String(unsafe.SliceData(buf), len(buf))
		want, _ := labels.Parse(strings.Clone(text))
		for range 2 { // a miss, then a hit
			got, err := lc.parse(text)
			if err != nil || !got.Equal(want) {
				t.Fatalf("parse(%s) = %v, %v; want %v", text, got, err, want)
			}
		}
		if len(lc.m) > 4 {
			t.Fatalf("%d entries cached, bound 4", len(lc.m))
		}
	}
	for k, v := range lc.m {
		if want, _ := labels.Parse(k); !v.Equal(want) || !strings.HasPrefix(k, `{app="api", pod="p-`) {
			t.Fatalf("entry %q → %v changed with the text's memory", k, v)
		}
	}
	if _, err := lc.parse(`{app=}`); err == nil {
		t.Error("a bad label set was accepted")
	}
}
