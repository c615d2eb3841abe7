package api

import (
	"net/http"

	jsoniter "github.com/json-iterator/go"
)

var jsonAPI = jsoniter.ConfigCompatibleWithStandardLibrary

// writeJSON encodes v with a 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	stream := jsonAPI.BorrowStream(w)
	defer jsonAPI.ReturnStream(stream)
	stream.WriteVal(v)
	stream.Flush()
}

// writeError answers with a plain-text message, as Loki does; Grafana shows
// it to the user.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}
