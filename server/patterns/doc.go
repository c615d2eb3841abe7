// Package patterns mines log patterns from log lines: it groups lines that
// differ only in their variable parts (ids, numbers, durations, names) and
// answers each group as a pattern, literal text with <_> where the lines
// differ, with its count per time step. It backs Loki's
// /loki/api/v1/patterns endpoint, which Grafana's Logs Drilldown shows.
//
// Loki mines patterns as lines arrive, in a separate pattern ingester, and
// keeps the counts. Loam has no such component: a query reads the selected
// lines back from the store and mines them then, with a Miner built for
// that one query. The answer therefore depends only on the lines in the
// queried range, and costs a read of those lines.
//
// # How lines are grouped
//
// The clustering is Drain (He et al., "Drain: An Online Log Parsing
// Approach with Fixed Depth Tree", ICWS 2017), with Loki's parameters:
//
//   - A line is split into tokens: each of the characters "'`()[]{}<>,;=|!?\&
//     is a token of its own, and the runs of other characters between them
//     and whitespace are words, so that times (12:00:01.5), paths, versions
//     and addresses stay whole. Whitespace separates tokens and is kept as
//     it was.
//   - Lines are compared only with lines of the same token count and the
//     same whitespace between tokens. A prefix tree over the first tokens
//     (up to 28) routes a line to a leaf; tokens holding a digit, and
//     tokens past the 15th distinct one at a node, take a wildcard branch.
//   - In the leaf, the line joins the group whose template shares the
//     largest fraction of tokens with it, if that fraction is at least 0.3;
//     the positions where they differ become <_>. Otherwise it starts a new
//     group.
//
// Lines are mined per stream and per level, as in Loki: the same text in two
// streams forms two groups, whose counts are added when their patterns are
// equal. A JSON line (one that starts with "{" and ends with "}") is mined
// on its message field (log, message, msg, msg_, _msg or content, the first
// present) and its pattern is "<_>message pattern<_>"; a JSON line without
// such a field is not mined, as in Loki.
//
// Each pattern can be pasted into a query as a pattern line filter,
// |> "pattern", and keeps every line that was counted under it: a <_>
// stands for at least one byte, adjacent wildcards are merged into one, and
// an identifier between literal angle brackets ("<nil>") is written as
// "<<_>>" so that the filter does not read it as a named capture (Loki would
// write "<nil>").
//
// # Levels
//
// Each pattern carries a level: trace, debug, info, warn, error, critical,
// fatal or unknown. DetectLevel finds it the way Loki's distributor fills
// detected_level: structured metadata detected_level first, then a level
// label or metadata field (level, severity, lvl, … in Loki's order), then
// the line: a level field of a JSON object (top level or one level down) or
// of logfmt, else the first level word in the line ("error", "WARN", …).
//
// # Limits
//
// Drain is a heuristic. It cannot merge lines whose variable parts change
// the token count ("took 3ms" and "took 1.2 s"), it groups by the first
// tokens so a varying word early in a line splits patterns until it has
// seen 15 values, and a line's group depends on the lines mined before it.
// Patterns are approximate summaries, not a parse.
//
// The patterns are close to Loki's, not equal. Loki tokenizes a logfmt
// line as key/value pairs (so lines that differ in a quoted msg of another
// word count can share "msg=<_>"); here logfmt is text, and "=" and quotes
// are tokens. Loki guesses a stream's format from its first line, here each
// line is looked at. Loki counts in 10-second samples held in chunks of an
// hour and fills zeros only inside a chunk; here the step is the bucket and
// zeros fill the whole span of a pattern.
//
// What is mined is bounded, like Loki's miner: lines of more than 3000
// bytes (for a JSON line, its message), of fewer than 4 or more than 80
// tokens are skipped. A Miner reads at most Options.MaxLines lines (500,000 by
// default) and holds at most Options.MaxClusters groups (50,000); lines
// that fit no group once that many exist are counted in Stats and dropped.
// Patterns returns, as Loki does, only patterns seen at least MinCount (30)
// times, at most MaxPatterns (300) of them, the most frequent first.
//
// The package imports only labels from the rest of the repository; the api
// package feeds it the lines of a store.Select.
package patterns
