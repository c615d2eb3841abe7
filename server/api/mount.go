package api

import (
	"net/http"

	"github.com/gorilla/mux"
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
// /ring. Call it before Handler.
func (a *API) Mount(path string, h http.Handler, methods ...string) {
	a.mounts = append(a.mounts, mount{path, h, methods})
}

func (a *API) mountRoutes(r *mux.Router) {
	for _, m := range a.mounts {
		route := r.Handle(m.path, m.h)
		if len(m.methods) > 0 {
			route.Methods(m.methods...)
		}
	}
}
