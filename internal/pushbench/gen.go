package main

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/s2"

	"github.com/loam-logs/loam/server/push"
)

// The lines and label sets are those of the load tool the reference figures
// were measured with (../shared/bench), so that figures stay comparable:
// JSON API log lines of about 190 bytes, streams spread over 20 namespaces,
// 50 apps, 3 containers and 7 nodes.

var words = strings.Fields("GET POST PUT request served payment accepted upstream timeout cache miss user order " +
	"status duration bytes level info warn error debug reconcile lease pod node container handler db query")

var statuses = []int{200, 200, 200, 201, 404, 500}

// line is one JSON API log line with a fresh request id.
func line(r *rand.Rand) string {
	return fmt.Sprintf(`{"level":"%s","msg":"%s %s","path":"/v1/%s/%d","status":%d,"duration":"%.1fms","request_id":"%016x%016x","user":%d}`,
		words[13+r.Intn(4)], words[r.Intn(len(words))], words[r.Intn(len(words))], words[r.Intn(len(words))],
		r.Intn(10000), statuses[r.Intn(len(statuses))], r.Float64()*900, r.Uint64(), r.Uint64(), r.Intn(500))
}

// pad lengthens a JSON line made by line to n bytes with a "detail" field
// of words and numbers drawn from r, text as compressible as the rest of
// the line; a line already n bytes long or longer, or too short for the
// field, is returned as it is.
func pad(r *rand.Rand, l string, n int) string {
	const open, closing = `,"detail":"`, `"}`
	if len(l)+len(open)+len(closing) > n {
		return l
	}
	b := make([]byte, 0, n)
	b = append(b, l[:len(l)-1]...)
	b = append(b, open...)
	for len(b) < n-len(closing) {
		if r.Intn(4) == 0 {
			b = strconv.AppendInt(b, int64(r.Intn(100000)), 10)
		} else {
			b = append(b, words[r.Intn(len(words))]...)
		}
		b = append(b, ' ')
	}
	b = append(b[:n-len(closing)], closing...)
	return string(b)
}

// requestID is the request id of a line made by line.
func requestID(l string) string {
	const key = `"request_id":"`
	i := strings.Index(l, key)
	if i < 0 || len(l) < i+len(key)+32 {
		return ""
	}
	return l[i+len(key) : i+len(key)+32]
}

// streamLabels is the label set of stream i:
// {cluster="lab", namespace="ns-<i%20>", pod="app-<i%50>-<i, 4 digits>", container="c<i%3>", node="node-<i%7>", job="bench"}.
func streamLabels(i int) string {
	b := make([]byte, 0, 112)
	b = append(b, `{cluster="lab", namespace="ns-`...)
	b = strconv.AppendInt(b, int64(i%20), 10)
	b = append(b, `", pod="app-`...)
	b = strconv.AppendInt(b, int64(i%50), 10)
	b = append(b, '-')
	for d := 1000; d > 1 && i < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `", container="c`...)
	b = strconv.AppendInt(b, int64(i%3), 10)
	b = append(b, `", node="node-`...)
	b = strconv.AppendInt(b, int64(i%7), 10)
	b = append(b, `", job="bench"}`...)
	return string(b)
}

// shared is what every worker's generator reads; only the counters change.
type shared struct {
	labels []string // of every stream
	pool   []string // lines reused when not -unique
	unique bool
	size   int // bytes each line is padded to (0: not padded)

	// With total and span set, line n of the run (counted across workers)
	// gets the timestamp spanStart + n·span/total.
	total, span, spanStart int64

	seq    atomic.Int64 // lines generated so far
	needle atomic.Value // string: one request id that was generated
}

// newShared prepares the label sets and, unless every line is generated
// afresh, a pool of 4,096 lines; size pads every line to that many bytes.
func newShared(streams int, unique bool, size int, seed int64) *shared {
	sh := &shared{labels: make([]string, streams), unique: unique, size: size}
	for i := range sh.labels {
		sh.labels[i] = streamLabels(i)
	}
	r := rand.New(rand.NewSource(seed))
	sh.pool = make([]string, 4096)
	for i := range sh.pool {
		sh.pool[i] = sh.line(r)
	}
	return sh
}

// line makes one line, padded to the size asked for.
func (sh *shared) line(r *rand.Rand) string {
	if sh.size > 0 {
		return pad(r, line(r), sh.size)
	}
	return line(r)
}

// generator builds the push requests of one worker. It is not safe for
// concurrent use; the bodies it returns are valid until its next batch.
type generator struct {
	sh      *shared
	r       *rand.Rand
	ts      []int64 // last timestamp of every stream, as this worker sent it
	streams []push.Stream
	entries []push.Entry
	raw     []byte
	body    []byte
}

// newGenerator makes the generator of one worker: n streams of per lines
// in every batch, timestamps from start on.
func newGenerator(sh *shared, seed int64, n, per int, start int64) *generator {
	g := &generator{sh: sh, r: rand.New(rand.NewSource(seed)), ts: make([]int64, len(sh.labels)),
		streams: make([]push.Stream, n), entries: make([]push.Entry, n*per)}
	for i := range g.ts {
		g.ts[i] = start
	}
	for i := range g.streams {
		g.streams[i].Entries = g.entries[i*per : (i+1)*per]
	}
	return g
}

// batch returns a snappy-compressed protobuf push of the streams from first
// on (wrapping around), and the bytes of its lines.
func (g *generator) batch(first int) (body []byte, lineBytes int64) {
	sh := g.sh
	for i := range g.streams {
		id := (first + i) % len(sh.labels)
		s := &g.streams[i]
		s.Labels = sh.labels[id]
		for k := range s.Entries {
			n := sh.seq.Add(1)
			t := g.ts[id] + int64(1000+g.r.Intn(1000))
			if sh.span > 0 && sh.total > 0 {
				t = max(sh.spanStart+int64(float64(n)*float64(sh.span)/float64(sh.total)), g.ts[id]+1)
			}
			g.ts[id] = t
			var l string
			if sh.unique {
				l = sh.line(g.r)
				if k == 0 && sh.needle.Load() == nil && n >= sh.total/2 {
					sh.needle.CompareAndSwap(nil, requestID(l))
				}
			} else {
				l = sh.pool[g.r.Intn(len(sh.pool))]
			}
			s.Entries[k] = push.Entry{Timestamp: t, Line: l}
			lineBytes += int64(len(l))
		}
	}
	g.raw = push.EncodeProto(g.raw[:0], &push.Request{Streams: g.streams})
	g.body = s2.EncodeSnappy(g.body[:cap(g.body)], g.raw)
	return g.body, lineBytes
}
