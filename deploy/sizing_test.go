package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// sizedResources reads the requests and limits docs/sizing.md recommends
// for one workload: the rows "| CPU request | `250m` |" and the like of
// the table that follows its bold heading (**Loam**, **Fluent Bit**) under
// "## Recommended resources".
func sizedResources(t *testing.T, doc, heading string) corev1.ResourceRequirements {
	t.Helper()
	_, rec, ok := strings.Cut(doc, "## Recommended resources")
	if !ok {
		t.Fatal("docs/sizing.md has no section Recommended resources")
	}
	rec, _, _ = strings.Cut(rec, "\n## ")
	_, part, ok := strings.Cut(rec, "**"+heading+"**")
	if !ok {
		t.Fatalf("docs/sizing.md recommends nothing for %s", heading)
	}
	if i := strings.Index(part, "\n**"); i >= 0 {
		part = part[:i]
	}
	out := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	row := regexp.MustCompile("(?m)^\\| (CPU|memory) (request|limit) \\| `([^`]+)` \\|")
	for _, m := range row.FindAllStringSubmatch(part, -1) {
		q, err := resource.ParseQuantity(m[3])
		if err != nil {
			t.Fatalf("%s %s %s: %q: %v", heading, m[1], m[2], m[3], err)
		}
		name := corev1.ResourceCPU
		if m[1] == "memory" {
			name = corev1.ResourceMemory
		}
		if m[2] == "request" {
			out.Requests[name] = q
		} else {
			out.Limits[name] = q
		}
	}
	if len(out.Requests) == 0 {
		t.Fatalf("docs/sizing.md: no requests for %s", heading)
	}
	return out
}

// TestResourcesAsSized checks that in base/ (which the local overlay
// keeps; the cloud overlay sets Loam's own) Loam's and Fluent Bit's
// containers ask for what docs/sizing.md derives from its figures, no more
// and no less (a resource the table leaves out must be unset).
func TestResourcesAsSized(t *testing.T) {
	b, err := os.ReadFile("../docs/sizing.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	want := map[string]corev1.ResourceRequirements{
		"loam":       sizedResources(t, doc, "Loam"),
		"fluent-bit": sizedResources(t, doc, "Fluent Bit"),
	}
	for _, dir := range []string{"base", filepath.Join("overlays", "local")} {
		k := build(t, dir)
		got := map[string]corev1.ResourceRequirements{}
		for _, ss := range k.statefulSets {
			got[ss.Name] = ss.Spec.Template.Spec.Containers[0].Resources
		}
		for _, ds := range k.daemonSets {
			got[ds.Name] = ds.Spec.Template.Spec.Containers[0].Resources
		}
		for name, w := range want {
			g, ok := got[name]
			if !ok {
				t.Errorf("%s: no workload %s", dir, name)
				continue
			}
			for _, list := range []struct {
				what      string
				got, want corev1.ResourceList
			}{{"requests", g.Requests, w.Requests}, {"limits", g.Limits, w.Limits}} {
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					gq, gok := list.got[r]
					wq, wok := list.want[r]
					if gok != wok || gok && gq.Cmp(wq) != 0 {
						t.Errorf("%s: %s %s %s = %s, docs/sizing.md says %s", dir, name, list.what, r, gq.String(), wq.String())
					}
				}
			}
		}
	}
}
