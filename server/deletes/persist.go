package deletes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the file, in the data directory, that holds the requests.
const FileName = "deletes.json"

// fileVersion is the version of the file's layout.
const fileVersion = 1

// fileData is the file's layout. Times are Unix ms; a request's parts are
// recomputed from its range and interval, so only their count done is kept.
type fileData struct {
	Version  int           `json:"version"`
	Requests []fileRequest `json:"requests"`
}

type fileRequest struct {
	ID         string `json:"id"`
	Tenant     string `json:"tenant"`
	Query      string `json:"query"`
	Start      int64  `json:"start_ms"`
	End        int64  `json:"end_ms"`
	CreatedAt  int64  `json:"created_ms"`
	Interval   int64  `json:"shard_interval_ms,omitempty"`
	ShardsDone int64  `json:"shards_done,omitempty"`
}

// load reads the requests of path; a missing file holds none. A file that
// cannot be read back whole is an error: dropping it would show deleted
// lines again and never purge them.
func load(path string) ([]*request, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decode(b, path)
}

// decode reads the file's content; path names it in errors.
func decode(b []byte, path string) ([]*request, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("delete requests file %s is corrupt: %s; Loam will not start without its delete requests (deleted lines would show again): restore the file from a backup, or repair it, or remove it to forget every delete request", path, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d fileData
	if err := dec.Decode(&d); err != nil {
		return nil, corrupt("%v", err)
	}
	if dec.More() {
		return nil, corrupt("data after the JSON document")
	}
	if d.Version != fileVersion {
		return nil, corrupt("version %d; this Loam reads version %d", d.Version, fileVersion)
	}
	seen := map[[2]string]bool{}
	out := make([]*request, 0, len(d.Requests))
	for i, fr := range d.Requests {
		r, err := fr.request()
		if err != nil {
			return nil, corrupt("request %d: %v", i, err)
		}
		k := [2]string{r.Tenant, r.ID}
		if seen[k] {
			return nil, corrupt("request %d: id %q of tenant %q is there twice", i, r.ID, r.Tenant)
		}
		seen[k] = true
		out = append(out, r)
	}
	return out, nil
}

// request checks a request read back and compiles its query again.
func (fr fileRequest) request() (*request, error) {
	if fr.ID == "" || fr.Tenant == "" {
		return nil, errors.New("no id or no tenant")
	}
	if fr.Start >= fr.End {
		return nil, fmt.Errorf("start %d is not before end %d", fr.Start, fr.End)
	}
	if lim := int64(maxUnixSeconds * 1000); fr.Start < -lim || fr.End > lim {
		return nil, fmt.Errorf("range [%d, %d] is out of bounds", fr.Start, fr.End)
	}
	if fr.Interval != 0 && fr.Interval < 1000 {
		return nil, fmt.Errorf("shard interval %d ms is neither 0 nor at least a second", fr.Interval)
	}
	sel, err := parseSelector(fr.Query)
	if err != nil {
		return nil, fmt.Errorf("query %q: %v", fr.Query, err)
	}
	r := newRequest(Request{ID: fr.ID, Tenant: fr.Tenant, Query: fr.Query, Start: fr.Start, End: fr.End,
		CreatedAt: fr.CreatedAt, Shards: shardCount(fr.Start, fr.End, fr.Interval), ShardsDone: fr.ShardsDone},
		sel, fr.Interval)
	if r.Shards > maxShards {
		return nil, fmt.Errorf("%d parts; at most %d are allowed", r.Shards, maxShards)
	}
	if fr.ShardsDone < 0 || fr.ShardsDone > r.Shards {
		return nil, fmt.Errorf("%d parts done of %d", fr.ShardsDone, r.Shards)
	}
	return r, nil
}

// save writes the requests to path atomically: a crash leaves the old file
// or the new one, never a mix. An error other than errNotDurable leaves the
// old file. The caller holds the Manager's lock.
func save(path string, reqs []*request) error {
	b, err := encode(reqs)
	if err != nil {
		return err
	}
	return writeAtomic(path, b, "save delete requests")
}

// writeAtomic replaces path with b through a synced temporary file and a
// rename: a crash leaves the old file or the new one. Errors start with
// what; one wrapping errNotDurable says that only the directory's sync
// failed.
func writeAtomic(path string, b []byte, what string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", what, werr)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%w: %w", errNotDurable, err)
	}
	return nil
}

// errNotDurable: the new file is in place (a restart reads it) but its
// directory could not be synced, so a power loss may bring the old one
// back. The change stands; the caller warns.
var errNotDurable = errors.New("delete requests saved, but the data directory could not be synced")

// encode writes the file's content.
func encode(reqs []*request) ([]byte, error) {
	d := fileData{Version: fileVersion, Requests: make([]fileRequest, 0, len(reqs))}
	for _, r := range reqs {
		d.Requests = append(d.Requests, fileRequest{ID: r.ID, Tenant: r.Tenant, Query: r.Query,
			Start: r.Start, End: r.End, CreatedAt: r.CreatedAt, Interval: r.interval, ShardsDone: r.ShardsDone})
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// syncDir fsyncs a directory, so that a rename in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
