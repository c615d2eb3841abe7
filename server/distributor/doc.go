// Package distributor validates pushes and hands them to storage: label and
// line checks, per-tenant limits, and (with replication) the fan-out to the
// owners of each stream.
//
// It imports push, labels and store; never logql or api.
package distributor
