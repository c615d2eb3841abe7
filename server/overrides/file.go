package overrides

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"
)

// runtimeFile is the runtime configuration file, in Loki's shape. Loki's
// other sections (configs, multi_kv_config) configure what Loam does not
// have and are refused like any unknown key.
type runtimeFile struct {
	Overrides map[string]*Limits `yaml:"overrides"`
}

// Parse reads a runtime configuration file and returns the settings of
// each tenant it names: defaults with the tenant's entry applied over them
// field by field, validated. A tenant whose entry is empty gets the
// defaults. An empty file names no tenant. Unknown keys are errors that
// name the key and its line.
func Parse(data []byte, defaults *Limits) (map[string]*Limits, error) {
	// Loki fills each entry over a copy of the defaults and, in the same
	// pass, refuses unknown keys. yaml.v3 checks unknown keys only through
	// a Decoder (not yaml.Node.Decode), so the file is decoded twice: once
	// strictly into blank settings, to find mistakes with their lines, and
	// once node by node over the defaults.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var check runtimeFile
	if err := strict.Decode(&check); err != nil {
		if errors.Is(err, io.EOF) { // empty, or only comments
			return map[string]*Limits{}, nil
		}
		return nil, explainUnknown(err)
	}
	var raw struct {
		Overrides map[string]yaml.Node `yaml:"overrides"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	tenants := make([]string, 0, len(raw.Overrides))
	for t := range raw.Overrides {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants) // report the first bad tenant in a stable order
	out := make(map[string]*Limits, len(raw.Overrides))
	for _, t := range tenants {
		n := raw.Overrides[t]
		l := defaults.clone()
		// A null entry ("tenant:" alone) would zero every field.
		if n.Kind != 0 && n.Tag != "!!null" {
			if err := n.Decode(&l); err != nil {
				return nil, fmt.Errorf("overrides of tenant %q: %w", t, err)
			}
		}
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("invalid overrides for tenant %q: %w", t, err)
		}
		out[t] = &l
	}
	return out, nil
}

// unknownField is yaml.v3's message for a key KnownFields refuses.
var unknownField = regexp.MustCompile(`field (\S+) not found in type overrides\.(\w+)`)

// explainUnknown words yaml.v3's messages for unknown keys for the user,
// who knows the keys of the file and not the Go types behind them.
func explainUnknown(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = unknownField.ReplaceAllStringFunc(m, func(s string) string {
			sub := unknownField.FindStringSubmatch(s)
			switch sub[2] {
			case "runtimeFile":
				return fmt.Sprintf("unknown key %q: the file holds overrides: only", sub[1])
			case "StreamRetention":
				return fmt.Sprintf("unknown key %q in a retention_stream rule (selector, priority, period)", sub[1])
			default:
				return fmt.Sprintf("unknown setting %q", sub[1])
			}
		})
	}
	return &yaml.TypeError{Errors: msgs}
}
