// Package deletes implements Loki's log deletion: delete requests (a stream
// selector with optional line filters, and a time range) that a tenant
// adds, lists and cancels through /loki/api/v1/delete.
//
// A request's lines disappear from every read at once: the Manager is the
// store's store.Tombstones, and hides the lines of every request not yet
// processed. Once a request is older than the delete delay
// (-retention.delete-delay, Loki's delete_request_cancel_period), the
// Manager's loop has the store purge its lines from the disk (Purger),
// in parts of at most max_interval as Loki splits it, and marks it
// processed. Until then it may be cancelled; after, only with force, and
// never once processed. A processed request hides nothing any more, as in
// Loki: lines pushed later into its range show.
//
// The requests live in one JSON file of the data directory, rewritten
// atomically on every change, so that they survive restarts; a file that
// cannot be read back stops the server from starting rather than show
// deleted lines again.
//
// deletes imports logql (to parse and compile the query) and store (the
// tombstone contract); the api package serves it over HTTP.
package deletes
