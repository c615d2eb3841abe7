package deletes

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"
)

// Nodes of a cluster keep the same delete requests, each purging its own
// disk: a node exports its requests and the ids it cancelled (Export), and
// another merges that in (Merge): requests it lacks are added with nothing
// purged yet, requests cancelled elsewhere are removed. Merging is
// idempotent and commutative, so any order of exchanges converges. A
// cancelled id is remembered for cancelledKeep, so that an exchange with a
// node that has not heard of the cancel yet does not bring the request
// back; a node that missed a cancel for longer keeps the request.

// CancelledFileName is the file, in the data directory, that holds the
// ids of cancelled requests.
const CancelledFileName = "deletes-cancelled.json"

// cancelledKeep is how long a cancelled id is remembered.
const cancelledKeep = 30 * 24 * time.Hour

// cancelKey names a request of a tenant.
type cancelKey struct{ tenant, id string }

// fileCancel is a cancelled id as the file and the exchange hold it.
type fileCancel struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
	At     int64  `json:"at_ms"` // when it was cancelled
}

// syncData is what Export writes and Merge reads.
type syncData struct {
	Requests  []fileRequest `json:"requests"`
	Cancelled []fileCancel  `json:"cancelled"`
}

// Export returns the requests and the cancelled ids, for Merge on another
// node.
func (m *Manager) Export() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := syncData{Requests: make([]fileRequest, 0, len(m.reqs)), Cancelled: m.cancelListLocked()}
	for _, r := range m.reqs {
		d.Requests = append(d.Requests, fileRequest{ID: r.ID, Tenant: r.Tenant, Query: r.Query,
			Start: r.Start, End: r.End, CreatedAt: r.CreatedAt, Interval: r.interval})
	}
	return json.Marshal(d)
}

// Merge takes in another node's Export: it adds the requests this node
// lacks (their lines are hidden at once and purged after the delay, as if
// added here) and removes those cancelled there, unless a purge of one is
// running (a later exchange removes it). It reports how many requests it
// added and removed. A malformed export is an error and changes nothing.
func (m *Manager) Merge(b []byte) (added, removed int, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d syncData
	if err := dec.Decode(&d); err != nil {
		return 0, 0, fmt.Errorf("delete requests exchanged: %v", err)
	}
	in := make([]*request, 0, len(d.Requests))
	for i, fr := range d.Requests {
		fr.ShardsDone = 0
		r, err := fr.request()
		if err != nil {
			return 0, 0, fmt.Errorf("delete requests exchanged: request %d: %v", i, err)
		}
		in = append(in, r)
	}
	for i, c := range d.Cancelled {
		if c.Tenant == "" || c.ID == "" {
			return 0, 0, fmt.Errorf("delete requests exchanged: cancelled id %d: no id or no tenant", i)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	oldReqs, oldCancelled := m.reqs, maps.Clone(m.cancelled)
	newCancel := false
	for _, c := range d.Cancelled {
		k := cancelKey{c.Tenant, c.ID}
		if at, ok := m.cancelled[k]; !ok || c.At > at {
			m.cancelled[k] = c.At
			newCancel = true
		}
	}
	m.reqs = slices.Clone(m.reqs)
	for _, r := range in {
		if _, gone := m.cancelled[cancelKey{r.Tenant, r.ID}]; gone || m.find(r.Tenant, r.ID) >= 0 {
			continue
		}
		m.reqs = append(m.reqs, r)
		added++
		m.log.Info("delete request added by another node", "tenant", r.Tenant, "request_id", r.ID, "query", r.Query,
			"start", fmtMs(r.Start), "end", fmtMs(r.End))
	}
	m.reqs = slices.DeleteFunc(m.reqs, func(r *request) bool {
		_, gone := m.cancelled[cancelKey{r.Tenant, r.ID}]
		if gone && !r.purging {
			removed++
			m.log.Info("delete request cancelled on another node", "tenant", r.Tenant, "request_id", r.ID)
			return true
		}
		return false
	})
	if added == 0 && removed == 0 && !newCancel {
		m.reqs = oldReqs
		return 0, 0, nil
	}
	if err := m.saveAllLocked(newCancel); err != nil {
		m.reqs, m.cancelled = oldReqs, oldCancelled
		return 0, 0, err
	}
	m.rebuild()
	if added > 0 {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	return added, removed, nil
}

// cancelListLocked returns the cancelled ids remembered, dropping those
// older than cancelledKeep; the caller holds mu.
func (m *Manager) cancelListLocked() []fileCancel {
	limit := m.now().Add(-cancelledKeep).UnixMilli()
	out := make([]fileCancel, 0, len(m.cancelled))
	for k, at := range m.cancelled {
		if at < limit {
			delete(m.cancelled, k)
			continue
		}
		out = append(out, fileCancel{Tenant: k.tenant, ID: k.id, At: at})
	}
	slices.SortFunc(out, func(a, b fileCancel) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// saveAllLocked writes the requests, and the cancelled ids when they
// changed; the caller holds mu.
func (m *Manager) saveAllLocked(cancelled bool) error {
	if cancelled {
		b, err := json.MarshalIndent(m.cancelListLocked(), "", "  ")
		if err != nil {
			return err
		}
		err = writeAtomic(m.cancelPath, append(b, '\n'), "save cancelled delete requests")
		if errors.Is(err, errNotDurable) {
			m.log.Warn("cancelled delete requests", "err", err)
		} else if err != nil {
			return err
		}
	}
	return m.saveLocked()
}

// loadCancelled reads the cancelled ids of path; a missing file holds none.
func loadCancelled(path string) (map[cancelKey]int64, error) {
	out := map[cancelKey]int64{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var list []fileCancel
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("cancelled delete requests file %s is corrupt: %v; remove it to forget which requests were cancelled (a cluster may then bring some back)", path, err)
	}
	for _, c := range list {
		out[cancelKey{c.Tenant, c.ID}] = c.At
	}
	return out, nil
}
