package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

const (
	operatorDir    = "../fluentbit-conf/operator"
	operatorAPI    = "fluentbit.fluent.io/v1alpha2"
	operatorSchema = "testdata/fluent-operator"
)

// operatorKit is fluentbit-conf/operator (or one of its variants) built:
// the custom resources as generic JSON, after they passed their schema.
type operatorKit struct {
	fluentBits, configs, inputs, filters, outputs []map[string]any
	namespaces                                    []corev1.Namespace
	monitors                                      []serviceMonitor
}

// kustomizeDocs runs kubectl kustomize on dir and returns its objects as
// JSON.
func kustomizeDocs(t *testing.T, dir string) [][]byte {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the kustomizations cannot be built (CI has it)")
	}
	cmd := exec.Command(kubectl, "kustomize", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	var docs [][]byte
	for i, doc := range strings.Split(string(out), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%s: object %d: %v", dir, i, err)
		}
		docs = append(docs, js)
	}
	return docs
}

// buildOperator builds dir and checks every object: the fluent-operator
// resources against their CRD schema (schemas, by kind), the others
// strictly against their Go type.
func buildOperator(t *testing.T, dir string, schemas map[string]*crdSchema) *operatorKit {
	t.Helper()
	k := &operatorKit{}
	for i, js := range kustomizeDocs(t, dir) {
		var head struct{ APIVersion, Kind string }
		if err := json.Unmarshal(js, &head); err != nil {
			t.Fatalf("%s: object %d: %v", dir, i, err)
		}
		var err error
		switch {
		case head.APIVersion == operatorAPI:
			s, ok := schemas[head.Kind]
			if !ok {
				t.Fatalf("%s: object %d: %s has no schema excerpt in %s", dir, i, head.Kind, operatorSchema)
			}
			if err = s.validate(js); err != nil {
				break
			}
			var obj map[string]any
			_ = json.Unmarshal(js, &obj)
			list := map[string]*[]map[string]any{
				"FluentBit": &k.fluentBits, "ClusterFluentBitConfig": &k.configs, "ClusterInput": &k.inputs,
				"ClusterFilter": &k.filters, "ClusterOutput": &k.outputs,
			}[head.Kind]
			if list == nil {
				t.Fatalf("%s: %s has a schema but no place in this test", dir, head.Kind)
			}
			*list = append(*list, obj)
		case head.APIVersion == "v1" && head.Kind == "Namespace":
			err = decodeInto(&k.namespaces, js)
		case head.APIVersion == "monitoring.coreos.com/v1" && head.Kind == "ServiceMonitor":
			if err = decodeInto(&k.monitors, js); err == nil {
				err = k.monitors[len(k.monitors)-1].check()
			}
		default:
			err = fmt.Errorf("kind the test does not know: add its type or schema")
		}
		if err != nil {
			t.Fatalf("%s: %s/%s %d: %v", dir, head.APIVersion, head.Kind, i, err)
		}
	}
	return k
}

// at walks obj along a dotted path of map keys.
func at(obj any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := obj.(map[string]any)
		if !ok {
			return nil
		}
		obj = m[k]
	}
	return obj
}

func str(obj any, path string) string {
	s, _ := at(obj, path).(string)
	return s
}

func name(obj map[string]any) string { return str(obj, "metadata.name") }

func labelsOf(obj map[string]any) map[string]string {
	out := map[string]string{}
	if m, ok := at(obj, "metadata.labels").(map[string]any); ok {
		for k, v := range m {
			out[k], _ = v.(string)
		}
	}
	return out
}

func selectorOf(obj map[string]any, path string) map[string]string {
	out := map[string]string{}
	if m, ok := at(obj, path+".matchLabels").(map[string]any); ok {
		for k, v := range m {
			out[k], _ = v.(string)
		}
	}
	return out
}

// TestOperator builds fluentbit-conf/operator and its fanout variant and
// checks what fluentbit-conf/operator/README.md says of them.
func TestOperator(t *testing.T) {
	schemas := loadExcerpts(t, operatorSchema)
	base := buildOperator(t, operatorDir, schemas)
	fanout := buildOperator(t, filepath.Join(operatorDir, "fanout"), schemas)
	// Loam's side of the kit: its Service and NetworkPolicy.
	kit := build(t, filepath.Join("overlays", "local"))

	if pub := os.Getenv("LOAM_FLUENT_OPERATOR_CRDS"); pub != "" {
		checkPublished(t, pub, schemas)
	}

	for _, c := range []struct {
		name    string
		k       *operatorKit
		outputs []string
	}{
		{"operator", base, []string{"loam"}},
		{"operator/fanout", fanout, []string{"loam", "loam-elasticsearch", "loam-splunk"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, o := range c.k.outputs {
				got = append(got, name(o))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.outputs) {
				t.Errorf("ClusterOutputs %v, want %v", got, c.outputs)
			}
			fb := checkFluentBitCR(t, c.k, kit)
			checkPipelineSelected(t, c.k)
			checkInputsAndFilter(t, c.k, fb)
			checkLoamOutput(t, c.k, kit)
		})
	}
	checkFanoutOutputs(t, fanout)
}

// checkFluentBitCR: one FluentBit, in the kit's Fluent Bit namespace, whose
// image loads out_loam.so with -e, rendered from a ClusterFluentBitConfig
// of the build; its pods may push to Loam, and are scraped.
func checkFluentBitCR(t *testing.T, k *operatorKit, kit *kit) map[string]any {
	t.Helper()
	if len(k.fluentBits) != 1 || len(k.configs) != 1 {
		t.Fatalf("%d FluentBits and %d ClusterFluentBitConfigs, want 1 of each", len(k.fluentBits), len(k.configs))
	}
	fb, cfg := k.fluentBits[0], k.configs[0]
	ns := str(fb, "metadata.namespace")
	if ns != "loam-fluent-bit" {
		t.Errorf("FluentBit in namespace %q, want loam-fluent-bit (Loam's NetworkPolicy takes pushes from there)", ns)
	}
	if len(k.namespaces) != 1 || k.namespaces[0].Name != ns || k.namespaces[0].Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("want the Namespace %s, enforcing Pod Security privileged (hostPath)", ns)
	}
	// The operator mounts the Secret named after the config, which it
	// writes in the config's spec.namespace.
	if str(fb, "spec.fluentBitConfigName") != name(cfg) || str(cfg, "spec.namespace") != ns {
		t.Errorf("FluentBit renders config %q; ClusterFluentBitConfig %q writes its Secret to namespace %q, want %q",
			str(fb, "spec.fluentBitConfigName"), name(cfg), str(cfg, "spec.namespace"), ns)
	}
	// customPlugin.config is rendered in the classic format only.
	if str(cfg, "spec.configFileFormat") != "classic" {
		t.Errorf("configFileFormat %q: the loam output's customPlugin.config needs classic", str(cfg, "spec.configFileFormat"))
	}

	checkPluginImage(t, fb)

	var tolerations []corev1.Toleration
	js, _ := json.Marshal(at(fb, "spec.tolerations"))
	_ = json.Unmarshal(js, &tolerations)
	if !slices.ContainsFunc(tolerations, func(tl corev1.Toleration) bool {
		return tl.Key == "" && tl.Operator == corev1.TolerationOpExists && tl.Effect == ""
	}) {
		t.Errorf("tolerations %v: want one that tolerates every taint", tolerations)
	}

	// Pods: spec.labels (the operator's DaemonSet selector) are admitted by
	// the kit's NetworkPolicy; the Service carries metadata.labels, which
	// the ServiceMonitor selects, on port `metrics` (the operator's name).
	podLabels := map[string]string{}
	if m, ok := at(fb, "spec.labels").(map[string]any); ok {
		for key, v := range m {
			podLabels[key], _ = v.(string)
		}
	}
	if len(podLabels) == 0 {
		t.Errorf("FluentBit has no spec.labels: the operator would select pods by metadata.labels, which kustomize changes")
	}
	if !pushAllowed(kit.netpols, map[string]string{"kubernetes.io/metadata.name": ns}, podLabels) {
		t.Errorf("Loam's NetworkPolicy does not let pods %v of namespace %s push", podLabels, ns)
	}
	if len(k.monitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(k.monitors))
	}
	m := k.monitors[0]
	if m.Metadata.Namespace != ns || !matches(m.Spec.Selector.MatchLabels, labelsOf(fb)) ||
		m.Spec.Endpoints[0].Port != "metrics" || m.Spec.Endpoints[0].Path != "/api/v2/metrics/prometheus" {
		t.Errorf("ServiceMonitor %+v does not scrape the operator's Service of FluentBit %s (labels %v, port metrics)", m, name(fb), labelsOf(fb))
	}
	if p := at(cfg, "spec.service.httpPort"); p != float64(2020) || at(cfg, "spec.service.httpServer") != true {
		t.Errorf("service httpPort %v: want the HTTP server on 2020, the operator's metrics port", p)
	}
	return fb
}

// pushAllowed reports whether a NetworkPolicy of the kit lets pods of
// labels in a namespace of nsLabels reach Loam's http port.
func pushAllowed(pols []networkingv1.NetworkPolicy, nsLabels, labels map[string]string) bool {
	for _, np := range pols {
		for _, r := range np.Spec.Ingress {
			if !slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port != nil && p.Port.String() == "http" }) {
				continue
			}
			for _, from := range r.From {
				if from.PodSelector != nil && matches(from.PodSelector.MatchLabels, labels) &&
					from.NamespaceSelector != nil && (len(from.NamespaceSelector.MatchLabels) == 0 || matches(from.NamespaceSelector.MatchLabels, nsLabels)) {
					return true
				}
			}
		}
	}
	return false
}

// checkPluginImage: the FluentBit's image is Dockerfile.plugin's stage
// `operator`, built on the operator's Fluent Bit image of the same version
// as the plain image, and its args make the watcher pass `-e` with the path
// that stage copies out_loam.so to.
func checkPluginImage(t *testing.T, fb map[string]any) {
	t.Helper()
	var args []string
	for _, a := range at(fb, "spec.args").([]any) {
		args = append(args, a.(string))
	}
	i := slices.Index(args, "-e")
	if i < 0 || i+1 >= len(args) || slices.Contains(args, "-c") {
		t.Fatalf("args %v: want `-e <plugin>` for the watcher, and no -c (the watcher picks the rendered config)", args)
	}
	soPath := args[i+1]
	if str(fb, "spec.image") != "loam-fluent-bit-operator:dev" {
		t.Errorf("image %q", str(fb, "spec.image"))
	}

	stages := dockerStages(t, "../Dockerfile.plugin")
	op, ok := stages["operator"]
	if !ok {
		t.Fatal("Dockerfile.plugin has no stage `operator`")
	}
	final := stages[""]
	opRepo, opVersion, _ := strings.Cut(op.from, ":")
	plainRepo, plainVersion, _ := strings.Cut(final.from, ":")
	if opRepo != "ghcr.io/fluent/fluent-operator/fluent-bit" || plainRepo != "fluent/fluent-bit" || opVersion != plainVersion {
		t.Errorf("stage operator is FROM %s, the plain image FROM %s: want the operator's image of the same Fluent Bit version", op.from, final.from)
	}
	if !slices.ContainsFunc(op.copies, func(c string) bool { return strings.HasSuffix(c, " "+soPath) && strings.Contains(c, "out_loam.so") }) {
		t.Errorf("stage operator copies %v: none puts out_loam.so at %s, the path of -e", op.copies, soPath)
	}
	if slices.ContainsFunc(op.copies, func(c string) bool { return strings.Contains(c, "plugins.conf") }) {
		t.Errorf("stage operator adds a plugins file: with -e, that would load the plugin twice")
	}
}

type dockerStage struct {
	from   string
	copies []string
}

// dockerStages reads the FROM and COPY lines of a Dockerfile by stage
// name; the last stage is also "".
func dockerStages(t *testing.T, path string) map[string]*dockerStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := map[string]*dockerStage{}
	var cur *dockerStage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			cur = &dockerStage{from: fields[1]}
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				stages[fields[3]] = cur
			}
			stages[""] = cur
		case "COPY":
			if cur != nil {
				cur.copies = append(cur.copies, strings.Join(fields[1:], " "))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// checkPipelineSelected: the config selects every input, filter and output
// of the build by its labels, and nothing is left unselected.
func checkPipelineSelected(t *testing.T, k *operatorKit) {
	t.Helper()
	cfg := k.configs[0]
	for _, c := range []struct {
		selector string
		objs     []map[string]any
	}{
		{"spec.inputSelector", k.inputs},
		{"spec.filterSelector", k.filters},
		{"spec.outputSelector", k.outputs},
	} {
		sel := selectorOf(cfg, c.selector)
		if sel["fluentbit.fluent.io/enabled"] != "" {
			t.Errorf("%s %v selects the Helm chart's label: the chart's FluentBit would take these resources too", c.selector, sel)
		}
		for _, o := range c.objs {
			if !matches(sel, labelsOf(o)) {
				t.Errorf("%s %v does not select %s (labels %v)", c.selector, sel, name(o), labelsOf(o))
			}
		}
	}
}

// fluentBitConf reads the YAML config of fluentbit-conf.
func fluentBitConf(t *testing.T, file string) (service map[string]any, inputs, filters, outputs []map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "fluentbit-conf", file))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Service  map[string]any `json:"service"`
		Pipeline struct {
			Inputs  []map[string]any `json:"inputs"`
			Filters []map[string]any `json:"filters"`
			Outputs []map[string]any `json:"outputs"`
		} `json:"pipeline"`
	}
	if err := yaml.Unmarshal(data, &conf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return conf.Service, conf.Pipeline.Inputs, conf.Pipeline.Filters, conf.Pipeline.Outputs
}

func byName(list []map[string]any, n string) map[string]any {
	for _, m := range list {
		if m["name"] == n {
			return m
		}
	}
	return nil
}

// norm writes a config value the way Fluent Bit reads it: booleans as
// on/off, whole numbers without a fraction.
func norm(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "on"
		}
		return "off"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		switch strings.ToLower(x) {
		case "on", "true", "yes":
			return "on"
		case "off", "false", "no":
			return "off"
		}
		return x
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, norm(e))
		}
		return "[" + strings.Join(parts, " | ") + "]"
	}
	return fmt.Sprint(v)
}

// field maps a key of fluentbit-conf to the field of a resource that
// renders it ("" when the resource has none: then want, Fluent Bit's
// default, must be the value fluentbit-conf sets).
type field struct{ key, cr, want string }

// compareSection checks that the resource fields obj (a plugin's spec)
// say what the section of fluentbit-conf says, key by key, both ways:
// every key of the section is mapped, and every field set is a key of it
// or a default in defaults.
func compareSection(t *testing.T, what string, section map[string]any, obj any, fields []field, defaults map[string]string) {
	t.Helper()
	mapped := map[string]bool{}
	for _, f := range fields {
		v, ok := section[f.key]
		if !ok {
			continue
		}
		mapped[f.key] = true
		if f.cr == "" {
			if norm(v) != f.want {
				t.Errorf("%s: %s is %q in fluentbit-conf; the resource cannot set it and Fluent Bit's default is %q", what, f.key, norm(v), f.want)
			}
			continue
		}
		if got := norm(at(obj, f.cr)); got != norm(v) {
			t.Errorf("%s: %s is %q, fluentbit-conf's %s is %q", what, f.cr, got, f.key, norm(v))
		}
	}
	for key := range section {
		if !mapped[key] && key != "name" {
			t.Errorf("%s: fluentbit-conf's %s has no field in this test's mapping: add it, and to the resource", what, key)
		}
	}
	for _, leaf := range leaves(obj, "") {
		if slices.ContainsFunc(fields, func(f field) bool { return f.cr == leaf && mapped[f.key] }) {
			continue
		}
		if want, ok := defaults[leaf]; ok && norm(at(obj, leaf)) == want {
			continue
		}
		t.Errorf("%s: field %s = %v is not in fluentbit-conf (nor Fluent Bit's default)", what, leaf, at(obj, leaf))
	}
}

// leaves lists the dotted paths of the non-map values of obj.
func leaves(obj any, prefix string) []string {
	m, ok := obj.(map[string]any)
	if !ok {
		return []string{strings.TrimPrefix(prefix, ".")}
	}
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, leaves(m[k], prefix+"."+k)...)
	}
	return out
}

func checkInputsAndFilter(t *testing.T, k *operatorKit, fb map[string]any) {
	t.Helper()
	service, inputs, filters, _ := fluentBitConf(t, "fluent-bit.yaml")
	cfg := k.configs[0]

	compareSection(t, "service", service, at(cfg, "spec.service"), []field{
		{"flush", "flushSeconds", ""}, {"grace", "graceSeconds", ""}, {"daemon", "daemon", ""},
		{"log_level", "logLevel", ""}, {"http_server", "httpServer", ""}, {"http_listen", "httpListen", ""},
		{"http_port", "httpPort", ""}, {"health_check", "healthCheck", ""},
		{"storage.path", "storage.path", ""}, {"storage.sync", "storage.sync", ""},
		{"storage.checksum", "storage.checksum", ""}, {"storage.backlog.mem_limit", "storage.backlogMemLimit", ""},
		{"storage.max_chunks_up", "storage.maxChunksUp", ""}, {"storage.metrics", "storage.metrics", ""},
		{"scheduler.base", "schedulerBase", ""}, {"scheduler.cap", "schedulerCap", ""},
		// loaded by -e (checkPluginImage), as the service has no such field
		{"plugins_file", "", "/fluent-bit/plugins/plugins.conf"},
	}, nil)

	var tail, journal map[string]any
	for _, in := range k.inputs {
		switch {
		case at(in, "spec.tail") != nil:
			tail = in
		case at(in, "spec.systemd") != nil:
			journal = in
		}
	}
	if len(k.inputs) != 2 || tail == nil || journal == nil {
		t.Fatalf("want 2 ClusterInputs, a tail and a systemd one")
	}
	if !strings.HasPrefix(str(tail, "spec.tail.path"), "/var/log/containers/") {
		t.Errorf("tail reads %q, not /var/log/containers", str(tail, "spec.tail.path"))
	}
	if str(journal, "spec.systemd.path") != "/var/log/journal" {
		t.Errorf("systemd reads %q, not the journal /var/log/journal", str(journal, "spec.systemd.path"))
	}
	compareSection(t, "tail", byName(inputs, "tail"), at(tail, "spec.tail"), []field{
		{"tag", "tag", ""}, {"path", "path", ""}, {"multiline.parser", "multilineParser", ""},
		{"db", "db", ""}, {"db.locking", "dbLocking", ""}, {"refresh_interval", "refreshIntervalSeconds", ""},
		{"rotate_wait", "rotateWaitSeconds", ""}, {"skip_long_lines", "skipLongLines", ""},
		{"buffer_max_size", "bufferMaxSize", ""}, {"storage.type", "storageType", ""},
	}, nil)
	compareSection(t, "systemd", byName(inputs, "systemd"), at(journal, "spec.systemd"), []field{
		{"tag", "tag", ""}, {"path", "path", ""}, {"systemd_filter", "systemdFilter", ""}, {"db", "db", ""},
		{"read_from_tail", "readFromTail", ""}, {"strip_underscores", "stripUnderscores", ""},
		{"storage.type", "storageType", ""},
		{"lowercase", "", "off"},
	}, map[string]string{"systemdFilterType": "Or"})

	if len(k.filters) != 1 {
		t.Fatalf("%d ClusterFilters, want 1", len(k.filters))
	}
	f := k.filters[0]
	fl, _ := at(f, "spec.filters").([]any)
	if len(fl) != 1 || at(fl[0], "kubernetes") == nil {
		t.Fatalf("ClusterFilter %s: want one kubernetes filter", name(f))
	}
	want := byName(filters, "kubernetes")
	if norm(want["match"]) != str(f, "spec.match") {
		t.Errorf("kubernetes filter matches %q, fluentbit-conf's %v", str(f, "spec.match"), want["match"])
	}
	delete(want, "match")
	compareSection(t, "kubernetes", want, at(fl[0], "kubernetes"), []field{
		{"kube_tag_prefix", "kubeTagPrefix", ""}, {"merge_log", "mergeLog", ""}, {"keep_log", "keepLog", ""},
		{"labels", "labels", ""}, {"annotations", "annotations", ""},
		{"k8s-logging.parser", "k8sLoggingParser", ""}, {"k8s-logging.exclude", "k8sLoggingExclude", ""},
		{"buffer_size", "bufferSize", ""},
	}, nil)

	// Positions and chunks live on the state hostPath the FluentBit mounts.
	state := ""
	for _, v := range at(fb, "spec.volumes").([]any) {
		if p := str(v, "hostPath.path"); p != "" {
			for _, m := range at(fb, "spec.volumesMounts").([]any) {
				if str(m, "name") == str(v, "name") && str(m, "mountPath") == p && at(m, "readOnly") != true {
					state = p
				}
			}
		}
	}
	for _, p := range []string{str(tail, "spec.tail.db"), str(journal, "spec.systemd.db"), str(cfg, "spec.service.storage.path")} {
		if state == "" || !strings.HasPrefix(p, state+"/") {
			t.Errorf("%q is not on the FluentBit's writable hostPath %q: it would not outlive the pod", p, state)
		}
	}
}

// customConfig reads the lines of a customPlugin.config, as the operator
// renders them, into lower-cased keys.
func customConfig(t *testing.T, config string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(config, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") || strings.HasPrefix(line, "@") {
			t.Errorf("customPlugin line %q: the operator refuses a section or a command", line)
		}
		k, v, _ := strings.Cut(line, " ")
		k = strings.ToLower(k)
		if _, dup := out[k]; dup {
			t.Errorf("customPlugin key %s twice", k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// checkLoamOutput: the loam output is fluentbit-conf's, pushing to the
// Service loam of namespace loam on 3100.
func checkLoamOutput(t *testing.T, k *operatorKit, kit *kit) {
	t.Helper()
	var o map[string]any
	for _, x := range k.outputs {
		if name(x) == "loam" {
			o = x
		}
	}
	if o == nil {
		t.Fatal("no ClusterOutput loam")
	}
	conf := customConfig(t, str(o, "spec.customPlugin.config"))
	if conf["name"] != "loam" {
		t.Errorf("customPlugin Name %q, want loam (the output the plugin registers)", conf["name"])
	}
	for _, key := range []string{"match", "match_regex", "retry_limit", "alias"} {
		if _, ok := conf[key]; ok {
			t.Errorf("customPlugin sets %s: the operator writes it from the ClusterOutput's spec already", key)
		}
	}
	_, _, _, outputs := fluentBitConf(t, "fluent-bit.yaml")
	want := byName(outputs, "loam")
	if want == nil {
		t.Fatal("fluentbit-conf/fluent-bit.yaml has no loam output")
	}
	for key, v := range want {
		var got string
		switch key {
		case "name":
			continue
		case "match":
			got = str(o, "spec.match")
		case "retry_limit":
			got = str(o, "spec.retry_limit")
		default:
			got = conf[strings.ToLower(key)]
		}
		if norm(got) != norm(v) {
			t.Errorf("loam output: %s is %q, fluentbit-conf's is %q", key, got, norm(v))
		}
	}
	for key := range conf {
		if _, ok := want[key]; !ok && !slices.ContainsFunc(sortedKeys(want), func(w string) bool { return strings.EqualFold(w, key) }) {
			t.Errorf("loam output: key %s is not in fluentbit-conf's loam output", key)
		}
	}

	u, err := url.Parse(conf["url"])
	if err != nil {
		t.Fatalf("loam Url %q: %v", conf["url"], err)
	}
	host := strings.TrimSuffix(u.Hostname(), ".cluster.local")
	if host != "loam.loam.svc" || u.Port() != "3100" {
		t.Errorf("loam Url %s: want the Service loam of namespace loam, port 3100", conf["url"])
	}
	svc := kit.service(t, "loam", "loam")
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == u.Port() }) {
		t.Errorf("the kit's Service loam has no port %s", u.Port())
	}
}

// checkFanoutOutputs: Elasticsearch and Splunk take the same records as
// Loam, each with its own retries and disk bound; the Elasticsearch one is
// fluentbit-conf/fluent-bit-fanout.yaml's.
func checkFanoutOutputs(t *testing.T, k *operatorKit) {
	t.Helper()
	outs := map[string]map[string]any{}
	for _, o := range k.outputs {
		outs[name(o)] = o
	}
	loamMatch := str(outs["loam"], "spec.match")
	for _, n := range []string{"loam-elasticsearch", "loam-splunk"} {
		o := outs[n]
		if o == nil {
			t.Errorf("fanout: no ClusterOutput %s", n)
			continue
		}
		if str(o, "spec.match") != loamMatch || str(o, "spec.retry_limit") != "no_limits" {
			t.Errorf("%s: match %q retry_limit %q, want Loam's match %q and no_limits", n, str(o, "spec.match"), str(o, "spec.retry_limit"), loamMatch)
		}
	}
	if t.Failed() {
		return
	}
	_, _, _, outputs := fluentBitConf(t, "fluent-bit-fanout.yaml")
	es := byName(outputs, "es")
	if es == nil {
		t.Fatal("fluent-bit-fanout.yaml has no es output")
	}
	delete(es, "match")
	compareSection(t, "es", es, at(outs["loam-elasticsearch"], "spec"), []field{
		{"host", "es.host", ""}, {"port", "es.port", ""}, {"logstash_format", "es.logstashFormat", ""},
		{"logstash_prefix", "es.logstashPrefix", ""}, {"suppress_type_name", "es.suppressTypeName", ""},
		{"replace_dots", "es.replaceDots", ""}, {"trace_error", "es.traceError", ""},
		{"retry_limit", "retry_limit", ""}, {"storage.total_limit_size", "es.totalLimitSize", ""},
		// the CRD's es has no workers; out_es registers 2 by default
		{"workers", "", "2"},
	}, map[string]string{"match": norm(loamMatch)})

	sp := at(outs["loam-splunk"], "spec.splunk")
	if str(sp, "host") == "" || at(sp, "port") == nil || str(sp, "totalLimitSize") == "" {
		t.Errorf("splunk output %v: want a host, a port and a totalLimitSize", sp)
	}
	if str(sp, "splunkToken.valueFrom.secretKeyRef.name") == "" || str(sp, "splunkToken.valueFrom.secretKeyRef.key") == "" {
		t.Errorf("splunk token is not read from a Secret")
	}
}

// checkPublished compares each excerpt with the published CRD it was
// written from, and validates the built resources against the whole
// published schemas.
func checkPublished(t *testing.T, dir string, schemas map[string]*crdSchema) {
	t.Helper()
	full := map[string]*crdSchema{}
	for kind, ex := range schemas {
		pub := publishedSchema(t, dir, ex)
		for _, bad := range checkExcerptAgainst(ex.Schema, pub.Schema, kind) {
			t.Errorf("excerpt %s", bad)
		}
		full[kind] = pub
	}
	for _, d := range []string{operatorDir, filepath.Join(operatorDir, "fanout")} {
		buildOperator(t, d, full)
	}
	t.Logf("checked against the published CRDs of %s", dir)
}
