// Package output is one `[OUTPUT] Name loam` instance: it turns each chunk
// Fluent Bit flushes into push requests (package batch), delivers them
// (package client) with bounded retries and backoff, counts what happened
// (package metrics), and answers the flush with the status Fluent Bit acts
// on.
//
// # Delivery contract
//
// A flush answers OK only when every request of the chunk got a 2xx. When a
// request still fails retryably (connection error, timeout, 429, 5xx) after
// MaxRetries retries, the flush stops and answers Retry: Fluent Bit keeps
// the chunk (in its filesystem buffer when storage.type is filesystem) and
// flushes it again later with its own scheduler, across restarts. A
// non-retryable answer (4xx other than 429: bad data, credentials, wrong
// URL) is logged with the server's message, counted, and the other
// requests go on; the flush then answers Error, which makes Fluent Bit
// drop the chunk, since sending it again would be refused again. Retry wins
// over Error. A chunk that cannot be decoded answers Error.
//
// Nothing is queued inside the plugin: a chunk lives in Fluent Bit's buffer
// until its flush answers, so no record is lost when the plugin or Fluent
// Bit stops.
//
// # Concurrency
//
// Flush is safe for concurrent use: with `Workers N` Fluent Bit calls it
// from N threads at once. Each flush borrows its own batch.Builder from a
// pool; the client and metrics are shared and concurrency-safe.
//
// # Dependencies
//
// output imports the plugin's internal packages and the standard library;
// it must not import cgo or fluent-bit-go (plugin/main.go adapts it).
package output
