package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// kit is one overlay built: every object, decoded into its type.
type kit struct {
	namespaces    []corev1.Namespace
	configMaps    []corev1.ConfigMap
	services      []corev1.Service
	accounts      []corev1.ServiceAccount
	statefulSets  []appsv1.StatefulSet
	daemonSets    []appsv1.DaemonSet
	roles         []rbacv1.ClusterRole
	bindings      []rbacv1.ClusterRoleBinding
	netpols       []networkingv1.NetworkPolicy
	pdbs          []policyv1.PodDisruptionBudget
	monitors      []serviceMonitor
	rules         []prometheusRule
	objectsByKind map[string]int
}

// strict decodes JSON into v, refusing unknown fields and trailing data.
func strict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// decodeInto appends the object decoded from data to *list.
func decodeInto[T any](list *[]T, data []byte) error {
	var v T
	if err := strict(data, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// build runs kubectl kustomize on dir and decodes its output.
func build(t *testing.T, dir string) *kit {
	t.Helper()
	k := &kit{objectsByKind: map[string]int{}}
	for i, js := range kustomizeDocs(t, dir) {
		var head struct{ APIVersion, Kind string }
		if err := json.Unmarshal(js, &head); err != nil {
			t.Fatalf("%s: object %d: %v", dir, i, err)
		}
		gvk := head.APIVersion + "/" + head.Kind
		k.objectsByKind[gvk]++
		var err error
		switch gvk {
		case "v1/Namespace":
			err = decodeInto(&k.namespaces, js)
		case "v1/ConfigMap":
			err = decodeInto(&k.configMaps, js)
		case "v1/Service":
			err = decodeInto(&k.services, js)
		case "v1/ServiceAccount":
			err = decodeInto(&k.accounts, js)
		case "apps/v1/StatefulSet":
			err = decodeInto(&k.statefulSets, js)
		case "apps/v1/DaemonSet":
			err = decodeInto(&k.daemonSets, js)
		case "rbac.authorization.k8s.io/v1/ClusterRole":
			err = decodeInto(&k.roles, js)
		case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
			err = decodeInto(&k.bindings, js)
		case "networking.k8s.io/v1/NetworkPolicy":
			err = decodeInto(&k.netpols, js)
		case "policy/v1/PodDisruptionBudget":
			err = decodeInto(&k.pdbs, js)
		case "monitoring.coreos.com/v1/ServiceMonitor":
			if err = decodeInto(&k.monitors, js); err == nil {
				err = k.monitors[len(k.monitors)-1].check()
			}
		case "monitoring.coreos.com/v1/PrometheusRule":
			if err = decodeInto(&k.rules, js); err == nil {
				err = checkGroups(k.rules[len(k.rules)-1].Spec.Groups)
			}
		default:
			err = fmt.Errorf("kind the test does not know: add its type")
		}
		if err != nil {
			t.Fatalf("%s: %s %d: %v", dir, gvk, i, err)
		}
	}
	return k
}

func (k *kit) service(t *testing.T, ns, name string) corev1.Service {
	t.Helper()
	for _, s := range k.services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %s/%s", ns, name)
	return corev1.Service{}
}

func (k *kit) configMap(t *testing.T, ns, name string) corev1.ConfigMap {
	t.Helper()
	for _, c := range k.configMaps {
		if c.Namespace == ns && c.Name == name {
			return c
		}
	}
	t.Fatalf("no ConfigMap %s/%s", ns, name)
	return corev1.ConfigMap{}
}

// flags returns the -name=value arguments of a container; a flag given
// without a value maps to "true". A flag given twice fails the test.
func flags(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "-") {
			t.Fatalf("argument %q is not a -flag=value", a)
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			value = "true"
		}
		if _, dup := m[name]; dup {
			t.Fatalf("flag -%s given twice", name)
		}
		m[name] = value
	}
	return m
}

// matches reports whether a selector of matchLabels selects labels.
func matches(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

type overlay struct {
	name                     string
	replicas                 int32
	rf, retention            string
	storage                  string
	clustered, auth, withPDB bool
}

var overlays = []overlay{
	{name: "local", replicas: 1, rf: "1", retention: "72h", storage: "10Gi"},
	{name: "cloud", replicas: 3, rf: "3", retention: "7d", storage: "100Gi", clustered: true, auth: true, withPDB: true},
}

// TestOverlays builds every overlay and checks what deploy/README.md says
// of it.
func TestOverlays(t *testing.T) {
	dirs, _ := filepath.Glob("overlays/*")
	var names []string
	for _, o := range overlays {
		names = append(names, o.name)
	}
	for _, d := range dirs {
		if !slices.Contains(names, filepath.Base(d)) {
			t.Errorf("overlay %s has no expectations in this test", d)
		}
	}
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			k := build(t, filepath.Join("overlays", o.name))
			checkLoam(t, k, o)
			checkFluentBit(t, k)
			checkMonitoring(t, k, o)
			checkCredentials(t, k, o)
		})
	}
}

const leaveHandoffSeconds = 3 + 5*60 + 10 + 30 // settle, repair pass, leave, HTTP drain (server/cmd/loam)

func checkLoam(t *testing.T, k *kit, o overlay) {
	if len(k.statefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(k.statefulSets))
	}
	ss := k.statefulSets[0]
	if ss.Namespace != "loam" || ss.Name != "loam" {
		t.Errorf("StatefulSet %s/%s, want loam/loam (fluentbit-conf pushes to loam.loam.svc)", ss.Namespace, ss.Name)
	}
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != o.replicas {
		t.Errorf("replicas %v, want %d", ss.Spec.Replicas, o.replicas)
	}
	pod := ss.Spec.Template.Spec
	podLabels := ss.Spec.Template.Labels
	if !matches(ss.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("selector %v does not select the pod labels %v", ss.Spec.Selector.MatchLabels, podLabels)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	f := flags(t, c)
	want := map[string]string{
		"ring.replication-factor":  o.rf,
		"retention.period":         o.retention,
		"retention.max-disk-usage": "90",
		"node.name":                "$(POD_NAME)",
		"runtime-config.file":      "/etc/loam/runtime/overrides.yaml",
	}
	for name, v := range want {
		if f[name] != v {
			t.Errorf("-%s=%q, want %q", name, f[name], v)
		}
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
	}) {
		t.Errorf("no POD_NAME from metadata.name for -node.name")
	}

	// Services: `loam` on 3100, the headless one governing the set.
	svc := k.service(t, "loam", "loam")
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 3100 || !matches(svc.Spec.Selector, podLabels) {
		t.Errorf("Service loam: ports %v selector %v", svc.Spec.Ports, svc.Spec.Selector)
	}
	hl := k.service(t, "loam", ss.Spec.ServiceName)
	if hl.Spec.ClusterIP != corev1.ClusterIPNone || !hl.Spec.PublishNotReadyAddresses || !matches(hl.Spec.Selector, podLabels) {
		t.Errorf("Service %s: want headless, publishing not-ready pods, selecting the pods", hl.Name)
	}
	if !slices.ContainsFunc(hl.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 7946 && p.Protocol == corev1.ProtocolTCP }) ||
		!slices.ContainsFunc(hl.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 7946 && p.Protocol == corev1.ProtocolUDP }) {
		t.Errorf("headless Service: no memberlist port 7946 on TCP and UDP: %v", hl.Spec.Ports)
	}
	if o.clustered {
		want := fmt.Sprintf("%s.%s.svc.cluster.local:7946", hl.Name, hl.Namespace)
		if f["memberlist.join"] != want {
			t.Errorf("-memberlist.join=%q, want %q", f["memberlist.join"], want)
		}
		if f["cluster.secret-file"] == "" {
			t.Errorf("a cluster without -cluster.secret-file gossips in clear")
		}
		aff := pod.Affinity
		if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
			t.Fatalf("no required pod anti-affinity")
		}
		term := aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
		if term.TopologyKey != "kubernetes.io/hostname" || term.LabelSelector == nil || !matches(term.LabelSelector.MatchLabels, podLabels) {
			t.Errorf("anti-affinity term %+v: want the pods' labels across kubernetes.io/hostname", term)
		}
	} else if _, ok := f["memberlist.join"]; ok {
		t.Errorf("a single node joins %s", f["memberlist.join"])
	}
	if o.withPDB {
		if len(k.pdbs) != 1 {
			t.Fatalf("%d PodDisruptionBudgets, want 1", len(k.pdbs))
		}
		p := k.pdbs[0]
		if p.Namespace != "loam" || p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 || p.Spec.MinAvailable != nil ||
			p.Spec.Selector == nil || !matches(p.Spec.Selector.MatchLabels, podLabels) {
			t.Errorf("PodDisruptionBudget %+v: want maxUnavailable 1 over the Loam pods", p.Spec)
		}
	} else if len(k.pdbs) != 0 {
		t.Errorf("unexpected PodDisruptionBudget")
	}

	// Auth: the flag files lie in mounted Secrets.
	mountedSecret := func(path string) string {
		dir := filepath.Dir(path)
		for _, m := range c.VolumeMounts {
			if m.MountPath != dir {
				continue
			}
			for _, v := range pod.Volumes {
				if v.Name == m.Name && v.Secret != nil {
					return v.Secret.SecretName
				}
			}
		}
		return ""
	}
	if o.auth {
		if f["auth.enabled"] != "true" {
			t.Errorf("auth is off")
		}
		for _, name := range []string{"auth.file", "auth.metrics-token-file", "cluster.secret-file"} {
			if mountedSecret(f[name]) == "" {
				t.Errorf("-%s=%s is not in a mounted Secret", name, f[name])
			}
		}
	} else if _, ok := f["auth.enabled"]; ok {
		t.Errorf("auth is set in overlay %s", o.name)
	}

	// Probes, resources, security, shutdown.
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/ready" || p.HTTPGet.Port.String() != "http" {
		t.Errorf("readiness probe %+v: want GET /ready on http", p)
	}
	if c.LivenessProbe == nil {
		t.Errorf("no liveness probe")
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" && p.ContainerPort == 3100 }) {
		t.Errorf("no container port http 3100")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s, limit %s", r, req.String(), lim.String())
		}
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want non-root", sc)
	}
	checkContainerSecurity(t, c, true)
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < leaveHandoffSeconds {
		t.Errorf("terminationGracePeriodSeconds %v: the leave handoff needs %d", g, leaveHandoffSeconds)
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volumeClaimTemplates", len(ss.Spec.VolumeClaimTemplates))
	}
	pvc := ss.Spec.VolumeClaimTemplates[0]
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse(o.storage)) != 0 {
		t.Errorf("volume %s, want %s", got.String(), o.storage)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == pvc.Name && m.MountPath == "/data" }) {
		t.Errorf("the volume is not mounted at /data (the image's -data.dir)")
	}
	rt := k.configMap(t, "loam", "loam-runtime")
	if _, ok := rt.Data["overrides.yaml"]; !ok {
		t.Errorf("runtime ConfigMap has no overrides.yaml")
	}
	if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == rt.Name }) {
		t.Errorf("runtime ConfigMap not mounted")
	}

	checkNamespaces(t, k)
	checkNetworkPolicy(t, k, podLabels)
}

func checkContainerSecurity(t *testing.T, c corev1.Container, nonRoot bool) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) != 0 ||
		(sc.Privileged != nil && *sc.Privileged) {
		t.Errorf("container %s securityContext %+v: want a read-only root, no escalation, every capability dropped", c.Name, sc)
	}
	if nonRoot && sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		t.Errorf("container %s runs as root", c.Name)
	}
}

func checkNamespaces(t *testing.T, k *kit) {
	want := map[string]string{"loam": "restricted", "loam-fluent-bit": "privileged"}
	if len(k.namespaces) != len(want) {
		t.Errorf("%d Namespaces, want %d", len(k.namespaces), len(want))
	}
	for _, n := range k.namespaces {
		if got := n.Labels["pod-security.kubernetes.io/enforce"]; got != want[n.Name] {
			t.Errorf("namespace %s enforces %q, want %q", n.Name, got, want[n.Name])
		}
	}
}

// checkNetworkPolicy: Fluent Bit's pods may push, Grafana and Prometheus
// read, Loam pods reach each other on 3100 and 7946.
func checkNetworkPolicy(t *testing.T, k *kit, podLabels map[string]string) {
	if len(k.netpols) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(k.netpols))
	}
	np := k.netpols[0]
	if !matches(np.Spec.PodSelector.MatchLabels, podLabels) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("NetworkPolicy does not govern the Loam pods' ingress")
	}
	allows := func(nsLabels, labels map[string]string, port string) bool {
		for _, r := range np.Spec.Ingress {
			portOK := false
			for _, p := range r.Ports {
				if p.Port != nil && p.Port.String() == port {
					portOK = true
				}
			}
			if !portOK {
				continue
			}
			for _, from := range r.From {
				if from.PodSelector == nil || !matches(from.PodSelector.MatchLabels, labels) {
					continue
				}
				if from.NamespaceSelector == nil {
					if nsLabels["kubernetes.io/metadata.name"] == "loam" {
						return true
					}
				} else if len(from.NamespaceSelector.MatchLabels) == 0 || matches(from.NamespaceSelector.MatchLabels, nsLabels) {
					return true
				}
			}
		}
		return false
	}
	fbPod := k.daemonSets[0].Spec.Template.Labels
	fbNS := map[string]string{"kubernetes.io/metadata.name": k.daemonSets[0].Namespace}
	other := map[string]string{"kubernetes.io/metadata.name": "monitoring"}
	loamNS := map[string]string{"kubernetes.io/metadata.name": "loam"}
	for _, c := range []struct {
		what    string
		ns, pod map[string]string
		port    string
		want    bool
	}{
		{"fluent bit pushes", fbNS, fbPod, "http", true},
		{"grafana reads", other, map[string]string{"app.kubernetes.io/name": "grafana"}, "http", true},
		{"prometheus scrapes", other, map[string]string{"app.kubernetes.io/name": "prometheus"}, "http", true},
		{"loam calls /internal", loamNS, podLabels, "http", true},
		{"loam gossips", loamNS, podLabels, "memberlist", true},
		{"loam gossips over UDP", loamNS, podLabels, "memberlist-udp", true},
		{"another pod", other, map[string]string{"app.kubernetes.io/name": "curl"}, "http", false},
		{"fluent bit gossips", fbNS, fbPod, "memberlist", false},
	} {
		if got := allows(c.ns, c.pod, c.port); got != c.want {
			t.Errorf("NetworkPolicy: %s on %s: allowed %v, want %v", c.what, c.port, got, c.want)
		}
	}
}

func checkFluentBit(t *testing.T, k *kit) {
	if len(k.daemonSets) != 1 {
		t.Fatalf("%d DaemonSets, want 1", len(k.daemonSets))
	}
	ds := k.daemonSets[0]
	pod := ds.Spec.Template.Spec
	if !slices.ContainsFunc(pod.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Key == "" && tl.Operator == corev1.TolerationOpExists && tl.Effect == ""
	}) {
		t.Errorf("tolerations %v: want one that tolerates every taint (control-plane included)", pod.Tolerations)
	}
	c := pod.Containers[0]
	if c.Image != "loam-fluent-bit:dev" {
		t.Errorf("image %s", c.Image)
	}
	checkContainerSecurity(t, c, false)
	hostPaths := map[string]string{}
	var configMap string
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
		if v.ConfigMap != nil {
			configMap = v.ConfigMap.Name
		}
	}
	mounted := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = m
	}
	for path, readOnly := range map[string]bool{"/var/log": true, "/var/fluent-bit/state": false} {
		m, ok := mounted[path]
		if !ok || hostPaths[m.Name] != path || m.ReadOnly != readOnly {
			t.Errorf("hostPath %s: mount %+v (read-only %v wanted)", path, m, readOnly)
		}
	}

	// The config is fluentbit-conf/'s files, byte for byte, and the
	// container runs one of them.
	cm := k.configMap(t, ds.Namespace, configMap)
	if len(cm.Data) == 0 {
		t.Fatalf("ConfigMap %s is empty", cm.Name)
	}
	for name, got := range cm.Data {
		want, err := os.ReadFile(filepath.Join("..", "fluentbit-conf", name))
		if err != nil {
			t.Errorf("ConfigMap key %s: %v", name, err)
		} else if got != string(want) {
			t.Errorf("ConfigMap key %s differs from fluentbit-conf/%s", name, name)
		}
	}
	var dir string
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				dir = m.MountPath
			}
		}
	}
	if i := slices.Index(c.Args, "-c"); i < 0 || i+1 >= len(c.Args) || filepath.Dir(c.Args[i+1]) != dir || cm.Data[filepath.Base(c.Args[i+1])] == "" {
		t.Errorf("args %v do not run a config of the ConfigMap mounted at %s", c.Args, dir)
	}
	// Its output pushes to the loam Service of the kit.
	conf := cm.Data["fluent-bit.yaml"]
	if !strings.Contains(conf, "url: http://loam.loam.svc:3100/") {
		t.Errorf("fluent-bit.yaml does not push to the Service loam in namespace loam")
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 2020 }) ||
		!strings.Contains(conf, "http_port: 2020") || !strings.Contains(conf, "http_server: on") {
		t.Errorf("Fluent Bit's HTTP server (metrics) is not on port 2020")
	}

	// RBAC of the kubernetes filter.
	sa := pod.ServiceAccountName
	if !slices.ContainsFunc(k.accounts, func(a corev1.ServiceAccount) bool { return a.Name == sa && a.Namespace == ds.Namespace }) {
		t.Errorf("ServiceAccount %s/%s missing", ds.Namespace, sa)
	}
	bound := false
	for _, b := range k.bindings {
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == ds.Namespace {
				for _, r := range k.roles {
					if r.Name == b.RoleRef.Name && b.RoleRef.Kind == "ClusterRole" && grants(r, "pods") && grants(r, "namespaces") {
						bound = true
					}
				}
			}
		}
	}
	if !bound {
		t.Errorf("ServiceAccount %s cannot get, list and watch pods and namespaces", sa)
	}
}

func grants(r rbacv1.ClusterRole, resource string) bool {
	for _, rule := range r.Rules {
		if slices.Contains(rule.APIGroups, "") && slices.Contains(rule.Resources, resource) &&
			slices.Contains(rule.Verbs, "get") && slices.Contains(rule.Verbs, "list") && slices.Contains(rule.Verbs, "watch") {
			return true
		}
	}
	return false
}

func checkMonitoring(t *testing.T, k *kit, o overlay) {
	byName := map[string]serviceMonitor{}
	for _, m := range k.monitors {
		byName[m.Metadata.Name] = m
	}
	for _, c := range []struct{ monitor, ns, service, port, path string }{
		{"loam", "loam", "loam", "http", "/metrics"},
		{"fluent-bit", "loam-fluent-bit", "fluent-bit", "http-metrics", "/api/v2/metrics/prometheus"},
	} {
		m, ok := byName[c.monitor]
		if !ok {
			t.Errorf("no ServiceMonitor %s", c.monitor)
			continue
		}
		// It selects exactly the intended Service of its namespace.
		var selected []string
		for _, s := range k.services {
			if s.Namespace == m.Metadata.Namespace && matches(m.Spec.Selector.MatchLabels, s.Labels) {
				selected = append(selected, s.Name)
			}
		}
		if m.Metadata.Namespace != c.ns || !slices.Equal(selected, []string{c.service}) {
			t.Errorf("ServiceMonitor %s/%s selects %v, want [%s]", m.Metadata.Namespace, c.monitor, selected, c.service)
		}
		e := m.Spec.Endpoints[0]
		svc := k.service(t, c.ns, c.service)
		if e.Port != c.port || e.Path != c.path || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == c.port }) {
			t.Errorf("ServiceMonitor %s scrapes %s%s, want %s%s on a port of the Service", c.monitor, e.Port, e.Path, c.port, c.path)
		}
		if c.monitor == "loam" && o.auth {
			ss := k.statefulSets[0]
			tokenFile := flags(t, ss.Spec.Template.Spec.Containers[0])["auth.metrics-token-file"]
			a := e.Authorization
			if a == nil || a.Credentials == nil || !mountsSecretKey(ss.Spec.Template.Spec, a.Credentials.Name, a.Credentials.Key, tokenFile) {
				t.Errorf("ServiceMonitor loam: authorization %+v is not the Secret Loam reads its metrics token (%s) from", a, tokenFile)
			}
		}
	}
	if len(k.rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(k.rules))
	}
	if want := rulesFromDir(t); !equalJSON(t, k.rules[0].Spec.Groups, want) {
		t.Errorf("PrometheusRule differs from rules/: run go test ./deploy -run TestPrometheusRuleUpToDate -update")
	}

	checkDashboards(t, k)

	ds := k.configMap(t, "loam", "loam-grafana-datasource")
	if ds.Labels["grafana_datasource"] != "1" || len(ds.Data) != 1 {
		t.Fatalf("datasource ConfigMap labels %v, %d keys", ds.Labels, len(ds.Data))
	}
	for _, body := range ds.Data {
		var prov struct {
			APIVersion  int `json:"apiVersion"`
			Datasources []struct {
				Name, UID, Type, Access, URL string
				JSONData                     map[string]any    `json:"jsonData"`
				SecureJSONData               map[string]string `json:"secureJsonData"`
			} `json:"datasources"`
		}
		if err := yaml.UnmarshalStrict([]byte(body), &prov); err != nil {
			t.Fatalf("datasource: %v", err)
		}
		if len(prov.Datasources) != 1 {
			t.Fatalf("%d datasources", len(prov.Datasources))
		}
		d := prov.Datasources[0]
		if d.Type != "loki" || d.URL != "http://loam.loam.svc.cluster.local:3100" || d.JSONData["maxLines"] != float64(1000) {
			t.Errorf("datasource %+v", d)
		}
		hasAuth := d.JSONData["httpHeaderName1"] == "Authorization" && strings.HasPrefix(d.SecureJSONData["httpHeaderValue1"], "Bearer ")
		if hasAuth != o.auth {
			t.Errorf("datasource sends a token: %v, auth on: %v", hasAuth, o.auth)
		}
	}
}

// lastAppliedLimit bounds what `kubectl apply` (client side) can store of
// an object in its last-applied-configuration annotation: 256 KiB for all
// the annotations of an object.
const lastAppliedLimit = 256 << 10

// checkDashboards: the dashboards ConfigMap holds exactly the files of
// ../dashboards, labelled and annotated for Grafana's sidecar, and each
// dashboard's Loki datasource variable defaults to the provisioned
// datasource.
func checkDashboards(t *testing.T, k *kit) {
	t.Helper()
	cm := k.configMap(t, "loam", "loam-grafana-dashboards")
	if cm.Labels["grafana_dashboard"] != "1" || cm.Annotations["grafana_folder"] == "" {
		t.Errorf("dashboards ConfigMap: labels %v, annotations %v: want grafana_dashboard \"1\" and a grafana_folder", cm.Labels, cm.Annotations)
	}
	files, _ := filepath.Glob(filepath.Join("..", "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards in ../dashboards")
	}
	size := 0
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		got, ok := cm.Data[name]
		if !ok {
			t.Errorf("dashboards ConfigMap lacks %s", name)
		} else if got != string(want) {
			t.Errorf("dashboards ConfigMap key %s differs from dashboards/%s", name, name)
		}
		size += len(want)
		var d struct {
			UID        string `json:"uid"`
			Templating struct {
				List []struct {
					Name, Type string
					Query      json.RawMessage
					Current    struct{ Value string }
				}
			}
		}
		if err := json.Unmarshal(want, &d); err != nil {
			t.Errorf("dashboards/%s: %v", name, err)
		}
		for _, v := range d.Templating.List {
			if v.Type == "datasource" && string(v.Query) == `"loki"` && v.Current.Value != "loam" {
				t.Errorf("dashboards/%s: variable %s defaults to datasource %q, not the kit's uid loam", name, v.Name, v.Current.Value)
			}
		}
	}
	if len(cm.Data) != len(files) {
		t.Errorf("dashboards ConfigMap has %d keys, ../dashboards %d files", len(cm.Data), len(files))
	}
	// Half: the annotation holds the object as JSON, its quotes escaped.
	if size > lastAppliedLimit/2 {
		t.Errorf("dashboards take %d bytes: past %d, kubectl apply cannot store the ConfigMap's last-applied annotation", size, lastAppliedLimit/2)
	}
}

// mountsSecretKey reports whether file is key of Secret name, mounted in pod.
func mountsSecretKey(pod corev1.PodSpec, name, key, file string) bool {
	for _, v := range pod.Volumes {
		if v.Secret == nil || v.Secret.SecretName != name {
			continue
		}
		for _, m := range pod.Containers[0].VolumeMounts {
			if m.Name == v.Name && filepath.Join(m.MountPath, key) == file {
				return true
			}
		}
	}
	return false
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

// rulesFromDir reads the groups of every rule file of ../rules, in name
// order, strictly.
func rulesFromDir(t *testing.T) []ruleGroup {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "rules", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in ../rules: %v", err)
	}
	var groups []ruleGroup
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Groups []ruleGroup `json:"groups"`
		}
		if err := yaml.UnmarshalStrict(data, &file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		groups = append(groups, file.Groups...)
	}
	if err := checkGroups(groups); err != nil {
		t.Fatal(err)
	}
	return groups
}

var update = flag.Bool("update", false, "rewrite base/loam/prometheusrule.yaml from ../rules")

const ruleFile = "base/loam/prometheusrule.yaml"

// TestPrometheusRuleUpToDate: the PrometheusRule of the kit is the rule
// files of ../rules, generated; -update writes it.
func TestPrometheusRuleUpToDate(t *testing.T) {
	pr := prometheusRule{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"}
	pr.Metadata.Name = "loam"
	pr.Metadata.Labels = map[string]string{"app.kubernetes.io/name": "loam"}
	pr.Spec.Groups = rulesFromDir(t)
	body, err := yaml.Marshal(pr)
	if err != nil {
		t.Fatal(err)
	}
	// metav1.ObjectMeta marshals a zero creationTimestamp as null.
	body = bytes.Replace(body, []byte("  creationTimestamp: null\n"), nil, 1)
	want := append([]byte("# Generated from ../../../rules/*.yaml by\n"+
		"#   go test ./deploy -run TestPrometheusRuleUpToDate -update\n"+
		"# Do not edit: edit the rule files, and run that.\n"), body...)
	if *update {
		if err := os.WriteFile(ruleFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what ../rules generates: run go test ./deploy -run TestPrometheusRuleUpToDate -update", ruleFile)
	}
}
