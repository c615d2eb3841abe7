package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 (usable
// as CA, server and client certificate) and its key, and returns the paths
// and the parsed pair.
func selfSigned(t *testing.T, dir, name string) (certPath, keyPath string, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pair, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name+".crt", string(certPEM)), writeFile(t, dir, name+".key", string(keyPEM)), pair
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, pair := selfSigned(t, dir, "loam")
	_, otherKey, _ := selfSigned(t, dir, "other")
	junk := writeFile(t, dir, "junk.pem", "not a certificate\n")
	missing := dir + "/missing.pem"

	t.Run("CA", func(t *testing.T) {
		c := mustParse(t, MapGetter{"Url": "https://127.0.0.1:3100", "CAFile": cert})
		if c.TLS == nil || c.TLS.RootCAs == nil || c.TLS.MinVersion != tls.VersionTLS12 || c.TLS.InsecureSkipVerify {
			t.Fatalf("TLS = %+v", c.TLS)
		}
		// The pool holds the CA: the certificate verifies against it.
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: c.TLS.RootCAs}); err != nil {
			t.Errorf("certificate does not verify against the CAFile pool: %v", err)
		}
	})
	t.Run("client certificate", func(t *testing.T) {
		c := mustParse(t, MapGetter{"Url": "https://127.0.0.1:3100", "CertFile": cert, "KeyFile": key})
		if c.TLS == nil || len(c.TLS.Certificates) != 1 || c.TLS.RootCAs != nil {
			t.Fatalf("TLS = %+v", c.TLS)
		}
		if !reflect.DeepEqual(c.TLS.Certificates[0].Certificate, pair.Certificate) {
			t.Errorf("loaded a different certificate")
		}
	})
	t.Run("mixed http and https", func(t *testing.T) {
		c := mustParse(t, MapGetter{"Url": "http://a, https://b", "CAFile": cert})
		if c.TLS == nil {
			t.Fatal("no TLS config")
		}
	})
	t.Run("handshake", func(t *testing.T) {
		// A server that needs a client certificate signed by the same CA:
		// the parsed settings alone must get a request through.
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}))
		pool := x509.NewCertPool()
		pool.AddCert(pair.Leaf)
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
		srv.StartTLS()
		defer srv.Close()
		c := mustParse(t, MapGetter{"Url": srv.URL, "CAFile": cert, "CertFile": cert, "KeyFile": key})
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLS}, Timeout: 5 * time.Second}
		resp, err := client.Post(c.URLs[0].String(), "application/x-protobuf", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("status %d", resp.StatusCode)
		}
		// Without the CA the same server is refused: the pool matters.
		c = mustParse(t, MapGetter{"Url": srv.URL, "CertFile": cert, "KeyFile": key})
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLS}, Timeout: 5 * time.Second}
		if resp, err := client.Post(c.URLs[0].String(), "application/x-protobuf", nil); err == nil {
			resp.Body.Close()
			t.Error("request without CAFile succeeded against a self-signed server")
		}
	})

	https := "https://loam"
	for _, c := range []struct {
		name string
		keys MapGetter
		want []string
	}{
		{"CAFile missing", MapGetter{"Url": https, "CAFile": missing},
			[]string{`config: CAFile "` + missing + `": cannot read: no such file or directory`}},
		{"CAFile not PEM", MapGetter{"Url": https, "CAFile": junk},
			[]string{`config: CAFile "` + junk + `": holds no PEM certificate (want a file with -----BEGIN CERTIFICATE-----)`}},
		{"CertFile alone", MapGetter{"Url": https, "CertFile": cert},
			[]string{`config: CertFile "` + cert + `": set without KeyFile (a client certificate needs both)`}},
		{"KeyFile alone", MapGetter{"Url": https, "KeyFile": key},
			[]string{`config: KeyFile "` + key + `": set without CertFile (a client certificate needs both)`}},
		{"key of another certificate", MapGetter{"Url": https, "CertFile": cert, "KeyFile": otherKey},
			[]string{`config: CertFile "` + cert + `": does not load with KeyFile "` + otherKey + `": private key does not match public key`}},
		{"CertFile missing", MapGetter{"Url": https, "CertFile": missing, "KeyFile": key},
			[]string{`config: CertFile "` + missing + `": cannot read: no such file or directory`}},
		{"key and cert swapped", MapGetter{"Url": https, "CertFile": key, "KeyFile": cert},
			[]string{`config: CertFile "` + key + `": does not load with KeyFile "` + cert + `": failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched`}},
		{"http only", MapGetter{"Url": "http://a, http://b", "CAFile": cert, "CertFile": cert, "KeyFile": key, "InsecureSkipVerify": "yes"},
			[]string{
				`config: CAFile "` + cert + `": TLS settings need an https:// Url, and every Url is http://`,
				`config: CertFile "` + cert + `": TLS settings need an https:// Url, and every Url is http://`,
				`config: KeyFile "` + key + `": TLS settings need an https:// Url, and every Url is http://`,
				`config: InsecureSkipVerify "yes": TLS settings need an https:// Url, and every Url is http://`,
			}},
		{"several", MapGetter{"Url": https, "CAFile": junk, "CertFile": cert},
			[]string{
				`config: CAFile "` + junk + `": holds no PEM certificate (want a file with -----BEGIN CERTIFICATE-----)`,
				`config: CertFile "` + cert + `": set without KeyFile (a client certificate needs both)`,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(c.keys)
			if cfg != nil {
				t.Error("Parse returned a config with an error")
			}
			if got := errorList(t, err); !reflect.DeepEqual(got, c.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
