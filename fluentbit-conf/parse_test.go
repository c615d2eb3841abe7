package fluentbitconf

import (
	"strings"
	"testing"
)

// TestParseErrors: each config format refuses what Fluent Bit would, or
// what the tests cannot check, with a message saying what.
func TestParseErrors(t *testing.T) {
	classic := func(b []byte) error { _, err := parseClassic(b); return err }
	yaml := func(b []byte) error { _, err := parseYAML(b); return err }
	for _, c := range []struct {
		name  string
		parse func([]byte) error
		conf  string
		want  string
	}{
		{"classic: key outside a section", classic, "    Flush 1\n", "key before any section"},
		{"classic: unindented key", classic, "[INPUT]\nName tail\n", "must be indented"},
		{"classic: no value", classic, "[INPUT]\n    Name\n", "has no value"},
		{"classic: unclosed header", classic, "[INPUT\n", "not closed"},
		{"classic: unknown section", classic, "[PARSER]\n    Name x\n", "is not SERVICE"},
		{"classic: command", classic, "@INCLUDE other.conf\n", "not supported"},
		{"classic: second service", classic, "[SERVICE]\n    Flush 1\n[SERVICE]\n    Flush 2\n", "a second [SERVICE]"},
		{"classic: no name", classic, "[OUTPUT]\n    Match *\n", "want exactly one Name"},
		{"yaml: unknown top level", yaml, "servce: {flush: 1}\n", "not one of Fluent Bit's"},
		{"yaml: unsupported top level", yaml, "includes: [a.yaml]\n", "not supported"},
		{"yaml: unknown pipeline key", yaml, "pipeline: {input: []}\n", "not found"},
		{"yaml: duplicate key", yaml, "service:\n  flush: 1\n  flush: 2\n", "already defined"},
		{"yaml: map value", yaml, "pipeline:\n  inputs:\n    - name: tail\n      path: {a: b}\n", "a scalar or a list"},
		{"yaml: no name", yaml, "pipeline:\n  outputs:\n    - match: '*'\n", "want exactly one Name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.parse([]byte(c.conf)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one with %q", err, c.want)
			}
		})
	}
}

// TestParseClassicValues: values keep their inner spaces, keys are lower
// case, a key given twice keeps both values.
func TestParseClassicValues(t *testing.T) {
	c, err := parseClassic([]byte("[INPUT]\n    Name  systemd\n    Systemd_Filter  A=1\n    systemd_filter B=2\n    multiline.parser  cri, docker\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.inputs[0]
	if got := s.keys["systemd_filter"]; len(got) != 2 || got[0] != "A=1" || got[1] != "B=2" {
		t.Errorf("systemd_filter %q", got)
	}
	if got := s.keys["multiline.parser"]; len(got) != 1 || got[0] != "cri, docker" {
		t.Errorf("multiline.parser %q", got)
	}
}

// checkNamed fails the test when a parsed config has a section without a
// plugin name: a parser must refuse such input.
func checkNamed(t *testing.T, c *config, data []byte) {
	t.Helper()
	for _, k := range c.kinds() {
		for _, s := range k.sections {
			if s.plugin == "" {
				t.Fatalf("section without a name accepted: %q", data)
			}
		}
	}
}

func FuzzParseClassic(f *testing.F) {
	f.Add([]byte("[SERVICE]\n    Flush 1\n[INPUT]\n    Name tail\n    Path /var/log/*.log\n"))
	f.Add([]byte("[OUTPUT]\n\tName loam\n\tLabels {cluster=\"lab\"}\n# c\n"))
	f.Add([]byte("[\n]\n    x\n@SET a=b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseClassic(data)
		if err == nil {
			checkNamed(t, c, data)
		}
	})
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte("service: {flush: 1}\npipeline:\n  inputs: [{name: tail, path: /a}]\n"))
	f.Add([]byte("pipeline:\n  outputs:\n    - name: loam\n      match: '*'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseYAML(data)
		if err == nil {
			checkNamed(t, c, data)
		}
	})
}
