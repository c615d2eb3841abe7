package tlsfiles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReloadPeriod is how often the files are read again.
const DefaultReloadPeriod = 10 * time.Second

// Config names the files.
type Config struct {
	CertFile, KeyFile string // PEM; both required
	// ClientCAFile holds the PEM CAs client certificates must chain to;
	// "": no client certificate is asked for.
	ClientCAFile string
	ReloadPeriod time.Duration         // 0: DefaultReloadPeriod
	Logger       *slog.Logger          // nil: slog.Default()
	Registerer   prometheus.Registerer // nil: no metrics
}

// Server holds the TLS material in use. TLSConfig's handshakes, Reload and
// Run are safe for concurrent use; a Server lives as long as its listener.
type Server struct {
	cfg Config
	log *slog.Logger
	cur atomic.Pointer[material]

	reloadOK prometheus.Gauge
	expiry   prometheus.Gauge

	mu      sync.Mutex // serializes reloads
	sum     [sha256.Size]byte
	lastErr error
}

// material is one good reading of the files; never modified.
type material struct {
	cert *tls.Certificate
	cas  *x509.CertPool // nil without a client CA file
}

// New reads the files: a missing or bad one is an error.
func New(cfg Config) (*Server, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("TLS needs both -http.tls-cert-file and -http.tls-key-file")
	}
	if cfg.ReloadPeriod <= 0 {
		cfg.ReloadPeriod = DefaultReloadPeriod
	}
	s := &Server{cfg: cfg, log: cfg.Logger,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loam_tls_config_last_reload_successful",
			Help: "Whether the last reading of the TLS certificate, key and client CA files succeeded (0: the last good ones are still in use)."}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loam_tls_certificate_expiry_timestamp_seconds",
			Help: "When the certificate in use expires (NotAfter), in seconds since the epoch."}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.reloadOK, s.expiry)
	}
	if err := s.load(true); err != nil {
		return nil, err
	}
	return s, nil
}

// TLSConfig is the configuration of the listener: each handshake uses the
// material in use at that moment. HTTP/1.1 only: the tail websocket takes
// over its connection, which HTTP/2 does not allow.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.cur.Load()
			c := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}, Certificates: []tls.Certificate{*m.cert}}
			if m.cas != nil {
				c.ClientCAs = m.cas
				c.ClientAuth = tls.RequireAndVerifyClientCert
			}
			return c, nil
		},
	}
}

// Run reads the files again every reload period until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReloadPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Reload()
		}
	}
}

// Reload reads the files now and puts changed, good material in use; on
// an error the material in use stays, and the error is returned (and
// logged once per distinct error).
func (s *Server) Reload() error { return s.load(false) }

func (s *Server) load(start bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.read()
	if err != nil {
		s.reloadOK.Set(0)
		if !start && (s.lastErr == nil || s.lastErr.Error() != err.Error()) {
			s.log.Warn("TLS files not reloaded: the last good certificate stays in use", "err", err)
		}
	} else {
		s.reloadOK.Set(1)
	}
	s.lastErr = err
	return err
}

// read reads the three files and, when they changed, parses them.
func (s *Server) read() error {
	certPEM, err := os.ReadFile(s.cfg.CertFile)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(s.cfg.KeyFile)
	if err != nil {
		return err
	}
	var caPEM []byte
	if s.cfg.ClientCAFile != "" {
		if caPEM, err = os.ReadFile(s.cfg.ClientCAFile); err != nil {
			return err
		}
	}
	// The whole content is hashed every time: files are small, and a
	// rewrite within the mtime's granularity must not be missed.
	sum := sha256.Sum256(bytes.Join([][]byte{certPEM, keyPEM, caPEM}, []byte{0}))
	if s.cur.Load() != nil && sum == s.sum && s.lastErr == nil {
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// A certificate and key written one after the other do not match
		// in between; the next period reads the pair again.
		return fmt.Errorf("%s and %s: %w", s.cfg.CertFile, s.cfg.KeyFile, err)
	}
	m := &material{cert: &cert}
	if caPEM != nil {
		m.cas = x509.NewCertPool()
		if !m.cas.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("%s: no PEM certificate in it", s.cfg.ClientCAFile)
		}
	}
	s.cur.Store(m)
	s.sum = sum
	if cert.Leaf != nil {
		s.expiry.Set(float64(cert.Leaf.NotAfter.Unix()))
		s.log.Info("TLS certificate loaded", "file", s.cfg.CertFile, "subject", cert.Leaf.Subject.String(),
			"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "client_ca", s.cfg.ClientCAFile)
	}
	return nil
}

// ClientConfig is the configuration of the calls this node makes to the
// others of its cluster over TLS. It presents the certificate in use (the
// others may ask for one: mutual TLS) and verifies theirs against roots:
// nil takes the client CAs in use when called, else the system's roots.
// serverName, when set, is the name the others' certificates are checked
// against instead of the address called (nodes are called by IP).
func (s *Server) ClientConfig(roots *x509.CertPool, serverName string, insecureSkipVerify bool) *tls.Config {
	if roots == nil {
		roots = s.cur.Load().cas
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		RootCAs:    roots,
		ServerName: serverName,
		// A node's certificate is renewed in place: take the one in use
		// at each handshake.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
		InsecureSkipVerify: insecureSkipVerify,
	}
}
