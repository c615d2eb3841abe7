package api

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	jsoniter "github.com/json-iterator/go"

	"github.com/loam-logs/loam/server/api/queue"
	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/logql/pipeline"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/tenants"
)

// Live tail: GET /loki/api/v1/tail, a websocket, as Grafana's Live mode and
// `logcli query --tail` use it. Like Loki, it first sends the newest `limit`
// matching entries from `start` until now (oldest first), then every
// matching entry as it is pushed. Each message is
//
//	{"streams":[{"stream":{…},"values":[["<ns>","<line>"],…]},…],
//	 "dropped_entries":[{"timestamp":"<ns>","labels":{…}},…]}
//
// with dropped_entries only when the client was too slow and entries were
// left out. When the request has encoding flags (see encoding.go), every
// message lists them last, "encodingFlags":[…], and under categorize-labels
// its streams and values have the categorized shape, as Loki's querier
// sends them. Bad parameters are answered with HTTP 400 before the upgrade;
// failures after it close the websocket with a status and a reason.

const (
	tailMaxDelayFor   = 5                // seconds: Loki's limit for delay_for
	tailPingPeriod    = time.Second      // as Loki's querier: finds dead connections when nothing is sent
	tailPongWait      = time.Minute      // a client that answers no ping for this long is gone
	tailWriteTimeout  = 15 * time.Second // a client that reads nothing for this long is cut off
	tailMaxDuration   = time.Hour        // Loki's default tail_max_duration
	tailMaxPerTenant  = 10               // Loki's default max_concurrent_tail_requests
	tailMaxPerMessage = 100              // entries per message, as Loki's querier sends them
	tailMaxDrops      = 1000             // dropped entries listed in one message, as Loki
	tailMaxHeld       = 10_000           // entries held back for delay_for; past that they are sent early
	tailDedupWindow   = 2 * time.Second  // how long live entries are checked against the history sent
)

// tailFilter decides what a tail shows of one entry of a stream matching the
// query's selector: its labels (all of them, and by category), its line, and
// whether it is shown at all. It is called from one goroutine, so it may keep state. It
// must not modify its arguments. What it returns is kept after it returns:
// the labels must not change, and the line is either its argument or memory
// the filter does not reuse.
//
// newTailFilter builds it from the query. Today it applies the line filters;
// the full LogQL pipeline (parsers, label filters, line_format) replaces it
// there, and the handler needs no other change.
type tailFilter func(stream labels.Labels, ts int64, line []byte, meta labels.Labels) (*pipeline.Result, []byte, bool)

// newTailFilter is the swap point for the full pipeline: it compiles the
// pipeline of expr into a tailFilter. Until the pipeline can run, a query
// with any stage but line filters is refused rather than half applied.
func newTailFilter(expr *logql.LogSelectorExpr) (tailFilter, error) {
	pl, err := pipeline.New(expr)
	if err != nil {
		return nil, err
	}
	// A pipeline serves one goroutine at a time; its per-stream state is
	// kept per stream.
	var mu sync.Mutex
	streams := map[uint64]*pipeline.StreamPipeline{}
	return func(stream labels.Labels, ts int64, line []byte, meta labels.Labels) (*pipeline.Result, []byte, bool) {
		mu.Lock()
		defer mu.Unlock()
		h := stream.Hash()
		sp := streams[h]
		if sp == nil {
			sp = pl.ForStream(stream)
			streams[h] = sp
		}
		out, r, ok := sp.Process(ts, line, meta)
		if !ok {
			return nil, nil, false
		}
		// The line may alias the pipeline's or the caller's buffer; a
		// Result is never changed once made.
		return r, bytes.Clone(out), true
	}, nil
}

// untagTenant runs f on the streams of a multi-tenant tail, which carry
// their tenant (see tenants.Reader), without it, and tags what f answers,
// as the engine does for queries: the pipeline does not see the tenant.
func untagTenant(f tailFilter) tailFilter {
	type split struct {
		stream, rest labels.Labels
		id           string
	}
	var mu sync.Mutex // f serialises itself; this guards the cache
	splits := map[uint64]split{}
	return func(stream labels.Labels, ts int64, line []byte, meta labels.Labels) (*pipeline.Result, []byte, bool) {
		h := stream.Hash()
		mu.Lock()
		s, ok := splits[h]
		if !ok || !s.stream.Equal(stream) { // a hash is not proof
			rest, id, tagged := tenants.Untag(stream)
			if !tagged {
				mu.Unlock()
				return f(stream, ts, line, meta)
			}
			s = split{stream, rest, id}
			if len(splits) < 1<<16 {
				splits[h] = s
			}
		}
		mu.Unlock()
		r, out, kept := f(s.rest, ts, line, meta)
		if !kept {
			return nil, nil, false
		}
		return tenants.TagResult(r, s.id), out, true
	}
}

// tailParams are the parameters of a tail request.
type tailParams struct {
	query    string
	expr     *logql.LogSelectorExpr
	filter   tailFilter
	start    time.Time
	limit    int
	delayFor time.Duration
}

// parseTailParams reads Loki's tail parameters: query; start (default an
// hour ago); limit of the entries sent from before the request (default
// 100); delay_for, whole seconds from 0 to 5 to hold entries back so that
// late ones are sent in time order.
func (a *API) parseTailParams(r *http.Request) (tailParams, error) {
	if err := r.ParseForm(); err != nil {
		return tailParams{}, errBad("cannot parse the form: %v", err)
	}
	p := tailParams{query: r.Form.Get("query"), limit: 100}
	if p.query == "" {
		return p, errBad("missing query parameter: pass query=<LogQL>")
	}
	expr, err := logql.ParseLogSelector(p.query)
	if err != nil {
		return p, queryError(err)
	}
	p.expr = expr
	if p.filter, err = newTailFilter(expr); err != nil {
		return p, queryError(err)
	}
	if p.start, err = parseTime("start", r.Form.Get("start"), a.now().Add(-time.Hour)); err != nil {
		return p, err
	}
	if v := r.Form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return p, errBad("invalid limit %q: must be a positive integer", v)
		}
		p.limit = n
	}
	// Loki does not bound the history of a tail by max_entries_limit_per_query;
	// rather than refuse such a client, send it that many at most.
	if most := a.limits(r).MaxEntriesLimitPerQuery; most > 0 {
		p.limit = min(p.limit, most)
	}
	if v := r.Form.Get("delay_for"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errBad("invalid delay_for %q: must be a whole number of seconds", v)
		}
		if n > tailMaxDelayFor {
			return p, errBad("delay_for can't be greater than %d", tailMaxDelayFor)
		}
		p.delayFor = time.Duration(n) * time.Second
	}
	return p, nil
}

// tailUpgrader accepts any origin, as Loki does: Grafana reaches the tail
// through its own proxy, from another origin.
var tailUpgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (a *API) handleTail(w http.ResponseWriter, r *http.Request, be *backend) {
	p, err := a.parseTailParams(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	tenant, err := a.tenant(r)
	if err != nil {
		a.answerError(w, r, err)
		return
	}
	if tenants.IsMulti(tenant) {
		p.filter = untagTenant(p.filter)
	}
	if n := a.reader(be, tenant).Subscribers(tenant); n >= tailMaxPerTenant {
		a.answerError(w, r, errBad("max concurrent tail requests limit exceeded, count > limit (%d > %d)", n+1, tailMaxPerTenant))
		return
	}
	conn, err := tailUpgrader.Upgrade(hijacker{w}, r, nil)
	if err != nil {
		return // Upgrade has answered with an HTTP error
	}
	if rec, ok := w.(*statusRecorder); ok && rec.status == 0 {
		// Recorded for the metrics; it also keeps the panic handler from
		// writing a response on the hijacked connection.
		rec.status = http.StatusSwitchingProtocols
	}
	defer conn.Close()
	// Subscribe before reading the history, so that nothing pushed in
	// between is missed; what is then in both is sent once (see seen).
	sub, err := a.reader(be, tenant).Subscribe(tenant, p.expr.Matchers, store.TailOptions{})
	if err != nil {
		if errors.Is(err, fanout.ErrUnavailable) {
			closeTail(conn, websocket.CloseTryAgainLater, err.Error())
			return
		}
		closeTail(conn, websocket.CloseGoingAway, "server shutting down")
		return
	}
	defer sub.Close()

	t := &tailer{conn: conn, sub: sub, filter: p.filter, delay: p.delayFor, flags: requestEncodingFlags(r), now: a.now}
	a.log.Info("tail started", "tenant", tenant, "query", p.query)
	reason := t.run(r.Context(), a, be, tenant, p)
	a.log.Info("tail ended", "tenant", tenant, "query", p.query, "reason", reason,
		"entries_sent", t.sent, "entries_dropped", sub.Dropped())
}

// hijacker gives the websocket upgrader the connection behind the
// middleware's response writer, which only unwraps.
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// closeTail sends a close message; a control frame holds at most 123 bytes
// of reason.
func closeTail(conn *websocket.Conn, code int, reason string) error {
	if len(reason) > 123 {
		reason = reason[:123]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// tailer is the state of one tail connection, used by its goroutine only.
type tailer struct {
	conn   *websocket.Conn
	sub    store.Tail
	filter tailFilter
	delay  time.Duration
	flags  encodingFlags // listed in every message; categorize-labels shapes them
	now    func() time.Time

	held      tailHeap            // entries to send, by time; held back until delay_for passed
	seq       uint64              // arrival order, for ties in held
	drops     []store.TailDrop    // to report with the next message
	seen      map[string]struct{} // keys of the history entries sent, against duplicates
	seenUntil time.Time           // when seen is dropped
	keyBuf    []byte              // scratch for key
	msg       []tailEntry         // the entries of the message being written
	sent      int                 // entries sent
}

// tailEntry is one entry to send, with its labels.
type tailEntry struct {
	lr   *pipeline.Result
	t    int64
	line []byte
	seq  uint64
}

// run serves the tail until the client leaves or something ends it, closes
// the connection, and returns why it ended.
func (t *tailer) run(ctx context.Context, a *API, be *backend, tenant string, p tailParams) string {
	readDone := make(chan struct{})
	t.conn.SetReadLimit(4096) // clients send nothing but control frames
	t.conn.SetReadDeadline(time.Now().Add(tailPongWait))
	t.conn.SetPongHandler(func(string) error {
		return t.conn.SetReadDeadline(time.Now().Add(tailPongWait))
	})
	go func() {
		// Reading processes pings, pongs and the client's close message.
		defer close(readDone)
		for {
			if _, _, err := t.conn.NextReader(); err != nil {
				return
			}
		}
	}()
	code, reason := t.serve(ctx, readDone, a, be, tenant, p)
	if code != 0 && closeTail(t.conn, code, reason) == nil {
		// Give the client a moment to answer the close message, so that
		// closing the socket does not reset it before the client read ours.
		select {
		case <-readDone:
		case <-time.After(time.Second):
		}
	}
	t.conn.Close()
	<-readDone
	return reason
}

// serve sends the history, then live entries, until the client leaves or
// something fails. It returns the close status to send (0 for none) and why
// the tail ended.
func (t *tailer) serve(ctx context.Context, readDone <-chan struct{}, a *API, be *backend, tenant string, p tailParams) (int, string) {
	if err := t.history(ctx, readDone, a, be, tenant, p); err != nil {
		select {
		case <-readDone:
			return 0, "client closed the connection"
		default:
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return websocket.CloseInternalServerErr, "query timed out after " + time.Duration(a.limitsFor(tenant).QueryTimeout).String() + ": use a later start or a narrower selector"
		}
		if errors.Is(err, queue.ErrTooManyRequests) {
			return websocket.CloseTryAgainLater, err.Error()
		}
		return websocket.CloseInternalServerErr, err.Error()
	}
	ping := time.NewTicker(tailPingPeriod)
	defer ping.Stop()
	maxDuration := time.NewTimer(tailMaxDuration)
	defer maxDuration.Stop()
	release := time.NewTimer(time.Hour)
	defer release.Stop()
	for {
		if err := t.flush(false); err != nil {
			return 0, "write failed: " + err.Error()
		}
		if len(t.held) > 0 {
			wait := time.Duration(t.held[0].t + int64(t.delay) - t.now().UnixNano() + 1)
			release.Reset(min(max(wait, time.Millisecond), time.Hour))
		}
		select {
		case <-t.sub.Ready():
			t.take()
		case <-release.C:
		case <-ping.C:
			if err := t.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(tailWriteTimeout)); err != nil {
				return 0, "ping failed: " + err.Error()
			}
		case <-readDone:
			return 0, "client closed the connection"
		case <-t.sub.Stopping():
			t.take()
			if err := t.flush(true); err != nil {
				return 0, "write failed: " + err.Error()
			}
			return websocket.CloseGoingAway, "server shutting down"
		case <-maxDuration.C:
			return websocket.CloseInternalServerErr, "reached tail max duration limit"
		}
	}
}

// history queues the newest p.limit matching entries from p.start until now.
// It gives up when readDone is closed: the client left.
func (t *tailer) history(ctx context.Context, readDone <-chan struct{}, a *API, be *backend, tenant string, p tailParams) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.limitsFor(tenant).QueryTimeout))
	defer cancel()
	go func() {
		select {
		case <-readDone:
			cancel()
		case <-ctx.Done():
		}
	}()
	end := t.now()
	if !p.start.Before(end) {
		return nil
	}
	// Reading the history is a query and takes a slot; following the
	// live entries holds none.
	release, err := a.acquireQuery(ctx, tenant)
	if err != nil {
		return err
	}
	defer release()
	it, err := a.reader(be, tenant).Select(ctx, store.SelectParams{
		Tenant: tenant, Matchers: p.expr.Matchers,
		Start: p.start.UnixNano(), End: end.UnixNano(),
		Direction: store.Backward, Needles: p.expr.Needles(),
	})
	if err != nil {
		return err
	}
	defer it.Close()
	var es []tailEntry
	for len(es) < p.limit && it.Next() {
		stream, e := it.At()
		lr, line, ok := t.filter(stream, e.T, e.Line, e.Meta)
		if !ok {
			continue
		}
		// The iterator reuses the line's memory.
		es = append(es, tailEntry{lr: lr, t: e.T, line: slices.Clone(line)})
		if len(es)%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	t.seen = make(map[string]struct{}, len(es))
	t.seenUntil = time.Now().Add(tailDedupWindow)
	for i := len(es) - 1; i >= 0; i-- {
		t.seen[string(t.key(&es[i]))] = struct{}{}
		t.hold(es[i])
	}
	return nil
}

// key identifies an entry to tell the live copy of a history entry.
func (t *tailer) key(e *tailEntry) []byte {
	b := e.lr.All.AppendString(t.keyBuf[:0])
	b = strconv.AppendInt(b, e.t, 10)
	b = append(b, 0)
	b = append(b, e.line...)
	t.keyBuf = b
	return b
}

func (t *tailer) hold(e tailEntry) {
	t.seq++
	e.seq = t.seq
	heap.Push(&t.held, e)
}

// take moves what the subscription queued into held, through the filter.
func (t *tailer) take() {
	batches, drops := t.sub.Take()
	if room := tailMaxDrops - len(t.drops); room > 0 {
		t.drops = append(t.drops, drops[:min(room, len(drops))]...)
	}
	if t.seen != nil && time.Now().After(t.seenUntil) {
		t.seen = nil
	}
	for _, b := range batches {
		for _, e := range b.Entries {
			lr, line, ok := t.filter(b.Labels, e.T, e.Line, e.Meta)
			if !ok {
				continue
			}
			te := tailEntry{lr: lr, t: e.T, line: line}
			if t.seen != nil {
				if _, dup := t.seen[string(t.key(&te))]; dup {
					continue
				}
			}
			t.hold(te)
		}
	}
}

// flush sends, in time order, the held entries whose delay has passed (all
// of them when all is set), and the drops to report. Entries beyond
// tailMaxHeld are sent without waiting.
func (t *tailer) flush(all bool) error {
	now := t.now().UnixNano()
	for {
		t.msg = t.msg[:0]
		for len(t.held) > 0 && len(t.msg) < tailMaxPerMessage {
			// Loki sends an entry once now is after its timestamp plus the delay.
			if !all && t.held[0].t+int64(t.delay) >= now && len(t.held) <= tailMaxHeld {
				break
			}
			t.msg = append(t.msg, heap.Pop(&t.held).(tailEntry))
		}
		if len(t.msg) == 0 && len(t.drops) == 0 {
			return nil
		}
		if err := t.write(); err != nil {
			return err
		}
		if len(t.msg) < tailMaxPerMessage {
			return nil
		}
	}
}

// write sends t.msg and t.drops as one message. Consecutive entries of the
// same labels share a stream object, so that the entries stay in time order
// for clients that print stream by stream (logcli); under categorize-labels
// the same stream labels suffice.
func (t *tailer) write() error {
	categorize := t.flags.categorize()
	shown := func(e *tailEntry) labels.Labels {
		if categorize {
			return e.lr.Stream
		}
		return e.lr.All
	}
	t.conn.SetWriteDeadline(time.Now().Add(tailWriteTimeout))
	w, err := t.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	s := jsonAPI.BorrowStream(w)
	defer jsonAPI.ReturnStream(s)
	s.WriteObjectStart()
	s.WriteObjectField("streams")
	s.WriteArrayStart()
	for i := 0; i < len(t.msg); {
		j := i + 1
		for j < len(t.msg) && shown(&t.msg[j]).Equal(shown(&t.msg[i])) {
			j++
		}
		if i > 0 {
			s.WriteMore()
		}
		s.WriteObjectStart()
		s.WriteObjectField("stream")
		writeLabels(s, shown(&t.msg[i]))
		s.WriteMore()
		s.WriteObjectField("values")
		s.WriteArrayStart()
		for k, e := range t.msg[i:j] {
			if k > 0 {
				s.WriteMore()
			}
			s.WriteArrayStart()
			s.WriteString(strconv.FormatInt(e.t, 10))
			s.WriteMore()
			s.WriteString(string(e.line))
			if categorize {
				s.WriteMore()
				writeEntryLabels(s, e.lr.Metadata, e.lr.Parsed)
			}
			s.WriteArrayEnd()
		}
		s.WriteArrayEnd()
		s.WriteObjectEnd()
		i = j
	}
	s.WriteArrayEnd()
	if len(t.drops) > 0 {
		s.WriteMore()
		s.WriteObjectField("dropped_entries")
		s.WriteArrayStart()
		for i, d := range t.drops {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteObjectStart()
			s.WriteObjectField("timestamp")
			s.WriteString(strconv.FormatInt(d.T, 10))
			s.WriteMore()
			s.WriteObjectField("labels")
			writeLabels(s, d.Labels)
			s.WriteObjectEnd()
		}
		s.WriteArrayEnd()
	}
	if len(t.flags) > 0 {
		s.WriteMore()
		s.WriteObjectField("encodingFlags")
		s.WriteVal([]string(t.flags))
	}
	s.WriteObjectEnd()
	if s.Error != nil {
		return s.Error
	}
	if err := s.Flush(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	t.sent += len(t.msg)
	t.drops = t.drops[:0]
	return nil
}

// writeLabels writes a label set as a JSON object, names in order.
func writeLabels(s *jsoniter.Stream, ls labels.Labels) {
	s.WriteObjectStart()
	for i, l := range ls {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteObjectField(l.Name)
		s.WriteString(l.Value)
	}
	s.WriteObjectEnd()
}

// tailHeap orders entries by timestamp, then arrival.
type tailHeap []tailEntry

func (h tailHeap) Len() int { return len(h) }
func (h tailHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h tailHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *tailHeap) Push(x any)   { *h = append(*h, x.(tailEntry)) }
func (h *tailHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = tailEntry{}
	*h = old[:len(old)-1]
	return e
}
