package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/wal"
)

// Stream is a validated stream of a push: sorted labels and entries.
type Stream struct {
	Labels  labels.Labels
	Entries []block.Entry
}

// Options configure a Store.
type Options struct {
	Dir string // data directory: wal/ and blocks/ live under it

	WAL wal.Options

	// The head is flushed into blocks when it holds MaxHeadBytes of lines,
	// when its oldest data is MaxHeadAge old, or when nothing was appended
	// for IdleFlush.
	//
	// MaxHeadBytes also bounds the memory of heads waiting for their flush
	// (backpressure.go). While the heads together hold 4 × MaxHeadBytes or
	// more, a tenant's Append waits for a flush if the tenant holds at least
	// its fair share of that: 4 × MaxHeadBytes divided by the number of
	// tenants the heads hold lines of. Tenants under their share go on,
	// until the heads hold 8 × MaxHeadBytes, when every Append waits. So a
	// tenant flooding pushes faster than the flush writes them is slowed
	// down alone.
	MaxHeadBytes int64
	MaxHeadAge   time.Duration
	IdleFlush    time.Duration

	// OutOfOrderWindow: an entry older than its stream's newest entry by
	// more than this is rejected (Loki: max_chunk_age / 2).
	OutOfOrderWindow time.Duration

	Block block.Options

	// Compaction merges CompactionFanIn blocks of one level of a partition
	// into one of the next level, compressed at CompactionLevel; a partition
	// that got no new block for CompactionColdAfter is merged whole.
	CompactionFanIn     int
	CompactionLevel     block.Level
	CompactionColdAfter time.Duration

	// Retention says how long each stream is kept (nil: forever), and
	// Tombstones what deletions hide (nil: none); see policy.go and
	// retention.go.
	Retention  Retention
	Tombstones Tombstones

	// RetentionOptions configure the removal of old data (retention.go).
	RetentionOptions RetentionOptions

	// Now is the clock of retention (time.Now when nil), for tests.
	Now func() time.Time

	// IdleBlockReaders bounds the block readers kept open while no query
	// reads them (each holds a file descriptor and its index directory);
	// the least recently used are closed beyond it.
	IdleBlockReaders int

	Logger  *slog.Logger
	Metrics *Metrics

	// holdFlush, when set (by tests), is called by a flush before it
	// writes each frozen head: it holds the flush until it returns.
	holdFlush func()
}

// DefaultOptions holds the defaults applied to zero fields.
var DefaultOptions = Options{
	MaxHeadBytes:     8 << 20,
	MaxHeadAge:       2 * time.Minute,
	IdleFlush:        30 * time.Second,
	OutOfOrderWindow: time.Hour,
	Block:            block.DefaultOptions,

	CompactionFanIn:     16,
	CompactionLevel:     block.LevelBest,
	CompactionColdAfter: 10 * time.Minute,
	IdleBlockReaders:    256,
}

// Store is the storage engine of one node. It is safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger
	m    *Metrics
	wal  *wal.WAL

	// cutMu orders appends against a flush's cut: appends hold it shared
	// while they write the WAL and the head; a cut holds it exclusively
	// while it starts a new WAL segment and a new head, so that everything
	// in segments before the cut is in the frozen head.
	cutMu         sync.RWMutex
	mu            sync.RWMutex // guards head, frozen, parts (and the partitions' block lists)
	head          *head
	frozen        []*frozenHead
	parts         map[string]map[string]*partition // tenant → day → partition
	readers       *blockReaders                    // the blocks' open readers (handle.go)
	flushMu       sync.Mutex                       // one flush at a time
	liveCompactMu sync.Mutex                       // one live compaction at a time
	coldCompactMu sync.Mutex                       // one cold compaction at a time
	recBuf        sync.Pool
	newest        newestTimes   // of each stream, for the out-of-order window (newest.go)
	kick          chan struct{} // wakes the flusher early: the head is full
	compactKick   chan struct{}
	compactDone   chan struct{} // one token from each background loop when it ends
	retentionKick chan struct{}
	retentionMu   sync.Mutex      // one retention pass at a time
	stopCtx       context.Context // cancelled by Close, to end a running compaction
	stopCancel    context.CancelFunc
	flushedMu     sync.Mutex
	flushed       *sync.Cond   // broadcast after each flush, for appenders held back
	headBytes     atomic.Int64 // line bytes of the active and frozen heads (backpressure.go)
	stop          chan struct{}
	loopDone      chan struct{}
	tails         tailHub // live-tail subscriptions (tail.go)
	disk          diskState
}

// frozenHead is a head being flushed, with the WAL segment that follows it.
type frozenHead struct {
	h        *head
	walUntil int // segments before this one hold only this head's data (or older)
	// written holds the tenant/day blocks already written and loaded by a
	// flush of this head that failed later (a full disk): its retry skips
	// them rather than write the same lines twice. Guarded by flushMu.
	written map[string]bool
}

// partition is one tenant's blocks of one UTC day.
type partition struct {
	day     string
	blocks  []*blockHandle
	lastAdd time.Time // when a flush last added a block
	busy    bool      // a compaction is merging blocks of this partition
}

// Open opens (or creates) the store in opts.Dir, replays the WAL into the
// head and starts the background flusher.
func Open(opts Options) (*Store, error) {
	if opts.MaxHeadBytes == 0 {
		opts.MaxHeadBytes = DefaultOptions.MaxHeadBytes
	}
	if opts.MaxHeadAge == 0 {
		opts.MaxHeadAge = DefaultOptions.MaxHeadAge
	}
	if opts.IdleFlush == 0 {
		opts.IdleFlush = DefaultOptions.IdleFlush
	}
	if opts.OutOfOrderWindow == 0 {
		opts.OutOfOrderWindow = DefaultOptions.OutOfOrderWindow
	}
	if opts.CompactionFanIn < 2 {
		opts.CompactionFanIn = DefaultOptions.CompactionFanIn
	}
	if opts.CompactionLevel == 0 {
		opts.CompactionLevel = DefaultOptions.CompactionLevel
	}
	if opts.CompactionColdAfter == 0 {
		opts.CompactionColdAfter = DefaultOptions.CompactionColdAfter
	}
	if opts.IdleBlockReaders <= 0 {
		opts.IdleBlockReaders = DefaultOptions.IdleBlockReaders
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	s := &Store{opts: opts, log: opts.Logger, m: opts.Metrics, head: newHead(),
		parts: map[string]map[string]*partition{}, newest: newestTimes{m: map[uint64]newestEntry{}}, kick: make(chan struct{}, 1), compactKick: make(chan struct{}, 1), compactDone: make(chan struct{}, 3),
		retentionKick: make(chan struct{}, 1), stop: make(chan struct{}), loopDone: make(chan struct{})}
	s.readers = &blockReaders{max: opts.IdleBlockReaders, m: s.m, log: func(msg, path string, err error) {
		s.log.Error(msg, "path", path, "err", err)
	}}
	s.recBuf.New = func() any { return new(recBuffers) }
	s.flushed = sync.NewCond(&s.flushedMu)
	s.stopCtx, s.stopCancel = context.WithCancel(context.Background())
	if err := os.MkdirAll(s.blocksDir(), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := s.loadBlocks(); err != nil {
		return nil, err
	}
	walDir := filepath.Join(opts.Dir, "wal")
	walOpts := opts.WAL
	walOpts.Logger = s.log
	stats, err := wal.Replay(walDir, walOpts, s.replayRecord)
	if err != nil {
		return nil, fmt.Errorf("replay WAL: %w", err)
	}
	s.log.Info("WAL replayed", "segments", stats.Segments, "records", stats.Records,
		"bytes", stats.Bytes, "corruptions", stats.Corruptions, "duration", stats.Duration,
		"head_entries", s.head.entries.Load())
	s.wal, err = wal.Open(walDir, walOpts)
	if err != nil {
		return nil, fmt.Errorf("open WAL: %w", err)
	}
	s.updateGauges()
	go s.flushLoop()
	// Cold jobs are looked for a few times per ColdAfter, at most every 10s.
	coldTick := min(10*time.Second, max(opts.CompactionColdAfter/4, 100*time.Millisecond))
	go s.compactLoop(false, time.Hour)
	go s.compactLoop(true, coldTick)
	go s.retentionLoop()
	return s, nil
}

func (s *Store) blocksDir() string { return filepath.Join(s.opts.Dir, "blocks") }

// now is the store's clock.
func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Store) replayRecord(b []byte) error {
	tenant, streams, err := decodeRecord(b)
	if err != nil {
		// The checksum matched, so this is a bug or a newer format, not a
		// torn write: say so loudly but keep the rest of the log.
		s.log.Error("skipping undecodable WAL record", "err", err)
		return nil
	}
	// Lines alias the WAL's buffer; the head copies them.
	s.appendHead(tenant, streams)
	s.noteNewest(tenant, streams)
	return nil
}

// recBuffers are the scratch buffers of one Append.
type recBuffers struct{ raw, packed []byte }

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("store is closed")

// Rejected is an entry refused by Append.
type Rejected struct {
	Stream labels.Labels
	T      int64
	Reason string
	// Expired says the entry is past its stream's retention; otherwise it
	// is too far behind the stream's newest entry.
	Expired bool
}

// Append makes the streams durable in the WAL and then visible in the head.
// Entries too far behind their stream's newest entry are left out and
// returned; when err is nil everything else may be acknowledged. Append may
// reorder and filter the entries of streams in place.
func (s *Store) Append(tenant string, streams []Stream) ([]Rejected, error) {
	return s.append(tenant, streams, false, nil)
}

// AppendEncoded is Append for a push that is already encoded as a cluster
// node sends it to its peers: body is a Loki push request, protobuf in
// snappy's block format, holding exactly streams, each stream's labels as
// Labels.String writes them. When every entry is taken, the WAL record is
// body as it is, which spares encoding and compressing the entries again;
// otherwise the record is Append's. body is not kept.
func (s *Store) AppendEncoded(tenant string, streams []Stream, body []byte) ([]Rejected, error) {
	return s.append(tenant, streams, false, body)
}

// Restore is Append for entries another replica holds and this one lacks
// (the cluster's repair): they are stored whatever their age relative to
// their stream's newest entry, since they were acknowledged long ago;
// retention still applies. The caller drops the entries already held.
func (s *Store) Restore(tenant string, streams []Stream) ([]Rejected, error) {
	return s.append(tenant, streams, true, nil)
}

// append stores streams; encoded, when not nil, is their push as
// AppendEncoded takes it.
func (s *Store) append(tenant string, streams []Stream, anyOrder bool, encoded []byte) ([]Rejected, error) {
	given := 0
	if encoded != nil {
		given = entryCount(streams)
	}
	rejected := s.checkOrder(tenant, streams, anyOrder)
	live := streams[:0]
	for _, st := range streams {
		if len(st.Entries) > 0 {
			live = append(live, st)
		}
	}
	if len(live) == 0 {
		return rejected, nil
	}
	if encoded != nil && (len(rejected) > 0 || len(live) < len(streams) || entryCount(live) != given) {
		encoded = nil // it holds entries, or streams, not taken
	}
	streams = live
	if err := s.waitForRoom(tenant); err != nil {
		return nil, err
	}
	bufs := s.recBuf.Get().(*recBuffers)
	if encoded != nil {
		bufs.packed = appendPushRecord(bufs.packed[:0], tenant, encoded)
	} else {
		bufs.raw = appendRecord(bufs.raw[:0], tenant, streams)
		bufs.packed = compressRecord(bufs.packed, bufs.raw)
	}
	s.cutMu.RLock()
	err := s.noteAppend(s.wal.Append(bufs.packed))
	if err == nil {
		s.appendHead(tenant, streams)
		if !anyOrder {
			// Restored entries were published live by the replica that
			// took them first.
			s.tails.publish(tenant, streams)
		}
	}
	s.cutMu.RUnlock()
	if cap(bufs.raw) <= 4<<20 && cap(bufs.packed) <= 4<<20 {
		s.recBuf.Put(bufs)
	}
	if err != nil {
		return nil, err
	}
	return rejected, nil
}

// entryCount returns the number of entries of streams.
func entryCount(streams []Stream) int {
	n := 0
	for i := range streams {
		n += len(streams[i].Entries)
	}
	return n
}

func (s *Store) appendHead(tenant string, streams []Stream) {
	s.mu.RLock()
	h := s.head
	s.mu.RUnlock()
	t := h.tenant(tenant, true)
	var n, bytes int
	for i := range streams {
		st := &streams[i]
		ms, created := h.stream(t, st.Labels, st.Labels.Hash())
		if created {
			s.m.headStreams.Inc()
		}
		dn, db := ms.append(st.Entries)
		n += dn
		bytes += db
	}
	h.entries.Add(int64(n))
	h.bytes.Add(int64(bytes))
	t.bytes.Add(int64(bytes))
	s.headBytes.Add(int64(bytes))
	s.m.headEntries.Add(float64(n))
	s.m.headBytes.Add(float64(bytes))
	h.last.Store(time.Now().UnixNano())
	if h.bytes.Load() >= s.opts.MaxHeadBytes {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Tenants returns the tenants the store holds data of, sorted.
func (s *Store) Tenants() []string {
	s.mu.RLock()
	set := make(map[string]struct{}, len(s.parts))
	for t, days := range s.parts {
		if len(days) > 0 {
			set[t] = struct{}{}
		}
	}
	heads := []*head{s.head}
	for _, f := range s.frozen {
		heads = append(heads, f.h)
	}
	s.mu.RUnlock()
	for _, h := range heads {
		for _, t := range h.tenantNames() {
			set[t] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Close flushes the head into blocks and closes the WAL.
func (s *Store) Close() error {
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	close(s.stop)
	s.stopCancel()
	<-s.loopDone
	<-s.compactDone
	<-s.compactDone
	<-s.compactDone
	err := s.Flush(context.Background())
	if cerr := s.wal.Close(); err == nil {
		err = cerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ps := range s.parts {
		for _, p := range ps {
			for _, b := range p.blocks {
				b.mu.Lock()
				b.closeReader()
				b.mu.Unlock()
			}
		}
	}
	return err
}

const nsPerDay = int64(24 * time.Hour)

// dayNumber is the UTC day of t, counted from the epoch.
func dayNumber(t int64) int64 {
	d := t / nsPerDay
	if t < 0 && t%nsPerDay != 0 {
		d--
	}
	return d
}

func dayOf(t int64) string {
	return time.Unix(0, t).UTC().Format("20060102")
}
