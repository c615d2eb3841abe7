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
// retention_period, max_global_streams_per_user) and for
// reject_old_samples_max_age (as reject_old_samples: false) and
// per_stream_rate_limit (no per-stream limit); Validate refuses it for the
// others.
type Limits struct {
	// Pushes (the distributor).
	MaxLabelNamesPerSeries int      `yaml:"max_label_names_per_series"`
	MaxLabelNameLength     int      `yaml:"max_label_name_length"`
	MaxLabelValueLength    int      `yaml:"max_label_value_length"`
	MaxLineSize            ByteSize `yaml:"max_line_size"`
	RejectOldSamples       bool     `yaml:"reject_old_samples"` // false: any age, whatever the max age
	RejectOldSamplesMaxAge Duration `yaml:"reject_old_samples_max_age"`
	CreationGracePeriod    Duration `yaml:"creation_grace_period"`

	// Rates and streams of pushes (the distributor): see package
	// distributor for how they are shared across a cluster.
	IngestionRateMB         float64  `yaml:"ingestion_rate_mb"`
	IngestionBurstSizeMB    float64  `yaml:"ingestion_burst_size_mb"`
	PerStreamRateLimit      ByteSize `yaml:"per_stream_rate_limit"`
	PerStreamRateLimitBurst ByteSize `yaml:"per_stream_rate_limit_burst"`
	MaxGlobalStreamsPerUser int      `yaml:"max_global_streams_per_user"`

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
		RejectOldSamples:       true,
		RejectOldSamplesMaxAge: Duration(7 * 24 * time.Hour),
		CreationGracePeriod:    Duration(10 * time.Minute),

		IngestionRateMB:         4,
		IngestionBurstSizeMB:    6,
		PerStreamRateLimit:      3 << 20,
		PerStreamRateLimitBurst: 15 << 20,
		MaxGlobalStreamsPerUser: 5000,

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
	fs.BoolVar(&l.RejectOldSamples, "limits.reject-old-samples", l.RejectOldSamples, "refuse entries older than -limits.reject-old-samples-max-age (false: accept any age)")
	fs.Var(&l.RejectOldSamplesMaxAge, "limits.reject-old-samples-max-age", "refuse entries older than this `duration` (0: accept any age)")
	fs.Var(&l.CreationGracePeriod, "limits.creation-grace-period", "refuse entries more than this `duration` in the future")
	fs.Float64Var(&l.IngestionRateMB, "limits.ingestion-rate-mb", l.IngestionRateMB, "bytes of lines and structured metadata a tenant may push per second, in MB (2^20 bytes); see -distributor.ingestion-rate-limit-strategy")
	fs.Float64Var(&l.IngestionBurstSizeMB, "limits.ingestion-burst-size-mb", l.IngestionBurstSizeMB, "bytes a tenant may push at once above its rate, in MB; a push larger than this is always refused")
	fs.Var(&l.PerStreamRateLimit, "limits.per-stream-rate-limit", "bytes per second one stream may take: a `size` as 3MB (0: no per-stream limit)")
	fs.Var(&l.PerStreamRateLimitBurst, "limits.per-stream-rate-limit-burst", "bytes one stream may take at once above its rate: a `size` as 15MB")
	fs.IntVar(&l.MaxGlobalStreamsPerUser, "limits.max-global-streams-per-user", l.MaxGlobalStreamsPerUser, "active streams a tenant may have across the cluster (0: no limit)")

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
	// NaN fails both comparisons, and so is refused too.
	if !(l.IngestionRateMB > 0) {
		errs = append(errs, fmt.Errorf("ingestion_rate_mb must be positive, is %v", l.IngestionRateMB))
	}
	if !(l.IngestionBurstSizeMB > 0) {
		errs = append(errs, fmt.Errorf("ingestion_burst_size_mb must be positive, is %v", l.IngestionBurstSizeMB))
	}
	if l.PerStreamRateLimit < 0 {
		errs = append(errs, fmt.Errorf("per_stream_rate_limit must not be negative"))
	}
	if l.PerStreamRateLimit > 0 && l.PerStreamRateLimitBurst <= 0 {
		errs = append(errs, fmt.Errorf("per_stream_rate_limit_burst must be positive, is %s", l.PerStreamRateLimitBurst))
	}
	if l.MaxGlobalStreamsPerUser < 0 {
		errs = append(errs, fmt.Errorf("max_global_streams_per_user must not be negative, is %d", l.MaxGlobalStreamsPerUser))
	}
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
