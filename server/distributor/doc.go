// Package distributor validates pushes and hands them to storage: label and
// line checks, per-tenant limits, and (with replication) the fan-out to the
// owners of each stream.
//
// It imports push, labels, block (its Entry), store and overrides (the
// limits of each tenant); never the query side (logql's engine, api).
package distributor
