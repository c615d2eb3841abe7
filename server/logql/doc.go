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
// The parser reads all of LogQL as Grafana Loki does: log queries with
// line filters (|= != |~ !~ |> !>, with `or` alternatives and ip("…")),
// parsers (json, logfmt, with name="expression" or bare-name parameters,
// regexp, pattern, unpack), label filters, line_format, label_format, drop,
// keep, decolorize; and metric queries: range aggregations with unwrap,
// range and offset, vector aggregations, binary operators with bool,
// on/ignoring and group_left/group_right, label_replace and vector().
// Keywords, function and stage names are case-insensitive, as in Loki's
// lexer; label names keep their case. Operations between two numbers fold
// while parsing, as in Loki (1 > 2 is 0). The checks Loki makes when it
// builds a pipeline (regexps, ip() ranges, …) are made here too, so that a
// query Loki's query endpoints refuse fails to parse; the few it makes
// later fail when the pipeline package compiles the query. Constructs Loki
// does not have (| distinct) are errors that wrap ErrNotSupported.
//
// The printer (the String methods) returns canonical LogQL:
// ParseExpr(e.String()).String() == e.String() for every parsed e.
//
// The package imports only the labels package from this repository. The
// storage layers never import logql: the query side hands them compiled
// LineMatchers and the literal needles of Needles.
package logql
