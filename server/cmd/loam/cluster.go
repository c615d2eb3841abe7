package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loam-logs/loam/server/ring"
)

// listFlag is a repeatable flag of strings; commas separate values too.
type listFlag struct {
	dst   *[]string
	fresh bool // the next Set replaces the list: a new parse began
}

func (l *listFlag) String() string {
	if l == nil || l.dst == nil {
		return ""
	}
	return strings.Join(*l.dst, ",")
}

func (l *listFlag) Set(s string) error {
	if l.fresh {
		*l.dst, l.fresh = nil, false
	}
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.dst = append(*l.dst, v)
		}
	}
	return nil
}

// clustered reports whether this node is part of a cluster: without
// joins and with one copy of each stream it runs alone, as it always did,
// with no gossip at all.
func (c *config) clustered() bool {
	return len(c.Memberlist.Join) > 0 || c.Ring.ReplicationFactor > 1
}

func (c *config) validateCluster() []error {
	var errs []error
	if c.Ring.ReplicationFactor < 1 {
		errs = append(errs, errors.New("-ring.replication-factor must be at least 1"))
	}
	if c.Ring.Tokens < 1 || c.Ring.Tokens > ring.MaxTokens {
		errs = append(errs, fmt.Errorf("-ring.tokens must be between 1 and %d", ring.MaxTokens))
	}
	if c.Memberlist.Port < 0 || c.Memberlist.Port > 65535 {
		errs = append(errs, errors.New("-memberlist.port must be between 0 and 65535"))
	}
	if a := c.Memberlist.AdvertiseAddr; a != "" && net.ParseIP(a) == nil {
		errs = append(errs, fmt.Errorf("-memberlist.advertise-addr: %q is not an IP address", a))
	}
	if c.clustered() && c.Node.Name == "" {
		errs = append(errs, errors.New("-node.name is required in a cluster (the hostname is not known)"))
	}
	return errs
}

// clusterSecret is the content of -cluster.secret-file, surrounding
// whitespace trimmed (a trailing newline must not make two nodes'
// secrets differ); nil without the flag.
func clusterSecret(c *config) ([]byte, error) {
	if c.Cluster.SecretFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.Cluster.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("-cluster.secret-file: %w", err)
	}
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return nil, fmt.Errorf("-cluster.secret-file: %s is empty", c.Cluster.SecretFile)
	}
	return b, nil
}

// startRing joins the cluster (in the background) when the node is
// clustered, in state JOINING; nil otherwise.
func startRing(c *config, log *slog.Logger, reg prometheus.Registerer) (*ring.Ring, error) {
	if !c.clustered() {
		return nil, nil
	}
	secret, err := clusterSecret(c)
	if err != nil {
		return nil, err
	}
	// Other nodes call this one's HTTP API on the advertised IP, with
	// the port of -http.addr; without one the ring fills in the IP the
	// gossip advertises when -http.addr names no host.
	addr := c.HTTPAddr
	if c.Memberlist.AdvertiseAddr != "" {
		if _, port, err := net.SplitHostPort(c.HTTPAddr); err == nil {
			addr = net.JoinHostPort(c.Memberlist.AdvertiseAddr, port)
		}
	}
	return ring.New(ring.Config{
		NodeName:      c.Node.Name,
		Addr:          addr,
		BindAddr:      c.Memberlist.BindAddr,
		BindPort:      c.Memberlist.Port,
		AdvertiseAddr: c.Memberlist.AdvertiseAddr,
		Join:          c.Memberlist.Join,
		Tokens:        c.Ring.Tokens,
		Secret:        secret,
		Logger:        log,
		Registerer:    reg,
	})
}
