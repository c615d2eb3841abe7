package ring

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// sample reads one sample of a metric family: name and, if given, the
// value of its one label.
func sample(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return 0
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startRing(t, "a", 0, nil, func(c *Config) { c.Registerer = reg })
	a.receive(AppendDesc(nil, Desc{"x": {Name: "x", State: Active, Heartbeat: 1}, "y": {Name: "y", State: Left, Heartbeat: 1 << 62}}), "state")
	a.receive([]byte{1, 2, 3}, "broadcast")
	for _, tc := range []struct {
		name, label string
		want        float64
	}{
		{"loam_ring_members", "JOINING", 1},
		{"loam_ring_members", "ACTIVE", 1},
		{"loam_ring_members", "LEAVING", 0},
		{"loam_ring_members", "LEFT", 1},
		{"loam_ring_healthy_members", "", 1},
		{"loam_ring_gossip_messages_total", "state", 1},
		{"loam_ring_gossip_messages_total", "broadcast", 0},
		{"loam_ring_gossip_invalid_messages_total", "", 1},
	} {
		if got := sample(t, reg, tc.name, tc.label); got != tc.want {
			t.Errorf("%s{%s} = %v, want %v", tc.name, tc.label, got, tc.want)
		}
	}
}
