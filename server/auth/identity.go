package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a credential may do.
type Role uint8

const (
	// RolePush may push (Fluent Bit, Promtail, Alloy).
	RolePush Role = iota + 1
	// RoleRead may use every read endpoint (Grafana, logcli).
	RoleRead
	// RoleAdmin may push and read, and alone may use the delete API; an
	// admin of every tenant (["*"]) may also flush, change the ring and
	// see the configuration and profiles.
	RoleAdmin
)

var roleNames = map[Role]string{RolePush: "push", RoleRead: "read", RoleAdmin: "admin"}

func (r Role) String() string {
	if s, ok := roleNames[r]; ok {
		return s
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// ParseRole reads push, read or admin.
func ParseRole(s string) (Role, error) {
	for r, name := range roleNames {
		if s == name {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q is not one of push, read, admin", s)
}

// Access is what a route needs.
type Access uint8

const (
	// Open routes need no credentials (/ready; the node-to-node
	// /internal/ routes, which check the cluster secret themselves).
	Open Access = iota
	// Metrics is /metrics: open, or the bearer token of
	// -auth.metrics-token-file when one is set.
	Metrics
	// Any valid credential, whatever its role (buildinfo).
	Any
	// Push needs role push or admin.
	Push
	// Read needs role read or admin.
	Read
	// Admin needs role admin; for a route that serves no one tenant, an
	// admin of every tenant.
	Admin
)

var accessNames = [...]string{Open: "open", Metrics: "metrics", Any: "any", Push: "push", Read: "read", Admin: "admin"}

func (a Access) String() string {
	if int(a) < len(accessNames) {
		return accessNames[a]
	}
	return fmt.Sprintf("access(%d)", uint8(a))
}

// allows says whether role r may use a route of access a.
func (r Role) allows(a Access) bool {
	switch a {
	case Open, Metrics, Any:
		return true
	case Push:
		return r == RolePush || r == RoleAdmin
	case Read:
		return r == RoleRead || r == RoleAdmin
	case Admin:
		return r == RoleAdmin
	}
	return false
}

// Rule is what a route asks of a request.
type Rule struct {
	Access Access
	// Tenant: the route serves the tenant X-Scope-OrgID names (or the
	// credential's only tenant when the header is absent); it must be one
	// the credential may use. A value naming several (a|b) needs each of
	// them; the route decides whether it serves several.
	Tenant bool
}

func (r Rule) String() string {
	if r.Tenant {
		return r.Access.String() + " (tenant)"
	}
	return r.Access.String()
}

// AllTenants is the tenants entry of a credential that may use every
// tenant.
const AllTenants = "*"

// Identity is who a verified credential is. It is never modified once
// made, and shared by every request that presents the credential.
type Identity struct {
	Name    string   // the user's or the token's name in the auth file
	Role    Role     //
	Tenants []string // sorted; exactly ["*"] for every tenant
}

// All says whether the identity may use every tenant.
func (id *Identity) All() bool { return len(id.Tenants) == 1 && id.Tenants[0] == AllTenants }

// MayUse says whether the identity may use tenant t.
func (id *Identity) MayUse(t string) bool {
	if id.All() {
		return true
	}
	_, ok := slices.BinarySearch(id.Tenants, t)
	return ok
}

// TenantSeparator joins the tenants of a multi-tenant X-Scope-OrgID.
const TenantSeparator = "|"

// mayUseAll says whether the identity may use every tenant the
// X-Scope-OrgID value h names (a, or a|b); when not, it returns the first
// it may not use. Empty names between separators are left to the
// handler, which refuses them.
func (id *Identity) mayUseAll(h string) (denied string, ok bool) {
	for t := range strings.SplitSeq(h, TenantSeparator) {
		if t != "" && !id.MayUse(t) {
			return t, false
		}
	}
	return "", true
}

// tenantList is the tenants for a message: "team-a, team-b" or "every tenant".
func (id *Identity) tenantList() string {
	if id.All() {
		return "every tenant"
	}
	return strings.Join(id.Tenants, ", ")
}
