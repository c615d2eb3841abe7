package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/loam-logs/loam/server/auth"
	"github.com/loam-logs/loam/server/deletes"
)

// Deletes is what Loki's delete endpoints serve from: server/deletes'
// Manager. Its errors are *deletes.BadRequestError (400),
// deletes.ErrNotFound (404) or the disk's (500).
type Deletes interface {
	Add(tenant string, p deletes.Params) (deletes.Request, error)
	List(tenant string, p deletes.ListParams) ([]deletes.Request, error)
	Cancel(tenant, id string, force bool) error
}

// ServeDeletes has the API serve the delete endpoints from d. It must be
// called before Handler; without it they are not served (404), as in a
// Loki without retention. They answer during the WAL replay too: they need
// no store.
func (a *API) ServeDeletes(d Deletes) { a.deletes = d }

// deleteRoutes are the endpoints as Loki's compactor serves them, for
// admins of the tenant.
func (a *API) deleteRoutes() []route {
	if a.deletes == nil {
		return nil
	}
	admin := auth.Rule{Access: auth.Admin, Tenant: true}
	return []route{
		{path: "/loki/api/v1/delete", methods: []string{"PUT", "POST"}, rule: admin, h: http.HandlerFunc(a.handleDeleteAdd)},
		{path: "/loki/api/v1/delete", methods: []string{"GET"}, rule: admin, h: http.HandlerFunc(a.handleDeleteList)},
		{path: "/loki/api/v1/delete", methods: []string{"DELETE"}, rule: admin, h: http.HandlerFunc(a.handleDeleteCancel)},
	}
}

// handleDeleteAdd adds a request. Like Loki, it reads the URL's query
// only (not a form body), and answers 204 with the request's id in
// X-Delete-Request-ID.
func (a *API) handleDeleteAdd(w http.ResponseWriter, r *http.Request) {
	tenant, err := a.singleTenant(r, "the delete API")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	req, err := a.deletes.Add(tenant, deletes.Params{Query: q.Get("query"), Start: q.Get("start"), End: q.Get("end"), MaxInterval: q.Get("max_interval")})
	if err != nil {
		a.deleteError(w, err, tenant)
		return
	}
	w.Header().Set("X-Delete-Request-ID", req.ID)
	w.WriteHeader(http.StatusNoContent)
}

// handleDeleteList lists the tenant's requests, oldest first, as Loki's
// JSON array (null when there is none and no range was asked).
func (a *API) handleDeleteList(w http.ResponseWriter, r *http.Request) {
	tenant, err := a.singleTenant(r, "the delete API")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	list, err := a.deletes.List(tenant, deletes.ListParams{Start: q.Get("start"), End: q.Get("end"),
		UnprocessedOnly: q.Get("for_querytime_filtering") == "true"})
	if err != nil {
		a.deleteError(w, err, tenant)
		return
	}
	b, err := json.Marshal(list)
	if err != nil {
		a.deleteError(w, err, tenant)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// handleDeleteCancel cancels a request: 204, 404 for an unknown id, 400
// when it is too late (force=true lifts the delay, not the processing).
func (a *API) handleDeleteCancel(w http.ResponseWriter, r *http.Request) {
	tenant, err := a.singleTenant(r, "the delete API")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	if err := a.deletes.Cancel(tenant, q.Get("request_id"), q.Get("force") == "true"); err != nil {
		a.deleteError(w, err, tenant)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) deleteError(w http.ResponseWriter, err error, tenant string) {
	var br *deletes.BadRequestError
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, deletes.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		a.log.Error("delete request failed", "tenant", tenant, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
