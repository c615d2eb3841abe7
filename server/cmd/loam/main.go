// Command loam is the Loam log server: it speaks Grafana Loki's HTTP API and
// keeps logs in a WAL and compressed, label-indexed blocks.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loam-logs/loam/server/api"
	"github.com/loam-logs/loam/server/auth"
	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/deletes"
	"github.com/loam-logs/loam/server/distributor"
	"github.com/loam-logs/loam/server/overrides"
	"github.com/loam-logs/loam/server/ring"
	"github.com/loam-logs/loam/server/store"
	"github.com/loam-logs/loam/server/tlsfiles"
	"github.com/loam-logs/loam/server/wal"
)

func main() {
	if len(os.Args) > 1 {
		if hash, ok := hashCommands[os.Args[1]]; ok {
			os.Exit(runHash(os.Args[1], hash, os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
		}
	}
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loam:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "loam:", err)
		os.Exit(1)
	}
}

func run(cfg *config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("-log.level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	block.IndexCacheBytes.Store(cfg.Block.IndexCacheBytes)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// A runtime configuration file that does not parse stops the start, as
	// in Loki; later, a bad version only keeps the last good one.
	limits, err := overrides.New(cfg.Limits, overrides.Config{File: cfg.RuntimeConfig.File, ReloadPeriod: cfg.RuntimeConfig.Period,
		Logger: log, Metrics: overrides.NewMetrics(reg)})
	if err != nil {
		return err
	}
	reloadCtx, stopReload := context.WithCancel(context.Background())
	defer stopReload()
	go limits.Run(reloadCtx)

	// An auth file that does not parse stops the start: the server must
	// not come up open, or refusing everyone, by mistake.
	guard, err := auth.New(auth.Config{Enabled: cfg.Auth.Enabled, File: cfg.Auth.File, MetricsTokenFile: cfg.Auth.MetricsTokenFile,
		ReloadPeriod: cfg.Auth.ReloadPeriod, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	go guard.Run(reloadCtx)

	a := api.New(api.Options{
		MaxPushBodyBytes:          cfg.Push.MaxBodyBytes,
		MaxPushDecompressedBytes:  cfg.Push.MaxDecompressedBytes,
		MaxConcurrentQueries:      cfg.Query.MaxConcurrent,
		MultiTenantQueries:        cfg.Querier.MultiTenantQueriesEnabled,
		MaxQueuedQueriesPerTenant: noBound(cfg.Query.MaxOutstandingPerTenant),
		DefaultTenant:             cfg.DefaultTenant,
		Limits:                    limits,
		Config:                    cfg,
		DefaultConfig:             defaultConfig(),
		Guard:                     guard,
	}, log, reg, reg)

	// The delete requests are read before the store opens: its reads hide
	// their lines from the start.
	dels, err := deletes.Open(deletes.Options{Dir: cfg.DataDir, Delay: cfg.Retention.DeleteDelay, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}

	// A certificate that cannot be read stops the start, as the auth file.
	var tlsFiles *tlsfiles.Server
	if cfg.HTTPTLS.CertFile != "" {
		if tlsFiles, err = tlsfiles.New(tlsfiles.Config{CertFile: cfg.HTTPTLS.CertFile, KeyFile: cfg.HTTPTLS.KeyFile,
			ClientCAFile: cfg.HTTPTLS.ClientCAFile, ReloadPeriod: cfg.HTTPTLS.ReloadPeriod, Logger: log, Registerer: reg}); err != nil {
			return err
		}
		go tlsFiles.Run(reloadCtx)
	}

	// The ring starts JOINING (gossip only: no memberlist at all when not
	// clustered) and turns ACTIVE once the store has replayed its WAL.
	rg, err := startRing(cfg, log, reg)
	if err != nil {
		return err
	}
	var node *clusterNode
	if rg != nil {
		defer rg.Shutdown() // on an early return; after Leave it does nothing
		a.Mount("/ring", http.HandlerFunc(rg.ServeStatus), "GET")
		a.Mount("/ring/forget", http.HandlerFunc(rg.ServeForget), "POST")
		node = mountCluster(a, rg, cfg)
		if err := node.transport(cfg, tlsFiles); err != nil {
			return err
		}
		d, err := node.deletesAPI(cfg, dels, log)
		if err != nil {
			return err
		}
		a.ServeDeletes(d)
	} else {
		a.ServeDeletes(dels)
	}

	// Listen first, so that /ready answers "not ready" during WAL replay.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	if tlsFiles != nil {
		ln = tls.NewListener(ln, tlsFiles.TLSConfig())
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "tls", tlsFiles != nil, "data_dir", cfg.DataDir)

	policy, _ := wal.ParseSyncPolicy(cfg.WAL.Fsync)
	lvl, _ := block.ParseLevel(cfg.Block.Compression)
	clvl, _ := block.ParseLevel(cfg.Compaction.Compression)
	st, err := store.Open(store.Options{
		Dir: cfg.DataDir,
		WAL: wal.Options{SegmentSize: cfg.WAL.SegmentBytes, SyncPolicy: policy, SyncInterval: cfg.WAL.FsyncPeriod,
			Metrics: wal.NewMetrics(reg)},
		MaxHeadBytes:        cfg.Head.MaxBytes,
		MaxHeadAge:          cfg.Head.MaxAge,
		IdleFlush:           cfg.Head.IdleFlush,
		OutOfOrderWindow:    cfg.Head.OutOfOrderWindow,
		Block:               block.Options{ChunkTargetSize: cfg.Block.ChunkTargetSize, Level: lvl},
		CompactionFanIn:     cfg.Compaction.FanIn,
		CompactionLevel:     clvl,
		CompactionColdAfter: cfg.Compaction.ColdAfter,
		RetentionOptions: store.RetentionOptions{Interval: cfg.Retention.Interval, MinAge: cfg.Retention.MinAge,
			MaxDiskUsage: cfg.Retention.MaxDiskUsage, MaxBytes: cfg.Retention.MaxBytes},
		Retention:  limits,
		Tombstones: dels,
		Logger:     log,
		Metrics:    store.NewMetrics(reg),
	})
	if err != nil {
		return err
	}
	var appender distributor.Appender = st
	if node != nil {
		rep, err := node.serve(cfg, st, log, reg)
		if err != nil {
			return err
		}
		appender = rep
	}
	dist := distributor.New(limits, appender, reg)
	dist.CountNamespaces(cfg.Metrics.NamespaceTopN, time.Minute, reg)
	strategy, _ := distributor.ParseStrategy(cfg.Distributor.IngestionRateStrategy) // checked by validate
	if rg != nil {
		dist.ShareLimits(strategy, ringMembers{rg})
	} else {
		dist.ShareLimits(strategy, nil)
	}
	if node != nil {
		a.ServeFrom(node.reader, dist, st)
	} else {
		a.Serve(dist, st)
	}
	dels.Start(st)
	if rg != nil {
		if err := rg.SetState(ring.Active); err != nil {
			return err
		}
	}
	log.Info("ready")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case err := <-serveErr:
		log.Error("HTTP server stopped", "err", err)
	}
	if node != nil {
		// Gossip LEAVING first, so that the others stop sending this node
		// writes while it still serves the ones under way, and hand the
		// data over to the nodes that own it without this one.
		node.leave(log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	a.Stop()
	dels.Stop()
	if err := st.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	log.Info("stopped")
	return nil
}

// ringMembers counts the nodes that share each tenant's limits under the
// global strategy: the ACTIVE members gossip sees healthy, and this node
// (which takes pushes while JOINING too).
type ringMembers struct{ r *ring.Ring }

func (m ringMembers) HealthyMembers() int {
	n := 0
	for _, mb := range m.r.Members() {
		if mb.Name == m.r.Name() || (mb.State == ring.Active && m.r.Healthy(mb.Name)) {
			n++
		}
	}
	return n
}

// noBound maps a flag's 0 (no bound) to api.Options' -1; api takes 0 as
// its default.
func noBound(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
