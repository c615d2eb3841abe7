package ring

// Placement places keys on a fixed set of members, as a Ring whose state
// held exactly those members would: a read tells the nodes it asks the
// ring it planned with, and each places streams on it alike. It is
// immutable and safe for concurrent use.
type Placement struct{ s *snapshot }

// NewPlacement returns the placement of keys on ms. A member whose state
// does not own keys (LEAVING, LEFT) or that has no tokens owns nothing.
func NewPlacement(ms []Member) *Placement {
	d := make(Desc, len(ms))
	for _, m := range ms {
		d[m.Name] = m
	}
	return &Placement{s: newSnapshot(d, nil, nil)}
}

// Owners is Ring.Owners on the placement.
func (p *Placement) Owners(key uint32, rf int, dst []Member) []Member {
	return p.s.owners(key, rf, dst)
}
