// Package tlsfiles serves TLS from files that change while the server runs:
// the certificate and key of -http.tls-cert-file and -http.tls-key-file,
// and the CAs of -http.tls-client-ca-file that client certificates must
// chain to (mutual TLS). cert-manager and kubelet replace such files in
// place; a Server reads them again every reload period and uses a changed,
// good pair for the next handshakes. A bad or half-written version keeps
// the last good one, is logged once, and sets
// loam_tls_config_last_reload_successful to 0.
//
// The package imports nothing of this repository.
package tlsfiles
