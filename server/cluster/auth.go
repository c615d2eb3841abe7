package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// TokenHeader carries a node's cluster token on its calls to another
// node's /internal/ endpoints.
const TokenHeader = "X-Loam-Cluster-Token"

// Secret authenticates node-to-node HTTP calls. Nodes do not send the
// cluster secret itself, which also keys memberlist's encryption: they
// send a token derived from it, HMAC-SHA256(secret, "loam cluster http
// v1") in hex, and the receiver compares it in constant time. Someone who
// reads the token off the wire can call the internal endpoints but not
// decrypt gossip. The zero Secret (no secret configured) sends no token
// and accepts every call. A Secret is immutable and safe for concurrent
// use.
type Secret struct{ token string }

// NewSecret derives the token of a cluster secret (the bytes as given:
// trimming the file's newline is the caller's choice). An empty secret is
// the zero Secret.
func NewSecret(secret []byte) Secret {
	if len(secret) == 0 {
		return Secret{}
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("loam cluster http v1"))
	return Secret{token: hex.EncodeToString(m.Sum(nil))}
}

// Enabled reports whether calls are authenticated.
func (s Secret) Enabled() bool { return s.token != "" }

// Set puts the token on an outgoing request's header.
func (s Secret) Set(h http.Header) {
	if s.token != "" {
		h.Set(TokenHeader, s.token)
	}
}

// Check reports whether a request carries the token (always, with no
// secret configured).
func (s Secret) Check(r *http.Request) bool {
	if s.token == "" {
		return true
	}
	return hmac.Equal([]byte(r.Header.Get(TokenHeader)), []byte(s.token))
}

// Require serves h to the requests that pass Check and answers 401 to the
// others.
func (s Secret) Require(h http.Handler) http.Handler {
	if s.token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Check(r) {
			http.Error(w, "cluster token missing or wrong: nodes must share -cluster.secret-file", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
