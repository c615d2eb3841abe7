package distributor

// bucket is a token bucket of bytes. Its rate and size are passed on each
// call rather than stored, so that a changed limit (a reloaded overrides
// file, a member joining the cluster) applies at the next push without any
// bookkeeping. Not safe for concurrent use: its owner holds a lock.
type bucket struct {
	tokens float64
	last   int64 // unix ns of the last call; 0: never used, the bucket is full
}

// allow takes n tokens if the bucket holds them, after refilling it at
// rate tokens per second up to burst since the last call. A request larger
// than burst is never allowed, as in Loki (and golang.org/x/time/rate).
// A refused request takes nothing.
func (b *bucket) allow(now int64, n, rate, burst float64) bool {
	b.refill(now, rate, burst)
	if n > b.tokens {
		return false
	}
	b.tokens -= n
	return true
}

func (b *bucket) refill(now int64, rate, burst float64) {
	if b.last == 0 {
		b.tokens, b.last = burst, now
		return
	}
	if now > b.last { // a clock stepping back refills nothing
		b.tokens += rate * float64(now-b.last) / 1e9
		b.last = now
	}
	// A lowered burst takes effect at once.
	b.tokens = min(b.tokens, burst)
}

// full reports whether the bucket would be full at now: then it is the
// same as a new one, and may be dropped.
func (b *bucket) full(now int64, rate, burst float64) bool {
	if b.last == 0 {
		return true
	}
	return b.tokens+rate*float64(now-b.last)/1e9 >= burst
}
