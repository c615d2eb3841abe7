package distributor

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// TenantLimits answers the settings of a tenant (see package overrides):
// For is called once per push, from many goroutines at once; it must be
// cheap, and what it returns must not change afterwards.
type TenantLimits interface {
	For(tenant string) *overrides.Limits
}

// Appender is the storage a Distributor writes to.
type Appender interface {
	Append(tenant string, streams []store.Stream) ([]store.Rejected, error)
}

// Reasons for discarded lines, as metric label values.
const (
	ReasonInvalidLabels = "invalid_labels"
	ReasonTooManyLabels = "max_label_names_per_series"
	ReasonLineTooLong   = "line_too_long"
	ReasonTooOld        = "greater_than_max_sample_age"
	ReasonTooNew        = "too_far_in_future"
	ReasonOutOfOrder    = "too_far_behind"
	ReasonRetention     = "older_than_retention"
	ReasonRateLimited   = "rate_limited"          // ingestion_rate_mb
	ReasonPerStreamRate = "per_stream_rate_limit" // per_stream_rate_limit
	ReasonStreamLimit   = "stream_limit"          // max_global_streams_per_user
)

// Distributor validates pushes and appends them. Safe for concurrent use.
type Distributor struct {
	limits TenantLimits
	store  Appender
	now    func() time.Time

	linesReceived *prometheus.CounterVec
	bytesReceived *prometheus.CounterVec
	discarded     *prometheus.CounterVec // lines, under its first name
	discSamples   *prometheus.CounterVec // lines, under Loki's name
	discBytes     *prometheus.CounterVec

	limiter limiter
	// namespaces counts the volume of the top namespaces; nil: off.
	namespaces *namespaceVolume

	labelCache *labelCache // label text → parsed set, checked but for the tenant's limits
}

// New returns a Distributor that checks each push against the limits of
// its tenant and writes to st; reg may be nil.
func New(limits TenantLimits, st Appender, reg prometheus.Registerer) *Distributor {
	d := &Distributor{limits: limits, store: st, now: time.Now, labelCache: newLabelCache(labelCacheBytes),
		linesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_distributor_lines_received_total", Help: "Log lines received, by tenant."}, []string{"tenant"}),
		bytesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_distributor_bytes_received_total", Help: "Log line bytes received, by tenant."}, []string{"tenant"}),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_discarded_lines_total", Help: "Log lines refused, by tenant and reason (the same as loam_discarded_samples_total)."}, []string{"tenant", "reason"}),
		discSamples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_discarded_samples_total", Help: "Log lines refused by validation or limits, by tenant and reason (Loki's loki_discarded_samples_total)."}, []string{"reason", "tenant"}),
		discBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loam_discarded_bytes_total", Help: "Bytes of the log lines refused (line and structured metadata), by tenant and reason."}, []string{"reason", "tenant"}),
	}
	d.limiter.strategy = Global
	if reg != nil {
		reg.MustRegister(d.linesReceived, d.bytesReceived, d.discarded, d.discSamples, d.discBytes)
	}
	return d
}

// ShareLimits sets how the rate and stream limits of each tenant are shared
// with the other nodes of a cluster, counted by members (nil: this node
// alone). The default is Global with no members, the same as Local. Call
// it before the first Push.
func (d *Distributor) ShareLimits(s Strategy, members Members) {
	d.limiter.strategy, d.limiter.members = s, members
}

// errTooManyLabels marks the label-count rule, counted under its own reason.
var errTooManyLabels = errors.New("too many labels")

// ValidationError lists what a push held that cannot be stored. The valid
// part of the push was stored; the client must not retry it.
type ValidationError struct {
	Problems []string
	Dropped  int // entries not stored
}

func (e *ValidationError) Error() string {
	const show = 10
	msg := strings.Join(e.Problems[:min(show, len(e.Problems))], "\n")
	if len(e.Problems) > show {
		msg += fmt.Sprintf("\n(and %d more problems)", len(e.Problems)-show)
	}
	return msg
}

// IsValidation reports whether err is a ValidationError.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

// LimitError says that a push went over a rate or stream limit of its
// tenant (Loki answers these 429): what it lists was not stored, and may be
// sent again later. Problems holds Loki's messages first, then any
// validation problems of the same push. The rest of the push was stored.
type LimitError struct {
	ValidationError
}

// IsLimit reports whether err is a LimitError.
func IsLimit(err error) bool {
	var l *LimitError
	return errors.As(err, &l)
}

// Loki's messages for the limits (pkg/validation), so that clients and
// alerts written for Loki recognise them.
const (
	rateLimitedMsg     = "ingestion rate limit exceeded for user %s (limit: %d bytes/sec) while attempting to ingest '%d' lines totaling '%d' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased"
	streamLimitMsg     = "maximum active stream limit exceeded when trying to create stream %s, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '%s'"
	perStreamRateLimit = "Per stream rate limit exceeded (limit: %s/sec) while attempting to ingest for stream '%s' totaling %s, consider splitting a stream via additional labels or contact your Loki administrator to see if the limit can be increased"

	tooManyLabelsMsg = "entry for stream '%s' has %d label names; limit %d"                                              // max_label_names_per_series
	tooOldMsg        = "entry for stream '%s' has timestamp too old: %s, oldest acceptable timestamp is: %s"             // reject_old_samples_max_age
	tooNewMsg        = "entry for stream '%s' has timestamp too new: %s"                                                 // creation_grace_period
	lineTooLongMsg   = "max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes" // max_line_size
)

// serviceNameLabel is not counted against max_label_names_per_series: Loki
// adds it to streams that lack it, and so leaves it out of the count.
const serviceNameLabel = "service_name"

// entryBytes is the size of an entry as Loki's rate limits count it: the
// line and the names and values of its structured metadata.
func entryBytes(e *push.Entry) int {
	n := len(e.Line)
	for _, p := range e.Metadata {
		n += len(p.Name) + len(p.Value)
	}
	return n
}

// Push validates req, applies the tenant's rate and stream limits, and
// stores what passes. It returns a *LimitError when a limit refused
// anything (whatever validation refused is listed too), else a
// *ValidationError when validation refused anything, or a storage error
// (nothing acknowledged; the client should retry).
//
// The limits apply in Loki's order: the tenant's rate to the whole push
// once it is validated (a push over it is refused whole), then, stream by
// stream, the stream limit and the stream's rate.
func (d *Distributor) Push(tenant string, req *push.Request) error {
	lim := d.limits.For(tenant)
	now := d.now()
	oldest := int64(math.MinInt64) // reject_old_samples false or its max age 0: any age
	if age := time.Duration(lim.RejectOldSamplesMaxAge); lim.RejectOldSamples && age > 0 {
		oldest = now.Add(-age).UnixNano()
	}
	newest := now.Add(time.Duration(lim.CreationGracePeriod)).UnixNano()
	maxLine := math.MaxInt // max_line_size 0: no limit
	if lim.MaxLineSize > 0 && lim.MaxLineSize < math.MaxInt {
		maxLine = int(lim.MaxLineSize)
	}
	verr := &ValidationError{}
	discard := func(reason string, lines, bytes int) {
		d.discarded.WithLabelValues(tenant, reason).Add(float64(lines))
		d.discSamples.WithLabelValues(reason, tenant).Add(float64(lines))
		d.discBytes.WithLabelValues(reason, tenant).Add(float64(bytes))
		verr.Dropped += lines
	}
	streams := make([]store.Stream, 0, len(req.Streams))
	sizes := make([]int, 0, len(req.Streams)) // bytes of each of streams
	var lines, bytes, validBytes int
	for si := range req.Streams {
		ps := &req.Streams[si]
		lines += len(ps.Entries)
		for i := range ps.Entries {
			bytes += len(ps.Entries[i].Line)
		}
		ls, err := d.parseLabels(ps.Labels)
		if err == nil {
			err = checkLabelLimits(ls, lim)
		}
		if err != nil {
			reason := ReasonInvalidLabels
			if errors.Is(err, errTooManyLabels) {
				// Loki's message names the stream itself.
				reason = ReasonTooManyLabels
				verr.Problems = append(verr.Problems, err.Error())
			} else {
				verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: %v", clip(ps.Labels), err))
			}
			size := 0
			for i := range ps.Entries {
				size += entryBytes(&ps.Entries[i])
			}
			discard(reason, len(ps.Entries), size)
			continue
		}
		es := make([]block.Entry, 0, len(ps.Entries))
		size := 0
		for i := range ps.Entries {
			e := &ps.Entries[i]
			// Loki's order: the age, then the line.
			switch {
			case e.Timestamp < oldest:
				verr.Problems = append(verr.Problems, fmt.Sprintf(tooOldMsg, ls, fmtSeconds(e.Timestamp), fmtSeconds(oldest)))
				discard(ReasonTooOld, 1, entryBytes(e))
				continue
			case e.Timestamp > newest:
				verr.Problems = append(verr.Problems, fmt.Sprintf(tooNewMsg, ls, fmtSeconds(e.Timestamp)))
				discard(ReasonTooNew, 1, entryBytes(e))
				continue
			case len(e.Line) > maxLine:
				verr.Problems = append(verr.Problems, fmt.Sprintf(lineTooLongMsg, maxLine, ls, len(e.Line)))
				discard(ReasonLineTooLong, 1, entryBytes(e))
				continue
			}
			var meta labels.Labels
			if len(e.Metadata) > 0 {
				meta = make(labels.Labels, len(e.Metadata))
				for j, p := range e.Metadata {
					meta[j] = labels.Label{Name: p.Name, Value: p.Value}
				}
			}
			size += entryBytes(e)
			// The line aliases the request body; storage copies it.
			es = append(es, block.Entry{T: e.Timestamp, Line: unsafe.Slice(unsafe.StringData(e.Line), len(e.Line)), Meta: meta})
		}
		if len(es) > 0 {
			streams = append(streams, store.Stream{Labels: ls, Entries: es})
			sizes = append(sizes, size)
			validBytes += size
		}
	}
	d.linesReceived.WithLabelValues(tenant).Add(float64(lines))
	d.bytesReceived.WithLabelValues(tenant).Add(float64(bytes))

	var limited []string // Loki's messages of the limits hit
	if len(streams) > 0 {
		nanos := now.UnixNano()
		share := d.limiter.divisor(nanos)
		ts := d.limiter.tenant(tenant)
		rate, burst := ingestionRate(lim, share)
		if !ts.allowPush(nanos, validBytes, rate, burst) {
			validLines := 0
			for _, s := range streams {
				validLines += len(s.Entries)
			}
			discard(ReasonRateLimited, validLines, validBytes)
			return &LimitError{ValidationError{Dropped: verr.Dropped,
				Problems: append([]string{fmt.Sprintf(rateLimitedMsg, tenant, int64(rate), validLines, validBytes)}, verr.Problems...)}}
		}
		streams, sizes, limited = d.admitStreams(ts, nanos, tenant, lim, streamLimit(lim, share), streams, sizes, discard)
	}
	if len(streams) > 0 {
		rejected, err := d.store.Append(tenant, streams)
		if err != nil {
			return err
		}
		if d.namespaces != nil {
			d.namespaces.add(now.UnixNano(), tenant, streams, sizes)
		}
		for _, r := range rejected {
			verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: entry at %s refused: %s", r.Stream, fmtTime(r.T), r.Reason))
			// The store names the entry by its time, not its size: the
			// first line of that stream and time is counted.
			size := rejectedBytes(req, r)
			if r.Expired {
				discard(ReasonRetention, 1, size)
			} else {
				discard(ReasonOutOfOrder, 1, size)
			}
		}
	}
	if len(limited) > 0 {
		return &LimitError{ValidationError{Dropped: verr.Dropped, Problems: append(limited, verr.Problems...)}}
	}
	if len(verr.Problems) > 0 {
		return verr
	}
	return nil
}

// CountNamespaces has the distributor count the lines and bytes of the
// top n (tenant, namespace) pairs by volume, ranked every period, and of
// the others as namespace "other" (loam_namespace_ingested_*_total). Call
// it before the first push; n 0 leaves it off.
func (d *Distributor) CountNamespaces(n int, period time.Duration, reg prometheus.Registerer) {
	if n > 0 {
		d.namespaces = newNamespaceVolume(n, period, reg)
	}
}

// admitStreams applies the stream limit and the per-stream rate to the
// validated streams of a push, whose sizes in bytes are sizes. It returns
// the streams admitted and their sizes (both filtered in place) and the
// messages of the refusals: the stream limit is reported once per push,
// with the first stream refused, as Loki does.
func (d *Distributor) admitStreams(ts *tenantState, now int64, tenant string, lim *overrides.Limits, maxStreams int,
	streams []store.Stream, sizes []int, discard func(reason string, lines, bytes int)) ([]store.Stream, []int, []string) {
	if maxStreams == 0 && lim.PerStreamRateLimit == 0 {
		return streams, sizes, nil
	}
	var msgs []string
	streamLimitSaid := false
	kept, keptSizes := streams[:0], sizes[:0]
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.maybeSweep(now, lim, maxStreams)
	for i, s := range streams {
		switch ts.admitStream(now, s.Labels.Hash(), sizes[i], lim, maxStreams) {
		case ReasonStreamLimit:
			discard(ReasonStreamLimit, len(s.Entries), sizes[i])
			if !streamLimitSaid {
				msgs = append(msgs, fmt.Sprintf(streamLimitMsg, s.Labels, tenant))
				streamLimitSaid = true
			}
		case ReasonPerStreamRate:
			discard(ReasonPerStreamRate, len(s.Entries), sizes[i])
			msgs = append(msgs, fmt.Sprintf(perStreamRateLimit, lim.PerStreamRateLimit, s.Labels, overrides.ByteSize(sizes[i])))
		default:
			kept, keptSizes = append(kept, s), append(keptSizes, sizes[i])
		}
	}
	return kept, keptSizes, msgs
}

// rejectedBytes finds the size of an entry the store refused, in the
// request: the first entry at its time in a stream of its labels. Refusals
// are rare; the search is linear.
func rejectedBytes(req *push.Request, r store.Rejected) int {
	want := r.Stream.String()
	for si := range req.Streams {
		ps := &req.Streams[si]
		if ps.Labels != want {
			// The text may differ from the parsed form (order, spaces).
			ls, err := labels.Parse(ps.Labels)
			if err != nil || !ls.WithoutEmpty().Equal(r.Stream) {
				continue
			}
		}
		for i := range ps.Entries {
			if ps.Entries[i].Timestamp == r.T {
				return entryBytes(&ps.Entries[i])
			}
		}
	}
	return 0
}

// parseLabels parses and validates a stream's label text, with a cache:
// clients send the same few thousand label sets again and again. The
// tenant's limits are checked apart (checkLabelLimits), since a label set
// may be pushed by several tenants, and their limits change.
func (d *Distributor) parseLabels(text string) (labels.Labels, error) {
	if c, ok := d.labelCache.get(text); ok {
		return c.ls, c.err
	}
	// text aliases the request body. The copy is the cache's key, and the
	// labels parsed from it share its memory: the store keeps them too.
	text = strings.Clone(text)
	ls, err := d.validateLabels(text)
	d.labelCache.put(text, cachedLabels{ls, err})
	return ls, err
}

func (d *Distributor) validateLabels(text string) (labels.Labels, error) {
	ls, err := labels.Parse(text)
	if err != nil {
		return nil, err
	}
	ls = ls.WithoutEmpty()
	if err := ls.Validate(); err != nil {
		return nil, err
	}
	return ls, nil
}

// tooManyLabels is the refusal of a label set by max_label_names_per_series,
// in Loki's words.
type tooManyLabels struct {
	ls       labels.Labels
	n, limit int
}

func (e *tooManyLabels) Error() string { return fmt.Sprintf(tooManyLabelsMsg, e.ls, e.n, e.limit) }
func (e *tooManyLabels) Unwrap() error { return errTooManyLabels }

// checkLabelLimits applies the tenant's limits on labels to a parsed set.
func checkLabelLimits(ls labels.Labels, lim *overrides.Limits) error {
	n := len(ls)
	if ls.Get(serviceNameLabel) != "" {
		n--
	}
	if n > lim.MaxLabelNamesPerSeries {
		return &tooManyLabels{ls: ls, n: n, limit: lim.MaxLabelNamesPerSeries}
	}
	for _, l := range ls {
		if len(l.Name) > lim.MaxLabelNameLength {
			return fmt.Errorf("label name %q is %d bytes long, more than the limit of %d (max_label_name_length)", clip(l.Name), len(l.Name), lim.MaxLabelNameLength)
		}
		if len(l.Value) > lim.MaxLabelValueLength {
			return fmt.Errorf("value of label %q is %d bytes long, more than the limit of %d (max_label_value_length)", l.Name, len(l.Value), lim.MaxLabelValueLength)
		}
	}
	return nil
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// fmtSeconds is a time as Loki's messages on timestamps print it: RFC 3339
// in whole seconds.
func fmtSeconds(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
