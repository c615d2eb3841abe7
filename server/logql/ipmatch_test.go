package logql

import "testing"

// TestIPMatcher pins the addresses ip() finds in a line to those Loki's
// scan finds (pkg/logql/log/ip.go at main@65e30f8), including the
// candidates it gives up on.
func TestIPMatcher(t *testing.T) {
	cases := []struct {
		rng, line string
		want      bool
	}{
		{"10.0.0.0/8", "client 10.1.2.3 connected", true},
		{"10.0.0.0/8", "client 11.1.2.3 connected", false},
		{"10.0.0.1", "10.0.0.1:8080", true},
		{"10.0.0.1", "ip:10.0.0.1:8080", true},
		{"10.0.0.1", "x10.0.0.1y", true},
		{"10.0.0.1", "10.0.0.10", false},
		// The run of address characters is taken whole: a fifth number
		// makes it no address.
		{"1.2.3.4", "1.2.3.4.5", false},
		{"1.2.3.0-1.2.3.9", "from 1.2.3.7, to 9.9.9.9", true},
		{"2001:db8::/32", "peer 2001:db8::7 connected", true},
		{"::1", "peer [::1]:80", true},
		// A v4-mapped IPv6 address is of the other family.
		{"10.0.0.0/8", "::ffff:10.0.0.1", false},
		// What starts like IPv6 ("abc:") swallows the IPv4 address after it.
		{"10.0.0.0/8", "abc:10.0.0.1", false},
		{"10.0.0.0/8", "ab 10.0.0.1", true},
		{"192.168.0.0/16", "", false},
		{"fe80::1", "fe80::1", true},
		// A prefix that is not masked covers its whole network.
		{"10.1.2.3/8", "10.200.0.1", true},
	}
	for _, c := range cases {
		r, err := ParseIPRange(c.rng)
		if err != nil {
			t.Fatalf("%q: %v", c.rng, err)
		}
		if got := IPMatcher(r).Match([]byte(c.line)); got != c.want {
			t.Errorf("ip(%q) on %q: %v, want %v", c.rng, c.line, got, c.want)
		}
	}
}

func TestParseIPRange(t *testing.T) {
	for _, ok := range []string{"10.0.0.1", "::1", "fe80::1%eth0", "10.0.0.0/8", "10.0.0.5/8", "2001:db8::/32",
		"10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.1", "::1-::9"} {
		if _, err := ParseIPRange(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " 10.0.0.1", "10.0.0.1 ", "10.0.0", "10.0.0.9-10.0.0.1", "10.0.0.1 - 10.0.0.9",
		"10.0.0.1-::9", "10.0.0.0/33", "300.0.0.1", "x"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
