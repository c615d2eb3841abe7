// Package api serves Loki's HTTP API: push, queries, labels and series, the
// tail websocket and patterns; the index endpoints (stats, volume), the
// detected labels and fields Grafana's Logs Drilldown lists, and the
// metadata endpoints (buildinfo, drilldown-limits, format_query); the
// configuration in effect (/config, /runtime_config); the readiness probe
// and metrics. Every limit of a query is the asking tenant's (Options.Limits); a
// read of several tenants (X-Scope-OrgID a|b, Options.MultiTenantQueries) is
// held to the most restrictive of theirs (tenants.go). It parses HTTP parameters the way Loki does
// and writes Loki's JSON, and holds no storage or query logic of its own.
//
// Every read endpoint reads through a Reader (the local store, or a
// fan-out over a cluster's replicas) and holds one of the
// -query.max-concurrent slots while it reads; writes go through the
// distributor. Reads waiting for a slot queue per tenant (package queue):
// a freed slot goes to the waiting tenant holding the fewest, so that one
// tenant's backlog of heavy queries does not starve another's; a tenant
// with Options.MaxQueuedQueriesPerTenant reads waiting gets 429.
//
// Every route names what it asks of a request (routes.go: open, metrics,
// any credential, push, read or admin, and whether it serves the tenant of
// X-Scope-OrgID); with Options.Guard set (package auth) each is guarded by
// its rule, and a guarded route of a tenant sees X-Scope-OrgID set to the
// tenant the guard checked.
package api
