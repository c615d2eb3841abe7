// Package tenants reads several tenants as one: the multi-tenant queries
// of Loki's -querier.multi-tenant-queries-enabled, where X-Scope-OrgID
// names tenants joined by "|" (a|b).
//
// Parse reads such a header: sorted, each tenant once. Narrow applies the
// matchers of a selector on the tenant label, __tenant_id__, to the
// tenants ({__tenant_id__="a"}, !=, =~, !~ keep some of them) and returns
// the other matchers, which select streams within each tenant.
//
// A Reader serves every read of a fixed set of tenants through a reader of
// one tenant at a time (the local store, or the fan-out over a cluster):
// each read is made once per tenant left after narrowing its selector, and
// the answers are merged above. The single-tenant reader, and the wire
// format between the nodes of a cluster, know nothing of it. Streams and
// series come back with __tenant_id__ set to their tenant; how each read
// carries it follows Loki's MultiTenantQuerier (see Reader's methods).
package tenants
