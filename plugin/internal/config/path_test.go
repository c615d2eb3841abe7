package config

import (
	"os"
	"reflect"
	"slices"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{"log", []string{"log"}, ""},
		{" kubernetes.labels.app ", []string{"kubernetes", "labels", "app"}, ""},
		{"_HOSTNAME", []string{"_HOSTNAME"}, ""},
		{"@timestamp", []string{"@timestamp"}, ""},
		{"$log", []string{"log"}, ""},
		{"$log.level", []string{"log.level"}, ""}, // Fluent Bit: one key holding a dot
		{"$kubernetes['labels']['app']", []string{"kubernetes", "labels", "app"}, ""},
		{"$kubernetes['labels']['app.kubernetes.io/name']", []string{"kubernetes", "labels", "app.kubernetes.io/name"}, ""},
		{`$kubernetes["annotations"]["a,b"]`, []string{"kubernetes", "annotations", "a,b"}, ""},
		{"$ kubernetes [ 'labels' ] ['x y']", []string{"kubernetes", "labels", "x y"}, ""},
		{"$a['it''s']", []string{"a", "it's"}, ""},
		{`$a["say ""hi"""]`, []string{"a", `say "hi"`}, ""},
		{"$a['\"']", []string{"a", `"`}, ""},
		{"", nil, "empty record path"},
		{"a..b", nil, `record path "a..b" has an empty element (want e.g. kubernetes.labels.app)`},
		{".a", nil, `record path ".a" has an empty element (want e.g. kubernetes.labels.app)`},
		{"a.", nil, `record path "a." has an empty element (want e.g. kubernetes.labels.app)`},
		{"kubernetes['labels']", nil, `record path "kubernetes['labels']" mixes forms (the record-accessor form starts with $, e.g. $kubernetes['labels']['app'])`},
		{"tenant=kubernetes.ns", nil, `record path "tenant=kubernetes.ns" holds '=' (name=path is for LabelKeys and StructuredMetadataKeys; a nested key with '=' is written $a['b=c'])`},
		{"$", nil, `record accessor "$": want a key name after $ (e.g. $kubernetes['labels'])`},
		{"$['a']", nil, `record accessor "$['a']": want a key name after $ (e.g. $kubernetes['labels'])`},
		{"$1a", nil, `record accessor "$1a": want a key name after $ (e.g. $kubernetes['labels'])`},
		{"$a['b'", nil, `record accessor "$a['b'": missing ] at offset 6`},
		{"$a['b", nil, `record accessor "$a['b": unterminated ' quote`},
		{"$a[b]", nil, `record accessor "$a[b]": want a quoted key inside [ ] at offset 3`},
		{"$a[0]", nil, `record accessor "$a[0]": array indexes are not supported (want ['key'])`},
		{"$a['']", nil, `record accessor "$a['']": empty key ['']`},
		{"$a.b['c']x", nil, `record accessor "$a.b['c']x": unexpected 'x' at offset 9 (want ['key'])`},
		{"$a b", nil, `record accessor "$a b": unexpected 'b' at offset 3 (want ['key'])`},
	} {
		got, err := parsePath(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("parsePath(%q) = %q, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parsePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseKeyPath(t *testing.T) {
	for _, c := range []struct {
		in   string
		want KeyPath
		err  string
	}{
		{"kubernetes.host", KeyPath{[]string{"kubernetes", "host"}, "host"}, ""},
		{"node=kubernetes.host", KeyPath{[]string{"kubernetes", "host"}, "node"}, ""},
		{" node = kubernetes.host ", KeyPath{[]string{"kubernetes", "host"}, "node"}, ""},
		{"$kubernetes['labels']['app.kubernetes.io/name']", KeyPath{[]string{"kubernetes", "labels", "app.kubernetes.io/name"}, "app_kubernetes_io_name"}, ""},
		{"app=$kubernetes['labels']['app.kubernetes.io/name']", KeyPath{[]string{"kubernetes", "labels", "app.kubernetes.io/name"}, "app"}, ""},
		{"$a['x=y']", KeyPath{[]string{"a", "x=y"}, "x_y"}, ""},
		{"_SYSTEMD_UNIT", KeyPath{[]string{"_SYSTEMD_UNIT"}, "_SYSTEMD_UNIT"}, ""},
		{"a.9lives", KeyPath{[]string{"a", "9lives"}, "_9lives"}, ""},
		{"bad-name=a", KeyPath{}, `name "bad-name" is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)`},
		{"=a", KeyPath{}, `name "" is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)`},
		{"x=", KeyPath{}, "empty record path"},
		{"a=b=c", KeyPath{}, `record path "b=c" holds '=' (name=path is for LabelKeys and StructuredMetadataKeys; a nested key with '=' is written $a['b=c'])`},
		{"x=a..b", KeyPath{}, `record path "a..b" has an empty element (want e.g. kubernetes.labels.app)`},
	} {
		got, err := parseKeyPath(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("parseKeyPath(%q) = %v, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseKeyPath(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestSplitPaths(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a, b.c ,", []string{"a", "b.c"}},
		{"$k['a,b'], c", []string{"$k['a,b']", "c"}},
		{`$k["a],b"],c`, []string{`$k["a],b"]`, "c"}},
		{"$k['it''s,x'],c", []string{"$k['it''s,x']", "c"}},
		{"o'brien,c", []string{"o'brien", "c"}}, // quotes count only inside [ ]
	} {
		if got := splitPaths(c.in); !slices.Equal(got, c.want) {
			t.Errorf("splitPaths(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLabelName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"app", "app"}, {"app.kubernetes.io/name", "app_kubernetes_io_name"}, {"_HOSTNAME", "_HOSTNAME"},
		{"9lives", "_9lives"}, {"pod-template-hash", "pod_template_hash"}, {"ünit", "__nit"}, {"", "_"},
	} {
		if got := labelName(c.in); got != c.want {
			t.Errorf("labelName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFormatPath(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"kubernetes", "labels", "app"}, "kubernetes.labels.app"},
		{[]string{"kubernetes", "labels", "app.kubernetes.io/name"}, "$kubernetes['labels']['app.kubernetes.io/name']"},
		{[]string{"a", "it's"}, "$a['it''s']"},
		{[]string{"log.level"}, "$log.level"},
		{[]string{"a", "b=c"}, "$a['b=c']"},
	} {
		got := formatPath(c.in)
		if got != c.want {
			t.Errorf("formatPath(%q) = %q, want %q", c.in, got, c.want)
		}
		// What formatPath writes reads back the same.
		if back, err := parsePath(got); err != nil || !slices.Equal(back, c.in) {
			t.Errorf("parsePath(formatPath(%q)) = %q, %v", c.in, back, err)
		}
	}
}

func TestParseLabelMap(t *testing.T) {
	good, err := os.ReadFile("testdata/labelmap.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   string
		want []KeyPath
		err  string
	}{
		{"file", string(good), []KeyPath{
			{[]string{"kubernetes", "host"}, "node"},
			{[]string{"kubernetes", "namespace_name"}, "namespace"},
			{[]string{"kubernetes", "pod_name"}, "pod"},
			{[]string{"kubernetes", "container_name"}, "container"},
			{[]string{"kubernetes", "labels", "app.kubernetes.io/name"}, "app"},
			{[]string{"_HOSTNAME"}, "node"},
			{[]string{"_SYSTEMD_UNIT"}, "unit"},
		}, ""},
		{"empty object", `{}`, nil, "maps no record field to a label"},
		{"empty nested", `{"a": {}}`, nil, "maps no record field to a label"},
		{"array top", `["a"]`, nil, "want a JSON object at the top"},
		{"string top", `"a"`, nil, "want a JSON object at the top"},
		{"not json", `{a: 1}`, nil, "not JSON: invalid character 'a' (at byte 1)"},
		{"empty file", ``, nil, "not JSON: the file ends too early"},
		{"truncated", `{"a": "b"`, nil, "not JSON: the file ends too early"},
		{"trailing", `{"a": "b"} {}`, nil, "unexpected data after the top-level object"},
		{"bad name", `{"k": {"labels": {"app.kubernetes.io/name": "app.name"}}}`, nil, `$k['labels']['app.kubernetes.io/name']: "app.name" is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)`},
		{"number leaf", `{"a": 1}`, nil, "a: want a label name or an object, found the number 1"},
		{"null leaf", `{"a": {"b": null}}`, nil, "a.b: want a label name or an object, found null"},
		{"bool leaf", `{"a": true}`, nil, "a: want a label name or an object, found the boolean true"},
		{"array leaf", `{"a": ["x"]}`, nil, "a: want a label name or an object, found an array"},
		{"duplicate", `{"a": "x", "a": "y"}`, nil, "a: duplicate key"},
		{"empty key", `{"a": {"": "x"}}`, nil, "$a['']: empty key"},
		{"too deep", deepMap(40), nil, "nested deeper than 32 levels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseLabelMap([]byte(c.in))
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("got %v, %v; want error %q", got, err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func deepMap(n int) string {
	s := `"x"`
	for range n {
		s = `{"a": ` + s + `}`
	}
	return s
}
