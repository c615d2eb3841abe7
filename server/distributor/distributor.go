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
)

// Distributor validates pushes and appends them. Safe for concurrent use.
type Distributor struct {
	limits TenantLimits
	store  Appender
	now    func() time.Time

	linesReceived *prometheus.CounterVec
	bytesReceived *prometheus.CounterVec
	discarded     *prometheus.CounterVec

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
			Name: "loam_discarded_lines_total", Help: "Log lines rejected by validation, by tenant and reason."}, []string{"tenant", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(d.linesReceived, d.bytesReceived, d.discarded)
	}
	return d
}

// errTooManyLabels marks the label-count rule, counted under its own reason.
var errTooManyLabels = errors.New("drop labels or merge them into the line")

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

// Push validates req and stores what is valid. It returns a
// *ValidationError when anything was refused, or a storage error (nothing
// acknowledged; the client should retry).
func (d *Distributor) Push(tenant string, req *push.Request) error {
	lim := d.limits.For(tenant)
	now := d.now()
	oldest := int64(math.MinInt64) // reject_old_samples_max_age 0: any age
	if age := time.Duration(lim.RejectOldSamplesMaxAge); age > 0 {
		oldest = now.Add(-age).UnixNano()
	}
	newest := now.Add(time.Duration(lim.CreationGracePeriod)).UnixNano()
	maxLine := math.MaxInt // max_line_size 0: no limit
	if lim.MaxLineSize > 0 && lim.MaxLineSize < math.MaxInt {
		maxLine = int(lim.MaxLineSize)
	}
	verr := &ValidationError{}
	discard := func(reason string, n int) {
		d.discarded.WithLabelValues(tenant, reason).Add(float64(n))
		verr.Dropped += n
	}
	streams := make([]store.Stream, 0, len(req.Streams))
	var lines, bytes int
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
			verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: %v", clip(ps.Labels), err))
			reason := ReasonInvalidLabels
			if errors.Is(err, errTooManyLabels) {
				reason = ReasonTooManyLabels
			}
			discard(reason, len(ps.Entries))
			continue
		}
		es := make([]block.Entry, 0, len(ps.Entries))
		for i := range ps.Entries {
			e := &ps.Entries[i]
			switch {
			case len(e.Line) > maxLine:
				verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: line of %d bytes at %s is longer than the limit of %d bytes (max_line_size)",
					ls, len(e.Line), fmtTime(e.Timestamp), maxLine))
				discard(ReasonLineTooLong, 1)
				continue
			case e.Timestamp < oldest:
				verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: entry at %s is older than the accepted age of %s (reject_old_samples_max_age)",
					ls, fmtTime(e.Timestamp), time.Duration(lim.RejectOldSamplesMaxAge)))
				discard(ReasonTooOld, 1)
				continue
			case e.Timestamp > newest:
				verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: entry at %s is more than %s in the future (creation_grace_period)",
					ls, fmtTime(e.Timestamp), time.Duration(lim.CreationGracePeriod)))
				discard(ReasonTooNew, 1)
				continue
			}
			var meta labels.Labels
			if len(e.Metadata) > 0 {
				meta = make(labels.Labels, len(e.Metadata))
				for j, p := range e.Metadata {
					meta[j] = labels.Label{Name: p.Name, Value: p.Value}
				}
			}
			// The line aliases the request body; storage copies it.
			es = append(es, block.Entry{T: e.Timestamp, Line: unsafe.Slice(unsafe.StringData(e.Line), len(e.Line)), Meta: meta})
		}
		if len(es) > 0 {
			streams = append(streams, store.Stream{Labels: ls, Entries: es})
		}
	}
	d.linesReceived.WithLabelValues(tenant).Add(float64(lines))
	d.bytesReceived.WithLabelValues(tenant).Add(float64(bytes))
	if len(streams) > 0 {
		rejected, err := d.store.Append(tenant, streams)
		if err != nil {
			return err
		}
		for _, r := range rejected {
			verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: entry at %s refused: %s", r.Stream, fmtTime(r.T), r.Reason))
			if r.Expired {
				discard(ReasonRetention, 1)
			} else {
				discard(ReasonOutOfOrder, 1)
			}
		}
	}
	if len(verr.Problems) > 0 {
		return verr
	}
	return nil
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

// checkLabelLimits applies the tenant's limits on labels to a parsed set.
func checkLabelLimits(ls labels.Labels, lim *overrides.Limits) error {
	if len(ls) > lim.MaxLabelNamesPerSeries {
		return fmt.Errorf("%d labels, more than the limit of %d (max_label_names_per_series): %w", len(ls), lim.MaxLabelNamesPerSeries, errTooManyLabels)
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

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
