package api

import (
	"net/http"

	"github.com/loam-logs/loam/server/auth"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/tenants"
)

// Multi-tenant reads (Options.MultiTenantQueries, Loki's
// -querier.multi-tenant-queries-enabled): X-Scope-OrgID: a|b on a read
// endpoint reads tenants a and b as one, through a tenants.Reader over
// the backend's reader; streams and series carry __tenant_id__. The
// tenant of such a read, for its queue and its logs, is the tenants
// joined ("a|b", sorted, each once), and its limits are the most
// restrictive of theirs (mergedLimits).

// tenantIDs reads X-Scope-OrgID: the tenants it names, sorted and each
// once (Options.DefaultTenant when absent).
func (a *API) tenantIDs(r *http.Request) ([]string, error) {
	h := r.Header.Get(auth.TenantHeader)
	if h == "" {
		return []string{a.opts.DefaultTenant}, nil
	}
	ids, err := tenants.Parse(h, ValidTenant)
	if err != nil {
		return nil, errBad("%v", err)
	}
	return ids, nil
}

// tenant returns the tenant of a read: one tenant, or with
// Options.MultiTenantQueries the tenants joined (a|b). Without it several
// tenants are refused with Loki's message, as a 400.
func (a *API) tenant(r *http.Request) (string, error) {
	ids, err := a.tenantIDs(r)
	if err != nil {
		return "", err
	}
	if len(ids) > 1 && !a.opts.MultiTenantQueries {
		return "", errBad("multiple org IDs present: X-Scope-OrgID %.200q names %d tenants; reading several tenants at once needs -querier.multi-tenant-queries-enabled", tenants.Join(ids), len(ids))
	}
	return tenants.Join(ids), nil
}

// singleTenant returns the one tenant of a write (push, deletes): several
// are refused, whatever Options.MultiTenantQueries says.
func (a *API) singleTenant(r *http.Request, what string) (string, error) {
	ids, err := a.tenantIDs(r)
	if err != nil {
		return "", err
	}
	if len(ids) > 1 {
		return "", errBad("multiple org IDs present: X-Scope-OrgID %.200q names %d tenants, and %s applies to one tenant: send one request per tenant", tenants.Join(ids), len(ids), what)
	}
	return ids[0], nil
}

// reader returns what a read of tenant (as tenant returned it) reads
// from: the backend's reader, or a tenants.Reader over it for several
// tenants.
func (a *API) reader(be *backend, tenant string) Reader {
	if !tenants.IsMulti(tenant) {
		return be.read
	}
	ids, _ := tenants.Parse(tenant, func(string) error { return nil }) // made by tenant: valid
	return tenants.NewReader(be.read, ids)
}

// limitsFor returns the limits of tenant (as tenant returned it): for
// several tenants, mergedLimits of theirs.
func (a *API) limitsFor(tenant string) *overrides.Limits {
	if !tenants.IsMulti(tenant) {
		return a.opts.Limits.For(tenant)
	}
	ids, _ := tenants.Parse(tenant, func(string) error { return nil })
	ls := make([]*overrides.Limits, len(ids))
	for i, id := range ids {
		ls[i] = a.opts.Limits.For(id)
	}
	return mergedLimits(ls)
}

// mergedLimits are the query limits of a read of several tenants, each
// the most restrictive of theirs as Loki takes it: the smallest non-zero
// max_entries_limit_per_query, max_query_length and query_timeout (zero,
// no limit, only when every tenant has none), and the smallest
// max_query_series. The other settings are the first tenant's: they do
// not bound reads.
func mergedLimits(ls []*overrides.Limits) *overrides.Limits {
	out := *ls[0]
	for _, l := range ls[1:] {
		out.MaxEntriesLimitPerQuery = smallestNonZero(out.MaxEntriesLimitPerQuery, l.MaxEntriesLimitPerQuery)
		out.MaxQueryLength = smallestNonZero(out.MaxQueryLength, l.MaxQueryLength)
		out.QueryTimeout = smallestNonZero(out.QueryTimeout, l.QueryTimeout)
		out.MaxQuerySeries = min(out.MaxQuerySeries, l.MaxQuerySeries)
	}
	return &out
}

// smallestNonZero is the smaller positive of a and b; zero when neither is.
func smallestNonZero[T int | overrides.Duration](a, b T) T {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}
