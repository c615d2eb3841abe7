//go:build race

package store

// raceEnabled: the race detector slows the store tenfold; tests that
// measure rather than race run smaller.
const raceEnabled = true
