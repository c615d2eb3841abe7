// Package extract holds the label extractors behind LogQL's parser stages:
// | json, | json a="x.y", | logfmt (with --strict, --keep-empty and
// a="key" parameters), | regexp, | pattern and | unpack.
//
// Each extractor reads one log line and reports the labels it finds to an
// Emit callback, in the order Grafana Loki sets them, and returns an *Error
// when the line does not parse. The semantics follow Loki 3 exactly (the
// conformance answers are Loki's), including its quirks; the comments on
// each extractor say which ones.
//
// # What the caller does
//
// The extractors know nothing of the line's other labels. Loki's rules that
// depend on them belong to the caller (the LogQL pipeline), per extracted
// label:
//
//   - Collision: if a stream label or structured-metadata label of the same
//     name exists, the label is set as name+"_extracted" instead. For
//     | unpack the check uses the raw JSON key, before sanitising (see
//     Unpack).
//   - First wins: a label already set by a parser stage earlier in the same
//     line (or earlier in the same stage) is not overwritten, except by
//     | json with parameters and | logfmt with parameters, which always set
//     their labels. Loki implements this with its parser hints'
//     Extracted/RecordExtracted, which are active for every query. | unpack
//     decides while reading and then sets what it kept unconditionally
//     (see Unpack).
//   - Parse errors: on a non-nil *Error the caller sets __error__ to Kind
//     and, when Details is not empty, __error_details__ to Details (Loki
//     keeps earlier details when a later error has none). Labels emitted
//     before the error are kept.
//   - Stopping early: Emit returns false to stop the line (Loki stops once a
//     metric query has all the labels it needs, or when a label filter
//     already rejects the line). Errors later in the line are then not
//     reported, as in Loki.
//   - Skipping: when a metric query needs no label from the line at all
//     (sum(count_over_time({…} | json [5m]))), Loki does not run the
//     parser, so such lines get no __error__ either. With a grouping, Loki
//     also skips nested JSON objects whose name cannot lead to a needed
//     label, and so misses errors inside them; JSON always descends.
//
// Emitted names are already sanitised the way Loki does it (SanitizeName),
// except where an extractor's comment says otherwise. Values share memory
// with one string copy of the line where they can, so a line costs one
// allocation however many labels it yields.
//
// Extractors are not safe for concurrent use: give each goroutine its own
// (they are cheap to build). They keep small caches of label names.
//
// The package imports only the standard library, and nothing from this
// repository: the LogQL pipeline imports it, never the other way round.
package extract
