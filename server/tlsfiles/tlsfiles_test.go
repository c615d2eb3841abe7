package tlsfiles

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loam-logs/loam/internal/testcerts"
)

type files struct{ cert, key, ca string }

func setup(t *testing.T, withCA bool) (*testcerts.CA, files, *Server, *bytes.Buffer) {
	t.Helper()
	ca, err := testcerts.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := files{cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key")}
	pair, err := ca.Server("one")
	if err != nil {
		t.Fatal(err)
	}
	if err := pair.Write(f.cert, f.key); err != nil {
		t.Fatal(err)
	}
	if withCA {
		f.ca = filepath.Join(dir, "ca.crt")
		os.WriteFile(f.ca, ca.PEM, 0o600)
	}
	var log bytes.Buffer
	s, err := New(Config{CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.ca, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return ca, f, s, &log
}

// serve answers "ok" over TLS with s until the test ends; the address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ErrorLog: nil}
	go srv.Serve(tls.NewListener(ln, s.TLSConfig()))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// peer connects and returns the server certificate's common name.
func peer(t *testing.T, addr string, ca *testcerts.CA, client *testcerts.Pair) (string, error) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if client != nil {
		c, err := tls.X509KeyPair(client.CertPEM, client.Key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.TLS.PeerCertificates[0].Subject.CommonName, nil
}

func TestReload(t *testing.T) {
	ca, f, s, log := setup(t, false)
	addr := serve(t, s)
	if cn, err := peer(t, addr, ca, nil); err != nil || cn != "one" {
		t.Fatalf("first certificate: %q %v", cn, err)
	}
	two, _ := ca.Server("two")
	two.Write(f.cert, f.key)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if cn, err := peer(t, addr, ca, nil); err != nil || cn != "two" {
		t.Errorf("after the rotation: %q %v, want two", cn, err)
	}
	if got := testutil.ToFloat64(s.expiry); got != float64(two.Cert.NotAfter.Unix()) {
		t.Errorf("expiry gauge %v, want %v", got, two.Cert.NotAfter.Unix())
	}

	// Half a rotation (the new certificate, the old key): the pair in use stays.
	three, _ := ca.Server("three")
	os.WriteFile(f.cert, three.CertPEM, 0o600)
	for range 2 {
		if err := s.Reload(); err == nil {
			t.Fatal("a certificate with another's key loaded")
		}
	}
	if cn, err := peer(t, addr, ca, nil); err != nil || cn != "two" || testutil.ToFloat64(s.reloadOK) != 0 {
		t.Errorf("after a bad pair: %q %v (want two), reload gauge %v", cn, err, testutil.ToFloat64(s.reloadOK))
	}
	if n := strings.Count(log.String(), "TLS files not reloaded"); n != 1 {
		t.Errorf("the bad pair logged %d times, want once", n)
	}
	os.WriteFile(f.key, three.Key, 0o600)
	if err := s.Reload(); err != nil || testutil.ToFloat64(s.reloadOK) != 1 {
		t.Fatalf("the completed rotation: %v", err)
	}
	if cn, _ := peer(t, addr, ca, nil); cn != "three" {
		t.Errorf("after the completed rotation: %q, want three", cn)
	}
}

func TestClientCA(t *testing.T) {
	ca, f, s, _ := setup(t, true)
	addr := serve(t, s)
	if _, err := peer(t, addr, ca, nil); err == nil {
		t.Error("a client without a certificate was served")
	}
	other, _ := testcerts.NewCA("other CA")
	stranger, _ := other.Client("stranger")
	if _, err := peer(t, addr, ca, stranger); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	friend, _ := ca.Client("friend")
	if _, err := peer(t, addr, ca, friend); err != nil {
		t.Errorf("a client certificate of the CA: %v", err)
	}
	// The CA file is followed too: trust the other CA instead.
	os.WriteFile(f.ca, other.PEM, 0o600)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := peer(t, addr, ca, stranger); err != nil {
		t.Errorf("the new CA's client after the CA file changed: %v", err)
	}
	if _, err := peer(t, addr, ca, friend); err == nil {
		t.Error("the old CA's client still accepted")
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not PEM"), 0o600)
	for _, cfg := range []Config{
		{CertFile: junk},
		{CertFile: filepath.Join(dir, "none"), KeyFile: junk},
		{CertFile: junk, KeyFile: junk},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	ca, _ := testcerts.NewCA("ca")
	p, _ := ca.Server("s")
	p.Write(filepath.Join(dir, "c"), filepath.Join(dir, "k"))
	if _, err := New(Config{CertFile: filepath.Join(dir, "c"), KeyFile: filepath.Join(dir, "k"), ClientCAFile: junk}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a client CA file without a certificate: %v", err)
	}
}
