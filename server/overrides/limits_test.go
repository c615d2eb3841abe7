package overrides

import (
	"flag"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultLimits(t *testing.T) {
	// Loki's defaults, so that clients tuned for Loki see no new refusals;
	// the retention is Loam's own (Loki keeps everything by default).
	want := Limits{
		MaxLabelNamesPerSeries: 15, MaxLabelNameLength: 1024, MaxLabelValueLength: 2048,
		MaxLineSize: 256 * 1024, RejectOldSamples: true, RejectOldSamplesMaxAge: Duration(168 * time.Hour), CreationGracePeriod: Duration(10 * time.Minute),
		IngestionRateMB: 4, IngestionBurstSizeMB: 6, PerStreamRateLimit: 3 << 20, PerStreamRateLimitBurst: 15 << 20, MaxGlobalStreamsPerUser: 5000,
		MaxEntriesLimitPerQuery: 5000, MaxQuerySeries: 500, MaxQueryLength: Duration(721 * time.Hour), QueryTimeout: Duration(time.Minute),
		RetentionPeriod: Duration(336 * time.Hour),
	}
	d := DefaultLimits()
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("DefaultLimits() = %+v, want %+v", d, want)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterFlags(t *testing.T) {
	var l Limits
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l.RegisterFlags(fs)
	if !reflect.DeepEqual(l, DefaultLimits()) {
		t.Fatalf("before parsing: %+v", l)
	}
	err := fs.Parse([]string{"-retention.period", "3d", "-limits.max-line-size", "1KB", "-query.timeout", "90s",
		"-limits.max-label-names-per-series", "20", "-query.max-query-length", "0",
		"-limits.ingestion-rate-mb", "0.5", "-limits.per-stream-rate-limit", "1MB", "-limits.max-global-streams-per-user", "0"})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultLimits()
	want.RetentionPeriod = Duration(72 * time.Hour)
	want.MaxLineSize = 1024
	want.QueryTimeout = Duration(90 * time.Second)
	want.MaxLabelNamesPerSeries = 20
	want.MaxQueryLength = 0
	want.IngestionRateMB, want.PerStreamRateLimit, want.MaxGlobalStreamsPerUser = 0.5, 1<<20, 0
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("after parsing: %+v, want %+v", l, want)
	}
	for _, bad := range [][]string{{"-retention.period", "forever"}, {"-limits.max-line-size", "big"}} {
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	// -help shows the defaults as they are written in a file.
	if f := fs.Lookup("retention.period"); f.DefValue != "2w" {
		t.Errorf("-retention.period default printed %q", f.DefValue)
	}
	for name, want := range map[string]string{"limits.max-line-size": "256KB", "limits.per-stream-rate-limit": "3MB",
		"limits.per-stream-rate-limit-burst": "15MB", "limits.ingestion-rate-mb": "4", "limits.max-global-streams-per-user": "5000"} {
		if f := fs.Lookup(name); f.DefValue != want {
			t.Errorf("-%s default printed %q, want %q", name, f.DefValue, want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Limits)
		want string // "" for valid
	}{
		{"defaults", func(*Limits) {}, ""},
		{"no line size limit", func(l *Limits) { l.MaxLineSize = 0 }, ""},
		{"no entries limit", func(l *Limits) { l.MaxEntriesLimitPerQuery = 0 }, ""},
		{"no query length limit", func(l *Limits) { l.MaxQueryLength = 0 }, ""},
		{"keep forever", func(l *Limits) { l.RetentionPeriod = 0 }, ""},
		{"any age", func(l *Limits) { l.RejectOldSamplesMaxAge = 0 }, ""},
		{"no grace", func(l *Limits) { l.CreationGracePeriod = 0 }, ""},
		{"no stream limit", func(l *Limits) { l.MaxGlobalStreamsPerUser = 0 }, ""},
		{"no per-stream rate limit", func(l *Limits) { l.PerStreamRateLimit, l.PerStreamRateLimitBurst = 0, 0 }, ""},
		{"no ingestion rate", func(l *Limits) { l.IngestionRateMB = 0 }, "ingestion_rate_mb must be positive, is 0"},
		{"NaN ingestion rate", func(l *Limits) { l.IngestionRateMB = math.NaN() }, "ingestion_rate_mb must be positive, is NaN"},
		{"no burst", func(l *Limits) { l.IngestionBurstSizeMB = -1 }, "ingestion_burst_size_mb must be positive, is -1"},
		{"negative stream rate", func(l *Limits) { l.PerStreamRateLimit = -1 }, "per_stream_rate_limit must not be negative"},
		{"no stream burst", func(l *Limits) { l.PerStreamRateLimitBurst = 0 }, "per_stream_rate_limit_burst must be positive, is 0B"},
		{"negative streams", func(l *Limits) { l.MaxGlobalStreamsPerUser = -1 }, "max_global_streams_per_user must not be negative, is -1"},
		{"negative retention", func(l *Limits) { l.RetentionPeriod = Duration(-time.Hour) }, "retention_period must not be negative, is -1h"},
		{"no labels allowed", func(l *Limits) { l.MaxLabelNamesPerSeries = 0 }, "max_label_names_per_series must be positive, is 0"},
		{"label name length", func(l *Limits) { l.MaxLabelNameLength = -1 }, "max_label_name_length must be positive"},
		{"label value length", func(l *Limits) { l.MaxLabelValueLength = 0 }, "max_label_value_length must be positive"},
		{"negative line size", func(l *Limits) { l.MaxLineSize = -1 }, "max_line_size must not be negative"},
		{"negative age", func(l *Limits) { l.RejectOldSamplesMaxAge = Duration(-1) }, "reject_old_samples_max_age must not be negative"},
		{"negative grace", func(l *Limits) { l.CreationGracePeriod = Duration(-time.Second) }, "creation_grace_period must not be negative"},
		{"negative entries", func(l *Limits) { l.MaxEntriesLimitPerQuery = -5 }, "max_entries_limit_per_query must not be negative"},
		{"no series", func(l *Limits) { l.MaxQuerySeries = 0 }, "max_query_series must be positive"},
		{"negative query length", func(l *Limits) { l.MaxQueryLength = Duration(-time.Hour) }, "max_query_length must not be negative"},
		{"no time to query", func(l *Limits) { l.QueryTimeout = 0 }, "query_timeout must be positive, is 0s"},
		{"several at once", func(l *Limits) { l.QueryTimeout = 0; l.MaxQuerySeries = 0 }, "max_query_series must be positive, is 0\nquery_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultLimits()
			tt.set(&l)
			err := l.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
