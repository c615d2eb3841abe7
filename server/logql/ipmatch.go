package logql

import (
	"fmt"
	"net/netip"
	"strings"
)

// IPRange is the argument of ip(): one address, a CIDR prefix, or an
// inclusive range from-to.
type IPRange struct {
	From, To netip.Addr // the range; From alone for an address
	prefix   netip.Prefix
	kind     ipKind
}

type ipKind uint8

const (
	ipAddr ipKind = iota
	ipPrefix
	ipRange
)

// ParseIPRange parses the argument of ip() as Loki does: an address
// ("10.0.0.1", "2001:db8::1"), else a CIDR prefix ("10.0.0.0/8"), else a
// range "10.0.0.1-10.0.0.9" of one family. No space is allowed.
func ParseIPRange(s string) (IPRange, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return IPRange{From: a, To: a, kind: ipAddr}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		m := p.Masked()
		return IPRange{From: m.Addr(), To: lastAddr(m), prefix: p, kind: ipPrefix}, nil
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		f, err1 := netip.ParseAddr(from)
		t, err2 := netip.ParseAddr(to)
		if err1 == nil && err2 == nil && f.BitLen() == t.BitLen() && f.Zone() == t.Zone() && !t.Less(f) {
			return IPRange{From: f, To: t, kind: ipRange}, nil
		}
	}
	return IPRange{}, fmt.Errorf("ip: invalid pattern: %q: write an address, a CIDR prefix (10.0.0.0/8) or a range (10.0.0.1-10.0.0.9)", s)
}

// Contains reports whether a is in the range, as Loki compares: an address
// of the other family (an IPv4-mapped IPv6 address included) never is.
func (r IPRange) Contains(a netip.Addr) bool {
	switch r.kind {
	case ipAddr:
		return r.From.Compare(a) == 0
	case ipPrefix:
		return r.prefix.Contains(a)
	}
	return a.BitLen() == r.From.BitLen() && a.Zone() == r.From.Zone() && !a.Less(r.From) && !r.To.Less(a)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// IPMatcher returns the matcher of ip("range") for text that may hold an
// address anywhere: a line, or the value of a label, which Loki scans the
// same way.
func IPMatcher(r IPRange) LineMatcher { return ipMatcher{r} }

// ipMatcher finds addresses in text the way Loki's ip filter does, so that
// both pick the same candidates: at a digit followed by a dot within three
// bytes, the run of IPv4 characters is tried; else at what starts like an
// IPv6 address (a colon within five hex digits, or "::" and a hex digit),
// the run of IPv6 characters. A candidate that is no address, or not in
// the range, is skipped with the byte after it.
type ipMatcher struct{ r IPRange }

func (m ipMatcher) Match(line []byte) bool {
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	for i := 0; i < n; i++ {
		var set *[256]bool
		switch {
		case i+3 < n && ipv4Hint(line[i], line[i+1], line[i+2], line[i+3]):
			set = &ipv4Chars
		case ipv6Hint(at(i), at(i+1), at(i+2), at(i+3), at(i+4)):
			set = &ipv6Chars
		default:
			continue
		}
		j := i
		for j < n && set[line[j]] {
			j++
		}
		if a, err := netip.ParseAddr(string(line[i:j])); err == nil && m.r.Contains(a) {
			return true
		}
		i = j
	}
	return false
}

var ipv4Chars, ipv6Chars = charSet("0123456789."), charSet("0123456789abcdefABCDEF:.")

func charSet(s string) (set [256]bool) {
	for i := 0; i < len(s); i++ {
		set[s[i]] = true
	}
	return set
}

func ipv4Hint(a, b, c, d byte) bool { return isDigit(a) && (b == '.' || c == '.' || d == '.') }

func ipv6Hint(a, b, c, d, e byte) bool {
	h := isHexDigit
	return a == ':' && b == ':' && h(c) ||
		h(a) && b == ':' ||
		h(a) && h(b) && c == ':' ||
		h(a) && h(b) && h(c) && d == ':' ||
		h(a) && h(b) && h(c) && h(d) && e == ':'
}

func isHexDigit(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
