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

	"github.com/loam-logs/loam/server/auth"
	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/ring"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/tlsfiles"
	"github.com/loam-logs/loam/server/wal"
)

// config is everything loam can be told, by flag or by YAML file. Flags set on
// the command line win over the file.
type config struct {
	HTTPAddr string `yaml:"http_addr"`
	// TLS of the HTTP port (package tlsfiles); none without a certificate.
	HTTPTLS struct {
		CertFile     string        `yaml:"cert_file"`
		KeyFile      string        `yaml:"key_file"`
		ClientCAFile string        `yaml:"client_ca_file"`
		ReloadPeriod time.Duration `yaml:"reload_period"`
	} `yaml:"http_tls"`
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

	Retention struct {
		MaxDiskUsage float64       `yaml:"max_disk_usage"`
		MaxBytes     int64         `yaml:"max_bytes"`
		MinAge       time.Duration `yaml:"min_age"`
		Interval     time.Duration `yaml:"interval"`
		DeleteDelay  time.Duration `yaml:"delete_delay"`
	} `yaml:"retention"`

	// Limits are the settings of every tenant the runtime configuration
	// file does not override (Loki's limits_config).
	Limits overrides.Limits `yaml:"limits"`

	RuntimeConfig struct {
		File   string        `yaml:"file"`
		Period time.Duration `yaml:"period"`
	} `yaml:"runtime_config"`

	Distributor struct {
		// IngestionRateStrategy is how a tenant's rate and stream limits
		// are shared by the nodes (distributor.Strategy); not per tenant,
		// as in Loki.
		IngestionRateStrategy string `yaml:"ingestion_rate_strategy"`
	} `yaml:"distributor"`

	Push struct {
		MaxBodyBytes         int64 `yaml:"max_body_bytes"`
		MaxDecompressedBytes int64 `yaml:"max_decompressed_bytes"`
	} `yaml:"push"`

	Query struct {
		MaxConcurrent           int `yaml:"max_concurrent"`
		MaxOutstandingPerTenant int `yaml:"max_outstanding_requests_per_tenant"`
	} `yaml:"query"`

	// Querier holds Loki's querier settings Loam has.
	Querier struct {
		MultiTenantQueriesEnabled bool `yaml:"multi_tenant_queries_enabled"`
	} `yaml:"querier"`

	Metrics struct {
		NamespaceTopN int `yaml:"namespace_top_n"`
	} `yaml:"metrics"`

	DefaultTenant string `yaml:"default_tenant"`

	// Authentication and authorization (package auth).
	Auth struct {
		Enabled          bool          `yaml:"enabled"`
		File             string        `yaml:"file"`
		ReloadPeriod     time.Duration `yaml:"reload_period"`
		MetricsTokenFile string        `yaml:"metrics_token_file"`
	} `yaml:"auth"`

	GCPercent int `yaml:"gc_percent"`

	// The cluster: this node's name, the gossip (memberlist), the token
	// ring and the secret the nodes share. With no -memberlist.join and a
	// replication factor of 1 none of it runs.
	Node struct {
		Name string `yaml:"name"`
	} `yaml:"node"`
	Memberlist struct {
		Join          []string `yaml:"join_members"`
		BindAddr      string   `yaml:"bind_addr"`
		Port          int      `yaml:"bind_port"`
		AdvertiseAddr string   `yaml:"advertise_addr"`
	} `yaml:"memberlist"`
	Ring struct {
		ReplicationFactor int           `yaml:"replication_factor"`
		Tokens            int           `yaml:"tokens"`
		RepairInterval    time.Duration `yaml:"repair_interval"`
		RepairWindow      time.Duration `yaml:"repair_window"`
	} `yaml:"ring"`
	Cluster struct {
		SecretFile  string        `yaml:"secret_file"`
		PushTimeout time.Duration `yaml:"push_timeout"`
		// TLS of the calls between nodes, made when -http.tls-cert-file
		// is set: the nodes serve HTTPS.
		TLSCAFile             string `yaml:"tls_ca_file"`
		TLSServerName         string `yaml:"tls_server_name"`
		TLSInsecureSkipVerify bool   `yaml:"tls_insecure_skip_verify"`
	} `yaml:"cluster"`
	joinFlag *listFlag // -memberlist.join, told when a parse begins
}

func (c *config) register(fs *flag.FlagSet) *string {
	file := fs.String("config.file", "", "YAML configuration file; flags given on the command line override it")
	fs.StringVar(&c.HTTPAddr, "http.addr", "127.0.0.1:3100", "address to serve the HTTP API on")
	fs.StringVar(&c.HTTPTLS.CertFile, "http.tls-cert-file", "", "PEM certificate (with its chain) to serve HTTPS with on -http.addr; needs -http.tls-key-file. Read again every -http.tls-reload-period: a renewed certificate is used for new connections without a restart. Default: plain HTTP. In a cluster the nodes then call each other over HTTPS too (see -cluster.tls-*)")
	fs.StringVar(&c.HTTPTLS.KeyFile, "http.tls-key-file", "", "PEM private key of -http.tls-cert-file")
	fs.StringVar(&c.HTTPTLS.ClientCAFile, "http.tls-client-ca-file", "", "PEM CA certificates client certificates must chain to: every client must present one (mutual TLS). Read again like the certificate. Default: no client certificate asked for")
	fs.DurationVar(&c.HTTPTLS.ReloadPeriod, "http.tls-reload-period", tlsfiles.DefaultReloadPeriod, "how often the TLS certificate, key and client CA files are read again")
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

	r := store.DefaultRetentionOptions
	fs.Float64Var(&c.Retention.MaxDiskUsage, "retention.max-disk-usage", r.MaxDiskUsage, "percentage of the filesystem holding -data.dir past which the oldest data of all tenants is purged, an hour or 5% of the budget at a time (0 = no such budget)")
	fs.Int64Var(&c.Retention.MaxBytes, "retention.max-bytes", 0, "byte budget for blocks and WAL past which the oldest data of all tenants is purged (0 = none)")
	fs.DurationVar(&c.Retention.MinAge, "retention.min-age", r.MinAge, "a size purge never removes data younger than this")
	fs.DurationVar(&c.Retention.Interval, "retention.interval", r.Interval, "how often expired data and the size budgets are checked")
	fs.DurationVar(&c.Retention.DeleteDelay, "retention.delete-delay", time.Hour, "how old a delete request (/loki/api/v1/delete) is before its lines are removed from the disk by rewriting the blocks that hold them; until then it can be cancelled (Loki's delete_request_cancel_period). Queries stop returning the lines at once either way. 0 removes them at once")

	// The defaults of every tenant: -limits.*, -query.* limits, -retention.period.
	c.Limits.RegisterFlags(fs)
	fs.StringVar(&c.RuntimeConfig.File, "runtime-config.file", "", "YAML file of per-tenant overrides of the limits and the retention, in Loki's shape (overrides: {<tenant>: {retention_period: 72h, ...}}), read again every -runtime-config.reload-period without a restart; a bad file keeps the last good settings")
	fs.DurationVar(&c.RuntimeConfig.Period, "runtime-config.reload-period", overrides.DefaultReloadPeriod, "how often the -runtime-config.file is read again")

	fs.StringVar(&c.Distributor.IngestionRateStrategy, "distributor.ingestion-rate-limit-strategy", string(distributor.Global), "how the nodes of a cluster share each tenant's ingestion_rate_mb and max_global_streams_per_user, as Loki: global (each node enforces the limit divided by the number of healthy members; the burst is not divided) or local (each node enforces the whole limit on the pushes it receives). per_stream_rate_limit is always enforced per node")
	fs.Int64Var(&c.Push.MaxBodyBytes, "push.max-body-bytes", 16<<20, "largest push body as sent (compressed)")
	fs.Int64Var(&c.Push.MaxDecompressedBytes, "push.max-decompressed-bytes", 64<<20, "largest push body after decompression")

	fs.IntVar(&c.Metrics.NamespaceTopN, "metrics.namespace-top-n", 20, "Kubernetes namespaces (the namespace label) whose ingested lines and bytes get series of their own in loam_namespace_ingested_lines_total and _bytes_total: the top N by volume over the last minute; the others count as namespace \"other\". 0: no such metrics")
	fs.IntVar(&c.Query.MaxConcurrent, "query.max-concurrent", 4, "queries evaluated at once; more wait their turn (within -query.timeout), so that queries cannot starve ingestion")
	fs.IntVar(&c.Query.MaxOutstandingPerTenant, "query.max-outstanding-requests-per-tenant", 2048, "reads of one tenant that may wait for a -query.max-concurrent slot; more are refused with 429 (Loki's max_outstanding_requests_per_tenant). Slots are shared fairly: a freed slot goes to the waiting tenant holding the fewest. 0: no bound")

	fs.BoolVar(&c.Querier.MultiTenantQueriesEnabled, "querier.multi-tenant-queries-enabled", false, "let a read name several tenants, X-Scope-OrgID: a|b, on every read endpoint (queries, labels, series, index, Drilldown, patterns, tail), as Loki: streams and series carry the label __tenant_id__, which selectors may match ({__tenant_id__=\"a\"}), and the most restrictive query limits of the tenants apply. With -auth.enabled the credential must be allowed every tenant named. Pushes and deletes stay single-tenant. Off: such reads are refused with 400")
	fs.StringVar(&c.DefaultTenant, "auth.default-tenant", "fake", "tenant of requests without an X-Scope-OrgID header (with -auth.enabled: none; a credential of one tenant uses that one)")
	fs.BoolVar(&c.Auth.Enabled, "auth.enabled", false, "require credentials of -auth.file (HTTP basic auth or a bearer token) on every endpoint but /ready, /metrics and the node-to-node /internal/ ones: each credential has a role (push, read, admin) and the tenants it may use. Off: no credentials, tenant from X-Scope-OrgID")
	fs.StringVar(&c.Auth.File, "auth.file", "", "YAML file of the users (name, password_bcrypt from `loam hash-password`, tenants, role) and bearer tokens (name, token_sha256 from `loam hash-token`, tenants, role) that may use the server with -auth.enabled; read again every -auth.reload-period, a bad version keeps the last good one")
	fs.DurationVar(&c.Auth.ReloadPeriod, "auth.reload-period", auth.DefaultReloadPeriod, "how often -auth.file and -auth.metrics-token-file are read again")
	fs.StringVar(&c.Auth.MetricsTokenFile, "auth.metrics-token-file", "", "file holding the bearer token /metrics requires (for Prometheus' bearerTokenFile); read again every -auth.reload-period. Default: /metrics is open. Independent of -auth.enabled")
	fs.IntVar(&c.GCPercent, "runtime.gc-percent", 50, "Go GC target (GOGC): heap growth allowed over live data before a collection. The head's lines are pointer-free, so a low value costs little CPU and keeps RSS near the live data; the GOGC environment variable, when set, wins")
	hostname, _ := os.Hostname()
	fs.StringVar(&c.Node.Name, "node.name", hostname, "name of this node in the cluster: unique, and stable across restarts (its ring tokens derive from it)")
	c.joinFlag = &listFlag{dst: &c.Memberlist.Join}
	fs.Var(c.joinFlag, "memberlist.join", "a cluster member to join: host:port, or a DNS name whose every address is joined (a Kubernetes headless Service); repeat the flag (or separate with commas) for several. A missing port is -memberlist.port. Joining is retried in the background until a member answers, so nodes start in any order. With no join and -ring.replication-factor 1 the node runs alone, without gossip")
	fs.StringVar(&c.Memberlist.BindAddr, "memberlist.bind-addr", "0.0.0.0", "address to listen on for gossip (TCP and UDP)")
	fs.IntVar(&c.Memberlist.Port, "memberlist.port", ring.DefaultPort, "gossip port (TCP and UDP)")
	fs.StringVar(&c.Memberlist.AdvertiseAddr, "memberlist.advertise-addr", "", "IP address other nodes reach this one on: for gossip, and with the port of -http.addr for HTTP (default: the host of -memberlist.bind-addr, or a private IP of this machine when bound to 0.0.0.0)")
	fs.IntVar(&c.Ring.ReplicationFactor, "ring.replication-factor", 1, "copies of each stream, on distinct nodes of the ring; above 1 the node joins a cluster even without -memberlist.join")
	fs.IntVar(&c.Ring.Tokens, "ring.tokens", ring.DefaultTokens, "positions of this node on the ring (more: a more even share of the streams); derived from -node.name, so a restarted node gets them back")
	fs.DurationVar(&c.Ring.RepairInterval, "ring.repair-interval", 5*time.Minute, "how often each node compares its streams with the other replicas (per stream and hour: counts and timestamps) and exchanges the entries either lacks; a node that comes back, or a member seen healthy again, is compared within seconds")
	fs.DurationVar(&c.Ring.RepairWindow, "ring.repair-window", 24*time.Hour, "how far back a periodic repair compares replicas; a node that was away compares this plus the time it was away until a pass succeeds, one with a new or lost volume everything, and a node leaving with SIGTERM hands over all its data, whatever its age")
	fs.StringVar(&c.Cluster.SecretFile, "cluster.secret-file", "", "file holding the secret the nodes of a cluster share (surrounding whitespace ignored): it encrypts the gossip (AES-256 keyed by its SHA-256) and authenticates the calls between nodes. Every node needs the same. Default: none, gossip in clear")
	fs.StringVar(&c.Cluster.TLSCAFile, "cluster.tls-ca-file", "", "PEM CA certificates the other nodes' certificates must chain to, when the nodes serve HTTPS (-http.tls-cert-file). Default: those of -http.tls-client-ca-file, else the system's roots. Read at start")
	fs.StringVar(&c.Cluster.TLSServerName, "cluster.tls-server-name", "", "name the other nodes' certificates are checked against (nodes are called by IP address), e.g. the headless Service's DNS name. Default: the address called")
	fs.BoolVar(&c.Cluster.TLSInsecureSkipVerify, "cluster.tls-insecure-skip-verify", false, "call the other nodes over TLS without checking their certificates (the cluster secret still authenticates them). For tests only")
	fs.DurationVar(&c.Cluster.PushTimeout, "cluster.push-timeout", 2*time.Second, "how long a push waits for an owner of its streams; past it that owner counts as failed, and a push without a quorum of owners is answered 503 so that the client retries")
	return file
}

// defaultConfig is the configuration of no flag and no file.
func defaultConfig() *config {
	c := &config{}
	c.register(flag.NewFlagSet("loam", flag.ContinueOnError))
	return c
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
		c.joinFlag.fresh = true // the command line's joins replace the file's
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
	if c.Retention.DeleteDelay < 0 {
		errs = append(errs, fmt.Errorf("-retention.delete-delay must not be negative"))
	}
	if c.Head.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("-head.max-bytes must be positive"))
	}
	if c.Retention.MaxDiskUsage < 0 || c.Retention.MaxDiskUsage > 100 {
		errs = append(errs, fmt.Errorf("-retention.max-disk-usage must be a percentage between 0 and 100"))
	}
	if c.Retention.MaxBytes < 0 || c.Retention.MinAge < 0 || c.Retention.Interval <= 0 {
		errs = append(errs, fmt.Errorf("-retention.max-bytes and -retention.min-age must not be negative, -retention.interval must be positive"))
	}
	if c.Block.ChunkTargetSize <= 0 {
		errs = append(errs, fmt.Errorf("-block.chunk-target-size must be positive"))
	}
	switch t := c.HTTPTLS; {
	case (t.CertFile == "") != (t.KeyFile == ""):
		errs = append(errs, fmt.Errorf("-http.tls-cert-file and -http.tls-key-file go together"))
	case t.ClientCAFile != "" && t.CertFile == "":
		errs = append(errs, fmt.Errorf("-http.tls-client-ca-file needs -http.tls-cert-file and -http.tls-key-file: client certificates are asked for over TLS only"))
	case t.ReloadPeriod <= 0:
		errs = append(errs, fmt.Errorf("-http.tls-reload-period must be positive"))
	}
	if c.HTTPTLS.CertFile == "" && (c.Cluster.TLSCAFile != "" || c.Cluster.TLSServerName != "" || c.Cluster.TLSInsecureSkipVerify) {
		errs = append(errs, fmt.Errorf("-cluster.tls-* need -http.tls-cert-file: the nodes call each other over TLS only when they serve HTTPS"))
	}
	if c.Metrics.NamespaceTopN < 0 {
		errs = append(errs, fmt.Errorf("-metrics.namespace-top-n must not be negative"))
	}
	if c.Auth.ReloadPeriod <= 0 {
		errs = append(errs, fmt.Errorf("-auth.reload-period must be positive"))
	}
	if c.Auth.Enabled && c.Auth.File == "" {
		errs = append(errs, fmt.Errorf("-auth.enabled needs -auth.file: the users and tokens that may use the server"))
	}
	if !c.Auth.Enabled && c.Auth.File != "" {
		errs = append(errs, fmt.Errorf("-auth.file is set but -auth.enabled is not: the server would be open to anyone; add -auth.enabled (or drop -auth.file)"))
	}
	if c.RuntimeConfig.Period <= 0 {
		errs = append(errs, fmt.Errorf("-runtime-config.reload-period must be positive"))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("limits (-limits.*, -query.*, -retention.period or the limits: of -config.file): %w", err))
	}
	if _, err := distributor.ParseStrategy(c.Distributor.IngestionRateStrategy); err != nil {
		errs = append(errs, fmt.Errorf("-distributor.ingestion-rate-limit-strategy: %w", err))
	}
	if c.Block.IndexCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("-block.index-cache-bytes must not be negative"))
	}
	errs = append(errs, c.validateCluster()...)
	return errors.Join(errs...)
}
