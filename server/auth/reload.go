package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"time"
)

// Run reads the files again every reload period until ctx ends. Without
// a file to watch it returns at once.
func (g *Guard) Run(ctx context.Context) {
	if !g.cfg.Enabled && g.cfg.MetricsTokenFile == "" {
		return
	}
	t := time.NewTicker(g.cfg.ReloadPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Reload()
		}
	}
}

// Reload reads the auth file and the metrics token file now and puts a
// changed, good content in use. A bad file, or one that vanished, keeps
// the last good content; the error is logged once per distinct error and
// returned, and loam_auth_config_last_reload_successful is 0 until both
// files read well.
func (g *Guard) Reload() error { return g.load(false) }

const (
	authFile = iota
	tokenFile
)

func (g *Guard) load(start bool) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	var errs []error
	if g.cfg.Enabled {
		errs = append(errs, g.loadFile(authFile, g.cfg.File, start, func(data []byte) error {
			t, err := Parse(data)
			if err != nil {
				return err
			}
			g.table.Store(t)
			users, tokens := t.Len()
			g.log.Info("auth file loaded", "file", g.cfg.File, "users", users, "tokens", tokens)
			if users+tokens == 0 {
				g.log.Warn("the auth file names no user and no token: every request that needs a credential is refused", "file", g.cfg.File)
			}
			return nil
		}))
	}
	if g.cfg.MetricsTokenFile != "" {
		errs = append(errs, g.loadFile(tokenFile, g.cfg.MetricsTokenFile, start, func(data []byte) error {
			tok := bytes.TrimSpace(data)
			if len(tok) == 0 {
				return errors.New("the file is empty: it must hold the token /metrics requires")
			}
			sum := sha256.Sum256(tok)
			g.metricsToken.Store(&sum)
			g.log.Info("metrics token loaded", "file", g.cfg.MetricsTokenFile)
			return nil
		}))
	}
	err := errors.Join(errs...)
	if err != nil {
		g.reloadOK.Set(0)
	} else {
		g.reloadOK.Set(1)
	}
	return err
}

// loadFile reads file and, when its content changed, hands it to use. At
// start an error is returned without a log line: the caller refuses to
// start.
func (g *Guard) loadFile(i int, file string, start bool, use func([]byte) error) error {
	st := &g.files[i]
	// The whole file is read and hashed every time: it is small, and a
	// change within the mtime's granularity must not be missed.
	data, err := os.ReadFile(file)
	if err != nil {
		st.seen = false // parse it again when it is back, even unchanged
		return g.failed(st, file, err, start)
	}
	sum := sha256.Sum256(data)
	if st.seen && sum == st.sum {
		return st.lastErr
	}
	st.seen, st.sum = true, sum
	if err := use(data); err != nil {
		return g.failed(st, file, fmt.Errorf("%s: %w", file, err), start)
	}
	st.lastErr = nil
	return nil
}

// failed records a bad read, logged once per distinct error.
func (g *Guard) failed(st *watched, file string, err error, start bool) error {
	if !start && (st.lastErr == nil || st.lastErr.Error() != err.Error()) {
		g.log.Warn("auth configuration not reloaded: the last good content stays in use", "file", file, "err", err)
	}
	st.lastErr = err
	return err
}
