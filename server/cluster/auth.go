package cluster

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
)

// Node-to-node calls are authenticated by the cluster secret (the contents
// of -cluster.secret-file, surrounding whitespace trimmed). Nodes do not
// send the secret itself, which also keys memberlist's encryption: they
// send authHeader: the hex SHA-256 of "loam-cluster-v1\x00" + secret, and
// the receiver compares it in constant time. Who reads the token off the
// wire can call the internal endpoints but not decrypt gossip. Without a
// secret no header is sent and none is required.

// authHeader carries the token on calls to /internal/ endpoints.
const authHeader = "X-Loam-Cluster-Auth"

// authToken derives the token of a secret; "" for no secret.
func authToken(secret []byte) string {
	secret = bytes.TrimSpace(secret)
	if len(secret) == 0 {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("loam-cluster-v1\x00"))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil))
}

// setAuth puts the token on an outgoing request.
func setAuth(req *http.Request, token string) {
	if token != "" {
		req.Header.Set(authHeader, token)
	}
}

// requireAuth serves h to the requests that carry the token, and a 401 to
// the others; with no token, to all.
func requireAuth(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(authHeader)), want) != 1 {
			http.Error(w, "cluster authentication failed: the "+authHeader+" header is missing or wrong; "+
				"every node needs the same -cluster.secret-file", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
