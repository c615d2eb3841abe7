// Package metrics is the plugin's optional Prometheus endpoint
// (MetricsAddr). Fluent Bit's own metrics already count a Go output's
// retries and errors per chunk; these add what only the plugin knows:
// records and bytes delivered, requests rejected by status code, records
// dropped and why, bytes in flight and request latency.
//
// Several output instances may name the same MetricsAddr: they share one
// listener and registry, told apart by the label output (the instance
// name, loam.0, loam.1, …), and the listener closes with the last of them.
//
// metrics imports only the standard library and client_golang.
package metrics
