// Package ngram is a per-chunk filter that can prove a substring absent
// from a chunk's lines, so that a query `|= "needle"` skips the chunk
// without decompressing it.
//
// `|=` is a case-sensitive byte substring match, so the filter holds the
// chunk's byte 5-grams: a needle may be present only if every one of its
// 5-grams is, and a needle shorter than 5 bytes cannot be filtered. Each
// distinct gram sets one bit of a bitmap sized from the chunk's distinct
// gram count to ~81% fill. Any single gram passes easily, but an absent
// needle must pass with all its grams: a 32-hex request id (28 grams)
// passes with probability ~0.81^28 < 0.5%, at filter sizes of about 0.4-2%
// of the raw line bytes. False positives only cost a decompression; false
// negatives cannot happen.
//
// Build a filter when a chunk is cut, with a Builder reused across chunks
// (it holds ~384 KiB, so one per writer, not one per open stream):
//
//	b.Reset()
//	for _, line := range lines {
//		b.Add(line)
//	}
//	stored = b.AppendFilter(stored)
//
// and query it with a Needle computed once per query:
//
//	n := ngram.NewNeedle("9f1c0a55e2b74d6c8e31f0a2b9c4d7e1")
//	if !ngram.Filter(stored).MayContain(n) { /* skip the chunk */ }
//
// A Filter is the stored bytes, read in place; a nil or corrupted one
// answers true. FORMAT.md describes the layout and the measurements behind
// the parameters.
//
// It is a leaf package: it imports nothing from the rest of the repository.
package ngram
