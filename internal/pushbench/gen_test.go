package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"regexp"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/loam-logs/loam/server/push"
)

func TestLine(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	ids := map[string]bool{}
	for range 1000 {
		l := line(r)
		var v struct {
			Level, Msg, Path, Duration string
			Status, User               int
			RequestID                  string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		if v.Level == "" || v.Msg == "" || v.Path == "" || v.Duration == "" || v.Status < 200 || v.User < 0 {
			t.Fatalf("line %s lacks a field", l)
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(v.RequestID) || requestID(l) != v.RequestID {
			t.Fatalf("line %s: request id %q, requestID %q", l, v.RequestID, requestID(l))
		}
		ids[v.RequestID] = true
	}
	if len(ids) != 1000 {
		t.Errorf("%d distinct request ids in 1000 lines", len(ids))
	}
	if requestID(`{"msg":"x"}`) != "" {
		t.Errorf("requestID of a line without one")
	}
}

func TestPad(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 100, 200, 250, 1000, 4096} {
		for range 200 {
			l := line(r)
			p := pad(r, l, n)
			if len(l)+len(`,"detail":""}`) > n {
				if p != l {
					t.Fatalf("pad(%d) of a %d-byte line changed it: %s", n, len(l), p)
				}
				continue
			}
			if len(p) != n {
				t.Fatalf("pad(%d) made %d bytes: %s", n, len(p), p)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(p), &v); err != nil {
				t.Fatalf("pad(%d): %s: %v", n, p, err)
			}
			if v["request_id"] != requestID(l) || v["detail"] == nil {
				t.Fatalf("pad(%d) lost the line's fields: %s", n, p)
			}
		}
	}
	sh := newShared(1, false, 500, 1)
	for _, l := range sh.pool {
		if len(l) != 500 {
			t.Fatalf("a pool line of %d bytes, want 500", len(l))
		}
	}
}

func TestStreamLabels(t *testing.T) {
	if got, want := streamLabels(1234), `{cluster="lab", namespace="ns-14", pod="app-34-1234", container="c1", node="node-2", job="bench"}`; got != want {
		t.Errorf("streamLabels(1234) = %s, want %s", got, want)
	}
	for _, i := range []int{0, 7, 42, 999, 1000, 299999} {
		want := fmt.Sprintf(`{cluster="lab", namespace="ns-%d", pod="app-%d-%04d", container="c%d", node="node-%d", job="bench"}`,
			i%20, i%50, i, i%3, i%7)
		if got := streamLabels(i); got != want {
			t.Errorf("streamLabels(%d) = %s, want %s", i, got, want)
		}
	}
}

// decode undoes a batch's snappy and protobuf.
func decode(t *testing.T, body []byte) *push.Request {
	t.Helper()
	raw, err := s2.Decode(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	req := &push.Request{}
	if err := push.DecodeProto(raw, req); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestBatch(t *testing.T) {
	for _, tc := range []struct {
		streams, n, per int
		unique          bool
	}{
		{100, 100, 10, false},
		{1000, 100, 10, true},
		{300000, 500, 2, false}, // the many-streams load
		{7, 3, 4, false},        // fewer streams than a push walks through: wraps
	} {
		t.Run(fmt.Sprintf("%d streams, %d×%d", tc.streams, tc.n, tc.per), func(t *testing.T) {
			sh := newShared(tc.streams, tc.unique, 0, 1)
			g := newGenerator(sh, 2, tc.n, tc.per, 1e18)
			last := map[string]int64{}
			pool := map[string]bool{}
			for _, l := range sh.pool {
				pool[l] = true
			}
			first := tc.streams - 2 // so that a push wraps around
			for range 3 {
				body, size := g.batch(first)
				req := decode(t, body)
				if len(req.Streams) != tc.n {
					t.Fatalf("%d streams in a push, want %d", len(req.Streams), tc.n)
				}
				var got int64
				for i, s := range req.Streams {
					if want := streamLabels((first + i) % tc.streams); s.Labels != want {
						t.Fatalf("stream %d of the push is %s, want %s", i, s.Labels, want)
					}
					if len(s.Entries) != tc.per {
						t.Fatalf("%d entries in a stream, want %d", len(s.Entries), tc.per)
					}
					for _, e := range s.Entries {
						if e.Timestamp <= last[s.Labels] {
							t.Fatalf("stream %s: timestamp %d after %d", s.Labels, e.Timestamp, last[s.Labels])
						}
						last[s.Labels] = e.Timestamp
						if pool[e.Line] == tc.unique {
							t.Fatalf("line %s: in the pool %v, unique lines %v", e.Line, pool[e.Line], tc.unique)
						}
						got += int64(len(e.Line))
					}
				}
				if got != size {
					t.Fatalf("batch says %d bytes of lines, the push holds %d", size, got)
				}
				first = (first + tc.n) % tc.streams
			}
			if id, _ := sh.needle.Load().(string); tc.unique != (id != "") {
				t.Errorf("needle %q with unique lines %v", id, tc.unique)
			}
		})
	}
}

// TestBatchSpan: with -total and -span the timestamps of all workers
// together spread evenly over the span, in order of generation.
func TestBatchSpan(t *testing.T) {
	const total, span, start = 4000, int64(3600e9), int64(1e18)
	sh := newShared(100, true, 0, 1)
	sh.total, sh.span, sh.spanStart = total, span, start
	gs := []*generator{newGenerator(sh, 2, 100, 10, start), newGenerator(sh, 3, 100, 10, start+1e6)}
	var lo, hi int64 = 1 << 62, 0
	for i := range 4 {
		body, _ := gs[i%2].batch(i * 100)
		for _, s := range decode(t, body).Streams {
			for _, e := range s.Entries {
				lo, hi = min(lo, e.Timestamp), max(hi, e.Timestamp)
			}
		}
	}
	if lo < start || lo > start+span/total*2 || hi < start+span-span/total*2 || hi > start+span+1e6 {
		t.Errorf("timestamps from %d to %d, want the span %d..%d", lo-start, hi-start, 0, span)
	}
	id, _ := sh.needle.Load().(string)
	if id == "" {
		t.Errorf("no needle after %d of %d lines", sh.seq.Load(), total)
	}
}
