package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
)

// takeAll flattens what a subscription delivered, per stream.
func takeAll(sub *Subscription) (map[string][]block.Entry, []TailDrop) {
	out := map[string][]block.Entry{}
	batches, drops := sub.Take()
	for _, b := range batches {
		k := b.Labels.String()
		out[k] = append(out[k], b.Entries...)
	}
	return out, drops
}

func appApp(app string) []*labels.Matcher {
	return []*labels.Matcher{labels.MustMatcher(labels.MatchEqual, "app", app)}
}

func TestTailSubscribe(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()

	// Appended before the subscription: not delivered.
	if _, err := s.Append("t1", []Stream{{ls("a"), entries(3, 1000, "before")}}); err != nil {
		t.Fatal(err)
	}
	sub, err := s.Subscribe("t1", appApp("a"), TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Subscribers("t1"); n != 1 {
		t.Fatalf("Subscribers(t1) = %d, want 1", n)
	}
	select {
	case <-sub.Ready():
		t.Fatal("ready before anything matching was appended")
	default:
	}

	line := []byte("a live line")
	meta := labels.Labels{{Name: "trace_id", Value: string([]byte("abc"))}}
	push := []Stream{
		{ls("a"), []block.Entry{{T: base + 10_000, Line: line, Meta: meta}, {T: base + 10_001, Line: []byte("second")}}},
		{ls("b"), entries(2, 1000, "other stream")},
	}
	if _, err := s.Append("t1", push); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("t2", []Stream{{ls("a"), entries(2, 1000, "other tenant")}}); err != nil {
		t.Fatal(err)
	}
	// The request buffer is reused once Append returns: the subscription
	// must hold copies.
	copy(line, "XXXXXXXXXXX")

	select {
	case <-sub.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready after a matching append")
	}
	got, drops := takeAll(sub)
	if len(drops) != 0 {
		t.Fatalf("drops %v, want none", drops)
	}
	want := map[string][]block.Entry{ls("a").String(): {
		{T: base + 10_000, Line: []byte("a live line"), Meta: meta},
		{T: base + 10_001, Line: []byte("second")},
	}}
	if !equalTailed(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if again, _ := takeAll(sub); len(again) != 0 {
		t.Fatalf("second Take returned %v, want nothing", again)
	}

	sub.Close()
	sub.Close() // idempotent
	if n := s.Subscribers("t1"); n != 0 {
		t.Fatalf("Subscribers(t1) after Close = %d, want 0", n)
	}
	if _, err := s.Append("t1", []Stream{{ls("a"), entries(2, 1000, "after close")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := takeAll(sub); len(got) != 0 {
		t.Fatalf("closed subscription received %v", got)
	}
}

func equalTailed(got, want map[string][]block.Entry) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g := got[k]
		if !slices.EqualFunc(g, w, func(a, b block.Entry) bool {
			return a.T == b.T && string(a.Line) == string(b.Line) && a.Meta.Equal(b.Meta)
		}) {
			return false
		}
	}
	return true
}

func TestTailDropsWhenFull(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	sub, err := s.Subscribe("t1", nil, TailOptions{MaxEntries: 5, MaxDrops: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	es := entries(8, 1000, "x")
	if _, err := s.Append("t1", []Stream{{ls("a"), es}}); err != nil {
		t.Fatal(err)
	}
	got, drops := takeAll(sub)
	if n := len(got[ls("a").String()]); n != 5 {
		t.Fatalf("queued %d entries, want 5", n)
	}
	// Three were dropped; the first two are listed, all are counted.
	wantDrops := []TailDrop{{Labels: ls("a"), T: es[5].T}, {Labels: ls("a"), T: es[6].T}}
	if !slices.EqualFunc(drops, wantDrops, func(a, b TailDrop) bool { return a.T == b.T && a.Labels.Equal(b.Labels) }) {
		t.Fatalf("drops %v, want %v", drops, wantDrops)
	}
	if n := sub.Dropped(); n != 3 {
		t.Fatalf("Dropped() = %d, want 3", n)
	}
	// Taking makes room again.
	if _, err := s.Append("t1", []Stream{{ls("a"), entries(2, 1, "y")}}); err != nil {
		t.Fatal(err)
	}
	got, drops = takeAll(sub)
	if n := len(got[ls("a").String()]); n != 2 || len(drops) != 0 {
		t.Fatalf("after Take: queued %d, drops %v; want 2 and none", n, drops)
	}
}

func TestTailMaxBytes(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	sub, err := s.Subscribe("t1", nil, TailOptions{MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	big := []block.Entry{{T: base, Line: []byte("a line longer than the limit")}, {T: base + 1, Line: []byte("small")}}
	if _, err := s.Append("t1", []Stream{{ls("a"), big}}); err != nil {
		t.Fatal(err)
	}
	got, drops := takeAll(sub)
	// An empty queue always takes one entry, however long, so that a long
	// line is never undeliverable; the next one does not fit behind it.
	if es := got[ls("a").String()]; len(es) != 1 || string(es[0].Line) != string(big[0].Line) {
		t.Fatalf("queued %v, want the long line alone", es)
	}
	if len(drops) != 1 || drops[0].T != base+1 {
		t.Fatalf("drops %v, want the small line", drops)
	}
}

func TestTailSubscribeClosedStore(t *testing.T) {
	s := openTest(t, t.TempDir())
	sub, err := s.Subscribe("t1", nil, TailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Stopping():
	default:
		t.Fatal("Stopping not closed after the store closed")
	}
	sub.Close()
	if _, err := s.Subscribe("t1", nil, TailOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe on a closed store: %v, want ErrClosed", err)
	}
}

// TestTailConcurrent appends from several goroutines while others subscribe,
// take and close in a loop; run it with -race. A subscription open for the
// whole run must receive every entry of its streams exactly once, in the
// order each stream was appended.
func TestTailConcurrent(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	const appenders, perAppender, batch = 4, 300, 5

	whole, err := s.Subscribe("t1", []*labels.Matcher{labels.MustMatcher(labels.MatchRegexp, "app", "w[02]")},
		TailOptions{MaxEntries: appenders * perAppender * batch})
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()

	var stop atomic.Bool
	var churn sync.WaitGroup
	for g := range 3 {
		churn.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for !stop.Load() {
				app := fmt.Sprintf("w%d", r.IntN(appenders))
				sub, err := s.Subscribe("t1", appApp(app), TailOptions{MaxEntries: 1 + r.IntN(20)})
				if err != nil {
					t.Error(err)
					return
				}
				for range r.IntN(5) {
					batches, _ := sub.Take()
					for _, b := range batches {
						if b.Labels.Get("app") != app {
							t.Errorf("subscription to %s received %s", app, b.Labels)
						}
					}
					time.Sleep(time.Duration(r.IntN(200)) * time.Microsecond)
				}
				sub.Close()
			}
		})
	}

	// The reader of the whole-run subscription.
	received := map[string][]block.Entry{}
	readerDone := make(chan struct{})
	var appendersDone atomic.Bool
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-whole.Ready():
			case <-time.After(10 * time.Millisecond):
			}
			got, drops := takeAll(whole)
			if len(drops) > 0 {
				t.Errorf("whole-run subscription dropped %d entries", len(drops))
			}
			for k, es := range got {
				received[k] = append(received[k], es...)
			}
			if appendersDone.Load() && len(got) == 0 {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for g := range appenders {
		wg.Go(func() {
			app := fmt.Sprintf("w%d", g)
			for i := range perAppender {
				es := make([]block.Entry, batch)
				for j := range es {
					n := i*batch + j
					es[j] = block.Entry{T: base + int64(n), Line: fmt.Appendf(nil, "%s %d", app, n)}
				}
				if _, err := s.Append("t1", []Stream{{ls(app), es}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	appendersDone.Store(true)
	<-readerDone
	stop.Store(true)
	churn.Wait()

	for g := range appenders {
		k := ls(fmt.Sprintf("w%d", g)).String()
		got := received[k]
		if g == 1 || g == 3 {
			if len(got) != 0 {
				t.Errorf("%s: received %d entries of a stream the matcher excludes", k, len(got))
			}
			continue
		}
		if len(got) != perAppender*batch {
			t.Errorf("%s: received %d entries, want %d", k, len(got), perAppender*batch)
			continue
		}
		for n, e := range got {
			if e.T != base+int64(n) || string(e.Line) != fmt.Sprintf("w%d %d", g, n) {
				t.Errorf("%s: entry %d is (%d, %q), out of order or wrong", k, n, e.T-base, e.Line)
				break
			}
		}
	}
	if n := s.Subscribers("t1"); n != 1 {
		t.Errorf("Subscribers(t1) = %d after the churn, want 1 (the whole-run one)", n)
	}
}

// BenchmarkTailPublish measures what tailing adds to an append of 100
// streams: nothing but an atomic load without subscriptions; matching (and
// copying what matches) with them.
func BenchmarkTailPublish(b *testing.B) {
	push := benchPush(rand.New(rand.NewPCG(1, 1)), 0, time.Now().UnixNano())
	for _, bc := range []struct {
		name     string
		matchers [][]*labels.Matcher
	}{
		{"none", nil},
		{"one-matching-nothing", [][]*labels.Matcher{{labels.MustMatcher(labels.MatchEqual, "namespace", "absent")}}},
		{"one-matching-one-stream", [][]*labels.Matcher{{labels.MustMatcher(labels.MatchEqual, "pod", "app-0-0000")}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			stop := make(chan struct{})
			defer close(stop)
			s := &Store{stop: stop} // publish needs nothing else
			var subs []*Subscription
			for _, ms := range bc.matchers {
				sub, err := s.Subscribe("bench", ms, TailOptions{})
				if err != nil {
					b.Fatal(err)
				}
				defer sub.Close()
				subs = append(subs, sub)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.tails.publish("bench", push)
				for _, sub := range subs {
					sub.Take()
				}
			}
		})
	}
}
