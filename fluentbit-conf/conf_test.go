package fluentbitconf

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The configurations of this directory, by syntax.
var (
	yamlConfigs    = []string{"fluent-bit.yaml", "fluent-bit-fanout.yaml"}
	classicConfigs = []string{"fluent-bit.conf"}
)

// keyTable is a section's or a plugin's known keys, from
// testdata/known-keys.yaml.
type keyTable struct {
	Doc        any      `json:"doc"` // one page, or a list
	Keys       []string `json:"keys"`
	Repeatable []string `json:"repeatable,omitempty"`
}

type knownKeys struct {
	Service keyTable            `json:"service"`
	Common  map[string]keyTable `json:"common"` // input, filter, output
	Inputs  map[string]keyTable `json:"inputs"`
	Filters map[string]keyTable `json:"filters"`
	Outputs map[string]keyTable `json:"outputs"`
}

func (k *knownKeys) plugins(kind string) map[string]keyTable {
	switch kind {
	case "input":
		return k.Inputs
	case "filter":
		return k.Filters
	default:
		return k.Outputs
	}
}

func readKnownKeys(t *testing.T) *knownKeys {
	t.Helper()
	data, err := os.ReadFile("testdata/known-keys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k knownKeys
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("testdata/known-keys.yaml: %v", err)
	}
	check := func(where string, tb keyTable) {
		if tb.Doc == nil || len(tb.Keys) == 0 {
			t.Fatalf("known-keys.yaml: %s: no doc page or no keys", where)
		}
		for _, key := range tb.Keys {
			if key != strings.ToLower(key) {
				t.Errorf("known-keys.yaml: %s: key %s is not lower case", where, key)
			}
		}
	}
	check("service", k.Service)
	for _, kind := range []string{"input", "filter", "output"} {
		check("common "+kind, k.Common[kind])
		for name, tb := range k.plugins(kind) {
			check(kind+" "+name, tb)
		}
	}
	return &k
}

func load(t *testing.T, name string) *config {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var c *config
	if strings.HasSuffix(name, ".conf") {
		c, err = parseClassic(data)
	} else {
		c, err = parseYAML(data)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// TestKeysKnown: every key of every section is one Fluent Bit's manual
// lists for it, or, for the loam output, one the plugin reads; a key is
// given once unless the plugin takes it several times.
func TestKeysKnown(t *testing.T) {
	known := readKnownKeys(t)
	loam, err := loamKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(slices.Clone(yamlConfigs), classicConfigs...) {
		t.Run(name, func(t *testing.T) {
			for _, e := range unknownKeys(load(t, name), known, loam) {
				t.Error(e)
			}
		})
	}
}

// unknownKeys returns one message per key of c that its section or plugin
// does not know.
func unknownKeys(c *config, known *knownKeys, loam map[string]bool) []string {
	var errs []string
	for _, k := range c.service.order {
		if !slices.Contains(known.Service.Keys, k) {
			errs = append(errs, fmt.Sprintf("service: key %s is not a service key (%v)", k, known.Service.Doc))
		}
		if len(c.service.keys[k]) > 1 {
			errs = append(errs, fmt.Sprintf("service: key %s given %d times", k, len(c.service.keys[k])))
		}
	}
	for _, kind := range c.kinds() {
		common := known.Common[kind.kind].Keys
		for i, s := range kind.sections {
			where := fmt.Sprintf("%s %d (%s)", kind.kind, i, s.plugin)
			plugin := strings.ToLower(s.plugin)
			var own keyTable
			var doc any
			switch tb, ok := known.plugins(kind.kind)[plugin]; {
			case kind.kind == "output" && plugin == "loam":
				for k := range loam {
					own.Keys = append(own.Keys, k)
				}
				doc = loamSource
			case ok:
				own, doc = tb, tb.Doc
			default:
				errs = append(errs, fmt.Sprintf("%s: plugin %s has no table in testdata/known-keys.yaml", where, s.plugin))
				continue
			}
			for _, k := range s.order {
				if !slices.Contains(common, k) && !slices.Contains(own.Keys, k) {
					errs = append(errs, fmt.Sprintf("%s: key %s is not known to %s %s (%v)", where, k, kind.kind, s.plugin, doc))
				}
				if n := len(s.keys[k]); n > 1 && !slices.Contains(own.Repeatable, k) {
					errs = append(errs, fmt.Sprintf("%s: key %s given %d times; %s takes it once", where, k, n, s.plugin))
				}
			}
		}
	}
	return errs
}

// TestUnknownKeysRefused: the check refuses what it must (a misspelt key, a
// key of another plugin, a plugin without a table, a repeated key), so that
// TestKeysKnown cannot pass by accepting everything.
func TestUnknownKeysRefused(t *testing.T) {
	known := readKnownKeys(t)
	loam, err := loamKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, conf, want string }{
		{"service typo", "[SERVICE]\n    Flushh 1\n", "key flushh is not a service key"},
		{"tail key on systemd", "[INPUT]\n    Name systemd\n    Skip_Long_Lines On\n", "key skip_long_lines is not known to input systemd"},
		{"loam misspelt", "[OUTPUT]\n    Name loam\n    Match *\n    BearerTokenFil /x\n", "key bearertokenfil is not known to output loam"},
		{"es key on loam", "[OUTPUT]\n    Name loam\n    Match *\n    Logstash_Format On\n", "key logstash_format is not known to output loam"},
		{"no table", "[FILTER]\n    Name grep\n    Match *\n", "plugin grep has no table"},
		{"repeated", "[INPUT]\n    Name tail\n    Path /a\n    Path /b\n", "key path given 2 times"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf, err := parseClassic([]byte(c.conf))
			if err != nil {
				t.Fatal(err)
			}
			errs := unknownKeys(conf, known, loam)
			if len(errs) != 1 || !strings.Contains(errs[0], c.want) {
				t.Errorf("got %q, want one error with %q", errs, c.want)
			}
		})
	}
	conf, err := parseClassic([]byte("[OUTPUT]\n    Name loam\n    Match *\n    Url http://l:3100\n    BearerTokenFile /t\n    Workers 2\n    Retry_Limit no_limits\n"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := unknownKeys(conf, known, loam); len(errs) != 0 {
		t.Errorf("loam's own and the common output keys refused: %q", errs)
	}
}

// TestLoamKeysFromSource: the keys read from the plugin's source are the
// ones it documents (plugin/README.md's table), so that a change in how
// the plugin reads them cannot empty the set unnoticed.
func TestLoamKeysFromSource(t *testing.T) {
	loam, err := loamKeys()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../plugin/README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	inKeys := false
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "### ") {
			inKeys = strings.TrimSpace(line) == "### Keys"
			continue
		}
		if inKeys && strings.HasPrefix(line, "| `") {
			k, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			documented[strings.ToLower(k)] = true
		}
	}
	if len(documented) == 0 {
		t.Fatal("plugin/README.md: no key table under ### Keys")
	}
	for k := range documented {
		if !loam[k] {
			t.Errorf("plugin/README.md documents %s, which %s does not read", k, loamSource)
		}
	}
	for k := range loam {
		if !documented[k] {
			t.Errorf("%s reads %s, which plugin/README.md does not document", loamSource, k)
		}
	}
}

// TestYAMLAndClassicAgree: fluent-bit.yaml and fluent-bit.conf set the same
// keys to the same values in the same sections; fluent-bit-fanout.yaml is
// fluent-bit.yaml plus outputs.
func TestYAMLAndClassicAgree(t *testing.T) {
	y, c := load(t, "fluent-bit.yaml"), load(t, "fluent-bit.conf")
	for _, d := range diff(y, c, false) {
		t.Errorf("fluent-bit.yaml vs fluent-bit.conf: %s", d)
	}
	fan := load(t, "fluent-bit-fanout.yaml")
	for _, d := range diff(y, fan, true) {
		t.Errorf("fluent-bit.yaml vs fluent-bit-fanout.yaml: %s", d)
	}
}

// diff lists how a and b differ. extraOutputs: b may have more outputs
// after a's.
func diff(a, b *config, extraOutputs bool) []string {
	var out []string
	out = append(out, diffSection("service", a.service, b.service)...)
	ak, bk := a.kinds(), b.kinds()
	for i := range ak {
		as, bs := ak[i].sections, bk[i].sections
		n := len(as)
		if len(as) != len(bs) && !(extraOutputs && ak[i].kind == "output" && len(bs) > len(as)) {
			out = append(out, fmt.Sprintf("%d %ss against %d", len(as), ak[i].kind, len(bs)))
			n = min(len(as), len(bs))
		}
		for j := 0; j < n; j++ {
			out = append(out, diffSection(fmt.Sprintf("%s %d (%s)", ak[i].kind, j, as[j].plugin), as[j], bs[j])...)
		}
	}
	return out
}

func diffSection(where string, a, b section) []string {
	var out []string
	for _, k := range a.order {
		bv, ok := b.keys[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: key %s only in the first", where, k))
		case !sameValues(a.keys[k], bv):
			out = append(out, fmt.Sprintf("%s: key %s is %q against %q", where, k, a.keys[k], bv))
		}
	}
	for _, k := range b.order {
		if _, ok := a.keys[k]; !ok {
			out = append(out, fmt.Sprintf("%s: key %s only in the second", where, k))
		}
	}
	return out
}

func sameValues(a, b []string) bool {
	return slices.EqualFunc(a, b, sameValue)
}

// sameValue compares two values as Fluent Bit reads them: a boolean in
// any of its spellings (on, true, yes, any case) equals another with the
// same truth; anything else must be identical.
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	ba, okA := flbBool(a)
	bb, okB := flbBool(b)
	return okA && okB && ba == bb
}

func flbBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "on", "true", "yes":
		return true, true
	case "off", "false", "no":
		return false, true
	}
	return false, false
}

// TestDiffFindsDifferences: the comparison sees a changed value, a missing
// key and a missing section.
func TestDiffFindsDifferences(t *testing.T) {
	base := "[SERVICE]\n    Flush 1\n[INPUT]\n    Name tail\n    Path /a\n[OUTPUT]\n    Name loam\n    Match *\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"value", "service: {flush: 2}\npipeline:\n  inputs: [{name: tail, path: /a}]\n  outputs: [{name: loam, match: '*'}]\n", `key flush is ["1"] against ["2"]`},
		{"key", "service: {flush: 1}\npipeline:\n  inputs: [{name: tail}]\n  outputs: [{name: loam, match: '*'}]\n", "key path only in the first"},
		{"section", "service: {flush: 1}\npipeline:\n  inputs: [{name: tail, path: /a}]\n", "1 outputs against 0"},
		{"bool spelling is no difference", "service: {flush: 1}\npipeline:\n  inputs: [{name: tail, path: /a}]\n  outputs: [{name: loam, match: '*'}]\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := parseClassic([]byte(base))
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseYAML([]byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			d := diff(a, b, false)
			if c.want == "" {
				if len(d) != 0 {
					t.Errorf("differences %q, want none", d)
				}
			} else if len(d) != 1 || !strings.Contains(d[0], c.want) {
				t.Errorf("differences %q, want one with %q", d, c.want)
			}
		})
	}
}
