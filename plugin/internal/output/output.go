package output

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/loam-logs/loam/plugin/internal/backoff"
	"github.com/loam-logs/loam/plugin/internal/batch"
	"github.com/loam-logs/loam/plugin/internal/client"
	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/plugin/internal/metrics"
)

// Status is a flush's answer to Fluent Bit.
type Status int

// The values are Fluent Bit's FLB_ERROR, FLB_OK and FLB_RETRY.
const (
	Error Status = 0 // drop the chunk: it can never be delivered
	OK    Status = 1 // every record was accepted by the server
	Retry Status = 2 // keep the chunk and flush it again later
)

func (s Status) String() string {
	switch s {
	case Error:
		return "ERROR"
	case OK:
		return "OK"
	case Retry:
		return "RETRY"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// sender delivers one request in one attempt; *client.Client is the real
// one.
type sender interface {
	Send(ctx context.Context, r batch.Request) error
}

// Instance is one output section's state. Create it with New; Flush is safe
// for concurrent use.
type Instance struct {
	name    string
	cfg     *config.Config
	send    sender
	client  *client.Client
	backoff backoff.Policy
	metrics *metrics.Metrics
	log     *logger

	// builders holds *batch.Builder: one per flush in progress, reused
	// across flushes so their buffers are too.
	builders sync.Pool

	closing   context.Context // cancelled by Close: in-flight retries stop
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New creates the output instance name (Fluent Bit's instance name, e.g.
// loam.0) from a validated config. It fails, naming the key, when the
// metrics endpoint cannot listen or the config cannot build requests, so
// that Fluent Bit stops at start-up.
func New(cfg *config.Config, name string) (*Instance, error) {
	b, err := batch.NewBuilder(cfg)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", name, err)
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", name, err)
	}
	m, err := metrics.New(cfg.MetricsAddr, name)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("output %s: %w", name, err)
	}
	in := &Instance{
		name:    name,
		cfg:     cfg,
		send:    c,
		client:  c,
		backoff: backoff.Policy{Min: cfg.MinBackoff, Max: cfg.MaxBackoff},
		metrics: m,
		log:     newLogger(os.Stderr, name),
	}
	in.builders.New = func() any {
		b, err := batch.NewBuilder(cfg)
		if err != nil {
			return nil // cannot happen: the same cfg built one above
		}
		return b
	}
	in.builders.Put(b)
	in.closing, in.cancel = context.WithCancel(context.Background())
	return in, nil
}

// Name is the instance name given to New.
func (in *Instance) Name() string { return in.name }

// MetricsAddr is the address the metrics endpoint listens on, "" without
// one.
func (in *Instance) MetricsAddr() string { return in.metrics.Addr() }

// Flush delivers one chunk of msgpack events with Fluent Bit tag tag and
// says what Fluent Bit should do with it (see the package doc). chunk
// belongs to Fluent Bit and is not used after Flush returns. ctx, or Close,
// cancels retries: the flush then answers Retry.
func (in *Instance) Flush(ctx context.Context, chunk []byte, tag string) Status {
	inFlight := float64(len(chunk))
	in.metrics.Buffered.Add(inFlight)
	defer in.metrics.Buffered.Sub(inFlight)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(in.closing, cancel)
	defer stop()

	b, _ := in.builders.Get().(*batch.Builder)
	if b == nil {
		in.log.errorf("builder", "no request builder available; answering retry")
		return Retry
	}
	// The Requests below point into b's buffers: b goes back to the pool
	// only once they have all been sent.
	defer in.builders.Put(b)

	res, err := b.Build(chunk, tag)
	if err != nil {
		in.log.errorf("decode", "%v; dropping the chunk (%d bytes)", err, len(chunk))
		return Error
	}
	if res.Invalid > 0 {
		in.log.warnf("invalid", "skipped %d invalid events of chunk of tag %q, the first: %v", res.Invalid, tag, res.FirstInvalid)
	}

	status := OK
	for i, r := range res.Requests {
		err := in.deliver(ctx, r)
		if err == nil {
			continue
		}
		if client.Retryable(err) || ctx.Err() != nil {
			// Fluent Bit will flush the whole chunk again, so requests
			// 0..i-1, already accepted, are pushed a second time. That is
			// harmless: the server (Loam, and Loki too) drops an entry
			// identical to one it has (same stream, timestamp and line).
			in.log.warnf("retry chunk", "%v; answering retry for chunk of tag %q (%d of %d requests delivered, Fluent Bit will flush it again)",
				err, tag, i, len(res.Requests))
			return Retry
		}
		// Non-retryable: this request's records can never be delivered;
		// the others may be.
		code := 0
		var se *client.StatusError
		if errors.As(err, &se) {
			code = se.Code
			in.metrics.Rejected(code).Inc()
		}
		in.metrics.DroppedRejected.Add(float64(r.Records))
		in.log.warnf("reject "+strconv.Itoa(code), "%v (%s%d records dropped)", err, tenantNote(r.Tenant), r.Records)
		status = Error
	}
	// Counted only on a final answer: after Retry the chunk comes back and
	// would be counted again.
	in.metrics.DroppedExcluded.Add(float64(res.Dropped))
	in.metrics.DroppedInvalid.Add(float64(res.Invalid))
	return status
}

func tenantNote(t string) string {
	if t == "" {
		return ""
	}
	return "tenant " + strconv.Quote(t) + ", "
}

// deliver sends r, retrying retryable failures up to MaxRetries times with
// backoff (or the server's Retry-After, capped at MaxBackoff) in between.
// It returns nil or the last error.
func (in *Instance) deliver(ctx context.Context, r batch.Request) error {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := in.send.Send(ctx, r)
		in.metrics.Duration.Observe(time.Since(start).Seconds())
		if err == nil {
			in.metrics.Batches.Inc()
			in.metrics.Records.Add(float64(r.Records))
			in.metrics.Bytes.Add(float64(r.Bytes))
			return nil
		}
		if !client.Retryable(err) || attempt >= in.cfg.MaxRetries || ctx.Err() != nil {
			return err
		}
		wait := in.backoff.Delay(attempt)
		if ra := min(client.RetryAfter(err), in.cfg.MaxBackoff); ra > wait {
			wait = ra
		}
		in.log.warnf("retry", "%v; retry %d of %d in %s", err, attempt+1, in.cfg.MaxRetries, wait.Round(time.Millisecond))
		in.metrics.Retries.Inc()
		if backoff.Sleep(ctx, wait) != nil {
			return err
		}
	}
}

// Close stops retries in progress, releases the metrics endpoint (the
// listener closes with the last instance using it) and idle connections.
// Calling it again does nothing.
func (in *Instance) Close() error {
	var err error
	in.closeOnce.Do(func() {
		in.cancel()
		err = in.metrics.Close()
		in.client.Close()
	})
	return err
}
