// Package detected holds what Loki's "detected" endpoints compute, which
// Grafana's Logs Drilldown calls to list what a selection of logs holds:
//
//   - fields (/detected_fields): the structured metadata of the newest
//     lines and the labels that | json or, failing that, | logfmt extract
//     from them, each with its type, its number of distinct values, the
//     parsers that found it and, for JSON, the path of keys it came from;
//   - field values (/detected_field/{name}/values): the distinct values of
//     one such field;
//   - labels (/detected_labels): which stream labels are worth offering as
//     a breakdown, leaving out those whose values are all IDs.
//
// The rules follow Grafana Loki 3 (its query frontend and querier); the
// comments say where this package differs. It works on lines a query has
// already read: it imports labels, logql/extract and bytesize, never the
// store or the API.
package detected
