package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/internal/testcerts"
)

// tlsFiles are a CA and the files of a server certificate it signed.
type tlsFiles struct {
	ca              *testcerts.CA
	dir             string
	cert, key, caPE string
}

func newTLSFiles(t *testing.T, cn string) *tlsFiles {
	t.Helper()
	ca, err := testcerts.NewCA("e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &tlsFiles{ca: ca, dir: dir, cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"), caPE: filepath.Join(dir, "ca.crt")}
	f.rotate(t, cn)
	if err := os.WriteFile(f.caPE, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// rotate writes a new server certificate named cn.
func (f *tlsFiles) rotate(t *testing.T, cn string) {
	t.Helper()
	p, err := f.ca.Server(cn)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f.cert, f.key); err != nil {
		t.Fatal(err)
	}
}

// httpsClient trusts f's CA and presents client when not nil. Every
// request opens a new connection, so that a renewed certificate shows.
func (f *tlsFiles) httpsClient(t *testing.T, client *testcerts.Pair) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Cert)
	cfg := &tls.Config{RootCAs: pool}
	if client != nil {
		c, err := tls.X509KeyPair(client.CertPEM, client.Key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

// startTLSLoam starts loam serving HTTPS with f's certificate and waits
// until /ready answers over it; hc is the client of the helpers.
func startTLSLoam(t *testing.T, f *tlsFiles, hc *http.Client, extra ...string) *loam {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"-http.addr", addr, "-data.dir", t.TempDir(), "-http.tls-cert-file", f.cert, "-http.tls-key-file", f.key}, extra...)
	l := spawn(t, addr, args...)
	l.base, l.hc = "https://"+addr, hc
	deadline := time.Now().Add(readyTimeout)
	for {
		if l.exited() {
			t.Fatalf("loam exited before it was ready:\n%s", l.out.String())
		}
		resp, err := hc.Get(l.base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("loam not ready over HTTPS within %s (last error %v):\n%s", readyTimeout, err, l.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverName is the common name of the certificate l serves now.
func serverName(t *testing.T, l *loam) string {
	t.Helper()
	resp, err := l.hc.Get(l.base + "/ready")
	if err != nil {
		t.Fatalf("GET /ready over HTTPS: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

// TestTLS: loam serves HTTPS (with authentication on top), follows a
// renewed certificate without a restart, asks for client certificates of
// the client CA, and refuses settings that cannot work.
func TestTLS(t *testing.T) {
	f := newTLSFiles(t, "first")
	authFile := filepath.Join(f.dir, "auth.yaml")
	writeAuthFile(t, authFile, fmt.Sprintf("tokens:\n  - {name: t, token_sha256: %s, tenants: [a], role: admin}\n", tokenSum("tls-token")))
	l := startTLSLoam(t, f, f.httpsClient(t, nil), "-http.tls-reload-period", "100ms", "-auth.enabled", "-auth.file", authFile)

	t.Run("https", func(t *testing.T) {
		l.authz = "Bearer tls-token"
		defer func() { l.authz = "" }()
		now := time.Now()
		l.mustPush(t, "", ctJSON, "", jsonBody([]entry{{Labels: map[string]string{"app": "tls"}, T: now.UnixNano(), Line: "over TLS"}}))
		if n := countOf(t, l, `{app="tls"}`, now.Add(-time.Minute), now.Add(time.Minute)); n != 1 {
			t.Errorf("%d lines read back over HTTPS, want 1", n)
		}
		if code, _, _ := l.do(t, "GET", "/loki/api/v1/labels", http.Header{"Authorization": {"Bearer nope"}}, nil); code != 401 {
			t.Errorf("a wrong token over HTTPS: %d, want 401", code)
		}
		// Plain HTTP on the TLS port gets no answer of the API.
		resp, err := client.Get("http://" + l.addr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Error("plain HTTP answered 200 on the TLS port")
			}
		}
	})

	t.Run("renewal", func(t *testing.T) {
		if cn := serverName(t, l); cn != "first" {
			t.Fatalf("serving %q, want first", cn)
		}
		f.rotate(t, "second")
		deadline := time.Now().Add(10 * time.Second)
		for serverName(t, l) != "second" {
			if time.Now().After(deadline) {
				t.Fatal("the renewed certificate is not served 10s after it was written (reload period 100ms)")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A key that does not match: the last good pair stays.
		other, _ := f.ca.Server("third")
		os.WriteFile(f.key, other.Key, 0o600)
		time.Sleep(300 * time.Millisecond)
		if cn := serverName(t, l); cn != "second" {
			t.Errorf("after a mismatched key: serving %q, want second", cn)
		}
		if !strings.Contains(l.out.String(), "TLS files not reloaded") {
			t.Error("the mismatched key is not logged")
		}
		f.rotate(t, "fourth") // a good pair again, for the next subtests
	})

	t.Run("client certificates", func(t *testing.T) {
		friend, _ := f.ca.Client("friend")
		m := startTLSLoam(t, f, f.httpsClient(t, friend), "-http.tls-client-ca-file", f.caPE)
		if resp, err := f.httpsClient(t, nil).Get(m.base + "/ready"); err == nil {
			resp.Body.Close()
			t.Error("a client without a certificate was served")
		}
		stranger, _ := newTLSFiles(t, "x").ca.Client("stranger")
		if resp, err := f.httpsClient(t, stranger).Get(m.base + "/ready"); err == nil {
			resp.Body.Close()
			t.Error("a client certificate of another CA was accepted")
		}
	})

	t.Run("bad settings", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			says string
		}{
			{[]string{"-http.tls-cert-file", f.cert}, "-http.tls-cert-file and -http.tls-key-file go together"},
			{[]string{"-http.tls-client-ca-file", f.caPE}, "-http.tls-client-ca-file needs -http.tls-cert-file"},
			{[]string{"-cluster.tls-server-name", "loam"}, "-cluster.tls-* need -http.tls-cert-file"},
			{[]string{"-http.tls-cert-file", f.caPE, "-http.tls-key-file", f.key}, "private key does not match"},
		} {
			out, code := runLoam(t, append([]string{"-http.addr", freeAddr(t), "-data.dir", t.TempDir()}, tc.args...)...)
			if code == 0 || !strings.Contains(out, tc.says) {
				t.Errorf("loam %s: exit %d, %q; want a failure saying %q", strings.Join(tc.args, " "), code, clip(out), tc.says)
			}
		}
	})
}
