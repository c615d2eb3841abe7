package config

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// errorList returns the messages of a Parse error, one per bad setting, and
// checks that each is a *KeyError naming a known key.
func errorList(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []string
	for _, e := range errs {
		var ke *KeyError
		if !errors.As(e, &ke) {
			t.Errorf("error %q is not a *KeyError", e)
		} else if !knownKey(ke.Key) {
			t.Errorf("error %q names unknown key %q", e, ke.Key)
		}
		out = append(out, e.Error())
	}
	return out
}

var allKeys = []string{
	keyURL, keyTenantID, keyTenantIDKey, keyLabels, keyLabelKeys, keyLabelMapPath,
	keyAutoKubernetesLabels, keyRemoveKeys, keyLineFormat, keyDropSingleKey,
	keyStructuredMetadataKeys, keyExcludeNamespaces, keyRedact, keyRedactNamespaces,
	keyRedactWith, keyBatchWait, keyBatchSize, keyTimeout, keyMinBackoff, keyMaxBackoff,
	keyMaxRetries, keyCAFile, keyCertFile, keyKeyFile, keyInsecureSkipVerify, keyUsername,
	keyPassword, keyBearerToken, keyBearerTokenFile, keyMetricsAddr,
}

func knownKey(k string) bool {
	for _, a := range allKeys {
		if a == k {
			return true
		}
	}
	return false
}

func mustParse(t *testing.T, g MapGetter) *Config {
	t.Helper()
	c, err := Parse(g)
	if err != nil {
		t.Fatalf("Parse(%v): %v", g, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, MapGetter{})
	u, _ := url.Parse("http://127.0.0.1:3100/loki/api/v1/push")
	want := &Config{
		URLs:                 []*url.URL{u},
		AutoKubernetesLabels: true,
		LineFormat:           LineRaw,
		RedactWith:           "[REDACTED]",
		BatchWait:            time.Second,
		BatchSize:            1048576,
		Timeout:              10 * time.Second,
		MinBackoff:           500 * time.Millisecond,
		MaxBackoff:           5 * time.Second,
		MaxRetries:           3,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %s\nwant %s", c, want)
	}
	// Blank values are unset values: Fluent Bit hands "" for a key
	// written with no value.
	blank := MapGetter{}
	for _, k := range allKeys {
		blank[k] = "  "
	}
	if c := mustParse(t, blank); !reflect.DeepEqual(c, want) {
		t.Errorf("blank values:\n got %s\nwant %s", c, want)
	}
}

func urlStrings(us []*url.URL) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.String())
	}
	return out
}

func TestParseAccepts(t *testing.T) {
	matches := func(c *Config, names ...string) []bool {
		var out []bool
		for _, n := range names {
			m := false
			for _, re := range c.ExcludeNamespaces {
				m = m || re.MatchString(n)
			}
			out = append(out, m)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		keys  MapGetter
		field func(*Config) any
		want  any
	}{
		// Url
		{"Url host:port", MapGetter{"Url": "http://loam:3100"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"http://loam:3100/loki/api/v1/push"}},
		{"Url slash", MapGetter{"Url": "https://loam.example/"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"https://loam.example/loki/api/v1/push"}},
		{"Url own path", MapGetter{"Url": "http://gw:8080/tenant-a/loki/api/v1/push"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"http://gw:8080/tenant-a/loki/api/v1/push"}},
		{"Url query kept", MapGetter{"Url": "http://a:3100/?x=1"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"http://a:3100/loki/api/v1/push?x=1"}},
		{"Url upper-case scheme", MapGetter{"Url": "HTTP://loam:3100"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"http://loam:3100/loki/api/v1/push"}},
		{"Url IPv6", MapGetter{"Url": "http://[::1]:3100"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"http://[::1]:3100/loki/api/v1/push"}},
		{"Url commas", MapGetter{"Url": "http://a:3100, http://b:3100,"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"http://a:3100/loki/api/v1/push", "http://b:3100/loki/api/v1/push"}},
		{"Url spaces", MapGetter{"Url": "http://a:3100 http://b:3100\thttps://c"}, func(c *Config) any { return urlStrings(c.URLs) },
			[]string{"http://a:3100/loki/api/v1/push", "http://b:3100/loki/api/v1/push", "https://c/loki/api/v1/push"}},
		// Tenant
		{"TenantID", MapGetter{"TenantID": "team-a"}, func(c *Config) any { return c.TenantID }, "team-a"},
		{"TenantIDKey dotted", MapGetter{"TenantIDKey": "kubernetes.namespace_name"}, func(c *Config) any { return c.TenantIDKey },
			[]string{"kubernetes", "namespace_name"}},
		{"TenantIDKey accessor", MapGetter{"TenantIDKey": "$kubernetes['labels']['loam.io/tenant']"}, func(c *Config) any { return c.TenantIDKey },
			[]string{"kubernetes", "labels", "loam.io/tenant"}},
		// Labels
		{"Labels", MapGetter{"Labels": `{env="prod", cluster="lab"}`}, func(c *Config) any { return c.Labels },
			[]Label{{"cluster", "lab"}, {"env", "prod"}}},
		{"Labels no braces", MapGetter{"Labels": `cluster="lab"`}, func(c *Config) any { return c.Labels },
			[]Label{{"cluster", "lab"}}},
		{"Labels quoting", MapGetter{"Labels": "{a=`x\\y`, b=\"say \\\"hi\\\"\"}"}, func(c *Config) any { return c.Labels },
			[]Label{{"a", `x\y`}, {"b", `say "hi"`}}},
		{"Labels empty set", MapGetter{"Labels": "{}"}, func(c *Config) any { return c.Labels }, []Label(nil)},
		// LabelKeys
		{"LabelKeys", MapGetter{"LabelKeys": "kubernetes.host, app=$kubernetes['labels']['app.kubernetes.io/name'], $kubernetes['labels']['tier']"},
			func(c *Config) any { return c.LabelKeys }, []KeyPath{
				{[]string{"kubernetes", "host"}, "host"},
				{[]string{"kubernetes", "labels", "app.kubernetes.io/name"}, "app"},
				{[]string{"kubernetes", "labels", "tier"}, "tier"},
			}},
		{"LabelKeys same name, other shapes", MapGetter{"LabelKeys": "node=kubernetes.host, node=_HOSTNAME"},
			func(c *Config) any { return c.LabelKeys }, []KeyPath{
				{[]string{"kubernetes", "host"}, "node"},
				{[]string{"_HOSTNAME"}, "node"},
			}},
		// LabelMapPath
		{"LabelMapPath", MapGetter{"LabelMapPath": "testdata/labelmap.json"}, func(c *Config) any { return c.LabelMap[4] },
			KeyPath{[]string{"kubernetes", "labels", "app.kubernetes.io/name"}, "app"}},
		// AutoKubernetesLabels
		{"AutoKubernetesLabels off", MapGetter{"AutoKubernetesLabels": "off"}, func(c *Config) any { return c.AutoKubernetesLabels }, false},
		{"AutoKubernetesLabels false", MapGetter{"AutoKubernetesLabels": "False"}, func(c *Config) any { return c.AutoKubernetesLabels }, false},
		{"AutoKubernetesLabels no", MapGetter{"AutoKubernetesLabels": "no"}, func(c *Config) any { return c.AutoKubernetesLabels }, false},
		{"AutoKubernetesLabels 0", MapGetter{"AutoKubernetesLabels": "0"}, func(c *Config) any { return c.AutoKubernetesLabels }, false},
		{"AutoKubernetesLabels on", MapGetter{"AutoKubernetesLabels": "ON"}, func(c *Config) any { return c.AutoKubernetesLabels }, true},
		// RemoveKeys
		{"RemoveKeys", MapGetter{"RemoveKeys": "stream, kubernetes.annotations, $kubernetes['labels']['pod-template-hash']"},
			func(c *Config) any { return c.RemoveKeys }, [][]string{
				{"stream"}, {"kubernetes", "annotations"}, {"kubernetes", "labels", "pod-template-hash"},
			}},
		// LineFormat
		{"LineFormat raw", MapGetter{"LineFormat": "raw"}, func(c *Config) any { return c.LineFormat }, LineRaw},
		{"LineFormat json", MapGetter{"LineFormat": "JSON"}, func(c *Config) any { return c.LineFormat }, LineJSON},
		{"LineFormat key_value", MapGetter{"LineFormat": "key_value"}, func(c *Config) any { return c.LineFormat }, LineKeyValue},
		{"LineFormat kv", MapGetter{"LineFormat": "kv"}, func(c *Config) any { return c.LineFormat }, LineKeyValue},
		// DropSingleKey
		{"DropSingleKey on", MapGetter{"DropSingleKey": "on"}, func(c *Config) any { return c.DropSingleKey }, true},
		{"DropSingleKey yes", MapGetter{"DropSingleKey": "Yes"}, func(c *Config) any { return c.DropSingleKey }, true},
		{"DropSingleKey 1", MapGetter{"DropSingleKey": "1"}, func(c *Config) any { return c.DropSingleKey }, true},
		{"DropSingleKey true", MapGetter{"DropSingleKey": "true"}, func(c *Config) any { return c.DropSingleKey }, true},
		// StructuredMetadataKeys
		{"StructuredMetadataKeys", MapGetter{"StructuredMetadataKeys": "level=PRIORITY, kubernetes.pod_id, trace=$log['trace.id']"},
			func(c *Config) any { return c.StructuredMetadataKeys }, []KeyPath{
				{[]string{"PRIORITY"}, "level"},
				{[]string{"kubernetes", "pod_id"}, "pod_id"},
				{[]string{"log", "trace.id"}, "trace"},
			}},
		// ExcludeNamespaces: anchored, so a prefix pattern does not match
		// in the middle of a name.
		{"ExcludeNamespaces", MapGetter{"ExcludeNamespaces": "kube-.*, monitoring"},
			func(c *Config) any { return matches(c, "kube-system", "monitoring", "monitoring-2", "my-kube-x", "") },
			[]bool{true, true, false, false, false}},
		{"ExcludeNamespaces alternation", MapGetter{"ExcludeNamespaces": "a|b"},
			func(c *Config) any { return matches(c, "a", "b", "ab") }, []bool{true, true, false}},
		{"ExcludeNamespaces repeat count", MapGetter{"ExcludeNamespaces": "ns-[0-9]{1,2}"},
			func(c *Config) any { return matches(c, "ns-1", "ns-22", "ns-333") }, []bool{true, true, false}},
		// Redact
		{"Redact", MapGetter{"Redact": `password=\S+|token=\w+`},
			func(c *Config) any {
				return c.Redact[0].ReplaceAllLiteralString("password=abc token=x1 ok", c.RedactWith)
			},
			"[REDACTED] [REDACTED] ok"},
		{"Redact with commas", MapGetter{"Redact": `\b\d{3,4}-\d{4}\b`, "RedactWith": "***"},
			func(c *Config) any { return c.Redact[0].ReplaceAllLiteralString("call 555-1234 now", c.RedactWith) },
			"call *** now"},
		{"RedactNamespaces", MapGetter{"Redact": "secret", "RedactNamespaces": "payments, auth-.*"},
			func(c *Config) any {
				var out []bool
				for _, n := range []string{"payments", "auth-x", "payments-2"} {
					m := false
					for _, re := range c.RedactNamespaces {
						m = m || re.MatchString(n)
					}
					out = append(out, m)
				}
				return out
			}, []bool{true, true, false}},
		// Durations
		{"BatchWait 0", MapGetter{"BatchWait": "0"}, func(c *Config) any { return c.BatchWait }, time.Duration(0)},
		{"BatchWait 250ms", MapGetter{"BatchWait": "250ms"}, func(c *Config) any { return c.BatchWait }, 250 * time.Millisecond},
		{"BatchWait 1.5", MapGetter{"BatchWait": "1.5"}, func(c *Config) any { return c.BatchWait }, 1500 * time.Millisecond},
		{"Timeout 30s", MapGetter{"Timeout": "30s"}, func(c *Config) any { return c.Timeout }, 30 * time.Second},
		{"Timeout 30", MapGetter{"Timeout": "30"}, func(c *Config) any { return c.Timeout }, 30 * time.Second},
		{"MinBackoff", MapGetter{"MinBackoff": "1s"}, func(c *Config) any { return c.MinBackoff }, time.Second},
		{"MaxBackoff", MapGetter{"MaxBackoff": "1m"}, func(c *Config) any { return c.MaxBackoff }, time.Minute},
		{"MinBackoff = MaxBackoff", MapGetter{"MinBackoff": "2s", "MaxBackoff": "2"},
			func(c *Config) any { return [2]time.Duration{c.MinBackoff, c.MaxBackoff} }, [2]time.Duration{2 * time.Second, 2 * time.Second}},
		// BatchSize
		{"BatchSize bytes", MapGetter{"BatchSize": "1048576"}, func(c *Config) any { return c.BatchSize }, 1048576},
		{"BatchSize 1M", MapGetter{"BatchSize": "1M"}, func(c *Config) any { return c.BatchSize }, 1000000},
		{"BatchSize 1MiB", MapGetter{"BatchSize": "1MiB"}, func(c *Config) any { return c.BatchSize }, 1048576},
		{"BatchSize 512k", MapGetter{"BatchSize": "512k"}, func(c *Config) any { return c.BatchSize }, 512000},
		{"BatchSize 256KiB", MapGetter{"BatchSize": "256 KiB"}, func(c *Config) any { return c.BatchSize }, 262144},
		// MaxRetries
		{"MaxRetries 0", MapGetter{"MaxRetries": "0"}, func(c *Config) any { return c.MaxRetries }, 0},
		{"MaxRetries 10", MapGetter{"MaxRetries": "10"}, func(c *Config) any { return c.MaxRetries }, 10},
		// TLS off for https without TLS keys: system roots.
		{"https without TLS keys", MapGetter{"Url": "https://loam"}, func(c *Config) any { return c.TLS == nil }, true},
		{"InsecureSkipVerify off with http", MapGetter{"InsecureSkipVerify": "off"}, func(c *Config) any { return c.TLS == nil }, true},
		{"InsecureSkipVerify on", MapGetter{"Url": "https://loam", "InsecureSkipVerify": "on"},
			func(c *Config) any { return c.TLS.InsecureSkipVerify }, true},
		// Auth
		{"basic", MapGetter{"Username": "fluent", "Password": "s3cret"},
			func(c *Config) any { return [2]string{c.Username, c.Password} }, [2]string{"fluent", "s3cret"}},
		{"basic without password", MapGetter{"Username": "fluent"},
			func(c *Config) any { return [2]string{c.Username, c.Password} }, [2]string{"fluent", ""}},
		{"bearer", MapGetter{"BearerToken": "eyJhbGciOi.J9.x-y_z="}, func(c *Config) any { return c.BearerToken }, "eyJhbGciOi.J9.x-y_z="},
		// MetricsAddr
		{"MetricsAddr port", MapGetter{"MetricsAddr": ":2021"}, func(c *Config) any { return c.MetricsAddr }, ":2021"},
		{"MetricsAddr host", MapGetter{"MetricsAddr": "127.0.0.1:2021"}, func(c *Config) any { return c.MetricsAddr }, "127.0.0.1:2021"},
		{"MetricsAddr IPv6", MapGetter{"MetricsAddr": "[::1]:2021"}, func(c *Config) any { return c.MetricsAddr }, "[::1]:2021"},
		{"MetricsAddr name", MapGetter{"MetricsAddr": "localhost:2021"}, func(c *Config) any { return c.MetricsAddr }, "localhost:2021"},
		// Keys are case-insensitive and values trimmed.
		{"case and spaces", MapGetter{"TIMEOUT": " 3s ", "url": " http://x:1 "},
			func(c *Config) any { return []any{c.Timeout, urlStrings(c.URLs)} }, []any{3 * time.Second, []string{"http://x:1/loki/api/v1/push"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := mustParse(t, c.keys)
			if got := c.field(cfg); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	dir := t.TempDir()
	badMap := writeFile(t, dir, "bad.json", `{"kubernetes": {"labels": {"app": "app.name"}}}`)
	token := writeFile(t, dir, "token", "tok\n")
	emptyToken := writeFile(t, dir, "empty", " \n")
	spacedToken := writeFile(t, dir, "spaced", "a b\n")
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		name string
		keys MapGetter
		want []string
	}{
		// Url
		{"Url no scheme", MapGetter{"Url": "loam:3100"},
			[]string{`config: Url "loam:3100": want an http:// or https:// URL, e.g. http://loam:3100`}},
		{"Url ftp", MapGetter{"Url": "ftp://loam"},
			[]string{`config: Url "ftp://loam": want an http:// or https:// URL, e.g. http://loam:3100`}},
		{"Url no host", MapGetter{"Url": "http://"},
			[]string{`config: Url "http://": no host (want e.g. http://loam:3100)`}},
		{"Url port only", MapGetter{"Url": "http://:3100"},
			[]string{`config: Url "http://:3100": no host (want e.g. http://loam:3100)`}},
		{"Url credentials", MapGetter{"Url": "http://fluent:s3cret@loam:3100"},
			[]string{`config: Url "http://fluent:xxxxx@loam:3100": credentials in the URL are not supported (use Username and Password)`}},
		{"Url credentials unparsable", MapGetter{"Url": "http://fluent:s3cret@loam:x"},
			[]string{`config: Url "http://fluent:xxxxx@loam:x": not a URL: invalid port ":x" after host (want e.g. http://loam:3100)`}},
		{"Url fragment", MapGetter{"Url": "http://loam:3100/#top"},
			[]string{`config: Url "http://loam:3100/#top": a #fragment means nothing to a push URL`}},
		{"Url port range", MapGetter{"Url": "http://loam:99999"},
			[]string{`config: Url "http://loam:99999": port 99999 is not from 1 to 65535`}},
		{"Url bad escape", MapGetter{"Url": "http://loam/%zz"},
			[]string{`config: Url "http://loam/%zz": not a URL: invalid URL escape "%zz" (want e.g. http://loam:3100)`}},
		{"Url one bad of two", MapGetter{"Url": "http://a:3100, b"},
			[]string{`config: Url "b": want an http:// or https:// URL, e.g. http://loam:3100`}},
		{"Url only commas", MapGetter{"Url": ", ,"},
			[]string{`config: Url ", ,": no URL in the list (want e.g. http://loam:3100)`}},
		// Tenant
		{"TenantID space", MapGetter{"TenantID": "team a"},
			[]string{`config: TenantID "team a": not a tenant ID (want at most 150 letters, digits and !-_.*'(), not . or ..)`}},
		{"TenantID pipe", MapGetter{"TenantID": "a|b"},
			[]string{`config: TenantID "a|b": not a tenant ID (want at most 150 letters, digits and !-_.*'(), not . or ..)`}},
		{"TenantID dots", MapGetter{"TenantID": ".."},
			[]string{`config: TenantID "..": not a tenant ID (want at most 150 letters, digits and !-_.*'(), not . or ..)`}},
		{"TenantIDKey two", MapGetter{"TenantIDKey": "a, b"},
			[]string{`config: TenantIDKey "a, b": want one record path (the tenant comes from a single field)`}},
		{"TenantIDKey named", MapGetter{"TenantIDKey": "tenant=kubernetes.namespace_name"},
			[]string{`config: TenantIDKey "tenant=kubernetes.namespace_name": record path "tenant=kubernetes.namespace_name" holds '=' (name=path is for LabelKeys and StructuredMetadataKeys; a nested key with '=' is written $a['b=c'])`}},
		{"TenantIDKey bad", MapGetter{"TenantIDKey": "a..b"},
			[]string{`config: TenantIDKey "a..b": record path "a..b" has an empty element (want e.g. kubernetes.labels.app)`}},
		// Labels
		{"Labels unquoted", MapGetter{"Labels": "{cluster=lab}"},
			[]string{`config: Labels "{cluster=lab}": value of "cluster": value must be quoted, found "lab}" (want e.g. {cluster="lab", env="prod"})`}},
		{"Labels unterminated", MapGetter{"Labels": `{cluster="lab}`},
			[]string{`config: Labels "{cluster=\"lab}": value of "cluster": unterminated quoted string (want e.g. {cluster="lab", env="prod"})`}},
		{"Labels dotted name", MapGetter{"Labels": `{app.name="x"}`},
			[]string{`config: Labels "{app.name=\"x\"}": "app.name" is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)`}},
		{"Labels quoted name", MapGetter{"Labels": `{"a b"="x"}`},
			[]string{`config: Labels "{\"a b\"=\"x\"}": "a b" is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)`}},
		{"Labels empty value", MapGetter{"Labels": `{a=""}`},
			[]string{`config: Labels "{a=\"\"}": label a has an empty value, which Loki reads as no label`}},
		{"Labels twice", MapGetter{"Labels": `{a="1", a="2"}`},
			[]string{`config: Labels "{a=\"1\", a=\"2\"}": label a is given twice`}},
		{"Labels trailing", MapGetter{"Labels": `{a="1"} x`},
			[]string{`config: Labels "{a=\"1\"} x": unexpected text after '}' (want e.g. {cluster="lab", env="prod"})`}},
		// LabelKeys
		{"LabelKeys bad name", MapGetter{"LabelKeys": "kubernetes.host, bad-name=a"},
			[]string{`config: LabelKeys "bad-name=a": name "bad-name" is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)`}},
		{"LabelKeys array index", MapGetter{"LabelKeys": "$a[0]"},
			[]string{`config: LabelKeys "$a[0]": record accessor "$a[0]": array indexes are not supported (want ['key'])`}},
		{"LabelKeys two bad", MapGetter{"LabelKeys": "a..b, $x['y"},
			[]string{
				`config: LabelKeys "a..b": record path "a..b" has an empty element (want e.g. kubernetes.labels.app)`,
				`config: LabelKeys "$x['y": record accessor "$x['y": unterminated ' quote`,
			}},
		// LabelMapPath
		{"LabelMapPath missing", MapGetter{"LabelMapPath": missing},
			[]string{`config: LabelMapPath "` + missing + `": cannot read: no such file or directory`}},
		{"LabelMapPath bad", MapGetter{"LabelMapPath": badMap},
			[]string{`config: LabelMapPath "` + badMap + `": kubernetes.labels.app: "app.name" is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)`}},
		{"LabelMapPath directory", MapGetter{"LabelMapPath": dir},
			[]string{`config: LabelMapPath "` + dir + `": cannot read: is a directory`}},
		// Booleans
		{"AutoKubernetesLabels", MapGetter{"AutoKubernetesLabels": "maybe"},
			[]string{`config: AutoKubernetesLabels "maybe": not a boolean (want on/off, true/false, yes/no or 1/0)`}},
		{"DropSingleKey", MapGetter{"DropSingleKey": "2"},
			[]string{`config: DropSingleKey "2": not a boolean (want on/off, true/false, yes/no or 1/0)`}},
		{"InsecureSkipVerify", MapGetter{"Url": "https://loam", "InsecureSkipVerify": "sure"},
			[]string{`config: InsecureSkipVerify "sure": not a boolean (want on/off, true/false, yes/no or 1/0)`}},
		// RemoveKeys, LineFormat, StructuredMetadataKeys
		{"RemoveKeys", MapGetter{"RemoveKeys": "a,b..c"},
			[]string{`config: RemoveKeys "b..c": record path "b..c" has an empty element (want e.g. kubernetes.labels.app)`}},
		{"LineFormat", MapGetter{"LineFormat": "logfmt"},
			[]string{`config: LineFormat "logfmt": unknown line format (want raw, json or key_value)`}},
		{"StructuredMetadataKeys", MapGetter{"StructuredMetadataKeys": "level="},
			[]string{`config: StructuredMetadataKeys "level=": empty record path`}},
		// Namespaces and redaction
		{"ExcludeNamespaces", MapGetter{"ExcludeNamespaces": "ok, kube-("},
			[]string{"config: ExcludeNamespaces \"kube-(\": not an RE2 regular expression: missing closing ): `kube-(`"}},
		{"ExcludeNamespaces lookahead", MapGetter{"ExcludeNamespaces": "(?!kube)"},
			[]string{"config: ExcludeNamespaces \"(?!kube)\": not an RE2 regular expression: invalid or unsupported Perl syntax: `(?!`"}},
		{"Redact syntax", MapGetter{"Redact": "a("},
			[]string{"config: Redact \"a(\": not an RE2 regular expression: missing closing ): `a(`"}},
		{"Redact empty match", MapGetter{"Redact": "(password)?"},
			[]string{`config: Redact "(password)?": can match the empty string, which would mask nothing (e.g. use x+ rather than x*)`}},
		{"Redact word boundary", MapGetter{"Redact": `\b`},
			[]string{`config: Redact "\\b": can match the empty string, which would mask nothing (e.g. use x+ rather than x*)`}},
		{"RedactNamespaces alone", MapGetter{"RedactNamespaces": "payments"},
			[]string{`config: RedactNamespaces "payments": has no effect without Redact`}},
		{"RedactNamespaces bad", MapGetter{"Redact": "x", "RedactNamespaces": "["},
			[]string{"config: RedactNamespaces \"[\": not an RE2 regular expression: missing closing ]: `[`"}},
		{"RedactWith alone", MapGetter{"RedactWith": "***"},
			[]string{`config: RedactWith "***": has no effect without Redact`}},
		{"RedactWith not UTF-8", MapGetter{"Redact": "x", "RedactWith": "\xff"},
			[]string{`config: RedactWith "\xff": not UTF-8 (log lines must be)`}},
		// Durations
		{"BatchWait negative", MapGetter{"BatchWait": "-1s"},
			[]string{`config: BatchWait "-1s": negative duration (want e.g. 10s)`}},
		{"BatchWait word", MapGetter{"BatchWait": "soon"},
			[]string{`config: BatchWait "soon": not a duration (want e.g. 10s, 500ms or a number of seconds)`}},
		{"Timeout", MapGetter{"Timeout": "abc"},
			[]string{`config: Timeout "abc": not a duration (want e.g. 10s, 500ms or a number of seconds)`}},
		{"Timeout zero", MapGetter{"Timeout": "0"},
			[]string{`config: Timeout "0": must be greater than 0 (want e.g. 10s)`}},
		{"MinBackoff zero", MapGetter{"MinBackoff": "0s"},
			[]string{`config: MinBackoff "0s": must be greater than 0 (want e.g. 10s)`}},
		{"MaxBackoff", MapGetter{"MaxBackoff": "5 min"},
			[]string{`config: MaxBackoff "5 min": not a duration (want e.g. 10s, 500ms or a number of seconds)`}},
		{"MinBackoff above default MaxBackoff", MapGetter{"MinBackoff": "10s"},
			[]string{`config: MinBackoff "10s": greater than MaxBackoff 5s (default) (want MinBackoff ≤ MaxBackoff)`}},
		{"MinBackoff above MaxBackoff", MapGetter{"MinBackoff": "10s", "MaxBackoff": "2s"},
			[]string{`config: MinBackoff "10s": greater than MaxBackoff 2s (want MinBackoff ≤ MaxBackoff)`}},
		{"MaxBackoff below default MinBackoff", MapGetter{"MaxBackoff": "100ms"},
			[]string{`config: MinBackoff "500ms (default)": greater than MaxBackoff 100ms (want MinBackoff ≤ MaxBackoff)`}},
		// BatchSize, MaxRetries
		{"BatchSize zero", MapGetter{"BatchSize": "0"},
			[]string{`config: BatchSize "0": must be at least 1 byte (want e.g. 1MiB)`}},
		{"BatchSize fraction of a byte", MapGetter{"BatchSize": "0.5"},
			[]string{`config: BatchSize "0.5": must be at least 1 byte (want e.g. 1MiB)`}},
		{"BatchSize word", MapGetter{"BatchSize": "big"},
			[]string{`config: BatchSize "big": not a size (want bytes such as 1048576, 512k, 1M or 1MiB)`}},
		{"BatchSize unit", MapGetter{"BatchSize": "1X"},
			[]string{`config: BatchSize "1X": unknown unit (want bytes such as 1048576, 512k, 1M or 1MiB)`}},
		{"BatchSize huge", MapGetter{"BatchSize": "3GiB"},
			[]string{`config: BatchSize "3GiB": too large (want at most 2GiB)`}},
		{"MaxRetries negative", MapGetter{"MaxRetries": "-1"},
			[]string{`config: MaxRetries "-1": negative (want 0 or more)`}},
		{"MaxRetries fraction", MapGetter{"MaxRetries": "1.5"},
			[]string{`config: MaxRetries "1.5": not a whole number (want e.g. 3)`}},
		{"MaxRetries word", MapGetter{"MaxRetries": "forever"},
			[]string{`config: MaxRetries "forever": not a whole number (want e.g. 3)`}},
		// TLS with only http URLs
		{"CAFile with http", MapGetter{"Url": "http://loam", "CAFile": "/ca.pem"},
			[]string{`config: CAFile "/ca.pem": TLS settings need an https:// Url, and every Url is http://`}},
		{"InsecureSkipVerify with default http Url", MapGetter{"InsecureSkipVerify": "on"},
			[]string{`config: InsecureSkipVerify "on": TLS settings need an https:// Url, and every Url is http://`}},
		{"bad Url hides TLS check", MapGetter{"Url": "loam", "CAFile": "/ca.pem"},
			[]string{`config: Url "loam": want an http:// or https:// URL, e.g. http://loam:3100`}},
		// Auth
		{"Password alone", MapGetter{"Password": "s3cret"},
			[]string{`config: Password: set without Username (basic auth needs both)`}},
		{"Username colon", MapGetter{"Username": "a:b", "Password": "p"},
			[]string{`config: Username "a:b": must not hold ':' (basic auth cannot carry it)`}},
		{"basic and bearer", MapGetter{"Username": "u", "Password": "p", "BearerToken": "t"},
			[]string{`config: BearerToken: set together with Username (choose basic or bearer auth)`}},
		{"basic and bearer file", MapGetter{"Username": "u", "BearerTokenFile": token},
			[]string{`config: BearerTokenFile: set together with Username (choose basic or bearer auth)`}},
		{"two bearers", MapGetter{"BearerToken": "t", "BearerTokenFile": token},
			[]string{`config: BearerTokenFile "` + token + `": set together with BearerToken (choose one)`}},
		{"BearerToken space", MapGetter{"BearerToken": "a b"},
			[]string{`config: BearerToken: holds spaces or control characters`}},
		{"BearerTokenFile missing", MapGetter{"BearerTokenFile": missing},
			[]string{`config: BearerTokenFile "` + missing + `": cannot read: no such file or directory`}},
		{"BearerTokenFile empty", MapGetter{"BearerTokenFile": emptyToken},
			[]string{`config: BearerTokenFile "` + emptyToken + `": is empty`}},
		{"BearerTokenFile spaced", MapGetter{"BearerTokenFile": spacedToken},
			[]string{`config: BearerTokenFile "` + spacedToken + `": holds spaces or control characters inside the token`}},
		// MetricsAddr
		{"MetricsAddr port only", MapGetter{"MetricsAddr": "2021"},
			[]string{`config: MetricsAddr "2021": not host:port (want e.g. :2021 or 127.0.0.1:2021)`}},
		{"MetricsAddr service name", MapGetter{"MetricsAddr": ":http"},
			[]string{`config: MetricsAddr ":http": port is not a number from 1 to 65535 (want e.g. :2021)`}},
		{"MetricsAddr zero", MapGetter{"MetricsAddr": ":0"},
			[]string{`config: MetricsAddr ":0": port is not a number from 1 to 65535 (want e.g. :2021)`}},
		{"MetricsAddr range", MapGetter{"MetricsAddr": ":70000"},
			[]string{`config: MetricsAddr ":70000": port is not a number from 1 to 65535 (want e.g. :2021)`}},
		// Every error at once, in key order.
		{"several", MapGetter{"Url": "loam", "LineFormat": "xml", "Timeout": "abc", "MaxRetries": "-2"},
			[]string{
				`config: Url "loam": want an http:// or https:// URL, e.g. http://loam:3100`,
				`config: LineFormat "xml": unknown line format (want raw, json or key_value)`,
				`config: Timeout "abc": not a duration (want e.g. 10s, 500ms or a number of seconds)`,
				`config: MaxRetries "-2": negative (want 0 or more)`,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(c.keys)
			if cfg != nil {
				t.Errorf("Parse returned a config with an error")
			}
			got := errorList(t, err)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestSecretsStayOut(t *testing.T) {
	for _, g := range []MapGetter{
		{"Password": "s3cret"},
		{"Username": "u", "Password": "s3cret", "BearerToken": "s3cret"},
		{"BearerToken": "s3 cret"},
		{"Url": "http://u:s3cret@loam"},
		{"Url": "http://u:s3cret@loam:bad"},
	} {
		_, err := Parse(g)
		if err == nil || strings.Contains(err.Error(), "s3") {
			t.Errorf("Parse(%v) = %v; want an error without the secret", g, err)
		}
	}
	c := mustParse(t, MapGetter{"Username": "u", "Password": "s3cret"})
	if strings.Contains(c.String(), "s3cret") {
		t.Errorf("String() shows the password: %s", c)
	}
}

func TestBearerTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "token", "eyJ.abc.def\n")
	c := mustParse(t, MapGetter{"BearerTokenFile": path})
	if c.BearerTokenFile != path || c.BearerToken != "" {
		t.Errorf("got BearerTokenFile %q, BearerToken %q", c.BearerTokenFile, c.BearerToken)
	}
}

func TestMapGetter(t *testing.T) {
	g := MapGetter{"Url": "a", "TIMEOUT": "b", "timeout": "c", "LabelKeys": "d", "labelkeys": "e"}
	for _, c := range []struct{ key, want string }{
		{"Url", "a"}, {"url", "a"}, {"URL", "a"},
		{"timeout", "c"},   // exact spelling wins
		{"Timeout", "b"},   // else the smallest key: "TIMEOUT" < "timeout"
		{"LABELKEYS", "d"}, // "LabelKeys" < "labelkeys"
		{"Missing", ""},
	} {
		if got := g.Get(c.key); got != c.want {
			t.Errorf("Get(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	c := mustParse(t, MapGetter{
		"Url":                    "http://a:3100,http://b:3100",
		"TenantID":               "team-a",
		"TenantIDKey":            "$kubernetes['labels']['loam.io/tenant']",
		"Labels":                 `{cluster="lab"}`,
		"LabelKeys":              "app=$kubernetes['labels']['app.kubernetes.io/name']",
		"LabelMapPath":           "testdata/labelmap.json",
		"RemoveKeys":             "stream",
		"LineFormat":             "json",
		"StructuredMetadataKeys": "level=PRIORITY",
		"ExcludeNamespaces":      "kube-.*",
		"Redact":                 `token=\S+`,
		"Username":               "fluent",
		"Password":               "p",
		"MetricsAddr":            ":2021",
	})
	want := `Url=[http://a:3100/loki/api/v1/push,http://b:3100/loki/api/v1/push] TenantID="team-a" ` +
		`TenantIDKey=$kubernetes['labels']['loam.io/tenant'] Labels=[cluster="lab"] ` +
		`LabelKeys=[app=$kubernetes['labels']['app.kubernetes.io/name']] ` +
		`LabelMap=[node=kubernetes.host,namespace=kubernetes.namespace_name,pod=kubernetes.pod_name,container=kubernetes.container_name,app=$kubernetes['labels']['app.kubernetes.io/name'],node=_HOSTNAME,unit=_SYSTEMD_UNIT] ` +
		`AutoKubernetesLabels=true RemoveKeys=[stream] LineFormat=json DropSingleKey=false ` +
		`StructuredMetadataKeys=[level=PRIORITY] ExcludeNamespaces=[^(?:kube-.*)$] Redact=[token=\S+] RedactNamespaces=[] ` +
		`RedactWith="[REDACTED]" BatchWait=1s BatchSize=1048576 Timeout=10s MinBackoff=500ms MaxBackoff=5s MaxRetries=3 ` +
		`TLS=default Username="fluent" Password=set BearerToken=unset BearerTokenFile="" MetricsAddr=":2021"`
	if got := c.String(); got != want {
		t.Errorf("String():\n got %s\nwant %s", got, want)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// FuzzParse sets two keys to arbitrary values: Parse must not panic, must
// return either a config or an error, and every error must name a key.
// File keys are left out: a fuzzed path could name /dev/zero.
func FuzzParse(f *testing.F) {
	var keys []string
	for _, k := range allKeys {
		switch k {
		case keyLabelMapPath, keyCAFile, keyCertFile, keyKeyFile, keyBearerTokenFile:
			continue
		}
		keys = append(keys, k)
	}
	index := func(k string) uint8 {
		for i, x := range keys {
			if x == k {
				return uint8(i)
			}
		}
		panic(k)
	}
	for _, s := range []struct{ k1, v1, k2, v2 string }{
		{keyURL, "http://a:3100, https://b", keyInsecureSkipVerify, "on"},
		{keyURL, "http://u:p@h:x", keyTenantID, "a|b"},
		{keyLabels, `{a="1", b=` + "`2`}", keyLabelKeys, "app=$kubernetes['labels']['app.kubernetes.io/name']"},
		{keyRemoveKeys, "a..b, $x['y", keyStructuredMetadataKeys, "level=PRIORITY"},
		{keyTenantIDKey, "$a['b''c']", keyLineFormat, "kv"},
		{keyExcludeNamespaces, "kube-.*, a{1,3}", keyRedact, `password=\S+`},
		{keyRedact, "(x)?", keyRedactNamespaces, "("},
		{keyRedactWith, "***", keyBatchWait, "1.5"},
		{keyBatchSize, "1.5MiB", keyTimeout, "1e30"},
		{keyMinBackoff, "10s", keyMaxBackoff, "2s"},
		{keyMaxRetries, "-1", keyDropSingleKey, "yes"},
		{keyUsername, "u", keyBearerToken, "t"},
		{keyPassword, "p", keyMetricsAddr, "[::1]:2021"},
		{keyAutoKubernetesLabels, "maybe", keyMetricsAddr, ":http"},
	} {
		f.Add(index(s.k1), s.v1, index(s.k2), s.v2)
	}
	f.Fuzz(func(t *testing.T, k1 uint8, v1 string, k2 uint8, v2 string) {
		g := MapGetter{keys[int(k1)%len(keys)]: v1}
		g[keys[int(k2)%len(keys)]] = v2
		c, err := Parse(g)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse(%q) = %v, %v: want exactly one of config and error", g, c, err)
		}
		if err != nil {
			if len(errorList(t, err)) == 0 {
				t.Fatalf("empty error list")
			}
			return
		}
		_ = c.String()
		if len(c.URLs) == 0 || c.BatchSize <= 0 || c.Timeout <= 0 || c.MinBackoff > c.MaxBackoff || c.MaxRetries < 0 {
			t.Fatalf("Parse(%q) accepted an invalid config: %s", g, c)
		}
	})
}

// FuzzRecordPath checks that parsePath does not panic and that what it
// accepts reads back the same through formatPath.
func FuzzRecordPath(f *testing.F) {
	for _, s := range []string{
		"kubernetes.labels.app", "$kubernetes['labels']['app.kubernetes.io/name']", `$a["x""y"]`,
		"$a['b", "$a[0]", "a..b", "$log.level", "$ a [ 'b' ]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		path, err := parsePath(s)
		if err != nil {
			return
		}
		if len(path) == 0 {
			t.Fatalf("parsePath(%q) = empty path, no error", s)
		}
		if _, err := parseKeyPath(s); err != nil && !strings.Contains(s, "=") {
			t.Fatalf("parseKeyPath(%q) failed where parsePath did not: %v", s, err)
		}
		f := formatPath(path)
		if !isAccessorIdent(path[0]) && strings.HasPrefix(f, "$") {
			return // not expressible in either form; formatPath is for messages then
		}
		back, err := parsePath(f)
		if err != nil || !reflect.DeepEqual(back, path) {
			t.Fatalf("parsePath(%q) = %q; formatPath = %q reads back as %q, %v", s, path, f, back, err)
		}
	})
}

// FuzzLabelMap checks that parseLabelMap does not panic and that every
// path it returns is non-empty with a valid label name.
func FuzzLabelMap(f *testing.F) {
	if data, err := os.ReadFile("testdata/labelmap.json"); err == nil {
		f.Add(string(data))
	}
	for _, s := range []string{`{}`, `{"a": {"b": "c"}}`, `{"a": 1}`, `{"a": "x", "a": "y"}`, `[`, deepMap(40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseLabelMap([]byte(s))
		if err != nil {
			return
		}
		if len(m) == 0 {
			t.Fatal("no paths and no error")
		}
		for _, kp := range m {
			if len(kp.Path) == 0 || kp.Name == "" {
				t.Fatalf("bad KeyPath %v from %q", kp, s)
			}
		}
	})
}
