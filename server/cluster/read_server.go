package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/loam-logs/loam/server/fanout"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// Local is the reader a node serves to the others: its own store
// (store.Local{Store: st}).
type Local interface {
	Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error)
	Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error
	Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error
	LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error)
	LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error)
	Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error
	Subscribe(tenant string, ms []*labels.Matcher, opts store.TailOptions) (store.Tail, error)
	Subscribers(tenant string) int
}

// Read endpoint paths.
const (
	PathSelect      = "/internal/select"
	PathTimestamps  = "/internal/timestamps"
	PathSeries      = "/internal/series"
	PathLabels      = "/internal/labels"
	PathStats       = "/internal/stats"
	PathTail        = "/internal/tail"
	PathSubscribers = "/internal/subscribers"
)

// ReadPaths are the paths the ReadServer serves.
var ReadPaths = []string{PathSelect, PathTimestamps, PathSeries, PathLabels, PathStats, PathTail, PathSubscribers}

// contentType is that of read answers.
const contentType = "application/x-loam-read"

// ServerOptions tune the read endpoints. Zero fields take defaults.
type ServerOptions struct {
	// Secret is the cluster secret: calls must carry its token (auth.go).
	// Empty: calls are not authenticated.
	Secret []byte
	Logger *slog.Logger
	// Beat is the interval of a tail's heartbeat frames (5 s), which let
	// the other node tell a quiet tail from a dead peer.
	Beat time.Duration
	// Whole, when set and true, makes the node read everything it holds
	// for a split read, ignoring its Share: it holds entries acknowledged
	// with fewer copies than a quorum of the replication factor, not yet
	// repaired (see Share). Called once per read.
	Whole func() bool
}

// ReadServer serves a node's Local reader to the other nodes. Each request
// is served by its own goroutine; the server holds no state of its own.
type ReadServer struct {
	local   Local
	opts    ServerOptions
	mux     *http.ServeMux
	handler http.Handler // mux behind the checks of every call
}

// NewReadServer returns the handler of the read endpoints (mount it at
// each of ReadPaths, or at /internal/ after the write endpoints). Requests must carry the token of opts.Secret when it is
// enabled.
func NewReadServer(local Local, opts ServerOptions) *ReadServer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Beat <= 0 {
		opts.Beat = 5 * time.Second
	}
	s := &ReadServer{local: local, opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc(PathSelect, s.serveSelect)
	s.mux.HandleFunc(PathTimestamps, s.serveTimestamps)
	s.mux.HandleFunc(PathSeries, s.serveSeries)
	s.mux.HandleFunc(PathLabels, s.serveLabels)
	s.mux.HandleFunc(PathStats, s.serveStats)
	s.mux.HandleFunc(PathTail, s.serveTail)
	s.mux.HandleFunc(PathSubscribers, s.serveSubscribers)
	s.handler = requireAuth(authToken(opts.Secret), http.HandlerFunc(s.serve))
	return s
}

// Register mounts the read endpoints on r.
func (s *ReadServer) Register(r *mux.Router) {
	for _, p := range ReadPaths {
		r.Handle(p, s)
	}
}

func (s *ReadServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// serve checks the method and reads the form of an authenticated call.
func (s *ReadServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "read endpoints take POST", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// statusOf maps an error to the status of an answer.
func statusOf(err error) int {
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return 499 // the caller went away; nobody reads this
	}
	return http.StatusInternalServerError
}

// answer writes one streamed answer. Before the first frame an error is an
// HTTP status; after it, an error frame.
type answer struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	fw      *frameWriter
	log     *slog.Logger
	path    string
	started bool
	err     error // the first write error: the caller is gone
}

func (s *ReadServer) answer(w http.ResponseWriter, r *http.Request) *answer {
	a := &answer{w: w, rc: http.NewResponseController(w), log: s.opts.Logger, path: r.URL.Path}
	a.fw = newFrameWriter(writerFunc(a.write))
	return a
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (a *answer) write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	if !a.started {
		a.started = true
		a.w.Header().Set("Content-Type", contentType)
		a.w.WriteHeader(http.StatusOK)
		if _, err := io.WriteString(a.w, wireMagic); err != nil {
			a.err = err
			return 0, err
		}
	}
	n, err := a.w.Write(p)
	if err != nil {
		a.err = err
	}
	return n, err
}

// start sends the status and the magic now, before any frame.
func (a *answer) start() error {
	if _, err := a.write(nil); err != nil {
		return err
	}
	return a.flushNet()
}

// flushNet pushes what was written to the network.
func (a *answer) flushNet() error {
	if a.err != nil {
		return a.err
	}
	if err := a.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		a.err = err
	}
	return a.err
}

// frameDone is called after a frame's content was appended: a full frame
// is written, and the first small ones are pushed out at once so that a
// reader needing few entries has them early.
func (a *answer) frameDone() error {
	if !a.fw.full() {
		return a.err
	}
	early := a.fw.target < frameMax
	if err := a.fw.flush(); err != nil {
		return err
	}
	if early {
		return a.flushNet()
	}
	return nil
}

// fail ends the answer with an error: a status if nothing was sent yet,
// an error frame otherwise.
func (a *answer) fail(err error) {
	status := statusOf(err)
	if status >= 500 && status != 499 {
		a.log.Warn("internal read failed", "path", a.path, "err", err)
	}
	if a.err != nil || status == 499 {
		return
	}
	if !a.started {
		http.Error(a.w, err.Error(), status)
		return
	}
	if a.fw.frame(frameError, appendError(nil, status, err.Error())) == nil {
		a.flushNet()
	}
}

// end completes the answer with the statistics of the read.
func (a *answer) end(st *store.Stats) {
	if st == nil {
		st = &store.Stats{}
	}
	if a.fw.frame(frameEnd, appendEnd(nil, st)) == nil {
		a.flushNet()
	}
}

// parseSelect reads a Select's parameters, dropping a Share when the node
// answers whole.
func (s *ReadServer) parseSelect(form url.Values) (store.SelectParams, error) {
	p, err := parseSelect(form)
	if p.Streams != nil && s.opts.Whole != nil && s.opts.Whole() {
		p.Streams = nil
	}
	return p, err
}

func (s *ReadServer) serveSelect(w http.ResponseWriter, r *http.Request) {
	a := s.answer(w, r)
	p, err := s.parseSelect(r.Form)
	if err != nil {
		a.fail(err)
		return
	}
	st := &store.Stats{}
	p.Stats = st
	it, err := s.local.Select(r.Context(), p)
	if err != nil {
		a.fail(err)
		return
	}
	defer it.Close()
	if a.start() != nil {
		return
	}
	var enc entryEncoder
	fw := a.fw
	fw.begin(frameEntries)
	for it.Next() {
		ls, e := it.At()
		if len(fw.buf) == 0 {
			enc.start()
		}
		fw.buf = enc.append(fw.buf, ls, &e)
		if a.frameDone() != nil {
			return
		}
	}
	if err := it.Err(); err != nil {
		a.fail(err)
		return
	}
	if len(fw.buf) > 0 && fw.flush() != nil {
		return
	}
	a.end(st)
}

func (s *ReadServer) serveTimestamps(w http.ResponseWriter, r *http.Request) {
	a := s.answer(w, r)
	p, err := s.parseSelect(r.Form)
	if err != nil {
		a.fail(err)
		return
	}
	keep, err := compileKeep(p.LineFilter)
	if err != nil {
		a.fail(err)
		return
	}
	f := &form{v: r.Form}
	hashes, widths, escapes := f.flag("hashes"), f.flag("ts_widths"), f.flag("ts_escapes")
	if f.err != nil {
		a.fail(f.err)
		return
	}
	st := &store.Stats{}
	p.Stats = st
	if a.start() != nil {
		return
	}
	enc := tsEncoder{hashes: hashes, widths: widths, escapes: escapes}
	fw := a.fw
	fw.begin(frameTimestamps)
	put := func(ls, meta labels.Labels, ts []int64, hs []uint64) {
		if a.err != nil {
			return
		}
		if len(fw.buf) == 0 {
			fw.buf = enc.start(fw.buf)
		}
		fw.buf = enc.append(fw.buf, ls, meta, ts, hs)
		a.frameDone()
	}
	// A write error (the caller is gone) cancels the read.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	guard := func(err error) {
		if err != nil {
			cancel(err)
		}
	}
	if hashes {
		err = fanout.HashTimestamps(ctx, s.local, p, keep, func(ls, meta labels.Labels, ts []int64, hs []uint64) {
			put(ls, meta, ts, hs)
			guard(a.err)
		})
	} else {
		err = s.local.Timestamps(ctx, p, keep, func(ls, meta labels.Labels, ts []int64) {
			put(ls, meta, ts, nil)
			guard(a.err)
		})
	}
	if a.err != nil {
		return
	}
	if err != nil {
		a.fail(err)
		return
	}
	if len(fw.buf) > 0 && fw.flush() != nil {
		return
	}
	a.end(st)
}

func (s *ReadServer) serveSeries(w http.ResponseWriter, r *http.Request) {
	a := s.answer(w, r)
	tenant, sets, start, end, err := parseSeries(r.Form)
	if err != nil {
		a.fail(err)
		return
	}
	if a.start() != nil {
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	fw := a.fw
	fw.begin(frameSeries)
	err = s.local.Series(ctx, tenant, sets, start, end, func(ls labels.Labels) {
		if a.err != nil {
			return
		}
		fw.buf = appendSeries(fw.buf, ls)
		if a.frameDone() != nil {
			cancel(a.err)
		}
	})
	if a.err != nil {
		return
	}
	if err != nil {
		a.fail(err)
		return
	}
	if len(fw.buf) > 0 && fw.flush() != nil {
		return
	}
	a.end(nil)
}

func (s *ReadServer) serveLabels(w http.ResponseWriter, r *http.Request) {
	a := s.answer(w, r)
	tenant, name, ms, start, end, err := parseLabels(r.Form)
	if err != nil {
		a.fail(err)
		return
	}
	var out []string
	if name == "" {
		out, err = s.local.LabelNames(r.Context(), tenant, ms, start, end)
	} else {
		out, err = s.local.LabelValues(r.Context(), tenant, name, ms, start, end)
	}
	if err != nil {
		a.fail(err)
		return
	}
	fw := a.fw
	fw.begin(frameStrings)
	for _, v := range out {
		fw.buf = appendString(fw.buf, v)
		if a.frameDone() != nil {
			return
		}
	}
	if len(fw.buf) > 0 && fw.flush() != nil {
		return
	}
	a.end(nil)
}

func (s *ReadServer) serveStats(w http.ResponseWriter, r *http.Request) {
	a := s.answer(w, r)
	p, err := parseStats(r.Form)
	if err != nil {
		a.fail(err)
		return
	}
	if a.start() != nil {
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	var enc figuresEncoder
	fw := a.fw
	fw.begin(frameFigures)
	err = s.local.Stats(ctx, p, func(ls labels.Labels, figs []store.Figures) {
		if a.err != nil {
			return
		}
		fw.buf = enc.append(fw.buf, ls, figs)
		if a.frameDone() != nil {
			cancel(a.err)
		}
	})
	if a.err != nil {
		return
	}
	if err != nil {
		a.fail(err)
		return
	}
	if len(fw.buf) > 0 && fw.flush() != nil {
		return
	}
	a.end(nil)
}

func (s *ReadServer) serveSubscribers(w http.ResponseWriter, r *http.Request) {
	a := s.answer(w, r)
	f := &form{v: r.Form}
	tenant := f.tenant()
	if f.err != nil {
		a.fail(f.err)
		return
	}
	a.fw.frame(frameCount, appendUvarint(nil, uint64(s.local.Subscribers(tenant))))
	a.end(nil)
}
