// Package tmpl is the template engine of LogQL's formatting stages:
//
//	| line_format "{{.method}} {{.path}} {{.status}}"
//	| label_format route="{{.method | lower}} {{.path}}"
//
// A template is Go text/template text, run with the labels of the log entry
// as its data (a map of name to value, so {{.status}} is the value of the
// status label) and with the functions Grafana Loki 3 gives its templates:
// a subset of sprig's, Loki's own, and __line__ and __timestamp__, which
// return the line and the time of the entry being formatted; FuncNames
// lists them all. Behaviour follows Loki's pkg/logql/log/fmt.go:
//
//   - A label the entry does not have reads as "" (Loki parses with
//     missingkey=zero over a map[string]string), never as "<no value>".
//   - A template that does not parse is an error when the stage is built:
//     ParseLine and ParseLabel return Loki's messages ("invalid line
//     template: …", "invalid template for label 'x': …").
//   - An execution error (a function given the wrong arguments, a bad
//     regexp, div by zero) is not fatal to the query: the caller keeps the
//     line unchanged (line_format) or leaves the label as it was
//     (label_format), and sets __error__=ErrorType and __error_details__ to
//     the error's text.
//   - Number arguments are read as Loki 3.7's spf13/cast v1.10.0 reads
//     them: "2.5" is 2 for the integer functions (add, div, int …).
//
// A *Template is safe for concurrent use. __line__ and __timestamp__ differ
// per entry, but text/template binds functions per template, not per call;
// so the parse tree is shared, and each concurrent Execute runs on its own
// clone of the template, taken from a pool, whose __line__ and
// __timestamp__ read that clone's own fields. Cloning costs a copy of the
// function tables, paid when the pool grows (or refills after a garbage
// collection emptied it), not per call. A template made
// only of text and {{.name}} actions, the usual line_format, skips
// text/template altogether and concatenates the pieces.
//
// The package imports nothing of Loam but bytesize (humanize's byte forms),
// so that logql and its pipeline can import it; outside the standard
// library it uses only sprig.
package tmpl
