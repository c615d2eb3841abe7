package overrides

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/labels"
)

// summary prints Limits without the compiled matchers, for comparisons.
func summary(l *Limits) Limits {
	c := l.clone()
	for i := range c.RetentionStream {
		c.RetentionStream[i].Matchers = nil
	}
	return c
}

func TestParseExample(t *testing.T) {
	data, err := os.ReadFile("testdata/runtime.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defaults := DefaultLimits()
	got, err := Parse(data, &defaults)
	if err != nil {
		t.Fatal(err)
	}
	a := DefaultLimits()
	a.RetentionPeriod = Duration(72 * time.Hour)
	a.RetentionStream = []StreamRetention{
		{Selector: `{namespace="dev"}`, Priority: 1, Period: Duration(24 * time.Hour)},
		{Selector: `{container="nginx"}`, Priority: 1, Period: Duration(744 * time.Hour)},
	}
	a.MaxLineSize = 1024
	a.IngestionRateMB, a.PerStreamRateLimit, a.MaxGlobalStreamsPerUser = 0.5, 512<<10, 100
	b := DefaultLimits()
	b.MaxQuerySeries, b.QueryTimeout, b.MaxEntriesLimitPerQuery, b.MaxQueryLength = 1000, Duration(5*time.Minute), 10000, Duration(30*day)
	archive := DefaultLimits()
	archive.RetentionPeriod = 0
	want := map[string]Limits{"tenant-a": a, "tenant-b": b, "archive": archive, "quiet": DefaultLimits()}
	if len(got) != len(want) {
		t.Fatalf("tenants %v, want %v", got, want)
	}
	for tenant, w := range want {
		if g := got[tenant]; g == nil || !reflect.DeepEqual(summary(g), w) {
			t.Errorf("tenant %s:\n got %+v\nwant %+v", tenant, g, w)
		}
	}
	// The rules are compiled and select as Loki's compactor does.
	ta := got["tenant-a"]
	for _, c := range []struct {
		ls   map[string]string
		want time.Duration
	}{{map[string]string{"namespace": "dev"}, 24 * time.Hour}, {map[string]string{"container": "nginx"}, 744 * time.Hour},
		{map[string]string{"namespace": "dev", "container": "nginx"}, 24 * time.Hour}, {map[string]string{"app": "x"}, 72 * time.Hour}} {
		if r := ta.RetentionFor(labels.FromMap(c.ls)); r != c.want {
			t.Errorf("tenant-a RetentionFor(%v) = %v, want %v", c.ls, r, c.want)
		}
	}
	if ta.MaxRetention() != 744*time.Hour || got["archive"].MaxRetention() != 0 {
		t.Errorf("MaxRetention: tenant-a %v, archive %v", ta.MaxRetention(), got["archive"].MaxRetention())
	}
}

func TestParseMerge(t *testing.T) {
	defaults := DefaultLimits()
	defaults.MaxLineSize = 100 // as set by a flag
	defaults.RetentionStream = []StreamRetention{{Selector: `{env="dev"}`, Priority: 1, Period: Duration(2 * day)}}
	if err := defaults.Validate(); err != nil {
		t.Fatal(err)
	}
	before := summary(&defaults)
	tests := []struct {
		name string
		file string
		want func(l *Limits) // applied to the defaults
	}{
		{"unset fields keep the defaults, flags included", "overrides:\n  t:\n    max_query_series: 7\n",
			func(l *Limits) { l.MaxQuerySeries = 7 }},
		{"a set field wins, even zero", "overrides:\n  t:\n    max_line_size: 0\n",
			func(l *Limits) { l.MaxLineSize = 0 }},
		{"retention_stream replaces the defaults' rules", "overrides:\n  t:\n    retention_stream:\n      - {selector: '{a=\"b\"}', period: 3d}\n",
			func(l *Limits) {
				l.RetentionStream = []StreamRetention{{Selector: `{a="b"}`, Period: Duration(3 * day)}}
			}},
		{"an empty retention_stream removes them", "overrides:\n  t:\n    retention_stream: []\n",
			func(l *Limits) { l.RetentionStream = []StreamRetention{} }},
		{"a null entry is the defaults", "overrides:\n  t:\n", func(*Limits) {}},
		{"an empty entry is the defaults", "overrides:\n  t: {}\n", func(*Limits) {}},
		{"a number as tenant name", "overrides:\n  123:\n    max_query_series: 9\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.file), &defaults)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if got["123"] == nil || got["123"].MaxQuerySeries != 9 {
					t.Fatalf("got %v", got)
				}
				return
			}
			want := summary(&defaults)
			tt.want(&want)
			if len(got) != 1 || got["t"] == nil || !reflect.DeepEqual(summary(got["t"]), want) {
				t.Fatalf("got %+v\nwant %+v", got["t"], want)
			}
			for _, r := range got["t"].RetentionStream {
				if len(r.Matchers) == 0 {
					t.Fatalf("rule %s not compiled", r.Selector)
				}
			}
			if !reflect.DeepEqual(summary(&defaults), before) {
				t.Fatalf("the defaults changed: %+v", defaults)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	d := DefaultLimits()
	for _, f := range []string{"", "\n", "# nothing yet\n", "overrides:\n", "overrides: {}\n", "---\n"} {
		got, err := Parse([]byte(f), &d)
		if err != nil || len(got) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want no tenant", f, got, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"unknown key in an entry", "overrides:\n  t:\n    retention_perod: 1d\n",
			[]string{"line 3", `unknown setting "retention_perod"`}},
		{"unknown top-level key", "overrides: {}\nconfigs:\n  t: {}\n", []string{"line 2", `unknown key "configs": the file holds overrides: only`}},
		{"unknown key in a rule", "overrides:\n  t:\n    retention_stream:\n      - selector: '{a=\"b\"}'\n        period: 1d\n        prio: 1\n",
			[]string{"line 6", `unknown key "prio" in a retention_stream rule`}},
		{"not YAML", "overrides: [\n", []string{"yaml"}},
		{"overrides is a list", "overrides:\n  - t\n", []string{"line 2"}},
		{"a bad duration", "overrides:\n  t:\n    retention_period: 3 days\n", []string{"line 3", `invalid duration "3 days"`}},
		{"a bad size", "overrides:\n  t:\n    max_line_size: huge\n", []string{"line 3", `invalid size "huge"`}},
		{"an int that is not", "overrides:\n  t:\n    max_query_series: many\n", []string{"line 3", "many"}},
		{"a short stream retention", "overrides:\n  t:\n    retention_stream:\n      - {selector: '{a=\"b\"}', priority: 1, period: 12h}\n",
			[]string{`invalid overrides for tenant "t"`, "retention period must be >= 24h was 12h"}},
		{"a bad selector", "overrides:\n  t:\n    retention_stream:\n      - {selector: 'a=b', period: 1d}\n",
			[]string{`tenant "t"`, "invalid selector"}},
		{"an invalid value", "overrides:\n  ok: {}\n  t:\n    query_timeout: 0s\n", []string{`tenant "t"`, "query_timeout must be positive"}},
		{"a negative retention", "overrides:\n  t:\n    retention_period: -1h\n", []string{`tenant "t"`, "retention_period must not be negative"}},
		{"a duplicate tenant", "overrides:\n  t: {}\n  t: {}\n", []string{"already defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DefaultLimits()
			got, err := Parse([]byte(tt.file), &d)
			if err == nil {
				t.Fatalf("Parse = %v, want an error", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
