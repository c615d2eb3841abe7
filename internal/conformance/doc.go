// Package conformance replays the LogQL conformance corpus into a
// Loki-compatible server and compares its answers with the ones Grafana Loki
// gave, recorded in a cases file (see e2e/testdata/conformance/README.md).
//
// The corpus covers one fixed hour. It is pushed shifted by a whole number of
// hours (a Shift) so that it ends 5 to 65 minutes before now; every case's
// start, end and time parameters are shifted the same way and the answers are
// shifted back before they are compared, so the recorded answers hold on any
// day. The push and the queries take a Target each, so that a corpus pushed
// through one node can be queried through another.
//
// Answers are reduced to what must match (Normalize) — the HTTP status, the
// result type, the set of streams with their entries in order, series points
// with values equal within a relative 1e-6, label lists sorted — and stats
// and the order of streams and series are ignored. The reduction and the
// comparison follow Loki's conformance.py, which recorded the cases, so that
// both runners pass and fail the same answers.
//
// Nothing here holds state between calls: every function may be called from
// several goroutines at once.
package conformance
