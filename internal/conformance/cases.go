package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Case is one recorded question and the answer Grafana Loki gave to it.
type Case struct {
	ID       string            `json:"id"`
	Endpoint string            `json:"endpoint"` // path, e.g. /loki/api/v1/query_range
	Params   map[string]string `json:"params"`   // unshifted
	Expected Answer            `json:"expected"` // normalized and shifted back
}

// Query is the case's LogQL (query or match[]), for messages.
func (c *Case) Query() string {
	if q, ok := c.Params["query"]; ok {
		return q
	}
	if q, ok := c.Params["match[]"]; ok {
		return q
	}
	return fmt.Sprint(c.Params)
}

// LoadCases reads a cases file.
func LoadCases(path string) ([]Case, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cs, err := DecodeCases(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}

// DecodeCases parses a cases file: a JSON array of cases, each with a unique
// id, an endpoint path and an expected answer in normalized form.
func DecodeCases(b []byte) ([]Case, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var cs []Case
	if err := d.Decode(&cs); err != nil {
		return nil, fmt.Errorf("cases: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("cases: data after the array")
	}
	seen := map[string]bool{}
	for i := range cs {
		c := &cs[i]
		switch {
		case c.ID == "":
			return nil, fmt.Errorf("cases: case %d has no id", i)
		case seen[c.ID]:
			return nil, fmt.Errorf("cases: id %q twice", c.ID)
		case !strings.HasPrefix(c.Endpoint, "/"):
			return nil, fmt.Errorf("cases: %s: endpoint %q is not a path", c.ID, c.Endpoint)
		case c.Expected.Kind == 0:
			return nil, fmt.Errorf("cases: %s: no expected answer", c.ID)
		}
		seen[c.ID] = true
	}
	return cs, nil
}

// Select returns the cases that only names: a comma-separated list of ids,
// each of which may end in * to match every id with that prefix. An empty
// list selects every case.
func Select(cs []Case, only string) []Case {
	if only == "" {
		return cs
	}
	var out []Case
	for _, c := range cs {
		if selected(c.ID, only) {
			out = append(out, c)
		}
	}
	return out
}

func selected(id, only string) bool {
	for _, o := range strings.Split(only, ",") {
		if id == o {
			return true
		}
		if p, ok := strings.CutSuffix(o, "*"); ok && strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}
