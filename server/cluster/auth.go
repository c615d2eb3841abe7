package cluster

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
)

// authHeader carries the cluster secret's token on node-to-node calls.
const authHeader = "X-Loam-Cluster-Auth"

// authToken derives the token of a secret; empty for none.
func authToken(secret []byte) string {
	if len(secret) == 0 {
		return ""
	}
	h := sha256.Sum256(append([]byte("loam-cluster-v1\x00"), secret...))
	return hex.EncodeToString(h[:])
}

func setAuth(req *http.Request, token string) {
	if token != "" {
		req.Header.Set(authHeader, token)
	}
}

func requireAuth(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(authHeader)), []byte(token)) != 1 {
			http.Error(w, "node-to-node call without the cluster secret", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
