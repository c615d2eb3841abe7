package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestClusterTLS: three nodes serving HTTPS with mutual TLS call each
// other over TLS with their own certificates: a push through one node is
// replicated and read back through the others, and a caller without a
// client certificate cannot reach the internal endpoints.
func TestClusterTLS(t *testing.T) {
	f := newTLSFiles(t, "unused")
	node, err := f.ca.Node("loam-node")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(f.dir, "node.crt"), filepath.Join(f.dir, "node.key")
	if err := node.Write(cert, key); err != nil {
		t.Fatal(err)
	}
	user, err := f.ca.Client("e2e")
	if err != nil {
		t.Fatal(err)
	}
	hc := f.httpsClient(t, user)
	c := startClusterWith(t, 3, 3, hc, "-http.tls-cert-file", cert, "-http.tls-key-file", key,
		"-http.tls-client-ca-file", f.caPE)
	now := time.Now()
	var es []entry
	for i := range 30 {
		es = append(es, entry{Labels: map[string]string{"job": "tls", "app": fmt.Sprint("a", i%3)},
			T: now.Add(-time.Minute).Add(time.Duration(i) * time.Millisecond).UnixNano(), Line: fmt.Sprintf("line %d", i)})
	}
	c.nodes[0].proc.mustPush(t, "", "application/json", "", jsonBody(es))
	start, end := now.Add(-time.Hour).UnixNano(), now.Add(time.Minute).UnixNano()
	for _, nd := range c.nodes {
		n := 0
		for app := range 3 {
			n += len(queryAllForward(t, nd.proc, fmt.Sprintf(`{job="tls", app="a%d"}`, app), start, end))
		}
		if n != len(es) {
			t.Fatalf("through %s: %d lines, want %d", nd.name, n, len(es))
		}
	}
	// Every node holds every line (RF 3): the pushes reached the other two
	// over TLS, and each node's store answers alone once the others stop.
	c.nodes[1].proc.kill9()
	c.nodes[2].proc.kill9()
	n := 0
	for app := range 3 {
		n += len(queryAllForward(t, c.nodes[0].proc, fmt.Sprintf(`{job="tls", app="a%d"}`, app), start, end))
	}
	if n != len(es) {
		t.Fatalf("node-0 alone: %d lines, want %d", n, len(es))
	}
	// The internal endpoints refuse a caller without a certificate.
	for _, path := range []string{"/internal/push", "/internal/select"} {
		resp, err := f.httpsClient(t, nil).Post(c.nodes[0].proc.base+path, "application/x-protobuf", nil)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("POST %s without a client certificate: %s, want a refused handshake", path, resp.Status)
		}
	}
}
