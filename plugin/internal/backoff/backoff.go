package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff between Min and Max. The zero Jitter
// uses math/rand/v2; tests inject a fixed source. A Policy is safe for
// concurrent use as long as Jitter is.
type Policy struct {
	Min time.Duration // wait before the first retry is in [Min, 2*Min]
	Max time.Duration // no wait exceeds Max
	// Jitter returns a number in [0, 1); nil means rand.Float64.
	Jitter func() float64
}

// Delay is the wait before retry number attempt (0 for the first retry);
// 0 when Min <= 0.
// It is drawn uniformly from [max(Min, hi/2), hi], where
// hi = min(Max, Min·2^(attempt+1)): the range doubles with each attempt,
// and once capped the waits still spread over [Max/2, Max] rather than
// bunching at Max.
func (p Policy) Delay(attempt int) time.Duration {
	lo, hi := p.Min, p.Max
	if lo <= 0 {
		return 0 // no minimum: retry at once
	}
	if hi < lo {
		hi = lo
	}
	// Double Min attempt+1 times, stopping at Max, without overflowing for
	// any attempt count or Max.
	top := lo
	for i := 0; i <= attempt && top < hi; i++ {
		if top > hi/2 {
			top = hi
			break
		}
		top *= 2
	}
	bottom := top / 2
	if bottom < lo {
		bottom = lo
	}
	j := p.jitter()
	if j < 0 {
		j = 0
	} else if j >= 1 {
		j = 1
	}
	return bottom + time.Duration(j*float64(top-bottom))
}

func (p Policy) jitter() float64 {
	if p.Jitter != nil {
		return p.Jitter()
	}
	return rand.Float64()
}

// Sleep waits for d or until ctx is done, whichever comes first, and
// returns ctx.Err() in the second case: a shutting-down Fluent Bit must not
// wait out a long backoff.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
