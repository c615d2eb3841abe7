// Package api serves Loki's HTTP API: push, queries, labels and series, the
// tail websocket and patterns; the index endpoints (stats, volume), the
// detected labels and fields Grafana's Logs Drilldown lists, and the
// metadata endpoints (buildinfo, drilldown-limits, format_query); the
// readiness probe and metrics. It parses HTTP parameters the way Loki does
// and writes Loki's JSON, and holds no storage or query logic of its own.
package api
