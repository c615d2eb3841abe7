// Package auth answers "who sends this request, and may it do this?": it
// turns the credentials of an HTTP request (basic auth or a bearer token)
// into an Identity — a name, a role and the tenants it may use — and admits
// or refuses the request for the route it asks.
//
// The credentials come from the auth file (-auth.file):
//
//	users:                  # HTTP basic auth
//	  - name: fluent-bit
//	    password_bcrypt: "$2a$10$..."   # loam hash-password
//	    tenants: [team-a]               # or ["*"]: every tenant
//	    role: push                      # push | read | admin
//	tokens:                 # Authorization: Bearer <token>
//	  - name: grafana
//	    token_sha256: "<hex SHA-256 of the token>"   # loam hash-token
//	    tenants: ["*"]
//	    role: read
//
// Parse compiles a file into an immutable Table; a Guard holds the Table in
// use and swaps in a new one when the file changes (Run polls it), keeping
// the last good one when a new version is bad. A Guard is the HTTP
// middleware: Wrap(rule, h) admits the requests of a route whose Rule says
// which role it needs and whether it serves one tenant (X-Scope-OrgID).
//
// Secrets are compared in constant time. A bcrypt check costs tens of
// milliseconds, so a Table caches the basic-auth credentials it verified,
// keyed by an HMAC of what was presented under a key drawn at random for
// that Table: a reload empties the cache with the Table. Bearer tokens are
// checked by their SHA-256 and need no cache. At most a few bcrypt checks
// run at once, so that a flood of wrong passwords cannot take every core
// from ingestion.
//
// The package imports nothing of this repository: the API declares the
// small interface it uses (Wrap) where it uses it.
package auth
