package deploy

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// crdSchema is the OpenAPI v3 schema of one custom resource kind, checked
// as the API server checks an object of it: field names against the
// structural schema (an unknown field is refused, as `kubectl apply
// --validate=strict` does, not pruned), values against types, formats,
// enums, patterns (Go regexp, as the API server's), bounds and required
// properties.
type crdSchema struct {
	Kind   string         `json:"kind"`
	Plural string         `json:"plural"`
	Scope  string         `json:"scope"`
	Schema map[string]any `json:"schema"`
}

// k8sTypes are the Kubernetes types an excerpt may name with
// x-loam-k8s-type: the CRD embeds their generated schema, and decoding
// strictly into the type checks the same field names and shapes.
var k8sTypes = map[string]func() any{
	"ObjectMeta":           func() any { return new(metav1.ObjectMeta) },
	"LabelSelector":        func() any { return new(metav1.LabelSelector) },
	"Toleration":           func() any { return new(corev1.Toleration) },
	"ResourceRequirements": func() any { return new(corev1.ResourceRequirements) },
	"Probe":                func() any { return new(corev1.Probe) },
	"PodSecurityContext":   func() any { return new(corev1.PodSecurityContext) },
	"SecurityContext":      func() any { return new(corev1.SecurityContext) },
	"Volume":               func() any { return new(corev1.Volume) },
	"VolumeMount":          func() any { return new(corev1.VolumeMount) },
}

const k8sTypeKey = "x-loam-k8s-type"

// loadExcerpts reads the schema excerpts of dir, by kind.
func loadExcerpts(t *testing.T, dir string) map[string]*crdSchema {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no schema excerpts in %s", dir)
	}
	out := map[string]*crdSchema{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSONStrict(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var s crdSchema
		if err := strict(js, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if s.Kind == "" || s.Plural == "" || (s.Scope != "Cluster" && s.Scope != "Namespaced") || s.Schema == nil {
			t.Fatalf("%s: want kind, plural, scope Cluster or Namespaced, and schema", f)
		}
		if err := checkSchemaKeys(s.Schema, s.Kind); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[s.Kind] = &s
	}
	return out
}

// schemaKeys are the keywords an excerpt may use: a misspelt keyword
// would otherwise constrain nothing.
var schemaKeys = []string{"type", "format", "properties", "additionalProperties", "items", "required", "enum",
	"pattern", "minimum", "maximum", "default", "x-kubernetes-map-type", "x-kubernetes-preserve-unknown-fields",
	"x-kubernetes-int-or-string", k8sTypeKey}

func checkSchemaKeys(s map[string]any, path string) error {
	for k, v := range s {
		if !slices.Contains(schemaKeys, k) {
			return fmt.Errorf("%s: schema keyword %q unknown to this test", path, k)
		}
		switch k {
		case "properties":
			props, _ := v.(map[string]any)
			for name, p := range props {
				sub, ok := p.(map[string]any)
				if !ok {
					return fmt.Errorf("%s.%s: not a schema", path, name)
				}
				if err := checkSchemaKeys(sub, path+"."+name); err != nil {
					return err
				}
			}
		case "items", "additionalProperties":
			sub, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: %s is not a schema", path, k)
			}
			if err := checkSchemaKeys(sub, path+"[]"); err != nil {
				return err
			}
		case k8sTypeKey:
			if name, _ := v.(string); k8sTypes[name] == nil {
				return fmt.Errorf("%s: no Kubernetes type %v in this test", path, v)
			}
		}
	}
	return nil
}

// validate checks one object, as JSON, against s.
func (s *crdSchema) validate(obj []byte) error {
	var v map[string]any
	if err := json.Unmarshal(obj, &v); err != nil {
		return err
	}
	ns := ""
	if md, ok := v["metadata"].(map[string]any); ok {
		ns, _ = md["namespace"].(string)
	}
	if s.Scope == "Cluster" && ns != "" {
		return fmt.Errorf("%s is cluster-scoped: metadata.namespace %q", s.Kind, ns)
	}
	if s.Scope == "Namespaced" && ns == "" {
		return fmt.Errorf("%s is namespaced: no metadata.namespace", s.Kind)
	}
	// metadata is the API server's ObjectMeta whatever the schema says of
	// it (a published CRD has only `type: object` there).
	if err := decodeK8s("ObjectMeta", v["metadata"], "metadata"); err != nil {
		return err
	}
	return checkValue(s.Schema, v, "")
}

// checkValue checks v, at path, against the schema s.
func checkValue(s map[string]any, v any, path string) error {
	if name, ok := s[k8sTypeKey].(string); ok {
		return decodeK8s(name, v, path)
	}
	if s["x-kubernetes-int-or-string"] == true {
		if _, isString := v.(string); !isString && !isInteger(v) {
			return fmt.Errorf("%s: %v is neither an integer nor a string", path, v)
		}
	}
	if typ, ok := s["type"].(string); ok {
		if err := checkType(typ, s["format"], v, path); err != nil {
			return err
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		return fmt.Errorf("%s: %v is not one of %v", path, v, enum)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, isString := v.(string); isString && !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", path, str, p)
		}
	}
	if n, isNumber := v.(float64); isNumber {
		if lo, ok := s["minimum"].(float64); ok && n < lo {
			return fmt.Errorf("%s: %v is below %v", path, n, lo)
		}
		if hi, ok := s["maximum"].(float64); ok && n > hi {
			return fmt.Errorf("%s: %v is above %v", path, n, hi)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		more, _ := s["additionalProperties"].(map[string]any)
		keep := s["x-kubernetes-preserve-unknown-fields"] == true
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					return fmt.Errorf("%s.%s: required", path, r)
				}
			}
		}
		for _, k := range sortedKeys(x) {
			if path == "" && k == "metadata" {
				continue // decoded as ObjectMeta by validate
			}
			switch sub, ok := props[k].(map[string]any); {
			case ok:
				if err := checkValue(sub, x[k], path+"."+k); err != nil {
					return err
				}
			case more != nil:
				if err := checkValue(more, x[k], path+"."+k); err != nil {
					return err
				}
			case !keep:
				return fmt.Errorf("%s.%s: unknown field", path, k)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				if err := checkValue(items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func isInteger(v any) bool {
	n, ok := v.(float64)
	return ok && n == math.Trunc(n) && !math.IsInf(n, 0)
}

// checkType checks v against an OpenAPI type and format.
func checkType(typ string, format any, v any, path string) error {
	ok := false
	switch typ {
	case "object":
		_, ok = v.(map[string]any)
	case "array":
		_, ok = v.([]any)
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "number":
		_, ok = v.(float64)
	case "integer":
		ok = isInteger(v)
		if ok && format == "int32" {
			n := v.(float64)
			ok = n >= math.MinInt32 && n <= math.MaxInt32
		}
	default:
		return fmt.Errorf("%s: type %q unknown to this test", path, typ)
	}
	if !ok {
		return fmt.Errorf("%s: %v is not of type %s (format %v)", path, v, typ, format)
	}
	return nil
}

func decodeK8s(name string, v any, path string) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := strict(js, k8sTypes[name]()); err != nil {
		return fmt.Errorf("%s (%s): %v", path, name, err)
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestCRDSchemaValidation: the checks refuse what the API server would, on
// a small schema written for the test.
func TestCRDSchemaValidation(t *testing.T) {
	s := &crdSchema{Kind: "Thing", Scope: "Cluster"}
	if err := yaml.Unmarshal([]byte(`
type: object
properties:
  apiVersion: {type: string}
  kind: {type: string}
  metadata: {type: object}
  spec:
    type: object
    properties:
      port: {type: integer, format: int32, minimum: 1, maximum: 65535}
      mode: {type: string, enum: ["on", "off"]}
      size: {type: string, pattern: '^\d+(k|M)?$'}
      labels: {type: object, additionalProperties: {type: string}}
      free: {type: object, x-kubernetes-preserve-unknown-fields: true}
      target: {x-kubernetes-int-or-string: true}
      tolerations: {type: array, items: {x-loam-k8s-type: Toleration}}
      ref:
        type: object
        required: [key]
        properties:
          key: {type: string}
`), &s.Schema); err != nil {
		t.Fatal(err)
	}
	if err := checkSchemaKeys(s.Schema, "Thing"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, spec, meta string
		ok               bool
	}{
		{"all fields", `{"port": 3100, "mode": "on", "size": "5M", "labels": {"a": "b"}, "free": {"x": {"y": 1}}, "target": "http", "tolerations": [{"operator": "Exists"}], "ref": {"key": "k"}}`, `{"name": "a"}`, true},
		{"int-or-string as int", `{"target": 2020}`, `{"name": "a"}`, true},
		{"unknown field", `{"prot": 3100}`, `{"name": "a"}`, false},
		{"unknown nested field", `{"ref": {"key": "k", "nmae": "x"}}`, `{"name": "a"}`, false},
		{"unknown field of a Kubernetes type", `{"tolerations": [{"operater": "Exists"}]}`, `{"name": "a"}`, false},
		{"unknown metadata field", `{}`, `{"name": "a", "lables": {}}`, false},
		{"namespace on a cluster-scoped kind", `{}`, `{"name": "a", "namespace": "x"}`, false},
		{"wrong type", `{"port": "3100"}`, `{"name": "a"}`, false},
		{"not an integer", `{"port": 31.5}`, `{"name": "a"}`, false},
		{"over maximum", `{"port": 70000}`, `{"name": "a"}`, false},
		{"not in enum", `{"mode": "yes"}`, `{"name": "a"}`, false},
		{"pattern", `{"size": "5MB"}`, `{"name": "a"}`, false},
		{"map value type", `{"labels": {"a": 1}}`, `{"name": "a"}`, false},
		{"required", `{"ref": {}}`, `{"name": "a"}`, false},
		{"int-or-string as bool", `{"target": true}`, `{"name": "a"}`, false},
	} {
		obj := fmt.Sprintf(`{"apiVersion": "x/v1", "kind": "Thing", "metadata": %s, "spec": %s}`, c.meta, c.spec)
		if err := s.validate([]byte(obj)); (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// checkExcerptAgainst reports where the excerpt ex says something of a
// property that the published schema pub does not, or says it otherwise.
func checkExcerptAgainst(ex, pub map[string]any, path string) []string {
	var bad []string
	for k, v := range ex {
		switch k {
		case k8sTypeKey:
			// the published schema is generated from the type
		case "properties":
			pubProps, _ := pub["properties"].(map[string]any)
			for name, sub := range v.(map[string]any) {
				p, ok := pubProps[name].(map[string]any)
				if !ok {
					bad = append(bad, fmt.Sprintf("%s.%s: not in the published schema", path, name))
					continue
				}
				bad = append(bad, checkExcerptAgainst(sub.(map[string]any), p, path+"."+name)...)
			}
		case "items", "additionalProperties":
			p, ok := pub[k].(map[string]any)
			if !ok {
				bad = append(bad, fmt.Sprintf("%s: %s not in the published schema", path, k))
				continue
			}
			bad = append(bad, checkExcerptAgainst(v.(map[string]any), p, path+"[]")...)
		default:
			if !reflect.DeepEqual(normJSON(v), normJSON(pub[k])) {
				bad = append(bad, fmt.Sprintf("%s: %s is %v here, %v published", path, k, v, pub[k]))
			}
		}
	}
	// A constraint the published schema has on a property the excerpt
	// keeps must be kept too.
	if _, typed := ex[k8sTypeKey]; !typed {
		for _, k := range []string{"type", "format", "enum", "pattern", "minimum", "maximum", "required", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields"} {
			if _, ok := pub[k]; ok {
				if _, here := ex[k]; !here {
					bad = append(bad, fmt.Sprintf("%s: published %s %v left out", path, k, pub[k]))
				}
			}
		}
	}
	return bad
}

func normJSON(v any) any {
	js, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(js, &out)
	return out
}

// publishedSchema reads the served version's schema from a published CRD
// file of dir.
func publishedSchema(t *testing.T, dir string, ex *crdSchema) *crdSchema {
	t.Helper()
	f := filepath.Join(dir, "fluentbit.fluent.io_"+ex.Plural+".yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Scope    string
			Names    struct{ Kind string }
			Versions []struct {
				Name   string
				Served bool
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1alpha2" && v.Served {
			if crd.Spec.Names.Kind != ex.Kind || crd.Spec.Scope != ex.Scope {
				t.Errorf("%s: kind %s scope %s, excerpt says %s %s", f, crd.Spec.Names.Kind, crd.Spec.Scope, ex.Kind, ex.Scope)
			}
			stripDescriptions(v.Schema.OpenAPIV3Schema)
			return &crdSchema{Kind: ex.Kind, Plural: ex.Plural, Scope: crd.Spec.Scope, Schema: v.Schema.OpenAPIV3Schema}
		}
	}
	t.Fatalf("%s: no served v1alpha2", f)
	return nil
}

// stripDescriptions removes the description keywords, which this test's
// key check does not take, from a published schema.
func stripDescriptions(s map[string]any) {
	delete(s, "description")
	for k, v := range s {
		switch k {
		case "properties":
			for _, p := range v.(map[string]any) {
				if m, ok := p.(map[string]any); ok {
					stripDescriptions(m)
				}
			}
		case "items", "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				stripDescriptions(m)
			}
		}
	}
}

// TestExcerptCheck: comparing an excerpt with its published schema finds
// what the excerpt adds, changes or leaves out.
func TestExcerptCheck(t *testing.T) {
	var pub map[string]any
	if err := yaml.Unmarshal([]byte(`
type: object
properties:
  spec:
    type: object
    description: ignored
    properties:
      port: {type: integer, format: int32, minimum: 1, maximum: 65535}
      mode: {type: string, enum: ["on", "off"]}
      toleration: {type: object, properties: {key: {type: string}}}
      unused: {type: string}
`), &pub); err != nil {
		t.Fatal(err)
	}
	stripDescriptions(pub)
	for _, c := range []struct {
		name, excerpt string
		bad           int
	}{
		{"subset", `{type: object, properties: {spec: {type: object, properties: {port: {type: integer, format: int32, minimum: 1, maximum: 65535}, toleration: {x-loam-k8s-type: Toleration}}}}}`, 0},
		{"property not published", `{type: object, properties: {spec: {type: object, properties: {prot: {type: integer}}}}}`, 1},
		{"enum changed", `{type: object, properties: {spec: {type: object, properties: {mode: {type: string, enum: ["on", "off", "auto"]}}}}}`, 1},
		{"bounds left out", `{type: object, properties: {spec: {type: object, properties: {port: {type: integer, format: int32}}}}}`, 2},
		{"type changed", `{type: object, properties: {spec: {type: object, properties: {unused: {type: boolean}}}}}`, 1},
	} {
		var ex map[string]any
		if err := yaml.Unmarshal([]byte(c.excerpt), &ex); err != nil {
			t.Fatal(err)
		}
		if bad := checkExcerptAgainst(ex, pub, "X"); len(bad) != c.bad {
			t.Errorf("%s: %d findings %v, want %d", c.name, len(bad), bad, c.bad)
		}
	}
}
