package cluster

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/klauspost/compress/snappy"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// The repair endpoints, all POST.
const (
	repairTenantsPath = "/internal/repair/tenants" // → the tenants held, a line each
	repairDigestsPath = "/internal/repair/digests" // the caller's digests → diffs
	repairPushPath    = "/internal/repair/push"    // entries this node lacks → stored
	repairFetchPath   = "/internal/repair/fetch"   // a stream and timestamps → its entries there
)

// maxRepairBody bounds a repair request body.
const maxRepairBody = 1 << 30

// RepairServer answers the repair endpoints from the local store. Safe for
// concurrent use.
type RepairServer struct {
	st    RepairStore
	ring  Ring
	token string
	log   *slog.Logger
}

// NewRepairServer returns the repair endpoints over st.
func NewRepairServer(st RepairStore, r Ring, secret []byte, log *slog.Logger) *RepairServer {
	return &RepairServer{st: st, ring: r, token: authToken(secret), log: log}
}

// Register adds the endpoints to r.
func (s *RepairServer) Register(r *mux.Router) {
	for path, h := range map[string]http.HandlerFunc{
		repairTenantsPath: s.tenants, repairDigestsPath: s.digests, repairPushPath: s.push, repairFetchPath: s.fetch,
	} {
		r.Handle(path, requireAuth(s.token, h)).Methods(http.MethodPost)
	}
}

func (s *RepairServer) tenants(w http.ResponseWriter, _ *http.Request) {
	io.WriteString(w, strings.Join(s.st.Tenants(), "\n"))
}

// readBody reads a request body within the limit.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRepairBody+1))
	if err == nil && len(b) > maxRepairBody {
		err = fmt.Errorf("body over %d bytes", maxRepairBody)
	}
	return b, err
}

func badRepair(w http.ResponseWriter, format string, args ...any) {
	http.Error(w, "repair: "+fmt.Sprintf(format, args...), http.StatusBadRequest)
}

// digests compares the caller's digests with this node's and answers the
// hours that differ, with this node's timestamps there: of the streams
// the caller listed, and of those it owns but did not list.
func (s *RepairServer) digests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tenant, node := q.Get("tenant"), q.Get("node")
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if tenant == "" || node == "" || err1 != nil || err2 != nil || from >= to {
		badRepair(w, "digests needs tenant, node, and from < to in Unix nanoseconds")
		return
	}
	body, err := readBody(r)
	if err != nil {
		badRepair(w, "%v", err)
		return
	}
	theirs, err := decodeDigests(body)
	if err != nil {
		badRepair(w, "%v", err)
		return
	}
	mine, names, err := digestsOf(r.Context(), s.st, tenant, from, to)
	if err != nil {
		http.Error(w, "repair: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var keys []digestKey
	for k, d := range theirs {
		if mine[k] != d {
			keys = append(keys, k)
		}
	}
	var owners []Peer
	owns := map[uint64]bool{}
	for k := range mine {
		if _, listed := theirs[k]; listed {
			continue
		}
		own, ok := owns[k.stream]
		if !ok {
			owners = s.ring.Owners(s.ring.StreamKey(tenant, names[k.stream]), owners[:0])
			own = slices.ContainsFunc(owners, func(o Peer) bool { return o.Name == node })
			owns[k.stream] = own
		}
		if own {
			keys = append(keys, k)
		}
	}
	diffs, err := s.timesOf(r.Context(), tenant, keys, names, from, to)
	if err != nil {
		http.Error(w, "repair: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(appendDiffs(nil, diffs))
}

// timesOf reads this node's timestamps of the given stream hours.
func (s *RepairServer) timesOf(ctx context.Context, tenant string, keys []digestKey, names map[uint64]string, from, to int64) ([]diff, error) {
	byStream := map[uint64][]int64{}
	for _, k := range keys {
		byStream[k.stream] = append(byStream[k.stream], k.hour)
	}
	var out []diff
	for stream, hours := range byStream {
		text, held := names[stream]
		if !held {
			for _, h := range hours {
				out = append(out, diff{stream: stream, hour: h})
			}
			continue
		}
		ls, err := labels.Parse(text)
		if err != nil {
			return nil, err
		}
		slices.Sort(hours)
		lo := max(from, hours[0]*int64(time.Hour))
		hi := min(to, (hours[len(hours)-1]+1)*int64(time.Hour))
		es, err := entriesOf(ctx, s.st, tenant, ls, lo, hi, nil)
		if err != nil {
			return nil, err
		}
		for _, h := range hours {
			d := diff{stream: stream, labels: text, hour: h}
			for _, e := range es {
				if floorDiv(e.T, int64(time.Hour)) == h {
					d.ts = append(d.ts, e.T)
				}
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// push stores the entries a peer found this node lacks.
func (s *RepairServer) push(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" {
		badRepair(w, "push needs a tenant")
		return
	}
	body, err := readBody(r)
	if err != nil {
		badRepair(w, "%v", err)
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		badRepair(w, "push: not snappy: %v", err)
		return
	}
	streams, err := decodePushed(raw)
	if err != nil {
		badRepair(w, "push: %v", err)
		return
	}
	n, err := restore(r.Context(), s.st, tenant, streams)
	if err != nil {
		s.log.Error("repair: storing entries from a peer failed", "tenant", tenant, "err", err)
		http.Error(w, "repair: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "%d", n)
}

// fetch answers this node's entries of a stream at the given timestamps.
func (s *RepairServer) fetch(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenant")
	body, err := readBody(r)
	if err != nil || tenant == "" {
		badRepair(w, "fetch needs a tenant and a body (%v)", err)
		return
	}
	rd := reader{b: body}
	text, ts := rd.string(), rd.times()
	if err := rd.done(); err != nil || len(ts) == 0 {
		badRepair(w, "fetch: %v", err)
		return
	}
	ls, err := labels.Parse(text)
	if err != nil {
		badRepair(w, "fetch: %v", err)
		return
	}
	want := make(map[int64]bool, len(ts))
	for _, t := range ts {
		want[t] = true
	}
	es, err := entriesOf(r.Context(), s.st, tenant, ls, ts[0], ts[len(ts)-1]+1, want)
	if err != nil {
		http.Error(w, "repair: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(snappy.Encode(nil, encodeStream(ls, es)))
}

// entry is one stored entry, its line and metadata owned.
type entry = block.Entry

// entriesOf reads the entries of exactly the stream ls in [lo, hi), those
// at the timestamps of only if it is not nil, copying them.
func entriesOf(ctx context.Context, st RepairStore, tenant string, ls labels.Labels, lo, hi int64, only map[int64]bool) ([]entry, error) {
	ms := make([]*labels.Matcher, len(ls))
	for i, l := range ls {
		ms[i] = labels.MustMatcher(labels.MatchEqual, l.Name, l.Value)
	}
	it, err := st.Select(ctx, store.SelectParams{Tenant: tenant, Matchers: ms, Start: lo, End: hi})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []entry
	for it.Next() {
		got, e := it.At()
		if !got.Equal(ls) || (only != nil && !only[e.T]) {
			continue
		}
		out = append(out, entry{T: e.T, Line: slices.Clone(e.Line), Meta: slices.Clone(e.Meta)})
	}
	return out, it.Err()
}

// encodeStream encodes one stream's entries as a Loki push request,
// uncompressed.
func encodeStream(ls labels.Labels, es []entry) []byte {
	req := push.Request{Streams: []push.Stream{{Labels: ls.String(), Entries: make([]push.Entry, len(es))}}}
	for i, e := range es {
		pe := &req.Streams[0].Entries[i]
		pe.Timestamp, pe.Line = e.T, string(e.Line)
		for _, m := range e.Meta {
			pe.Metadata = append(pe.Metadata, push.LabelPair{Name: m.Name, Value: m.Value})
		}
	}
	return push.EncodeProto(nil, &req)
}

// decodePushed decodes what encodeStream wrote.
func decodePushed(b []byte) ([]store.Stream, error) {
	var req push.Request
	if err := push.DecodeProto(b, &req); err != nil {
		return nil, err
	}
	return toStreams(&req, nil, nil)
}

// restore stores the entries of streams this node does not hold yet, and
// returns how many that was.
func restore(ctx context.Context, st RepairStore, tenant string, streams []store.Stream) (int, error) {
	n := 0
	var keep []store.Stream
	for _, s := range streams {
		if len(s.Entries) == 0 {
			continue
		}
		lo, hi := s.Entries[0].T, s.Entries[0].T
		for _, e := range s.Entries {
			lo, hi = min(lo, e.T), max(hi, e.T)
		}
		have, err := entriesOf(ctx, st, tenant, s.Labels, lo, hi+1, nil)
		if err != nil {
			return 0, err
		}
		held := make(map[string]bool, len(have))
		for _, e := range have {
			held[entryID(e.T, e.Line)] = true
		}
		var fresh []block.Entry
		for _, e := range s.Entries {
			id := entryID(e.T, e.Line)
			if !held[id] {
				held[id] = true
				fresh = append(fresh, e)
			}
		}
		if len(fresh) > 0 {
			slices.SortStableFunc(fresh, func(a, b block.Entry) int { return cmp.Compare(a.T, b.T) })
			keep = append(keep, store.Stream{Labels: s.Labels, Entries: fresh})
			n += len(fresh)
		}
	}
	if len(keep) == 0 {
		return 0, nil
	}
	if _, err := st.Restore(tenant, keep); err != nil {
		return 0, err
	}
	return n, nil
}

func entryID(t int64, line []byte) string {
	return strconv.FormatInt(t, 36) + "\x00" + string(line)
}
