package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestFirstRepairWindow(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	window := 24 * time.Hour
	for _, tc := range []struct {
		name  string
		alive time.Time // zero: no mark
		want  time.Duration
	}{
		{"no mark: a new or lost volume", time.Time{}, everything},
		{"alive a minute ago", now.Add(-time.Minute), window + 2*time.Minute},
		{"away three days", now.Add(-72 * time.Hour), window + 72*time.Hour + time.Minute},
		{"a mark from the future", now.Add(time.Hour), window + time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if !tc.alive.IsZero() {
				path := filepath.Join(dir, aliveFile)
				if err := os.WriteFile(path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(path, tc.alive, tc.alive); err != nil {
					t.Fatal(err)
				}
			}
			if got := firstRepairWindow(dir, window, now); got != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
		})
	}
}

// TestKeepAlive: the mark is written once the node has caught up, not
// before.
func TestKeepAlive(t *testing.T) {
	dir := t.TempDir()
	var caught atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); keepAlive(ctx, dir, caught.Load, slog.New(slog.DiscardHandler)) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	<-done
	if _, err := os.Stat(filepath.Join(dir, aliveFile)); err == nil {
		t.Fatal("the mark was written before the node caught up")
	}
	caught.Store(true)
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); keepAlive(ctx, dir, caught.Load, slog.New(slog.DiscardHandler)) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, aliveFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no mark once caught up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}
