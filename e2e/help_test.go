package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runLoam runs the binary to completion (bounded) and returns its combined
// output and exit code.
func runLoam(t *testing.T, args ...string) (string, int) {
	t.Helper()
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, loamBin, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("loam %s did not exit within 20s:\n%s", strings.Join(args, " "), out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("loam %s: %v", strings.Join(args, " "), err)
		return "", -1
	}
}

// flagDoc returns the help text of one flag: its line and the indented
// description lines after it.
func flagDoc(help, name string) string {
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "-"+name {
			continue
		}
		doc := l
		for _, next := range lines[i+1:] {
			if strings.HasPrefix(strings.TrimSpace(next), "-") || strings.TrimSpace(next) == "" {
				break
			}
			doc += "\n" + next
		}
		return doc
	}
	return ""
}

// TestHelpAndDefaults: -help documents the flags scripts rely on and their
// defaults; -config.file sets values and the command line wins over it;
// bad flags and files are refused with exit code 2.
func TestHelpAndDefaults(t *testing.T) {
	t.Run("help", func(t *testing.T) {
		for _, arg := range []string{"-help", "-h", "--help"} {
			out, code := runLoam(t, arg)
			if code != 0 {
				t.Errorf("loam %s exited %d, want 0:\n%s", arg, code, out)
			}
			for name, def := range map[string]string{
				"http.addr":   `(default "127.0.0.1:3100")`,
				"data.dir":    `(default "./data")`,
				"config.file": "",
				"wal.fsync":   `(default "interval")`,
				// Per-tenant settings (the Kubernetes kit mounts the file).
				"runtime-config.file":          "",
				"runtime-config.reload-period": "(default 10s)",
				"retention.period":             "(default 2w)",
				// Ingestion limits, with Loki's defaults.
				"limits.ingestion-rate-mb":                  "(default 4)",
				"limits.ingestion-burst-size-mb":            "(default 6)",
				"limits.per-stream-rate-limit":              "(default 3MB)",
				"limits.per-stream-rate-limit-burst":        "(default 15MB)",
				"limits.max-global-streams-per-user":        "(default 5000)",
				"distributor.ingestion-rate-limit-strategy": `(default "global")`,
				// Authentication (scripts and the Kubernetes kit use them).
				"auth.enabled":            "",
				"auth.file":               "",
				"auth.reload-period":      "(default 10s)",
				"auth.metrics-token-file": "",
				"http.tls-cert-file":      "",
				"http.tls-key-file":       "",
				"http.tls-client-ca-file": "",
			} {
				doc := flagDoc(out, name)
				if doc == "" {
					t.Errorf("loam %s does not document -%s:\n%s", arg, name, out)
					continue
				}
				if !strings.Contains(doc, def) {
					t.Errorf("loam %s: -%s documented as %q, want it to say %s", arg, name, doc, def)
				}
			}
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		cases := []struct {
			args []string
			msg  string
		}{
			{[]string{"-no-such-flag"}, "flag provided but not defined: -no-such-flag"},
			{[]string{"-wal.fsync", "sometimes"}, "-wal.fsync"},
			{[]string{"-block.compression", "extreme"}, "-block.compression"},
			{[]string{"-head.max-bytes", "0"}, "-head.max-bytes must be positive"},
			{[]string{"-head.max-age", "soon"}, "-head.max-age"},
			{[]string{"-config.file", filepath.Join(t.TempDir(), "missing.yaml")}, "read config file"},
			{[]string{"-retention.period", "forever"}, `invalid value "forever" for flag -retention.period`},
			{[]string{"-retention.period", "-1h"}, "retention_period must not be negative"},
			{[]string{"-limits.max-label-names-per-series", "0"}, "max_label_names_per_series must be positive"},
			{[]string{"-runtime-config.reload-period", "0s"}, "-runtime-config.reload-period must be positive"},
			{[]string{"-distributor.ingestion-rate-limit-strategy", "shared"}, `-distributor.ingestion-rate-limit-strategy: unknown ingestion rate limit strategy "shared": local or global`},
			{[]string{"-limits.ingestion-rate-mb", "0"}, "ingestion_rate_mb must be positive, is 0"},
		}
		for _, c := range cases {
			out, code := runLoam(t, c.args...)
			if code != 2 {
				t.Errorf("loam %s exited %d, want 2:\n%s", strings.Join(c.args, " "), code, out)
			}
			if !strings.Contains(out, c.msg) {
				t.Errorf("loam %s says %q, want it to mention %q", strings.Join(c.args, " "), clip(out), c.msg)
			}
		}
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(bad, []byte("http_addr: [this is: not a string\n"), 0o644)
		if out, code := runLoam(t, "-config.file", bad); code != 2 || !strings.Contains(out, bad) {
			t.Errorf("loam with an unparsable config file exited %d, want 2 naming the file:\n%s", code, out)
		}
	})

	t.Run("default data dir", func(t *testing.T) {
		work := t.TempDir()
		addr := freeAddr(t)
		l := spawnIn(t, work, addr, "-http.addr", addr)
		if err := l.waitReady(readyTimeout); err != nil {
			t.Fatalf("loam without -data.dir: %v\n%s", err, l.out.String())
		}
		if _, err := os.Stat(filepath.Join(work, "data", "wal")); err != nil {
			t.Errorf("without -data.dir the WAL is not under ./data: %v", err)
		}
		l.stop()
	})

	t.Run("config file", func(t *testing.T) {
		work := t.TempDir()
		dataDir := filepath.Join(work, "from-file")
		addr1 := freeAddr(t)
		cfg := filepath.Join(work, "loam.yaml")
		yaml := fmt.Sprintf("http_addr: %s\ndata_dir: %s\nlimits:\n  max_line_size: 100\nhead:\n  idle_flush: 1h\n", addr1, dataDir)
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		longLine := strings.Repeat("z", 200)
		e := []entry{{Labels: map[string]string{"app": "cfg"}, T: time.Now().Add(-time.Minute).UnixNano(), Line: longLine}}

		// Everything from the file.
		l := spawnIn(t, work, addr1, "-config.file", cfg)
		if err := l.waitReady(readyTimeout); err != nil {
			t.Fatalf("loam -config.file: not ready on %s (http_addr of the file): %v\n%s", addr1, err, l.out.String())
		}
		if _, err := os.Stat(filepath.Join(dataDir, "wal")); err != nil {
			t.Errorf("data_dir of the file not used: %v", err)
		}
		code, msg := l.pushRaw(t, "", ctJSON, "", jsonBody(e))
		if code != 400 || !strings.Contains(msg, "max entry size '100' bytes") {
			t.Errorf("limits.max_line_size: 100 from the file not applied: push of a 200-byte line got %d %q", code, msg)
		}
		l.stop()

		// Flags win over the file.
		addr2 := freeAddr(t)
		l2 := spawnIn(t, work, addr2, "-config.file", cfg, "-http.addr", addr2, "-limits.max-line-size", "1000")
		if err := l2.waitReady(readyTimeout); err != nil {
			t.Fatalf("-http.addr on the command line did not win over the file: not ready on %s: %v\n%s", addr2, err, l2.out.String())
		}
		if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr1 + "/ready"); err == nil {
			resp.Body.Close()
			t.Errorf("loam also answers on %s, the file's address, although -http.addr said %s", addr1, addr2)
		}
		l2.mustPush(t, "", ctJSON, "", jsonBody(e))
		got := l2.queryRange(t, "", url.Values{"query": {`{app="cfg"}`}, "start": {ns(time.Now().Add(-time.Hour))}, "end": {ns(time.Now().Add(time.Minute))}})
		if diff := diffStreams(got, expectStreams(e, func(entry) bool { return true }, 0, 1<<62, true, 100)); diff != "" {
			t.Errorf("-limits.max-line-size 1000 did not win over the file:\n%s", diff)
		}
		l2.stop()
		if _, err := os.Stat(filepath.Join(dataDir, "blocks")); err != nil {
			t.Errorf("data_dir of the file not used when other flags are given: %v", err)
		}
	})
}
