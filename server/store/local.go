package store

import "github.com/loam-logs/loam/server/labels"

// Local is a Store as the read interfaces of other packages see it (the
// API's, a replica of a fan-out): the same methods, but Subscribe returns
// a Tail, which a method returning *Subscription cannot stand for.
type Local struct{ *Store }

// Subscribe is Store.Subscribe, as a Tail.
func (l Local) Subscribe(tenant string, matchers []*labels.Matcher, opts TailOptions) (Tail, error) {
	sub, err := l.Store.Subscribe(tenant, matchers, opts)
	if err != nil {
		return nil, err // not a nil *Subscription in a non-nil Tail
	}
	return sub, nil
}
