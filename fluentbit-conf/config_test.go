package fluentbitconf

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// config is one Fluent Bit configuration, whatever its syntax: the service
// section and the plugin sections in the order written. Keys are lower
// case (Fluent Bit matches them case-insensitively).
type config struct {
	service section
	inputs  []section
	filters []section
	outputs []section
}

// section is a [SERVICE], [INPUT], [FILTER] or [OUTPUT] section. A key
// given several times (systemd_filter) keeps every value, in order.
type section struct {
	plugin string // the Name key; "" for the service section
	keys   map[string][]string
	order  []string // keys as first written, for messages
}

func newSection() section { return section{keys: map[string][]string{}} }

func (s *section) add(key, value string) {
	k := strings.ToLower(key)
	if _, ok := s.keys[k]; !ok {
		s.order = append(s.order, k)
	}
	s.keys[k] = append(s.keys[k], value)
	if k == "name" {
		s.plugin = value
	}
}

func (c *config) kinds() []struct {
	kind     string
	sections []section
} {
	return []struct {
		kind     string
		sections []section
	}{{"input", c.inputs}, {"filter", c.filters}, {"output", c.outputs}}
}

// parseClassic reads Fluent Bit's classic syntax: `[SECTION]` headers and
// indented `Key Value` lines, `#` comments. Commands (@INCLUDE, @SET) and
// sections other than SERVICE, INPUT, FILTER and OUTPUT are refused: the
// configs here use none, and this reader would not follow them.
func parseClassic(data []byte) (*config, error) {
	c := &config{service: newSection()}
	var cur *section
	var kind string
	sc := bufio.NewScanner(bytes.NewReader(data))
	flush := func() {
		if cur == nil {
			return
		}
		switch kind {
		case "INPUT":
			c.inputs = append(c.inputs, *cur)
		case "FILTER":
			c.filters = append(c.filters, *cur)
		case "OUTPUT":
			c.outputs = append(c.outputs, *cur)
		}
	}
	seenService := false
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case strings.HasPrefix(trimmed, "@"):
			return nil, fmt.Errorf("line %d: command %q: not supported by this reader", n, trimmed)
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: section header %q not closed", n, line)
			}
			flush()
			kind = strings.ToUpper(strings.TrimSpace(line[1 : len(line)-1]))
			switch kind {
			case "SERVICE":
				if seenService {
					return nil, fmt.Errorf("line %d: a second [SERVICE]", n)
				}
				seenService = true
				cur = nil
			case "INPUT", "FILTER", "OUTPUT":
				s := newSection()
				cur = &s
			default:
				return nil, fmt.Errorf("line %d: section [%s] is not SERVICE, INPUT, FILTER or OUTPUT", n, kind)
			}
		case line[0] != ' ' && line[0] != '\t':
			return nil, fmt.Errorf("line %d: %q: a key must be indented under its section", n, line)
		case kind == "":
			return nil, fmt.Errorf("line %d: key before any section", n)
		default:
			key, value, ok := strings.Cut(strings.Join(strings.Fields(trimmed), " "), " ")
			if !ok || value == "" {
				return nil, fmt.Errorf("line %d: key %q has no value", n, key)
			}
			// The value keeps its inner spaces as written.
			value = strings.TrimSpace(trimmed[len(key):])
			if kind == "SERVICE" {
				c.service.add(key, value)
			} else {
				cur.add(key, value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return c, c.named()
}

// named checks that every plugin section says which plugin it is.
func (c *config) named() error {
	for _, k := range c.kinds() {
		for i, s := range k.sections {
			if len(s.keys["name"]) != 1 || s.plugin == "" {
				return fmt.Errorf("%s %d: want exactly one Name", k.kind, i)
			}
		}
	}
	return nil
}

// yamlTopLevel are the sections of a YAML configuration file
// (docs.fluentbit.io/manual/administration/configuring-fluent-bit/yaml).
var yamlTopLevel = []string{"env", "includes", "service", "pipeline", "parsers", "multiline_parsers", "plugins", "upstream_servers", "customs"}

// parseYAML reads Fluent Bit's YAML syntax. Duplicate keys are an error
// (yaml.v3 refuses them); a list value (systemd_filter) is a key given
// several times.
func parseYAML(data []byte) (*config, error) {
	var doc struct {
		Service  map[string]yaml.Node `yaml:"service"`
		Pipeline struct {
			Inputs  []map[string]yaml.Node `yaml:"inputs"`
			Filters []map[string]yaml.Node `yaml:"filters"`
			Outputs []map[string]yaml.Node `yaml:"outputs"`
		} `yaml:"pipeline"`
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	for k := range top {
		known := false
		for _, t := range yamlTopLevel {
			known = known || k == t
		}
		if !known {
			return nil, fmt.Errorf("top-level section %q is not one of Fluent Bit's", k)
		}
		if k != "service" && k != "pipeline" {
			return nil, fmt.Errorf("top-level section %q: not supported by this reader", k)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	c := &config{service: newSection()}
	if err := addNodes(&c.service, doc.Service); err != nil {
		return nil, fmt.Errorf("service: %v", err)
	}
	for _, p := range []struct {
		kind string
		in   []map[string]yaml.Node
		out  *[]section
	}{{"inputs", doc.Pipeline.Inputs, &c.inputs}, {"filters", doc.Pipeline.Filters, &c.filters}, {"outputs", doc.Pipeline.Outputs, &c.outputs}} {
		for i, m := range p.in {
			s := newSection()
			if err := addNodes(&s, m); err != nil {
				return nil, fmt.Errorf("%s[%d]: %v", p.kind, i, err)
			}
			*p.out = append(*p.out, s)
		}
	}
	return c, c.named()
}

// addNodes adds the keys of one YAML mapping, in the order written.
func addNodes(s *section, m map[string]yaml.Node) error {
	type kv struct {
		key  string
		node yaml.Node
	}
	var kvs []kv
	for k, n := range m {
		kvs = append(kvs, kv{k, n})
	}
	// A map loses the order; the nodes keep their line.
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && kvs[j].node.Line < kvs[j-1].node.Line; j-- {
			kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
		}
	}
	for _, e := range kvs {
		switch e.node.Kind {
		case yaml.ScalarNode:
			if e.node.Value == "" {
				return fmt.Errorf("key %s has no value", e.key)
			}
			s.add(e.key, e.node.Value)
		case yaml.SequenceNode:
			if len(e.node.Content) == 0 {
				return fmt.Errorf("key %s is an empty list", e.key)
			}
			for _, item := range e.node.Content {
				if item.Kind != yaml.ScalarNode {
					return fmt.Errorf("key %s: a list of scalars wanted", e.key)
				}
				s.add(e.key, item.Value)
			}
		default:
			return fmt.Errorf("key %s: a scalar or a list of scalars wanted", e.key)
		}
	}
	return nil
}
