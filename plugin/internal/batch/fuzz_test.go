package batch

import (
	"regexp"
	"testing"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/plugin/internal/event"
)

// FuzzBuild feeds arbitrary chunks to Builders with every feature on: no
// panic, every body decodes, and every event is accounted for exactly once
// (Records + Dropped + Invalid).
func FuzzBuild(f *testing.F) {
	f.Add(fbtest.Chunk(cri("a"), fbtest.Journal("h", "u", "m", 3), fbtest.Kernel("h", "k")), "kube.var.log.containers.x.log")
	f.Add(fbtest.Chunk(fbtest.CRIKubernetes("n", "kube-system", "p", "c", `{"a":{"b":[1,2.5]}}`, true), fbtest.DockerJSON("n", "pay", "p", "c", "password=x\n", false)), "t")
	f.Add(fbtest.Chunk(fbtest.Event{Group: fbtest.GroupStart}, withForm(cri("x"), fbtest.V2), fbtest.Event{Group: fbtest.GroupEnd}), "t")
	f.Add(fbtest.Chunk(withForm(cri("x"), fbtest.V1Float), withForm(cri("y"), fbtest.V1Int)), fbtest.Tag("ns", "p", "c"))
	f.Add([]byte{0x92, 0x01, 0x81, 0xa3, 'l', 'o', 'g', 0xc0}, "t")
	f.Add([]byte{0xc1}, "t")

	var builders []*Builder
	for _, format := range []config.LineFormat{config.LineRaw, config.LineJSON, config.LineKeyValue} {
		cfg := baseConfig()
		cfg.LineFormat = format
		cfg.DropSingleKey = format == config.LineJSON
		cfg.BatchSize = 64
		cfg.TenantID = "t0"
		cfg.TenantIDKey = []string{"tenant"}
		cfg.Labels = []config.Label{{Name: "cluster", Value: "lab"}}
		cfg.LabelKeys = []config.KeyPath{{Path: []string{"kubernetes", "labels", "app"}, Name: "app"}, {Path: []string{"stream"}, Name: "stream"}}
		cfg.StructuredMetadataKeys = []config.KeyPath{{Path: []string{"_p"}, Name: "p"}}
		cfg.RemoveKeys = [][]string{{"time"}, {"kubernetes", "annotations"}}
		cfg.ExcludeNamespaces = []*regexp.Regexp{regexp.MustCompile(`^(?:kube-.*)$`)}
		cfg.Redact = []*regexp.Regexp{regexp.MustCompile(`password=\S*`)}
		cfg.RedactNamespaces = []*regexp.Regexp{regexp.MustCompile(`^(?:pay)$`)}
		b, err := NewBuilder(cfg)
		if err != nil {
			f.Fatal(err)
		}
		builders = append(builders, b)
	}
	f.Fuzz(func(t *testing.T, chunk []byte, tag string) {
		events := 0
		r := event.NewReader(chunk)
		for r.Next() {
			events++
		}
		for _, b := range builders {
			res, err := b.Build(chunk, tag)
			if (err != nil) != (r.Err() != nil) {
				t.Fatalf("Build error %v, reader error %v", err, r.Err())
			}
			if err != nil {
				continue
			}
			rows(t, res) // decodes every body and checks the counts
			if got := res.Records + res.Dropped + res.Invalid; got != events {
				t.Fatalf("%d records + %d dropped + %d invalid, want %d events", res.Records, res.Dropped, res.Invalid, events)
			}
		}
	})
}
