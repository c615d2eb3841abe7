package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestDelay(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name     string
		min, max time.Duration
		jitter   float64
		attempt  int
		want     time.Duration
	}{
		{"first retry, low jitter", 500 * ms, 30 * time.Second, 0, 0, 500 * ms},
		{"first retry, mid jitter", 500 * ms, 30 * time.Second, 0.5, 0, 750 * ms},
		{"first retry, top jitter", 500 * ms, 30 * time.Second, 1, 0, 1000 * ms},
		{"second retry, low", 500 * ms, 30 * time.Second, 0, 1, 1000 * ms},
		{"second retry, high", 500 * ms, 30 * time.Second, 1, 1, 2000 * ms},
		{"third retry, mid", 500 * ms, 30 * time.Second, 0.5, 2, 3000 * ms},
		{"capped, low", 500 * ms, 30 * time.Second, 0, 10, 15 * time.Second},
		{"capped, high", 500 * ms, 30 * time.Second, 1, 10, 30 * time.Second},
		{"capped mid-doubling", 500 * ms, 3 * time.Second, 1, 2, 3 * time.Second},
		{"huge attempt", time.Second, time.Hour, 1, math.MaxInt, time.Hour},
		{"huge max", time.Second, math.MaxInt64, 0, 200, math.MaxInt64 / 2},
		{"min equals max", time.Second, time.Second, 0.7, 3, time.Second},
		{"max below min is min", 2 * time.Second, time.Second, 0.7, 0, 2 * time.Second},
		{"max/2 below min keeps min", 2 * time.Second, 3 * time.Second, 0, 5, 2 * time.Second},
		{"no min: no wait", 0, time.Second, 0.5, 3, 0},
		{"jitter out of range clamped", time.Second, 10 * time.Second, 7, 0, 2 * time.Second},
		{"negative jitter clamped", time.Second, 10 * time.Second, -1, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Min: tt.min, Max: tt.max, Jitter: fixed(tt.jitter)}
			if got := p.Delay(tt.attempt); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

// TestDelayBounds checks, with real randomness, that every wait stays in
// [Min, Max], that the ranges grow with the attempt, and that the jitter
// actually spreads the waits.
func TestDelayBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := Policy{Min: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: r.Float64}
	for attempt := 0; attempt < 20; attempt++ {
		seen := map[time.Duration]bool{}
		lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
		for i := 0; i < 200; i++ {
			d := p.Delay(attempt)
			if d < p.Min || d > p.Max {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, p.Min, p.Max)
			}
			seen[d] = true
			lo, hi = min(lo, d), max(hi, d)
		}
		if len(seen) < 100 {
			t.Errorf("attempt %d: only %d distinct waits in 200: jitter not spreading", attempt, len(seen))
		}
		want := min(p.Max, p.Min<<(attempt+1))
		if hi > want || lo < want/2 && lo < p.Min {
			t.Errorf("attempt %d: waits in [%v, %v], want within [%v, %v]", attempt, lo, hi, max(p.Min, want/2), want)
		}
	}
}

func TestDefaultJitter(t *testing.T) {
	p := Policy{Min: time.Second, Max: time.Minute}
	seen := map[time.Duration]bool{}
	for i := 0; i < 50; i++ {
		seen[p.Delay(3)] = true
	}
	if len(seen) < 10 {
		t.Errorf("default jitter gave %d distinct waits in 50", len(seen))
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep: %v", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0): %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if err := Sleep(ctx, time.Minute); err != context.Canceled {
		t.Fatalf("Sleep on cancelled ctx = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("cancelled Sleep took %v", el)
	}
	if err := Sleep(ctx, 0); err != context.Canceled {
		t.Fatalf("Sleep(0) on cancelled ctx = %v, want context.Canceled", err)
	}
}
