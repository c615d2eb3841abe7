package api

import (
	"net/http"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/loam-logs/loam/server/overrides"
)

// handleConfig answers /config as Loki does: the configuration in effect
// as YAML, defaults included; ?mode=diff only what differs from the
// defaults, ?mode=defaults the defaults. Like Loki's it answers while the
// store replays its WAL.
func (a *API) handleConfig(w http.ResponseWriter, r *http.Request) {
	if a.opts.Config == nil {
		writeError(w, http.StatusNotFound, "this server was started without a configuration to show")
		return
	}
	switch r.URL.Query().Get("mode") {
	case "diff", "diffs": // Loki's code reads diff, its documentation says diffs
		writeYAMLDiff(w, a.opts.DefaultConfig, a.opts.Config)
	case "defaults":
		writeYAML(w, a.opts.DefaultConfig)
	default:
		writeYAML(w, a.opts.Config)
	}
}

// runtimeConfig is the runtime configuration file's shape.
type runtimeConfig struct {
	Overrides map[string]*overrides.Limits `yaml:"overrides"`
}

// handleRuntimeConfig answers /runtime_config as Mimir and earlier Lokis
// do: the runtime configuration in use, each tenant it names with all its
// settings (the defaults filled in); ?mode=diff only the settings that
// differ from the defaults.
func (a *API) handleRuntimeConfig(w http.ResponseWriter, r *http.Request) {
	cur := runtimeConfig{Overrides: map[string]*overrides.Limits{}}
	for _, t := range a.opts.Limits.Tenants() {
		cur.Overrides[t] = a.opts.Limits.For(t)
	}
	if r.URL.Query().Get("mode") != "diff" {
		writeYAML(w, cur)
		return
	}
	def := runtimeConfig{Overrides: map[string]*overrides.Limits{}}
	for t := range cur.Overrides {
		def.Overrides[t] = a.opts.Limits.Defaults()
	}
	writeYAMLDiff(w, def, cur)
}

// writeYAML writes v as YAML, as text/plain so that a browser shows it.
func writeYAML(w http.ResponseWriter, v any) {
	b, err := yaml.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "printing the configuration: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(b)
}

// writeYAMLDiff writes what of actual differs from defaults.
func writeYAMLDiff(w http.ResponseWriter, defaults, actual any) {
	d, err := asTree(defaults)
	if err == nil {
		var a map[string]any
		if a, err = asTree(actual); err == nil {
			writeYAML(w, diffTree(d, a))
			return
		}
	}
	writeError(w, http.StatusInternalServerError, "printing the configuration: "+err.Error())
}

// asTree returns v as the maps YAML prints it as.
func asTree(v any) (map[string]any, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, yaml.Unmarshal(b, &m)
}

// diffTree returns the keys of actual whose values differ from those of
// defaults, recursing into maps (as Loki's /config?mode=diff); a map with
// no difference is left out, a list that differs is given whole.
func diffTree(defaults, actual map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range actual {
		d, ok := defaults[k]
		if !ok {
			out[k] = v
			continue
		}
		vm, vIsMap := v.(map[string]any)
		dm, dIsMap := d.(map[string]any)
		switch {
		case vIsMap && dIsMap:
			if sub := diffTree(dm, vm); len(sub) > 0 {
				out[k] = sub
			}
		case !reflect.DeepEqual(d, v):
			out[k] = v
		}
	}
	return out
}
