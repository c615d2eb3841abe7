package overrides

import (
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/labels"
)

const day = 24 * time.Hour

// rules compiles retention_stream rules for the tests.
func rules(t *testing.T, rs ...StreamRetention) Limits {
	t.Helper()
	l := DefaultLimits()
	l.RetentionStream = rs
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRetentionFor(t *testing.T) {
	l := rules(t,
		StreamRetention{Selector: `{namespace="dev"}`, Priority: 1, Period: Duration(1 * day)},
		StreamRetention{Selector: `{namespace="dev", app="api"}`, Priority: 2, Period: Duration(30 * day)},
		StreamRetention{Selector: `{namespace=~"prod|dev"}`, Priority: 1, Period: Duration(3 * day)},
		StreamRetention{Selector: `{team="a"}`, Priority: 5, Period: Duration(10 * day)},
		StreamRetention{Selector: `{team="a"}`, Priority: 5, Period: Duration(7 * day)},
		StreamRetention{Selector: `{env!="x", tier="gold"}`, Priority: 0, Period: Duration(100 * day)},
	)
	tests := []struct {
		name   string
		labels map[string]string
		want   time.Duration
	}{
		{"no rule matches: retention_period", map[string]string{"namespace": "qa"}, 14 * day},
		{"no labels at all", nil, 14 * day},
		{"equal priorities: the shorter period", map[string]string{"namespace": "dev"}, 1 * day},
		{"one rule", map[string]string{"namespace": "prod"}, 3 * day},
		{"the higher priority wins over a shorter period", map[string]string{"namespace": "dev", "app": "api"}, 30 * day},
		{"every matcher must match", map[string]string{"app": "api"}, 14 * day},
		{"same selector twice: the shorter", map[string]string{"team": "a", "namespace": "dev", "app": "api"}, 7 * day},
		{"a matcher on a missing label", map[string]string{"tier": "gold"}, 100 * day},
		{"a negative matcher excludes", map[string]string{"tier": "gold", "env": "x"}, 14 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.RetentionFor(labels.FromMap(tt.labels)); got != tt.want {
				t.Fatalf("RetentionFor(%v) = %v, want %v", tt.labels, got, tt.want)
			}
		})
	}
}

func TestRetentionForFirstOfEqualRules(t *testing.T) {
	// Equal priority and period: either is the answer; the period is what
	// counts, and it is the same.
	l := rules(t,
		StreamRetention{Selector: `{a="1"}`, Priority: 1, Period: Duration(2 * day)},
		StreamRetention{Selector: `{b="1"}`, Priority: 1, Period: Duration(2 * day)},
	)
	if got := l.RetentionFor(labels.FromMap(map[string]string{"a": "1", "b": "1"})); got != 2*day {
		t.Fatalf("got %v", got)
	}
}

func TestMaxMinRetention(t *testing.T) {
	tests := []struct {
		name     string
		period   Duration
		rules    []StreamRetention
		max, min time.Duration
	}{
		{"retention_period alone", Duration(14 * day), nil, 14 * day, 14 * day},
		{"forever", 0, nil, 0, 0},
		{"forever by default, rules or not", 0, []StreamRetention{{Selector: `{a="b"}`, Period: Duration(day)}}, 0, day},
		{"shorter rules: retention_period", Duration(14 * day), []StreamRetention{{Selector: `{a="b"}`, Period: Duration(day)}}, 14 * day, day},
		{"a longer rule", Duration(14 * day), []StreamRetention{
			{Selector: `{a="b"}`, Period: Duration(2 * day)},
			{Selector: `{a="c"}`, Priority: -1, Period: Duration(90 * day)},
		}, 90 * day, 2 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := rules(t, tt.rules...)
			l.RetentionPeriod = tt.period
			if got := l.MaxRetention(); got != tt.max {
				t.Errorf("MaxRetention() = %v, want %v", got, tt.max)
			}
			if got := l.MinRetention(); got != tt.min {
				t.Errorf("MinRetention() = %v, want %v", got, tt.min)
			}
		})
	}
}

func TestRetentionValidation(t *testing.T) {
	tests := []struct {
		name string
		rule StreamRetention
		want string // "" for valid
	}{
		{"valid", StreamRetention{Selector: `{namespace="dev"}`, Priority: 1, Period: Duration(day)}, ""},
		{"shorter than a day", StreamRetention{Selector: `{namespace="dev"}`, Period: Duration(23 * time.Hour)}, "retention period must be >= 24h was 23h"},
		{"zero period", StreamRetention{Selector: `{namespace="dev"}`}, "retention period must be >= 24h was 0s"},
		{"not a selector", StreamRetention{Selector: `namespace="dev"`, Period: Duration(day)}, `retention_stream[0]: invalid selector "namespace=\"dev\""`},
		{"empty selector", StreamRetention{Selector: ``, Period: Duration(day)}, "invalid selector"},
		{"a pipeline", StreamRetention{Selector: `{a="b"} |= "x"`, Period: Duration(day)}, "only a stream selector is allowed here"},
		{"matches every stream", StreamRetention{Selector: `{a=~".*"}`, Period: Duration(day)}, "empty-compatible"},
		{"bad regexp", StreamRetention{Selector: `{a=~"("}`, Period: Duration(day)}, "invalid selector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultLimits()
			l.RetentionStream = []StreamRetention{tt.rule}
			err := l.Validate()
			if tt.want == "" {
				if err != nil || len(l.RetentionStream[0].Matchers) == 0 {
					t.Fatalf("Validate() = %v, matchers %v", err, l.RetentionStream[0].Matchers)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
