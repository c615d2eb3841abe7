// Package e2e holds the end-to-end tests of Loam: they build the real loam
// binary once, start it on a free 127.0.0.1 port with a temporary data
// directory, and drive it over HTTP the way Promtail, Fluent Bit, Grafana and
// logcli do (push in JSON and protobuf+snappy, optionally gzip/deflate;
// query_range, labels, label values, series, metrics), including SIGKILL and
// WAL damage between runs.
//
// Run them with `go test ./e2e/`. Set LOAM_E2E_BINARY to test a prebuilt
// binary instead of building one. Under `go test -race` the server itself is
// built with the race detector too, and a reported data race fails the test.
package e2e
