package overrides

import (
	"os"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse: any input gives settings or an error, never a panic; the
// settings given are valid, and printed back as a file (as /runtime_config
// prints them) they read back the same.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/runtime.yaml"); err == nil {
		f.Add(string(data))
	}
	for _, s := range []string{
		"", "overrides:\n", "overrides:\n  t:\n",
		"overrides:\n  t:\n    retention_period: 1d\n    max_line_size: 1MB\n",
		"overrides:\n  t:\n    retention_stream:\n      - {selector: '{a=~\"b|c\"}', priority: 2, period: 2w}\n",
		"overrides:\n  \"null\": {query_timeout: 1.5us}\n  '~': {max_query_length: 0}\n",
		"overrides: &a {t: {max_query_series: 3}}\n",
		"overrides:\n  t: {reject_old_samples_max_age: 168h0m0s, creation_grace_period: 1h30m}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		d := DefaultLimits()
		got, err := Parse([]byte(file), &d)
		if err != nil {
			return
		}
		for tenant, l := range got {
			c := l.clone()
			if err := c.Validate(); err != nil {
				t.Fatalf("tenant %q: settings given do not validate: %v", tenant, err)
			}
			if len(l.RetentionStream) > 0 && len(l.RetentionStream[0].Matchers) == 0 {
				t.Fatalf("tenant %q: rules not compiled", tenant)
			}
		}
		printed, err := yaml.Marshal(runtimeFile{Overrides: got})
		if err != nil {
			t.Fatalf("printing %v: %v", got, err)
		}
		again, err := Parse(printed, &d)
		if err != nil {
			t.Fatalf("printed settings do not read back: %v\n%s", err, printed)
		}
		if len(again) != len(got) {
			t.Fatalf("read back %d tenants, want %d\n%s", len(again), len(got), printed)
		}
		for tenant, l := range got {
			a, b := summary(l), again[tenant]
			if b == nil {
				t.Fatalf("tenant %q lost\n%s", tenant, printed)
			}
			bs := summary(b)
			if len(a.RetentionStream) == 0 && len(bs.RetentionStream) == 0 {
				a.RetentionStream, bs.RetentionStream = nil, nil
			}
			if !reflect.DeepEqual(a, bs) {
				t.Fatalf("tenant %q: read back\n%+v\nwant\n%+v\nfrom\n%s", tenant, bs, a, printed)
			}
		}
	})
}
