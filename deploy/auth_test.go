package deploy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/loam-logs/loam/server/auth"
)

// tokenFileEnv is the variable fluentbit-conf's loam output takes its
// BearerTokenFile from.
const tokenFileEnv = "LOAM_BEARER_TOKEN_FILE"

// secretKeyOf returns the Secret and key that file is, as mounted in the
// first container of pod; "" when it is not a mounted Secret's key.
func secretKeyOf(pod corev1.PodSpec, file string) (name, key string) {
	for _, v := range pod.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, m := range pod.Containers[0].VolumeMounts {
			if m.Name == v.Name && filepath.Dir(file) == m.MountPath && m.SubPath == "" {
				return v.Secret.SecretName, filepath.Base(file)
			}
		}
	}
	return "", ""
}

// cloudSecrets runs the overlay's make-secrets.sh and decodes the Secrets
// it prints, by namespace/name.
func cloudSecrets(t *testing.T) map[string]corev1.Secret {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join("overlays", "cloud", "make-secrets.sh"))
	cmd.Env = append(os.Environ(), "GRAFANA_NAMESPACE=grafana-ns")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make-secrets.sh: %v\n%s", err, stderr.String())
	}
	secrets := map[string]corev1.Secret{}
	for i, doc := range strings.Split(string(out), "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("make-secrets.sh: object %d: %v", i, err)
		}
		var s corev1.Secret
		if err := strict(js, &s); err != nil {
			t.Fatalf("make-secrets.sh: object %d: %v", i, err)
		}
		if s.APIVersion != "v1" || s.Kind != "Secret" || s.Namespace == "" || len(s.Data) != 1 {
			t.Fatalf("make-secrets.sh: object %d: %s/%s %s/%s with %d keys", i, s.APIVersion, s.Kind, s.Namespace, s.Name, len(s.Data))
		}
		secrets[s.Namespace+"/"+s.Name] = s
	}
	return secrets
}

// checkCredentials: with auth on, every credential file a pod reads is a
// key of a Secret make-secrets.sh makes, Fluent Bit pushes with a token the
// auth file accepts for pushes, Grafana's token is accepted for reads and
// the admin's for the ring; each token for nothing else. With auth off, Fluent Bit reads no
// credential, and its config then sends none.
func checkCredentials(t *testing.T, k *kit, o overlay) {
	ds := k.daemonSets[0]
	fb := ds.Spec.Template.Spec
	var tokenFile string
	for _, e := range fb.Containers[0].Env {
		if e.Name == tokenFileEnv {
			tokenFile = e.Value
		}
	}
	var confName string
	for _, v := range fb.Volumes {
		if v.ConfigMap != nil {
			confName = v.ConfigMap.Name
		}
	}
	conf := k.configMap(t, ds.Namespace, confName)
	for name, want := range map[string]string{
		"fluent-bit.yaml": "bearertokenfile: ${" + tokenFileEnv + ":-}",
		"fluent-bit.conf": "BearerTokenFile          ${" + tokenFileEnv + ":-}",
	} {
		if !strings.Contains(conf.Data[name], want) {
			t.Errorf("%s: the loam output does not take its token file from %s (%q)", name, tokenFileEnv, want)
		}
	}
	if !o.auth {
		if tokenFile != "" {
			t.Errorf("auth is off, yet Fluent Bit reads a token from %s", tokenFile)
		}
		for _, v := range fb.Volumes {
			if v.Secret != nil {
				t.Errorf("auth is off, yet Fluent Bit mounts Secret %s", v.Secret.SecretName)
			}
		}
		return
	}

	secrets := cloudSecrets(t)
	value := func(ns, name, key string) []byte {
		t.Helper()
		s, ok := secrets[ns+"/"+name]
		if !ok || s.Data[key] == nil {
			t.Fatalf("make-secrets.sh makes no Secret %s/%s with key %s", ns, name, key)
		}
		return s.Data[key]
	}
	// Loam's files.
	ss := k.statefulSets[0]
	f := flags(t, ss.Spec.Template.Spec.Containers[0])
	for _, flag := range []string{"auth.file", "auth.metrics-token-file", "cluster.secret-file"} {
		name, key := secretKeyOf(ss.Spec.Template.Spec, f[flag])
		if name == "" {
			t.Fatalf("-%s=%s is not a key of a mounted Secret", flag, f[flag])
		}
		value(ss.Namespace, name, key)
	}
	name, key := secretKeyOf(ss.Spec.Template.Spec, f["auth.file"])
	authFile := filepath.Join(t.TempDir(), "auth.yaml")
	if err := os.WriteFile(authFile, value(ss.Namespace, name, key), 0o600); err != nil {
		t.Fatal(err)
	}

	// Fluent Bit's token.
	if tokenFile == "" {
		t.Fatalf("auth is on, and Fluent Bit has no %s", tokenFileEnv)
	}
	name, key = secretKeyOf(fb, tokenFile)
	if name == "" {
		t.Fatalf("%s=%s is not a key of a Secret mounted in Fluent Bit's pod", tokenFileEnv, tokenFile)
	}
	push := strings.TrimSpace(string(value(ds.Namespace, name, key)))
	read := strings.TrimSpace(string(value("grafana-ns", "loam-grafana-token", "token")))
	admin := strings.TrimSpace(string(value("loam", "loam-admin-token", "token")))

	g, err := auth.New(auth.Config{Enabled: true, File: authFile})
	if err != nil {
		t.Fatalf("Loam refuses the auth file make-secrets.sh makes: %v", err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	// As Fluent Bit and Grafana send them: no X-Scope-OrgID.
	for _, c := range []struct {
		who, token string
		rule       auth.Rule
		path       string
		want       int
	}{
		{"fluent bit pushes", push, auth.Rule{Access: auth.Push, Tenant: true}, "/loki/api/v1/push", http.StatusNoContent},
		{"fluent bit reads", push, auth.Rule{Access: auth.Read, Tenant: true}, "/loki/api/v1/query_range", http.StatusForbidden},
		{"grafana reads", read, auth.Rule{Access: auth.Read, Tenant: true}, "/loki/api/v1/query_range", http.StatusNoContent},
		{"grafana pushes", read, auth.Rule{Access: auth.Push, Tenant: true}, "/loki/api/v1/push", http.StatusForbidden},
		{"fluent bit reads the ring", push, auth.Rule{Access: auth.Admin}, "/ring", http.StatusForbidden},
		{"an admin reads the ring", admin, auth.Rule{Access: auth.Admin}, "/ring", http.StatusNoContent},
		{"a wrong token", push + "0", auth.Rule{Access: auth.Push, Tenant: true}, "/loki/api/v1/push", http.StatusUnauthorized},
	} {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodPost, c.path, nil)
		r.Header.Set("Authorization", "Bearer "+c.token)
		w := httptest.NewRecorder()
		g.Wrap(c.rule, ok).ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.who, w.Code, w.Body.String(), c.want)
		}
	}
}
