// Package logql is the LogQL syntax layer of Loam: a lexer, a parser that
// reports positions in its error messages, the abstract syntax tree with a
// printer, and the compiled line matchers the storage engine runs on every
// log line.
//
// LogQL is the query language of Grafana Loki. A log query is a stream
// selector followed by a pipeline of stages:
//
//	{app="api", env=~"prod|staging"} |= "error" != "timeout" |~ `code=5\d\d`
//
// This version of the package fully supports log queries made of a stream
// selector and line filters (|= != |~ !~ |> !>, with `or` alternatives).
// The lexer already tokenises all of LogQL, and the parser recognises the
// rest of the language (parser stages such as | json, label filters,
// formatting stages, metric queries such as rate(...[5m]), vector
// aggregations, binary operators) well enough to reject them with an error
// that wraps ErrNotSupported and names the construct.
//
// The printer (the String methods) returns canonical LogQL:
// ParseExpr(e.String()).String() == e.String() for every parsed e.
//
// The package imports only the labels package from this repository. The
// storage layers never import logql: the query side hands them compiled
// LineMatchers and the literal needles of Needles.
package logql
