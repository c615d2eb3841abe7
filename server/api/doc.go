// Package api serves Loki's HTTP API: push, queries, labels and series, the
// readiness probe and metrics. It parses HTTP parameters the way Loki does
// and writes Loki's JSON, and holds no storage or query logic of its own.
package api
