package record

import (
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// Paths is a compiled set of key paths (["kubernetes", "labels", "app"]),
// each with a slot number: its index in the list given to NewPaths. A Paths
// is read-only once built and safe for concurrent use.
type Paths struct {
	root  node
	slots int
}

type node struct {
	name string
	slot int // index of the path ending here; -1 when none does
	kids []*node
}

// NewPaths compiles paths; path i fills slot i in Extract. Empty paths are
// ignored (their slot stays empty). When a path appears twice, the first
// occurrence gets the value; the later slot stays empty.
func NewPaths(paths ...[]string) *Paths {
	p := &Paths{root: node{slot: -1}, slots: len(paths)}
	for i, path := range paths {
		if len(path) == 0 {
			continue
		}
		n := &p.root
		for _, name := range path {
			n = n.child(name)
		}
		if n.slot < 0 {
			n.slot = i
		}
	}
	return p
}

func (n *node) child(name string) *node {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	k := &node{name: name, slot: -1}
	n.kids = append(n.kids, k)
	return k
}

// find returns the child named key, or nil.
func (n *node) find(key []byte) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name == string(key) {
			return k
		}
	}
	return nil
}

// Len returns the number of slots: Extract needs an out slice this long.
func (p *Paths) Len() int { return p.slots }

// Extract sets out[i] to the raw msgpack value at path i of the record map
// rec, or nil where the record lacks it, in one pass over rec that descends
// only into maps some path goes through.
func (p *Paths) Extract(rec []byte, out [][]byte) error {
	if len(out) < p.slots {
		return fmt.Errorf("record: Extract needs %d slots, got %d", p.slots, len(out))
	}
	clear(out[:p.slots])
	if len(p.root.kids) == 0 {
		_, err := checkMap(rec)
		return err
	}
	_, err := extract(&p.root, rec, out)
	return err
}

// ErrNotMap is returned for a record that is not a msgpack map.
var ErrNotMap = errors.New("record is not a map")

func checkMap(b []byte) ([]byte, error) {
	if msgp.NextType(b) != msgp.MapType {
		return b, ErrNotMap
	}
	return msgp.Skip(b)
}

// extract walks the map at b, filling out for n's subtree, and returns what
// follows the map.
func extract(n *node, b []byte, out [][]byte) ([]byte, error) {
	size, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, mapError(err)
	}
	for ; size > 0; size-- {
		key, _, rest, err := readKey(b)
		if err != nil {
			return b, err
		}
		k := n.find(key)
		val := rest
		if k != nil && len(k.kids) > 0 && msgp.NextType(val) == msgp.MapType {
			b, err = extract(k, val, out)
		} else {
			b, err = msgp.Skip(val)
		}
		if err != nil {
			return b, valueError(err)
		}
		if k != nil && k.slot >= 0 && out[k.slot] == nil {
			out[k.slot] = val[:len(val)-len(b)]
		}
	}
	return b, nil
}

// Lookup returns the raw value at path in the record map rec. It walks the
// record for one path; use Paths for several, or for many records.
func Lookup(rec []byte, path ...string) ([]byte, bool) {
	var out [1][]byte
	if NewPaths(path).Extract(rec, out[:]) != nil || out[0] == nil {
		return nil, false
	}
	return out[0], true
}

// readKey reads a map key: str or bin as its bytes (ok), anything else
// skipped (ok false).
func readKey(b []byte) (key []byte, ok bool, rest []byte, err error) {
	if len(b) > 0 && b[0]&0xe0 == 0xa0 { // fixstr, the common case
		n := int(b[0] & 0x1f)
		if len(b) < 1+n {
			return nil, false, b, errTruncated
		}
		return b[1 : 1+n], true, b[1+n:], nil
	}
	switch msgp.NextType(b) {
	case msgp.StrType:
		key, rest, err = msgp.ReadStringZC(b)
	case msgp.BinType:
		key, rest, err = msgp.ReadBytesZC(b)
	default:
		rest, err = msgp.Skip(b)
		return nil, false, rest, valueError(err)
	}
	if err != nil {
		return nil, false, b, valueError(err)
	}
	return key, true, rest, nil
}

var errTruncated = errors.New("record: truncated msgpack")

func valueError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, msgp.ErrShortBytes) {
		return errTruncated
	}
	return fmt.Errorf("record: bad msgpack: %w", err)
}

func mapError(err error) error {
	var te msgp.TypeError
	if errors.As(err, &te) {
		return ErrNotMap
	}
	return valueError(err)
}

// IsMap reports whether the msgpack value v is a map.
func IsMap(v []byte) bool { return msgp.NextType(v) == msgp.MapType }
