package ring

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
)

type debugNone struct{}

func (debugNone) Debug(string, ...any) {}

func TestResolveJoin(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
		switch host {
		case "loam-headless.ns.svc":
			return []net.IPAddr{{IP: net.ParseIP("10.0.0.1")}, {IP: net.ParseIP("10.0.0.2")}, {IP: net.ParseIP("fd00::3")}}, nil
		case "one":
			return []net.IPAddr{{IP: net.ParseIP("10.0.0.9")}}, nil
		}
		return nil, errors.New("no such host")
	}
	got := resolveJoin(context.Background(), lookup, []string{
		"loam-headless.ns.svc:7000", // every address of a name
		"one",                       // the default port
		"10.1.1.1:7946",
		"[fd00::1]:8000",
		"fd00::2", // a bare IPv6 address
		"missing.example:7946",
	}, 7946, debugNone{})
	want := []string{"10.0.0.1:7000", "10.0.0.2:7000", "[fd00::3]:7000", "10.0.0.9:7946", "10.1.1.1:7946",
		"[fd00::1]:8000", "[fd00::2]:7946"}
	if !slices.Equal(got, want) {
		t.Errorf("resolved\n %v\nwant\n %v", got, want)
	}
}

func TestWithoutSelf(t *testing.T) {
	a := startRing(t, "a", 0, nil, nil)
	self := a.Self().GossipAddr
	got := a.withoutSelf([]string{"10.0.0.2:7946", self, "10.0.0.1:7946", "10.0.0.2:7946"})
	if !slices.Equal(got, []string{"10.0.0.1:7946", "10.0.0.2:7946"}) {
		t.Errorf("got %v", got)
	}
}
