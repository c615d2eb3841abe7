// Package record reads Fluent Bit records — msgpack maps, as the event
// package hands them out — without decoding them into Go values: it picks
// the values at a set of key paths in one pass (Paths.Extract), turns a value
// into the text a label or line needs (AppendText), and renders a record,
// minus some keys, as a JSON object (AppendJSON) or as logfmt key=value pairs
// (AppendKeyValue).
//
// Conventions, the same everywhere in the package:
//
//   - Keys are matched byte for byte, str and bin keys alike. When a map
//     repeats a key (Fluent Bit's Merge_Log can produce that), lookups see
//     the first one; renderings keep them all.
//   - A value as text: str and bin as their bytes; integers, floats, bools
//     and nil as their JSON text (42, 1.5, true, null; NaN and ±Inf, which
//     JSON lacks, as NaN, +Inf, -Inf); maps and arrays as JSON.
//   - JSON rendering replaces invalid UTF-8 with U+FFFD (JSON text must be
//     UTF-8), escapes only what JSON requires, renders EventTime and msgpack
//     timestamp extensions as RFC 3339 strings and any other extension as
//     null, and non-finite floats as null.
//   - logfmt rendering (key_value): pairs separated by one space; nested maps
//     are flattened with dotted keys (kubernetes.pod_name=x) so that LogQL's
//     `| logfmt` reaches them; arrays are JSON text; a value is quoted, with
//     JSON escapes, when it contains a space, '=', '"', '\', a control
//     character or invalid UTF-8; an empty value is written as key=. Key bytes that
//     logfmt cannot carry (space, '=', '"', control) become '_'.
//
// Memory: values returned by Extract and StringBytes alias the record.
//
// The package imports the msgpack primitives of github.com/tinylib/msgp and,
// for JSON string escaping, server/push.
package record
