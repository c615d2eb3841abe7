package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/store"
)

// ErrUnreachable is wrapped by the errors of a peer that did not answer:
// it could not be reached, its answer broke off or made no sense, or it
// failed on its side (a 5xx, a 404 from a node without the endpoint, a
// 401 from a node with another secret). Another replica may answer. Errors
// of the request itself (a 400) and the caller's context ending do not
// wrap it.
var ErrUnreachable = errors.New("peer unreachable")

// PeerError is an error status a peer answered with.
type PeerError struct {
	Peer   string
	Status int
	Msg    string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("peer %s: %d %s: %s", e.Peer, e.Status, http.StatusText(e.Status), e.Msg)
}

// Unwrap is ErrUnreachable for a failure of the peer, nil for an error of
// the request.
func (e *PeerError) Unwrap() error {
	if e.Status >= 500 || e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound {
		return ErrUnreachable
	}
	return nil
}

// NewHTTPClient returns the client Remotes share: connections are kept
// alive between calls, a dial fails after 2 s, and TCP keep-alives find a
// peer whose host died within some 20 s of silence. There is no overall
// timeout: calls end with their context.
func NewHTTPClient() *http.Client { return NewTLSClient(nil) }

// NewTLSClient is NewHTTPClient calling nodes over TLS with conf (nil:
// plain HTTP); give Remotes https:// base URLs then.
func NewTLSClient(conf *tls.Config) *http.Client {
	d := &net.Dialer{
		Timeout:         2 * time.Second,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // node-to-node calls never go through a proxy
		DialContext:         d.DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     conf,
		// Keep the write buffer small: requests are small forms.
		WriteBufferSize: 4 << 10,
		ReadBufferSize:  64 << 10,
	}}
}

// Remote reads another node's store through its read endpoints. It
// implements the read methods of api.Reader and fanout.Reader, plus
// HashedTimestamps. A Remote is safe for concurrent use; it holds no
// connection of its own (its http.Client does).
type Remote struct {
	name   string
	base   string
	client *http.Client
	token  string // of the cluster secret
	// tailIdle: a tail that receives no frame for so long is dead;
	// tailReady: Subscribe waits so long for the peer to subscribe.
	tailIdle, tailReady time.Duration
}

// NewRemote returns the Remote of the node name at addr (host:port, or a
// base URL), calling it with client and the token of the cluster secret
// (none when empty). Give every Remote the same NewHTTPClient, so that
// they share its connection pools; nil makes a client of its own.
func NewRemote(name, addr string, client *http.Client, secret []byte) *Remote {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	if client == nil {
		client = NewHTTPClient()
	}
	return &Remote{name: name, base: strings.TrimSuffix(addr, "/"), client: client, token: authToken(secret), tailIdle: defaultTailIdle, tailReady: defaultTailReady}
}

// Name is the peer's name, as errors give it.
func (r *Remote) Name() string { return r.name }

// unreachable wraps an error of the transport or of the answer. When the
// caller's context has ended, that is the error instead.
func (r *Remote) unreachable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("peer %s: %w", r.name, context.Cause(ctx))
	}
	return fmt.Errorf("peer %s: %w: %w", r.name, ErrUnreachable, err)
}

// call posts a form to path and returns the answer's frames. cancel ends
// the call; the caller calls it when done.
func (r *Remote) call(ctx context.Context, path string, form url.Values) (*frameReader, io.ReadCloser, context.CancelFunc, error) {
	cctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, r.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	setAuth(req, r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		cancel()
		return nil, nil, nil, r.unreachable(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		cancel()
		if ctx.Err() != nil {
			return nil, nil, nil, r.unreachable(ctx, nil)
		}
		return nil, nil, nil, &PeerError{Peer: r.name, Status: resp.StatusCode, Msg: strings.TrimSpace(string(msg))}
	}
	fr, err := newFrameReader(resp.Body)
	if err != nil {
		resp.Body.Close()
		cancel()
		return nil, nil, nil, r.unreachable(ctx, err)
	}
	return fr, resp.Body, cancel, nil
}

// frames reads an answer to its end frame, handing the others to fn, and
// adds the end frame's statistics to st (which may be nil).
func (r *Remote) frames(ctx context.Context, path string, form url.Values, st *store.Stats, fn func(typ byte, payload []byte) error) error {
	fr, body, cancel, err := r.call(ctx, path, form)
	if err != nil {
		return err
	}
	defer cancel()
	defer body.Close()
	for {
		typ, payload, err := fr.next()
		if err != nil {
			return r.unreachable(ctx, err)
		}
		switch typ {
		case frameEnd:
			if err := decodeEnd(payload, st); err != nil {
				return r.unreachable(ctx, err)
			}
			// Drain the end of the chunked body: the connection is
			// then reused.
			io.Copy(io.Discard, io.LimitReader(body, 512))
			return nil
		case frameError:
			return r.peerError(ctx, payload)
		}
		if err := fn(typ, payload); err != nil {
			if errors.Is(err, errCorrupt) {
				return r.unreachable(ctx, err)
			}
			return err
		}
	}
}

// peerError turns an error frame into an error.
func (r *Remote) peerError(ctx context.Context, payload []byte) error {
	status, msg, err := decodeError(payload)
	if err != nil {
		return r.unreachable(ctx, err)
	}
	if ctx.Err() != nil {
		return r.unreachable(ctx, nil)
	}
	return &PeerError{Peer: r.name, Status: status, Msg: msg}
}

// unexpected is a frame that has no place in an answer.
func unexpected(typ byte) error {
	return fmt.Errorf("%w: unexpected frame %q", errCorrupt, typ)
}

// Select streams the peer's entries: the iterator reads the answer as it
// is consumed, and closing it early cancels the call. Statistics of the
// peer's read are added to p.Stats once the answer was read to its end.
func (r *Remote) Select(ctx context.Context, p store.SelectParams) (store.EntryIterator, error) {
	form, err := selectValues(p)
	if err != nil {
		return nil, err
	}
	fr, body, cancel, err := r.call(ctx, PathSelect, form)
	if err != nil {
		return nil, err
	}
	return &remoteIter{r: r, ctx: ctx, cancel: cancel, body: body, fr: fr, stats: p.Stats}, nil
}

// remoteIter is the EntryIterator of a remote Select. Like the store's,
// it is not goroutine-safe.
type remoteIter struct {
	r      *Remote
	ctx    context.Context
	cancel context.CancelFunc
	body   io.ReadCloser
	fr     *frameReader
	dec    entryDecoder
	stats  *store.Stats
	ls     labels.Labels
	e      block.Entry
	err    error
	done   bool
}

func (it *remoteIter) Next() bool {
	for it.err == nil && !it.done && it.cancel != nil {
		if it.dec.more() {
			it.ls = it.dec.next(&it.e)
			if it.dec.d.err != nil {
				it.fail(it.r.unreachable(it.ctx, it.dec.d.err))
				return false
			}
			return true
		}
		if it.dec.d.err != nil {
			it.fail(it.r.unreachable(it.ctx, it.dec.d.err))
			return false
		}
		typ, payload, err := it.fr.next()
		if err != nil {
			it.fail(it.r.unreachable(it.ctx, err))
			return false
		}
		switch typ {
		case frameEntries:
			it.dec.reset(payload)
		case frameEnd:
			if err := decodeEnd(payload, it.stats); err != nil {
				it.fail(it.r.unreachable(it.ctx, err))
				return false
			}
			it.done = true
			io.Copy(io.Discard, io.LimitReader(it.body, 512))
			it.Close()
			return false
		case frameError:
			it.fail(it.r.peerError(it.ctx, payload))
		default:
			it.fail(it.r.unreachable(it.ctx, unexpected(typ)))
		}
	}
	return false
}

func (it *remoteIter) fail(err error) {
	it.err = err
	it.Close()
}

func (it *remoteIter) At() (labels.Labels, block.Entry) { return it.ls, it.e }

func (it *remoteIter) Err() error { return it.err }

// Close cancels the call if the answer was not read to its end; Next then
// returns false. It may be called more than once.
func (it *remoteIter) Close() error {
	if it.cancel != nil {
		it.cancel()
		it.body.Close()
		it.cancel = nil
	}
	return nil
}

// Timestamps is store.Store.Timestamps on the peer. keep cannot travel:
// the peer compiles it from p.LineFilter, which must hold its text when
// keep is set.
func (r *Remote) Timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, fn func(ls, meta labels.Labels, ts []int64)) error {
	return r.timestamps(ctx, p, keep, false, func(ls, meta labels.Labels, ts []int64, _ []uint64) { fn(ls, meta, ts) })
}

// HashedTimestamps is Timestamps with the hash of each entry's line
// (lineHash): the peer reads the lines, keep or not.
func (r *Remote) HashedTimestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool,
	fn func(ls, meta labels.Labels, ts []int64, hashes []uint64)) error {
	return r.timestamps(ctx, p, keep, true, fn)
}

func (r *Remote) timestamps(ctx context.Context, p store.SelectParams, keep func(line []byte) bool, hashes bool,
	fn func(ls, meta labels.Labels, ts []int64, hashes []uint64)) error {
	switch {
	case keep != nil && p.LineFilter == "":
		return errors.New("remote timestamps: a keep function without its LineFilter text cannot be sent to another node")
	case keep == nil:
		p.LineFilter = ""
	}
	form, err := selectValues(p)
	if err != nil {
		return err
	}
	putFlag(form, "hashes", hashes)
	// Nodes that do not know ts_widths or ts_escapes ignore them and
	// answer varints, or widths without escapes.
	putFlag(form, "ts_widths", true)
	putFlag(form, "ts_escapes", true)
	var dec tsDecoder
	return r.frames(ctx, PathTimestamps, form, p.Stats, func(typ byte, payload []byte) error {
		if typ != frameTimestamps {
			return unexpected(typ)
		}
		if hashes {
			return dec.frame(payload, fn)
		}
		return dec.frame(payload, func(ls, meta labels.Labels, ts []int64, hs []uint64) {
			fn(ls, meta, ts, nil)
		})
	})
}

// Series is store.Store.Series on the peer.
func (r *Remote) Series(ctx context.Context, tenant string, sets [][]*labels.Matcher, start, end int64, fn func(labels.Labels)) error {
	form, err := seriesValues(tenant, sets, start, end)
	if err != nil {
		return err
	}
	return r.frames(ctx, PathSeries, form, nil, func(typ byte, payload []byte) error {
		if typ != frameSeries {
			return unexpected(typ)
		}
		return decodeSeries(payload, fn)
	})
}

// LabelNames is store.Store.LabelNames on the peer.
func (r *Remote) LabelNames(ctx context.Context, tenant string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	return r.names(ctx, labelsValues(tenant, "", ms, start, end))
}

// LabelValues is store.Store.LabelValues on the peer.
func (r *Remote) LabelValues(ctx context.Context, tenant, name string, ms []*labels.Matcher, start, end int64) ([]string, error) {
	if name == "" {
		return nil, errors.New("label values: the label name is empty")
	}
	return r.names(ctx, labelsValues(tenant, name, ms, start, end))
}

func (r *Remote) names(ctx context.Context, form url.Values) ([]string, error) {
	var out []string
	err := r.frames(ctx, PathLabels, form, nil, func(typ byte, payload []byte) error {
		if typ != frameStrings {
			return unexpected(typ)
		}
		var err error
		out, err = decodeStrings(payload, out)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats is store.Store.Stats on the peer.
func (r *Remote) Stats(ctx context.Context, p store.StatsParams, fn func(ls labels.Labels, figs []store.Figures)) error {
	var dec figuresDecoder
	return r.frames(ctx, PathStats, statsValues(p), nil, func(typ byte, payload []byte) error {
		if typ != frameFigures {
			return unexpected(typ)
		}
		return dec.frame(payload, fn)
	})
}

// Subscribers is the number of the tenant's tails on the peer; 0 when it
// does not answer within 2 s.
func (r *Remote) Subscribers(tenant string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n := 0
	form := url.Values{"tenant": {tenant}}
	err := r.frames(ctx, PathSubscribers, form, nil, func(typ byte, payload []byte) error {
		if typ != frameCount {
			return unexpected(typ)
		}
		d := decoder{b: payload}
		n = int(min(d.uvarint(), 1<<31))
		return d.end()
	})
	if err != nil {
		return 0
	}
	return n
}
