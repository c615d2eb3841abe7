package ring

import (
	"bytes"
	"encoding/binary"
	"flag"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleDesc() Desc {
	return Desc{
		"loam-1": {Name: "loam-1", Addr: "10.0.0.1:3100", GossipAddr: "10.0.0.1:7946", State: Active,
			Tokens: []uint32{7, 1 << 31, 1<<32 - 1}, Heartbeat: 1700000000123456789},
		"loam-0": {Name: "loam-0", Addr: "10.0.0.0:3100", GossipAddr: "10.0.0.0:7946", State: Joining,
			Tokens: Tokens("loam-0", 4), Heartbeat: 1700000000000000000},
		"gone": {Name: "gone", State: Left, Heartbeat: -1},
	}
}

// TestEncodingGolden pins the wire format: nodes of different versions
// gossip with each other, so a change of it must be deliberate (and bump
// codecVersion).
func TestEncodingGolden(t *testing.T) {
	got := AppendDesc(nil, sampleDesc())
	const path = "testdata/desc-v1.bin"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encoding changed:\n got %x\nwant %x", got, want)
	}
	d, err := DecodeDesc(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, sampleDesc()) {
		t.Errorf("golden decodes to %v", d)
	}
}

func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		d := randomDesc(rng)
		back, err := DecodeDesc(AppendDesc(nil, d))
		if err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip: %v became %v", d, back)
		}
	}
	// A single member as a broadcast carries it is a Desc of one.
	m := sampleDesc()["loam-1"]
	if d, err := DecodeDesc(encodeMember(m)); err != nil || !reflect.DeepEqual(d, Desc{m.Name: m}) {
		t.Errorf("encodeMember: %v %v", d, err)
	}
}

// TestEncodingSize: the default member fits a UDP broadcast.
func TestEncodingSize(t *testing.T) {
	m := Member{Name: "loam-ingester-17.loam-headless.monitoring", Addr: "10.200.33.117:3100",
		GossipAddr: "10.200.33.117:7946", State: Active, Tokens: Tokens("x", DefaultTokens), Heartbeat: 1}
	if n := len(encodeMember(m)); n > maxBroadcast || n > 4*DefaultTokens+100 {
		t.Errorf("a member of %d tokens takes %d bytes", DefaultTokens, n)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := AppendDesc(nil, Desc{"a": {Name: "a", State: Active, Tokens: []uint32{1, 2}}})
	member := func(name string, state byte, tokens ...uint32) []byte {
		b := appendString(nil, name)
		b = append(b, 0, 0, state) // empty addresses
		b = append(b, make([]byte, 8)...)
		b = binary.AppendUvarint(b, uint64(len(tokens)))
		for _, t := range tokens {
			b = binary.BigEndian.AppendUint32(b, t)
		}
		return b
	}
	desc := func(members ...[]byte) []byte {
		b := []byte{codecVersion}
		b = binary.AppendUvarint(b, uint64(len(members)))
		for _, m := range members {
			b = append(b, m...)
		}
		return b
	}
	if _, err := DecodeDesc(desc(member("a", 2, 1, 2))); err != nil {
		t.Fatalf("the helpers build an invalid encoding: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"empty", "truncated", nil},
		{"version", "unknown encoding version 9", []byte{9, 0}},
		{"no count", "truncated", []byte{codecVersion}},
		{"count too large", "do not fit", []byte{codecVersion, 0xff, 0xff, 0x03}},
		{"cut short", "", good[:len(good)-1]},
		{"trailing", "after the last member", append(good[:len(good):len(good)], 0)},
		{"state 0", "invalid state 0", desc(member("a", 0))},
		{"state 5", "invalid state 5", desc(member("a", 5))},
		{"no name", "without a name", desc(member("", 2))},
		{"tokens descend", "do not ascend", desc(member("a", 2, 2, 1))},
		{"tokens repeat", "do not ascend", desc(member("a", 2, 1, 1))},
		{"twice", "do not ascend by name", desc(member("a", 2), member("a", 2))},
		{"out of order", "do not ascend by name", desc(member("b", 2), member("a", 2))},
		{"string too long", "a string of", desc(append(binary.AppendUvarint(nil, 2000), strings.Repeat("x", 2000)...))},
		{"not UTF-8", "not UTF-8", desc(member("\xff", 2))},
		{"tokens too many", "do not fit", desc(append(member("a", 2)[:len(member("a", 2))-1], 0xff, 0xff, 0x7f))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeDesc(tc.b)
			if err == nil {
				t.Fatalf("decoded %v", d)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	// Every prefix of a valid encoding is refused, none panics.
	full := AppendDesc(nil, sampleDesc())
	for i := range full {
		if _, err := DecodeDesc(full[:i]); err == nil {
			t.Errorf("prefix of %d bytes decoded", i)
		}
	}
}
