// Package client sends push requests to Loam (or Grafana Loki): one HTTP
// POST per call of Send, snappy-compressed protobuf bodies, tenant header,
// authentication and TLS from the output's config, and failover across
// several push URLs.
//
// Send makes exactly one attempt; retrying, backoff and counting belong to
// the caller (package output), which asks Retryable and RetryAfter about the
// error. A Client is safe for concurrent use by Fluent Bit's flush workers.
//
// # Dependencies
//
// client imports config and batch (for their types) and the standard
// library; nothing of server/.
package client
