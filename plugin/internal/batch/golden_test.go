package batch

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/loam-logs/loam/internal/golden"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/loam-logs/loam/plugin/internal/config"
)

// TestGolden pins what a node's mixed chunk — containers with and without
// Merge_Log, docker, journald, kernel, group markers, a second tenant —
// becomes on the wire, per LineFormat. The files list requests, streams and
// entries as the server decodes them.
func TestGolden(t *testing.T) {
	t.Setenv("NODE_NAME", "node-1")
	chunk := fbtest.Chunk(
		fbtest.Event{Group: fbtest.GroupStart, Record: map[string]any{}},
		withForm(fbtest.CRIKubernetes("node-1", "shop", "cart-7d4b9-x2x", "cart", `{"level":"warn","msg":"slow \"checkout\"","ms":1250}`, true), fbtest.V2),
		fbtest.Event{Group: fbtest.GroupEnd},
		fbtest.DockerJSON("node-1", "shop", "web-0", "nginx", `10.0.0.1 - - "GET / HTTP/1.1" 200 612`, false),
		fbtest.Container{Node: "node-1", Namespace: "payments", Pod: "pay-0", Name: "pay", Line: "card=4111111111111111 ok", Labels: map[string]string{"app": "pay", "tenant": "finance"}}.CRI(),
		fbtest.Journal("node-1", "containerd.service", "starting containerd", 6),
		fbtest.Journal("node-1", "kubelet.service", "Failed to pull image", 3),
		fbtest.Kernel("node-1", "eth0: link up"),
	)
	for _, format := range []struct {
		name string
		f    config.LineFormat
	}{{"raw", config.LineRaw}, {"json", config.LineJSON}, {"key_value", config.LineKeyValue}} {
		t.Run(format.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.LineFormat = format.f
			cfg.TenantID = "ops"
			cfg.TenantIDKey = []string{"kubernetes", "labels", "tenant"}
			cfg.Labels = []config.Label{{Name: "cluster", Value: "lab"}}
			cfg.StructuredMetadataKeys = []config.KeyPath{{Path: []string{"stream"}, Name: "stream"}}
			cfg.RemoveKeys = [][]string{{"_p"}, {"time"}, {"_BOOT_ID"}, {"_MACHINE_ID"}, {"_SYSTEMD_INVOCATION_ID"}}
			cfg.Redact = []*regexp.Regexp{regexp.MustCompile(`\b\d{16}\b`)}
			b, err := NewBuilder(cfg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := b.Build(chunk, "kube.var.log.containers.mixed.log")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "mixed_"+format.name+".txt", []byte(dump(rows(t, res))))
		})
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}
