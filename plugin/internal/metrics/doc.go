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
// The endpoint serves the Prometheus text format 0.0.4, written by a small
// client of its own (prom.go) rather than client_golang, whose package
// initialisation alone costs the c-shared plugin megabytes of resident
// memory. Families and series are sorted, so scrapes are stable. Besides
// the plugin's families, a served endpoint has process_cpu_seconds_total
// and process_resident_memory_bytes of the Fluent Bit process (Linux).
//
// metrics imports only the standard library.
package metrics
