package api

import (
	"net/http"
	"strings"

	"github.com/loam-logs/loam/server/auth"
)

// mount is a route served by another package.
type mount struct {
	path    string
	h       http.Handler
	methods []string
}

// Mount serves h at path (for the given methods; none: any) beside the
// API's routes, instrumented like them and answering whether or not the
// store is open: for endpoints of other packages, such as the ring's
// /ring. Call it before Handler. With a Guard, a mounted route needs an
// admin of every tenant, except under /internal/: the node-to-node routes
// check the cluster secret themselves, and no user credential.
func (a *API) Mount(path string, h http.Handler, methods ...string) {
	a.mounts = append(a.mounts, mount{path, h, methods})
}

// mountRoutes are the mounted routes with their rules.
func (a *API) mountRoutes() []route {
	var out []route
	for _, m := range a.mounts {
		rule := auth.Rule{Access: auth.Admin}
		if strings.HasPrefix(m.path, "/internal/") {
			rule = auth.Rule{Access: auth.Open}
		}
		out = append(out, route{path: m.path, methods: m.methods, rule: rule, h: m.h})
	}
	return out
}
