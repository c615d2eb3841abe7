// Package ngram is a per-chunk n-gram filter.
package ngram
