package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pluginBins are the plugin under test and the C harness that loads it.
type pluginBins struct {
	so      string // out_loam.so
	harness string // plugin/harness/harness.c, compiled
}

// buildPlugin builds out_loam.so (go build -buildmode=c-shared) and the
// harness into a directory removed when t ends. LOAM_E2E_PLUGIN names a
// prebuilt .so instead. Both need a C compiler: without gcc the test is
// skipped (CI installs it).
func buildPlugin(t *testing.T) pluginBins {
	t.Helper()
	if loamBin == "" {
		t.Skip("end-to-end tests are skipped in -short mode")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: the plugin is cgo and its test harness is C; install gcc (CI does)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bins := pluginBins{so: filepath.Join(dir, "out_loam.so"), harness: filepath.Join(dir, "harness")}

	run := func(out string, cmd *exec.Cmd) {
		t.Helper()
		start := time.Now()
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
		}
		t.Logf("built %s in %s", filepath.Base(out), time.Since(start).Round(time.Millisecond))
	}
	cc := exec.Command(gcc, "-O2", "-Wall", "-pthread", "-o", bins.harness, filepath.Join(root, "plugin", "harness", "harness.c"), "-ldl")
	run(bins.harness, cc)
	if so := os.Getenv("LOAM_E2E_PLUGIN"); so != "" {
		abs, err := filepath.Abs(so)
		if err != nil {
			t.Fatal(err)
		}
		bins.so = abs
		return bins
	}
	gb := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", bins.so, "./plugin")
	gb.Dir = root
	gb.Env = append(os.Environ(), "CGO_ENABLED=1")
	run(bins.so, gb)
	return bins
}

// harness is one running harness process with out_loam.so loaded: one
// Fluent Bit, as far as the plugin can tell.
type harness struct {
	t      testing.TB
	cmd    *exec.Cmd
	in     io.WriteCloser
	answer chan string // stdout lines
	stderr *syncBuffer // the plugin's log
	dir    string      // chunk files
	files  int
	done   chan struct{}
}

// harnessTimeout bounds one command: a flush against a dead server must
// answer well within it.
const harnessTimeout = 90 * time.Second

func startHarness(t testing.TB, bins pluginBins) *harness {
	t.Helper()
	h := &harness{t: t, answer: make(chan string, 16), stderr: &syncBuffer{}, dir: t.TempDir(), done: make(chan struct{})}
	h.cmd = exec.Command(bins.harness)
	h.cmd.Stderr = h.stderr
	var err error
	if h.in, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start harness: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.answer <- sc.Text()
		}
		close(h.answer)
	}()
	go func() {
		h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(h.cleanup)
	if got := h.do("load " + bins.so); got != "ok loam" {
		t.Fatalf("load %s: %q, want \"ok loam\"", bins.so, got)
	}
	return h
}

// cleanup ends the harness the way Fluent Bit shuts down (end of input:
// every live instance exits) and reports what went wrong.
func (h *harness) cleanup() {
	h.in.Close()
	select {
	case <-h.done:
	case <-time.After(60 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
		h.t.Errorf("harness did not exit within 60s of the end of its input")
	}
	if st := h.cmd.ProcessState; st != nil && !st.Success() {
		h.t.Errorf("harness exited with %v", st)
	}
	log := h.stderr.String()
	for _, bad := range []string{"panic:", "fatal error:", "SIGSEGV", "harness: the plugin called"} {
		if strings.Contains(log, bad) {
			h.t.Errorf("harness output contains %q", bad)
		}
	}
	if h.t.Failed() {
		h.t.Logf("--- harness stderr ---\n%s--- end of harness stderr ---", log)
	}
}

// logLen is how much the harness has written to stderr so far, for
// logSince.
func (h *harness) logLen() int { return len(h.stderr.String()) }

// logSince returns what the harness wrote to stderr after offset from,
// waiting up to 10s until it contains every want (compared ignoring case):
// stderr and stdout are separate pipes, so an answer can arrive before the
// log lines the plugin wrote just before it.
func (h *harness) logSince(from int, wants ...string) string {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := h.stderr.String()[from:]
		lower, missing := strings.ToLower(log), ""
		for _, w := range wants {
			if !strings.Contains(lower, strings.ToLower(w)) {
				missing = w
				break
			}
		}
		if missing == "" {
			return log
		}
		if time.Now().After(deadline) {
			h.t.Errorf("the harness's stderr has no %q within 10s:\n%s", missing, log)
			return log
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// do sends one command (with its extra lines) and returns its answer; an
// "error …" answer fails the test.
func (h *harness) do(cmd string, extra ...string) string {
	h.t.Helper()
	a := h.try(cmd, extra...)
	if strings.HasPrefix(a, "error") {
		h.t.Fatalf("harness %q: %s\n--- stderr ---\n%s", cmd, a, h.stderr.String())
	}
	return a
}

// try is do without judging the answer.
func (h *harness) try(cmd string, extra ...string) string {
	h.t.Helper()
	msg := cmd + "\n"
	for _, l := range extra {
		msg += l + "\n"
	}
	if _, err := io.WriteString(h.in, msg); err != nil {
		h.t.Fatalf("harness %q: write: %v\n%s", cmd, err, h.stderr.String())
	}
	select {
	case a, ok := <-h.answer:
		if !ok {
			h.t.Fatalf("harness %q: it exited\n%s", cmd, h.stderr.String())
		}
		return a
	case <-time.After(harnessTimeout):
		h.t.Fatalf("harness %q: no answer within %s\n%s", cmd, harnessTimeout, h.stderr.String())
	}
	return ""
}

// init initialises one instance from key/value pairs (key, value, key,
// value, …) and returns its number and FLBPluginInit's return.
func (h *harness) init(kv ...string) (inst, ret int) {
	h.t.Helper()
	if len(kv)%2 != 0 {
		h.t.Fatalf("init: odd key/value list %q", kv)
	}
	lines := make([]string, 0, len(kv)/2+1)
	for i := 0; i < len(kv); i += 2 {
		lines = append(lines, kv[i]+" "+kv[i+1])
	}
	lines = append(lines, "end")
	a := h.do("init", lines...)
	if _, err := fmt.Sscanf(a, "%d %d", &inst, &ret); err != nil {
		h.t.Fatalf("init: answer %q is not \"<instance> <return>\"", a)
	}
	return inst, ret
}

// mustInit is init requiring FLB_OK.
func (h *harness) mustInit(kv ...string) int {
	h.t.Helper()
	inst, ret := h.init(kv...)
	if ret != flbOK {
		h.t.Fatalf("init %q: FLBPluginInit returned %d, want FLB_OK\n%s", kv, ret, h.stderr.String())
	}
	return inst
}

// chunkFile writes a chunk for the harness to read.
func (h *harness) chunkFile(chunk []byte) string {
	h.t.Helper()
	h.files++
	p := filepath.Join(h.dir, fmt.Sprintf("chunk-%d.msgpack", h.files))
	if err := os.WriteFile(p, chunk, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// flush hands chunks to FLBPluginFlushCtx of inst — several chunks at the
// same time on threads of their own, as with Workers N — and returns the
// answers in order.
func (h *harness) flush(inst int, tag string, chunks ...[]byte) []int {
	h.t.Helper()
	cmd := fmt.Sprintf("flush %d %s", inst, tag)
	for _, c := range chunks {
		cmd += " " + h.chunkFile(c)
	}
	return h.codes(cmd, h.do(cmd), len(chunks))
}

// flush1 flushes one chunk and returns FLBPluginFlushCtx's answer.
func (h *harness) flush1(inst int, tag string, chunk []byte) int {
	h.t.Helper()
	return h.flush(inst, tag, chunk)[0]
}

// flushNoCtx calls FLBPluginFlush, the fallback without a context.
func (h *harness) flushNoCtx(tag string, chunk []byte) int {
	h.t.Helper()
	cmd := "flush-noctx " + tag + " " + h.chunkFile(chunk)
	return h.codes(cmd, h.do(cmd), 1)[0]
}

func (h *harness) exit(inst int) int {
	h.t.Helper()
	cmd := fmt.Sprintf("exit %d", inst)
	return h.codes(cmd, h.do(cmd), 1)[0]
}

func (h *harness) codes(cmd, answer string, n int) []int {
	h.t.Helper()
	f := strings.Fields(answer)
	if len(f) != n {
		h.t.Fatalf("harness %q: answer %q, want %d return codes", cmd, answer, n)
	}
	out := make([]int, n)
	for i, s := range f {
		c, err := strconv.Atoi(s)
		if err != nil {
			h.t.Fatalf("harness %q: answer %q, want return codes", cmd, answer)
		}
		out[i] = c
	}
	return out
}

// Fluent Bit's return codes.
const (
	flbError = 0
	flbOK    = 1
	flbRetry = 2
)

func flbName(c int) string {
	switch c {
	case flbError:
		return "FLB_ERROR"
	case flbOK:
		return "FLB_OK"
	case flbRetry:
		return "FLB_RETRY"
	}
	return strconv.Itoa(c)
}
