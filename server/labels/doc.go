// Package labels holds label sets and label matchers: the canonical form of a
// stream's identity, its hash, validation, and the matchers of a stream
// selector.
//
// It is a leaf package: it imports nothing from the rest of the repository, so
// the storage layers, the query engine and the Fluent Bit plugin can all use it.
package labels
