package distributor

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// Limits bound what a push may hold. Zero fields take DefaultLimits.
type Limits struct {
	MaxLabelNamesPerSeries int           `yaml:"max_label_names_per_series"`
	MaxLabelNameLength     int           `yaml:"max_label_name_length"`
	MaxLabelValueLength    int           `yaml:"max_label_value_length"`
	MaxLineSize            int           `yaml:"max_line_size"`
	RejectOldSamplesMaxAge time.Duration `yaml:"reject_old_samples_max_age"`
	CreationGracePeriod    time.Duration `yaml:"creation_grace_period"`
}

// DefaultLimits are Loki's defaults.
var DefaultLimits = Limits{
	MaxLabelNamesPerSeries: 15,
	MaxLabelNameLength:     1024,
	MaxLabelValueLength:    2048,
	MaxLineSize:            256 << 10,
	RejectOldSamplesMaxAge: 7 * 24 * time.Hour,
	CreationGracePeriod:    10 * time.Minute,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxLabelNamesPerSeries == 0 {
		l.MaxLabelNamesPerSeries = d.MaxLabelNamesPerSeries
	}
	if l.MaxLabelNameLength == 0 {
		l.MaxLabelNameLength = d.MaxLabelNameLength
	}
	if l.MaxLabelValueLength == 0 {
		l.MaxLabelValueLength = d.MaxLabelValueLength
	}
	if l.MaxLineSize == 0 {
		l.MaxLineSize = d.MaxLineSize
	}
	if l.RejectOldSamplesMaxAge == 0 {
		l.RejectOldSamplesMaxAge = d.RejectOldSamplesMaxAge
	}
	if l.CreationGracePeriod == 0 {
		l.CreationGracePeriod = d.CreationGracePeriod
	}
	return l
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
)

// Distributor validates pushes and appends them. Safe for concurrent use.
type Distributor struct {
	limits Limits
	store  Appender
	now    func() time.Time

	linesReceived *prometheus.CounterVec
	bytesReceived *prometheus.CounterVec
	discarded     *prometheus.CounterVec

	labelCache *labelCache // label text → parsed set
}

// New returns a Distributor writing to st; reg may be nil.
func New(limits Limits, st Appender, reg prometheus.Registerer) *Distributor {
	d := &Distributor{limits: limits.withDefaults(), store: st, now: time.Now, labelCache: newLabelCache(labelCacheBytes),
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
	now := d.now()
	oldest := now.Add(-d.limits.RejectOldSamplesMaxAge).UnixNano()
	newest := now.Add(d.limits.CreationGracePeriod).UnixNano()
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
			case len(e.Line) > d.limits.MaxLineSize:
				verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: line of %d bytes at %s is longer than the limit of %d bytes (max_line_size)",
					ls, len(e.Line), fmtTime(e.Timestamp), d.limits.MaxLineSize))
				discard(ReasonLineTooLong, 1)
				continue
			case e.Timestamp < oldest:
				verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: entry at %s is older than the accepted age of %s (reject_old_samples_max_age)",
					ls, fmtTime(e.Timestamp), d.limits.RejectOldSamplesMaxAge))
				discard(ReasonTooOld, 1)
				continue
			case e.Timestamp > newest:
				verr.Problems = append(verr.Problems, fmt.Sprintf("stream %s: entry at %s is more than %s in the future (creation_grace_period)",
					ls, fmtTime(e.Timestamp), d.limits.CreationGracePeriod))
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
			discard(ReasonOutOfOrder, 1)
		}
	}
	if len(verr.Problems) > 0 {
		return verr
	}
	return nil
}

// parseLabels parses and validates a stream's label text, with a cache:
// clients send the same label sets again and again.
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
	if len(ls) > d.limits.MaxLabelNamesPerSeries {
		return nil, fmt.Errorf("%d labels, more than the limit of %d (max_label_names_per_series): %w", len(ls), d.limits.MaxLabelNamesPerSeries, errTooManyLabels)
	}
	for _, l := range ls {
		if len(l.Name) > d.limits.MaxLabelNameLength {
			return nil, fmt.Errorf("label name %q is %d bytes long, more than the limit of %d (max_label_name_length)", clip(l.Name), len(l.Name), d.limits.MaxLabelNameLength)
		}
		if len(l.Value) > d.limits.MaxLabelValueLength {
			return nil, fmt.Errorf("value of label %q is %d bytes long, more than the limit of %d (max_label_value_length)", l.Name, len(l.Value), d.limits.MaxLabelValueLength)
		}
	}
	return ls, nil
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
