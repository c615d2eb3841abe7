package overrides

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"
)

// Limits are the settings of one tenant, with the YAML names of Loki's
// limits_config. A *Limits handed out by Overrides is shared and
// immutable: read it from any goroutine, never write it.
//
// A zero value means "no limit" where Loki gives it that meaning
// (max_line_size, max_entries_limit_per_query, max_query_length,
// retention_period) and for reject_old_samples_max_age (Loki's
// reject_old_samples: false); Validate refuses it for the others.
type Limits struct {
	// Pushes (the distributor).
	MaxLabelNamesPerSeries int      `yaml:"max_label_names_per_series"`
	MaxLabelNameLength     int      `yaml:"max_label_name_length"`
	MaxLabelValueLength    int      `yaml:"max_label_value_length"`
	MaxLineSize            ByteSize `yaml:"max_line_size"`
	RejectOldSamplesMaxAge Duration `yaml:"reject_old_samples_max_age"`
	CreationGracePeriod    Duration `yaml:"creation_grace_period"`

	// Queries (the API).
	MaxEntriesLimitPerQuery int      `yaml:"max_entries_limit_per_query"`
	MaxQuerySeries          int      `yaml:"max_query_series"`
	MaxQueryLength          Duration `yaml:"max_query_length"`
	QueryTimeout            Duration `yaml:"query_timeout"`

	// Retention (the store): see RetentionFor.
	RetentionPeriod Duration          `yaml:"retention_period"`
	RetentionStream []StreamRetention `yaml:"retention_stream,omitempty"`
}

// DefaultLimits are the settings of a tenant when no flag, configuration
// file or override says otherwise: Loki's defaults, but for the retention,
// which Loam enables by default (Loki keeps everything unless the compactor
// is told to delete).
func DefaultLimits() Limits {
	return Limits{
		MaxLabelNamesPerSeries: 15,
		MaxLabelNameLength:     1024,
		MaxLabelValueLength:    2048,
		MaxLineSize:            256 << 10,
		RejectOldSamplesMaxAge: Duration(7 * 24 * time.Hour),
		CreationGracePeriod:    Duration(10 * time.Minute),

		MaxEntriesLimitPerQuery: 5000,
		MaxQuerySeries:          500,
		MaxQueryLength:          Duration(721 * time.Hour),
		QueryTimeout:            Duration(time.Minute),

		RetentionPeriod: Duration(336 * time.Hour),
	}
}

// RegisterFlags sets l to DefaultLimits and binds the flags that set the
// defaults of every tenant.
func (l *Limits) RegisterFlags(fs *flag.FlagSet) {
	*l = DefaultLimits()
	fs.IntVar(&l.MaxLabelNamesPerSeries, "limits.max-label-names-per-series", l.MaxLabelNamesPerSeries, "most labels a stream may have")
	fs.IntVar(&l.MaxLabelNameLength, "limits.max-label-name-length", l.MaxLabelNameLength, "longest label name, in bytes")
	fs.IntVar(&l.MaxLabelValueLength, "limits.max-label-value-length", l.MaxLabelValueLength, "longest label value, in bytes")
	fs.Var(&l.MaxLineSize, "limits.max-line-size", "longest log line: a `size` in bytes, or with a unit as 256KB (0: no limit)")
	fs.Var(&l.RejectOldSamplesMaxAge, "limits.reject-old-samples-max-age", "refuse entries older than this `duration` (0: accept any age)")
	fs.Var(&l.CreationGracePeriod, "limits.creation-grace-period", "refuse entries more than this `duration` in the future")

	fs.IntVar(&l.MaxEntriesLimitPerQuery, "query.max-entries-limit-per-query", l.MaxEntriesLimitPerQuery, "largest limit a log query may ask for (0: no limit)")
	fs.IntVar(&l.MaxQuerySeries, "query.max-query-series", l.MaxQuerySeries, "most series a metric query may return")
	fs.Var(&l.MaxQueryLength, "query.max-query-length", "longest time range a query may cover: a `duration` (0: no limit)")
	fs.Var(&l.QueryTimeout, "query.timeout", "longest a query may run: a `duration`")

	fs.Var(&l.RetentionPeriod, "retention.period", "delete logs older than this `duration` (72h, 14d, 2w; 0: keep forever); per tenant and per stream in the -runtime-config.file")
}

// clone returns a copy of l that shares no slice with it: Validate writes
// into the copy.
func (l *Limits) clone() Limits {
	c := *l
	c.RetentionStream = slices.Clone(l.RetentionStream)
	return c
}

// Validate checks l and compiles the selectors of its retention_stream
// rules. Call it before l is shared; Overrides hands out only validated
// Limits.
func (l *Limits) Validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, is %d", name, v))
		}
	}
	nonNegative := func(name string, v Duration) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, is %s", name, v))
		}
	}
	positive("max_label_names_per_series", int64(l.MaxLabelNamesPerSeries))
	positive("max_label_name_length", int64(l.MaxLabelNameLength))
	positive("max_label_value_length", int64(l.MaxLabelValueLength))
	if l.MaxLineSize < 0 {
		errs = append(errs, fmt.Errorf("max_line_size must not be negative"))
	}
	nonNegative("reject_old_samples_max_age", l.RejectOldSamplesMaxAge)
	nonNegative("creation_grace_period", l.CreationGracePeriod)
	if l.MaxEntriesLimitPerQuery < 0 {
		errs = append(errs, fmt.Errorf("max_entries_limit_per_query must not be negative, is %d", l.MaxEntriesLimitPerQuery))
	}
	positive("max_query_series", int64(l.MaxQuerySeries))
	nonNegative("max_query_length", l.MaxQueryLength)
	if l.QueryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("query_timeout must be positive, is %s", l.QueryTimeout))
	}
	nonNegative("retention_period", l.RetentionPeriod)
	if err := l.compileRetention(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
