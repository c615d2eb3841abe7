package ring

import "github.com/prometheus/client_golang/prometheus"

// metrics of a Ring; without a Registerer they count, unregistered.
type metrics struct {
	members  *prometheus.GaugeVec
	received *prometheus.CounterVec
	invalid  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, r *Ring) *metrics {
	m := &metrics{
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loam_ring_members",
			Help: "Members of the ring by state (JOINING, ACTIVE, LEAVING, LEFT), as this node sees them."}, []string{"state"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loam_ring_gossip_messages_total",
			Help: "Ring state messages received from peers: kind=broadcast (single entries) or state (the whole ring, push/pull)."}, []string{"kind"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "loam_ring_gossip_invalid_messages_total",
			Help: "Ring state messages from peers that did not decode and were dropped."}),
	}
	healthy := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loam_ring_healthy_members",
		Help: "Members this node counts healthy: alive for memberlist, heartbeat fresh (this node included)."},
		func() float64 { return float64(r.countHealthy()) })
	for s := Joining; s <= Left; s++ {
		m.members.WithLabelValues(s.String())
	}
	m.received.WithLabelValues("broadcast")
	m.received.WithLabelValues("state")
	if reg != nil {
		reg.MustRegister(m.members, m.received, m.invalid, healthy)
	}
	return m
}

func (m *metrics) setMembers(s *snapshot) {
	var n [Left + 1]int
	for i := range s.members {
		n[s.members[i].State]++
	}
	for st := Joining; st <= Left; st++ {
		m.members.WithLabelValues(st.String()).Set(float64(n[st]))
	}
}

func (r *Ring) countHealthy() int {
	s := r.snap.Load()
	if s == nil { // a scrape during New
		return 0
	}
	n := 0
	for i := range s.members {
		if s.healthy(s.members[i].Name, r) {
			n++
		}
	}
	return n
}
