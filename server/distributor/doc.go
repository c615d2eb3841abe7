// Package distributor validates pushes and hands them to storage: label and
// line checks, then the per-tenant rate and stream limits (Loki's
// ingestion_rate_mb, per_stream_rate_limit, max_global_streams_per_user,
// with Loki's messages), and (with replication) the fan-out to the owners
// of each stream through the Appender it is given.
//
// Validation refusals are a *ValidationError (400); limit refusals a
// *LimitError (429). Either way the rest of the push is stored. The limits'
// state (token buckets, active streams) lives in memory per node, one lock
// per tenant; ShareLimits says how a cluster's nodes share a tenant's limit
// (Loki's local and global strategies).
//
// It imports push, labels, block (its Entry), store and overrides (the
// limits of each tenant); never the query side (logql's engine, api).
package distributor
