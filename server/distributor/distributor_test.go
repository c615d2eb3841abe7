package distributor

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/push"
	"github.com/loam-logs/loam/server/store"
)

// now is the fixed clock of the tests.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeAppender records what Push hands to storage and answers with the
// configured rejections or error.
type fakeAppender struct {
	mu       sync.Mutex
	calls    int
	tenants  []string
	streams  []store.Stream // deep copies: Push's lines alias the request
	rejected []store.Rejected
	err      error
}

func (f *fakeAppender) Append(tenant string, streams []store.Stream) ([]store.Rejected, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.tenants = append(f.tenants, tenant)
	for _, s := range streams {
		c := store.Stream{Labels: s.Labels}
		for _, e := range s.Entries {
			c.Entries = append(c.Entries, block.Entry{T: e.T, Line: append([]byte(nil), e.Line...), Meta: e.Meta})
		}
		f.streams = append(f.streams, c)
	}
	return f.rejected, f.err
}

// appended returns what was appended as "labels line" strings, in order.
func (f *fakeAppender) appended() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.streams {
		for _, e := range s.Entries {
			out = append(out, s.Labels.String()+" "+string(e.Line))
		}
	}
	return out
}

// fixed gives every tenant the same limits.
type fixed overrides.Limits

func (f *fixed) For(string) *overrides.Limits { return (*overrides.Limits)(f) }

// withLimits returns Loki's defaults changed by set, for every tenant.
func withLimits(set func(*overrides.Limits)) *fixed {
	l := overrides.DefaultLimits()
	if set != nil {
		set(&l)
	}
	return (*fixed)(&l)
}

func newTest(t testing.TB, limits TenantLimits, app *fakeAppender) (*Distributor, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d := New(limits, app, reg)
	d.now = func() time.Time { return now }
	return d, reg
}

// at returns an entry at now+offset.
func at(offset time.Duration, line string) push.Entry {
	return push.Entry{Timestamp: now.Add(offset).UnixNano(), Line: line}
}

// okStream is the valid part of every mixed push below.
var okStream = push.Stream{Labels: `{app="ok"}`, Entries: []push.Entry{at(0, "fine")}}

func TestPushValidation(t *testing.T) {
	small := withLimits(func(l *overrides.Limits) {
		l.MaxLabelNamesPerSeries, l.MaxLabelNameLength, l.MaxLabelValueLength, l.MaxLineSize = 2, 8, 8, 10
		l.RejectOldSamplesMaxAge, l.CreationGracePeriod = overrides.Duration(time.Hour), overrides.Duration(time.Minute)
	})
	tests := []struct {
		name     string
		bad      push.Stream
		want     []string // substrings of the error
		reason   string
		dropped  int
		appended []string // besides okStream's line
	}{
		{
			name:   "unparsable labels",
			bad:    push.Stream{Labels: `{app=x}`, Entries: []push.Entry{at(0, "a"), at(0, "b")}},
			want:   []string{`stream {app=x}:`, "value must be quoted"},
			reason: ReasonInvalidLabels, dropped: 2,
		},
		{
			name:   "invalid label name",
			bad:    push.Stream{Labels: `{"foo-bar"="x"}`, Entries: []push.Entry{at(0, "a")}},
			want:   []string{`invalid label name "foo-bar"`, "[a-zA-Z_][a-zA-Z0-9_]*"},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			name:   "label name with leading digit",
			bad:    push.Stream{Labels: `{1a="x"}`, Entries: []push.Entry{at(0, "a")}},
			want:   []string{`invalid label name "1a"`},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			name:   "invalid UTF-8 value",
			bad:    push.Stream{Labels: "{app=\"\xff\"}", Entries: []push.Entry{at(0, "a")}},
			want:   []string{`invalid value of label "app": not valid UTF-8`},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			name:   "duplicate label name",
			bad:    push.Stream{Labels: `{a="1", a="2"}`, Entries: []push.Entry{at(0, "a")}},
			want:   []string{`duplicate label name "a"`},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			name:   "empty label set",
			bad:    push.Stream{Labels: `{}`, Entries: []push.Entry{at(0, "a")}},
			want:   []string{"empty label set"},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			// An empty value means the label is absent.
			name:   "only empty values",
			bad:    push.Stream{Labels: `{app="", env=""}`, Entries: []push.Entry{at(0, "a")}},
			want:   []string{"empty label set"},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			name:   "too many labels",
			bad:    push.Stream{Labels: `{a="1", b="2", c="3"}`, Entries: []push.Entry{at(0, "a"), at(0, "b"), at(0, "c")}},
			want:   []string{`entry for stream '{a="1", b="2", c="3"}' has 3 label names; limit 2`},
			reason: ReasonTooManyLabels, dropped: 3,
		},
		{
			// Empty labels are dropped before counting.
			name:     "empty values do not count",
			bad:      push.Stream{Labels: `{a="1", b="2", c=""}`, Entries: []push.Entry{at(0, "abc")}},
			appended: []string{`{a="1", b="2"} abc`},
		},
		{
			name:   "label name too long",
			bad:    push.Stream{Labels: `{abcdefghi="1"}`, Entries: []push.Entry{at(0, "a")}},
			want:   []string{`label name "abcdefghi" is 9 bytes long, more than the limit of 8 (max_label_name_length)`},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			name:   "label value too long",
			bad:    push.Stream{Labels: `{a="123456789"}`, Entries: []push.Entry{at(0, "a")}},
			want:   []string{`value of label "a" is 9 bytes long, more than the limit of 8 (max_label_value_length)`},
			reason: ReasonInvalidLabels, dropped: 1,
		},
		{
			name:     "limits are inclusive",
			bad:      push.Stream{Labels: `{abcdefgh="12345678", b="2"}`, Entries: []push.Entry{at(0, "0123456789")}},
			appended: []string{`{abcdefgh="12345678", b="2"} 0123456789`},
		},
		{
			name:   "line too long",
			bad:    push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(0, "short"), at(0, "01234567890")}},
			want:   []string{`max entry size '10' bytes exceeded for stream '{app="x"}' while adding an entry with length '11' bytes`},
			reason: ReasonLineTooLong, dropped: 1,
			appended: []string{`{app="x"} short`},
		},
		{
			name:   "too old",
			bad:    push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(-time.Hour-time.Nanosecond, "old"), at(-time.Hour, "kept")}},
			want:   []string{`entry for stream '{app="x"}' has timestamp too old: 2025-06-01T10:59:59Z, oldest acceptable timestamp is: 2025-06-01T11:00:00Z`},
			reason: ReasonTooOld, dropped: 1,
			appended: []string{`{app="x"} kept`},
		},
		{
			name:   "too far in the future",
			bad:    push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(time.Minute, "kept"), at(time.Minute+time.Nanosecond, "new")}},
			want:   []string{`entry for stream '{app="x"}' has timestamp too new: 2025-06-01T12:01:00Z`},
			reason: ReasonTooNew, dropped: 1,
			appended: []string{`{app="x"} kept`},
		},
		{
			// Loki checks the time before the size.
			name:   "too old and too long",
			bad:    push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(-2*time.Hour, "01234567890"), at(0, "kept")}},
			want:   []string{`entry for stream '{app="x"}' has timestamp too old: 2025-06-01T10:00:00Z, oldest acceptable timestamp is: 2025-06-01T11:00:00Z`},
			reason: ReasonTooOld, dropped: 1,
			appended: []string{`{app="x"} kept`},
		},
		{
			// Labels are checked before lines: a bad stream counts once,
			// under its labels' reason.
			name:   "bad labels and bad lines",
			bad:    push.Stream{Labels: `{1a="x"}`, Entries: []push.Entry{at(0, "01234567890"), at(-2*time.Hour, "a")}},
			want:   []string{`invalid label name "1a"`},
			reason: ReasonInvalidLabels, dropped: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &fakeAppender{}
			d, reg := newTest(t, small, app)
			err := d.Push("t1", &push.Request{Streams: []push.Stream{tt.bad, okStream}})

			// The valid part is stored whatever else the push held.
			want := append(tt.appended, `{app="ok"} fine`)
			if got := app.appended(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("appended %q, want %q", got, want)
			}
			if app.calls != 1 || app.tenants[0] != "t1" {
				t.Errorf("Append called %d times with tenants %v, want once with t1", app.calls, app.tenants)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Push: %v", err)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || !IsValidation(err) {
				t.Fatalf("Push = %v (%T), want a *ValidationError", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if verr.Dropped != tt.dropped {
				t.Errorf("Dropped = %d, want %d", verr.Dropped, tt.dropped)
			}
			// Counted under this reason only.
			got := series(t, reg, "loam_discarded_lines_total")
			want = []string{fmt.Sprintf(`loam_discarded_lines_total{reason=%q,tenant="t1"} %d`, tt.reason, tt.dropped)}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("metrics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// Loki adds service_name to every stream that lacks it, and so does not
// count it against max_label_names_per_series.
func TestServiceNameNotCounted(t *testing.T) {
	app := &fakeAppender{}
	d, _ := newTest(t, withLimits(func(l *overrides.Limits) { l.MaxLabelNamesPerSeries = 2 }), app)
	if err := d.Push("t", &push.Request{Streams: []push.Stream{{Labels: `{a="1", b="2", service_name="s"}`, Entries: []push.Entry{at(0, "x")}}}}); err != nil {
		t.Fatalf("two labels and service_name: %v", err)
	}
	err := d.Push("t", &push.Request{Streams: []push.Stream{{Labels: `{service_name="s", a="1", b="2", c="3"}`, Entries: []push.Entry{at(0, "y")}}}})
	want := `entry for stream '{a="1", b="2", c="3", service_name="s"}' has 3 label names; limit 2`
	if err == nil || err.Error() != want {
		t.Fatalf("three labels and service_name: %v, want %q", err, want)
	}
	if got := app.appended(); len(got) != 1 {
		t.Fatalf("appended %q, want the first push only", got)
	}
}

// When nothing in a push is valid, storage is not called at all.
func TestPushNothingValid(t *testing.T) {
	app := &fakeAppender{}
	d, _ := newTest(t, withLimits(nil), app)
	err := d.Push("t", &push.Request{Streams: []push.Stream{
		{Labels: `{}`, Entries: []push.Entry{at(0, "a")}},
		{Labels: `{app="x"}`, Entries: []push.Entry{at(-30*24*time.Hour, "old")}},
	}})
	if !IsValidation(err) {
		t.Fatalf("Push = %v, want a validation error", err)
	}
	if app.calls != 0 {
		t.Fatalf("Append called %d times, want 0", app.calls)
	}
	if got := err.(*ValidationError).Dropped; got != 2 {
		t.Fatalf("Dropped = %d, want 2", got)
	}
}

func TestPushEmpty(t *testing.T) {
	tests := []struct {
		name string
		req  *push.Request
	}{
		{"no streams", &push.Request{}},
		// A stream without entries is not an error: nothing to drop.
		{"stream without entries", &push.Request{Streams: []push.Stream{{Labels: `{app="x"}`}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &fakeAppender{}
			d, _ := newTest(t, withLimits(nil), app)
			if err := d.Push("t", tt.req); err != nil {
				t.Fatalf("Push: %v", err)
			}
			if app.calls != 0 {
				t.Fatalf("Append called %d times for an empty push", app.calls)
			}
		})
	}
}

func TestPushAppendsEverything(t *testing.T) {
	app := &fakeAppender{}
	d, _ := newTest(t, withLimits(nil), app)
	req := &push.Request{Streams: []push.Stream{
		{Labels: `{env="prod", app="api"}`, Entries: []push.Entry{at(-time.Second, "one"), at(0, "two")}},
		{Labels: `{app="web", empty=""}`, Entries: []push.Entry{{Timestamp: now.UnixNano(), Line: "three",
			Metadata: []push.LabelPair{{Name: "trace_id", Value: "abc"}}}}},
	}}
	if err := d.Push("t", req); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if len(app.streams) != 2 {
		t.Fatalf("appended %d streams, want 2", len(app.streams))
	}
	// Labels arrive sorted, without empty values; entries keep their order
	// and timestamps; metadata is passed on.
	api, web := app.streams[0], app.streams[1]
	if want := (labels.Labels{{Name: "app", Value: "api"}, {Name: "env", Value: "prod"}}); !api.Labels.Equal(want) {
		t.Errorf("labels %v, want %v", api.Labels, want)
	}
	if want := (labels.Labels{{Name: "app", Value: "web"}}); !web.Labels.Equal(want) {
		t.Errorf("labels %v, want %v", web.Labels, want)
	}
	if len(api.Entries) != 2 || string(api.Entries[0].Line) != "one" || api.Entries[0].T != now.Add(-time.Second).UnixNano() ||
		string(api.Entries[1].Line) != "two" || api.Entries[1].T != now.UnixNano() {
		t.Errorf("entries %+v", api.Entries)
	}
	if api.Entries[0].Meta != nil {
		t.Errorf("an entry without metadata got %v", api.Entries[0].Meta)
	}
	if want := (labels.Labels{{Name: "trace_id", Value: "abc"}}); !web.Entries[0].Meta.Equal(want) {
		t.Errorf("metadata %v, want %v", web.Entries[0].Meta, want)
	}
}

func TestPushStorageError(t *testing.T) {
	diskFull := errors.New("write WAL: no space left on device")
	app := &fakeAppender{err: diskFull}
	d, _ := newTest(t, withLimits(nil), app)
	// Even with invalid streams in the push, a storage failure wins: nothing
	// was acknowledged and the client must retry.
	err := d.Push("t", &push.Request{Streams: []push.Stream{okStream, {Labels: `{}`, Entries: []push.Entry{at(0, "x")}}}})
	if !errors.Is(err, diskFull) {
		t.Fatalf("Push = %v, want the storage error", err)
	}
	if IsValidation(err) {
		t.Fatal("a storage error is reported as a validation error: the client would not retry")
	}
}

func TestPushRejected(t *testing.T) {
	ls := labels.Labels{{Name: "app", Value: "ok"}}
	old := now.Add(-2 * time.Hour).UnixNano()
	app := &fakeAppender{rejected: []store.Rejected{
		{Stream: ls, T: old, Reason: "entry too far behind"},
		{Stream: ls, T: old + 1, Reason: "entry too far behind"},
	}}
	d, reg := newTest(t, withLimits(nil), app)
	err := d.Push("t", &push.Request{Streams: []push.Stream{okStream}})
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Push = %v, want a *ValidationError", err)
	}
	want := `stream {app="ok"}: entry at 2025-06-01T10:00:00Z refused: entry too far behind`
	if verr.Problems[0] != want {
		t.Errorf("problem %q, want %q", verr.Problems[0], want)
	}
	if len(verr.Problems) != 2 || verr.Dropped != 2 {
		t.Errorf("%d problems, %d dropped; want 2 and 2", len(verr.Problems), verr.Dropped)
	}
	got := series(t, reg, "loam_discarded_lines_total")
	if len(got) != 1 || got[0] != `loam_discarded_lines_total{reason="too_far_behind",tenant="t"} 2` {
		t.Errorf("metrics %q, want 2 lines discarded as too_far_behind", got)
	}
}

func TestPushMetrics(t *testing.T) {
	app := &fakeAppender{}
	d, reg := newTest(t, withLimits(func(l *overrides.Limits) { l.MaxLineSize = 5 }), app)
	// Lines and bytes received count everything that arrived, valid or
	// not; discards are by tenant and reason.
	_ = d.Push("a", &push.Request{Streams: []push.Stream{
		{Labels: `{app="x"}`, Entries: []push.Entry{at(0, "12345"), at(0, "123456"), at(-30*24*time.Hour, "1")}},
		{Labels: `{1a="x"}`, Entries: []push.Entry{at(0, "12")}},
	}})
	_ = d.Push("b", &push.Request{Streams: []push.Stream{
		{Labels: `{app="x"}`, Entries: []push.Entry{at(time.Hour, "")}},
	}})
	want := []string{
		`loam_discarded_bytes_total{reason="greater_than_max_sample_age",tenant="a"} 1`,
		`loam_discarded_bytes_total{reason="invalid_labels",tenant="a"} 2`,
		`loam_discarded_bytes_total{reason="line_too_long",tenant="a"} 6`,
		`loam_discarded_bytes_total{reason="too_far_in_future",tenant="b"} 0`,
		`loam_discarded_lines_total{reason="greater_than_max_sample_age",tenant="a"} 1`,
		`loam_discarded_lines_total{reason="invalid_labels",tenant="a"} 1`,
		`loam_discarded_lines_total{reason="line_too_long",tenant="a"} 1`,
		`loam_discarded_lines_total{reason="too_far_in_future",tenant="b"} 1`,
		`loam_discarded_samples_total{reason="greater_than_max_sample_age",tenant="a"} 1`,
		`loam_discarded_samples_total{reason="invalid_labels",tenant="a"} 1`,
		`loam_discarded_samples_total{reason="line_too_long",tenant="a"} 1`,
		`loam_discarded_samples_total{reason="too_far_in_future",tenant="b"} 1`,
		`loam_distributor_bytes_received_total{tenant="a"} 14`,
		`loam_distributor_bytes_received_total{tenant="b"} 0`,
		`loam_distributor_lines_received_total{tenant="a"} 4`,
		`loam_distributor_lines_received_total{tenant="b"} 1`,
	}
	if got := series(t, reg, "loam_"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("metrics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// series returns the counter series of g whose name starts with prefix, as
// sorted `name{label="value",...} value` lines. (client_golang's testutil
// needs a module that go.mod does not list.)
func series(t testing.TB, g prometheus.Gatherer, prefix string) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), prefix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out = append(out, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(ls, ","), m.GetCounter().GetValue()))
		}
	}
	slices.Sort(out)
	return out
}

// A nil registerer is allowed (tools and tests); the metrics still work.
func TestNewNilRegisterer(t *testing.T) {
	d := New(withLimits(nil), &fakeAppender{}, nil)
	if err := d.Push("t", &push.Request{Streams: []push.Stream{{Labels: `{a="1"}`, Entries: []push.Entry{{Timestamp: time.Now().UnixNano(), Line: "x"}}}}}); err != nil {
		t.Fatal(err)
	}
}

// Each push is checked against the limits of its tenant, asked anew for
// every push (the runtime configuration changes them), and the label cache
// shared by the tenants does not carry one tenant's verdict to another.
func TestLimitsPerTenant(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runtime.yaml")
	write := func(content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("overrides:\n  a: {max_line_size: 5, max_label_names_per_series: 1}\n  free: {max_line_size: 0, reject_old_samples_max_age: 0}\n  any-age: {reject_old_samples: false}\n")
	ov, err := overrides.New(overrides.DefaultLimits(), overrides.Config{File: file, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	app := &fakeAppender{}
	d, _ := newTest(t, ov, app)
	long := strings.Repeat("x", 300<<10) // over Loki's default 256KB
	cases := []struct {
		tenant string
		stream push.Stream
		want   string // "" for accepted
	}{
		{"a", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(0, "123456")}}, "max entry size '5' bytes exceeded"},
		{"b", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(0, "123456")}}, ""},
		{"a", push.Stream{Labels: `{app="x", env="y"}`, Entries: []push.Entry{at(0, "1")}}, "has 2 label names; limit 1"},
		{"b", push.Stream{Labels: `{app="x", env="y"}`, Entries: []push.Entry{at(0, "1")}}, ""},
		{"a", push.Stream{Labels: `{app="x", env="y"}`, Entries: []push.Entry{at(0, "1")}}, "has 2 label names; limit 1"},
		{"b", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(0, long)}}, "max entry size '262144' bytes exceeded"},
		{"free", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(0, long)}}, ""},
		{"b", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(-365*24*time.Hour, "old")}}, "has timestamp too old"},
		{"free", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(-365*24*time.Hour, "old")}}, ""},
		{"any-age", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(-365*24*time.Hour, "old")}}, ""},
		{"any-age", push.Stream{Labels: `{app="x"}`, Entries: []push.Entry{at(20*time.Minute, "new")}}, "has timestamp too new"},
	}
	for i, c := range cases {
		err := d.Push(c.tenant, &push.Request{Streams: []push.Stream{c.stream}})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("case %d: tenant %s: Push = %v, want %q", i, c.tenant, err, c.want)
		}
	}
	// A new runtime configuration applies to the next push.
	write("overrides:\n  a: {max_line_size: 100}\n")
	if err := ov.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := d.Push("a", &push.Request{Streams: []push.Stream{{Labels: `{app="x"}`, Entries: []push.Entry{at(0, "123456")}}}}); err != nil {
		t.Errorf("after the reload: %v", err)
	}
}

func TestLabelCache(t *testing.T) {
	d, _ := newTest(t, withLimits(nil), &fakeAppender{})
	tests := []struct {
		text string
		want string // canonical form, or error substring prefixed with "error: "
	}{
		{`{b="2", a="1"}`, `{a="1", b="2"}`},
		{`{a="1",b="2"}`, `{a="1", b="2"}`},
		{`{a="1", b="2", c=""}`, `{a="1", b="2"}`},
		{`{a="\x31"}`, `{a="1"}`},
		{`{1a="x"}`, `error: invalid label name "1a"`},
		{`{a=1}`, `error: label set "{a=1}": value of "a": value must be quoted`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			// The first call fills the cache, the second reads it: both
			// must give the same answer.
			for i := range 2 {
				ls, err := d.parseLabels(tt.text)
				got := ls.String()
				if err != nil {
					got = "error: " + err.Error()
				}
				if !strings.HasPrefix(got, tt.want) {
					t.Fatalf("call %d: parseLabels(%q) = %s, want %s", i, tt.text, got, tt.want)
				}
			}
			if _, ok := d.labelCache.get(tt.text); !ok {
				t.Fatalf("%q is not cached", tt.text)
			}
		})
	}
}

// The label text aliases the request body, which the server reuses for the
// next request: neither the cache key nor the labels may keep pointing at it.
func TestLabelCacheDoesNotAliasRequest(t *testing.T) {
	app := &fakeAppender{}
	d, _ := newTest(t, withLimits(nil), app)
	body := []byte(`{app="api"}`)
	text := unsafe.String(unsafe.SliceData(body), len(body))
	if err := d.Push("t", &push.Request{Streams: []push.Stream{{Labels: text, Entries: []push.Entry{at(0, "x")}}}}); err != nil {
		t.Fatal(err)
	}
	copy(body, `{app="xyz"}`) // the next request lands in the same buffer
	if got := app.streams[0].Labels.String(); got != `{app="api"}` {
		t.Fatalf("appended labels changed with the request buffer: %s", got)
	}
	for k, v := range d.labelCache.cur {
		if k != `{app="api"}` || v.ls.String() != `{app="api"}` {
			t.Fatalf("cache entry changed with the request buffer: %q → %s", k, v.ls)
		}
	}
	ls, err := d.parseLabels(`{app="api"}`)
	if err != nil || ls.String() != `{app="api"}` {
		t.Fatalf("parseLabels = %v, %v", ls, err)
	}
}

// Concurrent pushes of the same streams share the cache; run with -race.
func TestPushConcurrent(t *testing.T) {
	app := &fakeAppender{}
	d, _ := newTest(t, withLimits(nil), app)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				req := &push.Request{Streams: []push.Stream{
					{Labels: fmt.Sprintf(`{app="a%d"}`, i%10), Entries: []push.Entry{at(0, "x")}},
					{Labels: fmt.Sprintf(`{app="a%d", g="%d"}`, i%10, g), Entries: []push.Entry{at(0, "y")}},
				}}
				if err := d.Push("t", req); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := len(app.appended()); got != 8*50*2 {
		t.Fatalf("appended %d lines, want %d", got, 8*50*2)
	}
	if got := d.labelCache.len(); got != 10+80 {
		t.Fatalf("cache holds %d label sets, want 90", got)
	}
}

// Streams come and go: the label cache stays within its bytes, the label
// sets in use stay in it, and it answers like a parse whatever it dropped.
func TestLabelCacheBounded(t *testing.T) {
	lc := newLabelCache(64 << 10)
	d := &Distributor{limits: withLimits(nil), labelCache: lc}
	hot := `{app="hot", env="prod"}`
	for i := range 20_000 {
		text := fmt.Sprintf(`{app="api", pod="api-%06d", namespace="ns-%d"}`, i, i%7)
		ls, err := d.parseLabels(text)
		if err != nil || ls.Get("pod") != fmt.Sprintf("api-%06d", i) {
			t.Fatalf("%s: %v %v", text, ls, err)
		}
		if i%100 == 0 {
			if _, err := d.parseLabels(hot); err != nil {
				t.Fatal(err)
			}
		}
		lc.mu.RLock()
		var bytes int64
		for _, m := range []map[string]cachedLabels{lc.cur, lc.old} {
			for k, v := range m {
				bytes += entrySize(k, v)
			}
		}
		lc.mu.RUnlock()
		if bytes > lc.maxBytes+entrySize(text, cachedLabels{ls: ls}) {
			t.Fatalf("after %d label sets the cache holds %d bytes, max %d", i+1, bytes, lc.maxBytes)
		}
	}
	if _, ok := lc.get(hot); !ok {
		t.Fatal("a label set in use was dropped")
	}
	if n := lc.len(); n > 1000 {
		t.Fatalf("%d label sets cached", n)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	tests := []struct {
		name     string
		problems int
		want     string
	}{
		{"one", 1, "p0"},
		{"ten shown in full", 10, "p0\np1\np2\np3\np4\np5\np6\np7\np8\np9"},
		// A push with thousands of bad lines must not make a huge answer.
		{"more are summarised", 25, "p0\np1\np2\np3\np4\np5\np6\np7\np8\np9\n(and 15 more problems)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &ValidationError{}
			for i := range tt.problems {
				e.Problems = append(e.Problems, fmt.Sprintf("p%d", i))
			}
			if got := e.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	if IsValidation(errors.New("x")) || IsValidation(nil) || !IsValidation(fmt.Errorf("wrapped: %w", &ValidationError{})) {
		t.Fatal("IsValidation is wrong")
	}
}

// Long label texts are clipped in the message.
func TestPushClipsLabelText(t *testing.T) {
	d, _ := newTest(t, withLimits(nil), &fakeAppender{})
	text := `{a="` + strings.Repeat("x", 5000) + `"` // unterminated set
	err := d.Push("t", &push.Request{Streams: []push.Stream{{Labels: text, Entries: []push.Entry{at(0, "x")}}}})
	if !IsValidation(err) {
		t.Fatalf("Push = %v", err)
	}
	if len(err.Error()) > 1000 {
		t.Fatalf("error is %d bytes long", len(err.Error()))
	}
}

// nopAppender stands for storage in the benchmark.
type nopAppender struct{}

func (nopAppender) Append(string, []store.Stream) ([]store.Rejected, error) { return nil, nil }

// BenchmarkPush: a push of 100 streams of 10 lines, with the rate and
// stream limits in force (large enough to refuse nothing, so that every
// check runs to the end) and with them off (no stream is tracked; the
// tenant's bucket is still taken, as it always is).
func BenchmarkPush(b *testing.B) {
	const streams, perStream = 100, 10
	req := &push.Request{}
	for s := range streams {
		ps := push.Stream{Labels: fmt.Sprintf(`{app="app-%d", env="prod", host="host-%d.example.com"}`, s%10, s)}
		for i := range perStream {
			ps.Entries = append(ps.Entries, push.Entry{Timestamp: now.Add(time.Duration(i) * time.Millisecond).UnixNano(),
				Line: fmt.Sprintf(`level=info msg="request served" path=/api/v1/items/%d status=200 duration=12ms`, i)})
		}
		req.Streams = append(req.Streams, ps)
	}
	for _, bc := range []struct {
		name string
		set  func(*overrides.Limits)
	}{
		{"limits=off", func(l *overrides.Limits) {
			l.IngestionRateMB, l.IngestionBurstSizeMB, l.PerStreamRateLimit, l.MaxGlobalStreamsPerUser = 1e9, 1e9, 0, 0
		}},
		{"limits=on", func(l *overrides.Limits) {
			l.IngestionRateMB, l.IngestionBurstSizeMB, l.PerStreamRateLimit, l.PerStreamRateLimitBurst = 1e9, 1e9, 1<<50, 1<<50
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := New(withLimits(bc.set), nopAppender{}, prometheus.NewRegistry())
			d.now = func() time.Time { return now }
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Push("t", req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streams*perStream), "ns/entry")
		})
	}
}
