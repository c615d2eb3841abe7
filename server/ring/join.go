package ring

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"time"
)

// Join backoff while no other member answered.
const (
	joinBackoffMin = 500 * time.Millisecond
	joinBackoffMax = 10 * time.Second
)

// joinLoop joins the cluster and keeps it whole. While this node knows no
// other live member it tries Config.Join (resolved again each time) and
// the members of the ring that memberlist counts dead, backing off up to
// joinBackoffMax; so nodes can start in any order. Afterwards, every
// RejoinInterval, it tries the ring members memberlist counts dead but
// that have not left: memberlist alone never contacts a member again once
// it has been dead for a while, which would leave the two sides of a
// healed partition apart.
func (r *Ring) joinLoop() {
	defer r.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := joinBackoffMin
	joined := false
	for {
		alone := r.numAlive.Load() <= 1
		addrs := r.deadMembers()
		if alone {
			addrs = append(addrs, resolveJoin(ctx, net.DefaultResolver.LookupIPAddr, r.cfg.Join, r.joinPort(), r.log)...)
		}
		addrs = r.withoutSelf(addrs)
		if len(addrs) > 0 {
			n, err := r.join(ctx, addrs)
			switch {
			case r.numAlive.Load() > 1 && !joined:
				joined = true
				r.log.Info("joined the cluster", "contacted", n, "members", r.numAlive.Load())
			case alone && err != nil && backoff == joinBackoffMin:
				r.log.Info("no other member answered yet; retrying", "join", addrs, "err", err)
			case err != nil:
				r.log.Debug("join failed", "join", addrs, "err", err)
			}
		}
		wait := r.cfg.RejoinInterval
		if r.numAlive.Load() <= 1 && len(r.cfg.Join) > 0 {
			wait, backoff = backoff, min(2*backoff, joinBackoffMax)
		} else {
			backoff = joinBackoffMin
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// join joins addrs one by one, so that stopping waits for one dial at
// most (memberlist's TCPTimeout), and returns how many answered.
func (r *Ring) join(ctx context.Context, addrs []string) (int, error) {
	n := 0
	var errs []error
	for _, a := range addrs {
		if ctx.Err() != nil {
			break
		}
		if _, err := r.ml.Join([]string{a}); err != nil {
			errs = append(errs, err)
		} else {
			n++
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, errors.Join(errs...)
}

// deadMembers are the gossip addresses of the members that have not left
// and that memberlist does not count alive.
func (r *Ring) deadMembers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var addrs []string
	for name, m := range r.desc {
		if name != r.name && m.State != Left && !r.alive[name] && m.GossipAddr != "" {
			addrs = append(addrs, m.GossipAddr)
		}
	}
	return addrs
}

// withoutSelf drops this node's own gossip address and duplicates: a join
// list usually names every node, this one included, and "joining" itself
// would count as success.
func (r *Ring) withoutSelf(addrs []string) []string {
	self := r.Self().GossipAddr
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	return slices.DeleteFunc(addrs, func(a string) bool { return a == self })
}

// joinPort is the port of join addresses that name none.
func (r *Ring) joinPort() int {
	if r.cfg.BindPort != 0 {
		return r.cfg.BindPort
	}
	return DefaultPort
}

// lookupFunc resolves a host name to its addresses (net.Resolver's).
type lookupFunc func(ctx context.Context, host string) ([]net.IPAddr, error)

// resolveJoin turns join entries (host:port, host, ip:port, a DNS name
// with several addresses) into ip:port addresses, each address of a name
// once. Names that do not resolve are logged and left out: they may
// resolve next time (a Service whose pods are starting).
func resolveJoin(ctx context.Context, lookup lookupFunc, join []string, defPort int, log interface {
	Debug(string, ...any)
}) []string {
	var out []string
	for _, j := range join {
		host, port, err := net.SplitHostPort(j)
		if err != nil { // no port
			host, port = j, strconv.Itoa(defPort)
		}
		host = trimBrackets(host)
		if ip := net.ParseIP(host); ip != nil {
			out = append(out, net.JoinHostPort(ip.String(), port))
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := lookup(lctx, host)
		cancel()
		if err != nil {
			log.Debug("join address does not resolve", "host", host, "err", err)
			continue
		}
		for _, ip := range ips {
			out = append(out, net.JoinHostPort(ip.IP.String(), port))
		}
	}
	return out
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}
