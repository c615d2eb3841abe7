package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/wal"
)

// config is everything loam can be told, by flag or by YAML file. Flags set on
// the command line win over the file.
type config struct {
	HTTPAddr string `yaml:"http_addr"`
	DataDir  string `yaml:"data_dir"`
	LogLevel string `yaml:"log_level"`

	WAL struct {
		Fsync        string        `yaml:"fsync"`
		FsyncPeriod  time.Duration `yaml:"fsync_interval"`
		SegmentBytes int64         `yaml:"segment_size"`
	} `yaml:"wal"`

	Head struct {
		MaxBytes         int64         `yaml:"max_bytes"`
		MaxAge           time.Duration `yaml:"max_age"`
		IdleFlush        time.Duration `yaml:"idle_flush"`
		OutOfOrderWindow time.Duration `yaml:"out_of_order_window"`
	} `yaml:"head"`

	Block struct {
		ChunkTargetSize int    `yaml:"chunk_target_size"`
		Compression     string `yaml:"compression"`
		IndexCacheBytes int64  `yaml:"index_cache_bytes"`
	} `yaml:"block"`

	Compaction struct {
		FanIn       int           `yaml:"fan_in"`
		Compression string        `yaml:"compression"`
		ColdAfter   time.Duration `yaml:"cold_after"`
	} `yaml:"compaction"`

	Limits distributor.Limits `yaml:"limits"`

	Push struct {
		MaxBodyBytes         int64 `yaml:"max_body_bytes"`
		MaxDecompressedBytes int64 `yaml:"max_decompressed_bytes"`
	} `yaml:"push"`

	Query struct {
		MaxEntries    int           `yaml:"max_entries_limit_per_query"`
		MaxSeries     int           `yaml:"max_query_series"`
		MaxLength     time.Duration `yaml:"max_query_length"`
		MaxConcurrent int           `yaml:"max_concurrent"`
		Timeout       time.Duration `yaml:"timeout"`
	} `yaml:"query"`

	DefaultTenant string `yaml:"default_tenant"`

	GCPercent int `yaml:"gc_percent"`
}

func (c *config) register(fs *flag.FlagSet) *string {
	file := fs.String("config.file", "", "YAML configuration file; flags given on the command line override it")
	fs.StringVar(&c.HTTPAddr, "http.addr", "127.0.0.1:3100", "address to serve the HTTP API on")
	fs.StringVar(&c.DataDir, "data.dir", "./data", "directory for the WAL and the blocks")
	fs.StringVar(&c.LogLevel, "log.level", "info", "log level: debug, info, warn, error")

	fs.StringVar(&c.WAL.Fsync, "wal.fsync", "interval", "when the WAL is fsynced: interval (every -wal.fsync-interval: a power loss can lose what was acknowledged in that interval), always (before every push is acknowledged; concurrent pushes share one fsync; slower), never (the kernel decides: a power loss can lose anything not yet written back). Every push is written to the WAL before it is acknowledged, so a crash of the process alone loses nothing under any policy")
	fs.DurationVar(&c.WAL.FsyncPeriod, "wal.fsync-interval", 100*time.Millisecond, "fsync period with -wal.fsync=interval")
	fs.Int64Var(&c.WAL.SegmentBytes, "wal.segment-size", 64<<20, "bytes after which a new WAL segment is started")

	fs.Int64Var(&c.Head.MaxBytes, "head.max-bytes", 8<<20, "flush the in-memory head into blocks when it holds this many line bytes")
	fs.DurationVar(&c.Head.MaxAge, "head.max-age", 2*time.Minute, "flush the head when its oldest data is this old")
	fs.DurationVar(&c.Head.IdleFlush, "head.idle-flush", 30*time.Second, "flush the head when nothing was pushed for this long")
	fs.DurationVar(&c.Head.OutOfOrderWindow, "ingest.out-of-order-window", time.Hour, "accept entries up to this much older than their stream's newest entry")

	fs.IntVar(&c.Block.ChunkTargetSize, "block.chunk-target-size", 1<<20, "raw line bytes per chunk in a block")
	fs.StringVar(&c.Block.Compression, "block.compression", "fastest", "zstd effort for chunk lines of blocks merged while their day is live: fastest, default, better, best (the head itself is flushed uncompressed, to be merged within minutes)")
	fs.Int64Var(&c.Block.IndexCacheBytes, "block.index-cache-bytes", block.DefaultIndexCacheBytes, "memory for the block index pages (stream tables, postings) that queries read, decompressed and shared by all blocks, least recently used out first; an open block itself keeps only its index directory. 0 caches none")
	fs.IntVar(&c.Compaction.FanIn, "compaction.fan-in", 16, "merge this many blocks of one level of a day into one block of the next level")
	fs.StringVar(&c.Compaction.Compression, "compaction.compression", "best", "zstd effort for chunk lines when a day that stopped receiving data (-compaction.cold-after) is merged whole: fastest, default, better, best. Merges of a live day use -block.compression")
	fs.DurationVar(&c.Compaction.ColdAfter, "compaction.cold-after", 10*time.Minute, "merge all blocks of a day that got no new block for this long")

	d := distributor.DefaultLimits
	fs.IntVar(&c.Limits.MaxLabelNamesPerSeries, "limits.max-label-names-per-series", d.MaxLabelNamesPerSeries, "most labels a stream may have")
	fs.IntVar(&c.Limits.MaxLabelNameLength, "limits.max-label-name-length", d.MaxLabelNameLength, "longest label name, in bytes")
	fs.IntVar(&c.Limits.MaxLabelValueLength, "limits.max-label-value-length", d.MaxLabelValueLength, "longest label value, in bytes")
	fs.IntVar(&c.Limits.MaxLineSize, "limits.max-line-size", d.MaxLineSize, "longest log line, in bytes")
	fs.DurationVar(&c.Limits.RejectOldSamplesMaxAge, "limits.reject-old-samples-max-age", d.RejectOldSamplesMaxAge, "refuse entries older than this")
	fs.DurationVar(&c.Limits.CreationGracePeriod, "limits.creation-grace-period", d.CreationGracePeriod, "refuse entries more than this far in the future")

	fs.Int64Var(&c.Push.MaxBodyBytes, "push.max-body-bytes", 16<<20, "largest push body as sent (compressed)")
	fs.Int64Var(&c.Push.MaxDecompressedBytes, "push.max-decompressed-bytes", 64<<20, "largest push body after decompression")

	fs.IntVar(&c.Query.MaxEntries, "query.max-entries-limit-per-query", 5000, "largest limit a log query may ask for")
	fs.DurationVar(&c.Query.Timeout, "query.timeout", time.Minute, "longest a query may run")
	fs.IntVar(&c.Query.MaxSeries, "query.max-query-series", 500, "most series a metric query may return")
	fs.DurationVar(&c.Query.MaxLength, "query.max-query-length", 721*time.Hour, "longest time range a query may cover")
	fs.IntVar(&c.Query.MaxConcurrent, "query.max-concurrent", 4, "queries evaluated at once; more wait their turn (within -query.timeout), so that queries cannot starve ingestion")

	fs.StringVar(&c.DefaultTenant, "auth.default-tenant", "fake", "tenant of requests without an X-Scope-OrgID header")
	fs.IntVar(&c.GCPercent, "runtime.gc-percent", 50, "Go GC target (GOGC): heap growth allowed over live data before a collection. The head's lines are pointer-free, so a low value costs little CPU and keeps RSS near the live data; the GOGC environment variable, when set, wins")
	return file
}

// parseConfig reads flags, then the YAML file if one is named, then the
// flags again so that the command line wins.
func parseConfig(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loam", flag.ContinueOnError)
	file := c.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true) // a misspelt key is an error, not a silent default
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config file %s: %w", *file, err)
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
	}
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	if _, err := wal.ParseSyncPolicy(c.WAL.Fsync); err != nil {
		errs = append(errs, fmt.Errorf("-wal.fsync: %w", err))
	}
	if _, ok := block.ParseLevel(c.Block.Compression); !ok {
		errs = append(errs, fmt.Errorf("-block.compression: %q is not one of fastest, default, better, best", c.Block.Compression))
	}
	if _, ok := block.ParseLevel(c.Compaction.Compression); !ok {
		errs = append(errs, fmt.Errorf("-compaction.compression: %q is not one of fastest, default, better, best", c.Compaction.Compression))
	}
	if c.Compaction.FanIn < 2 {
		errs = append(errs, fmt.Errorf("-compaction.fan-in must be at least 2"))
	}
	if c.Head.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("-head.max-bytes must be positive"))
	}
	if c.Block.ChunkTargetSize <= 0 {
		errs = append(errs, fmt.Errorf("-block.chunk-target-size must be positive"))
	}
	if c.Block.IndexCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("-block.index-cache-bytes must not be negative"))
	}
	return errors.Join(errs...)
}
