// Command out_loam is the Fluent Bit output plugin `loam`, built with
// `go build -buildmode=c-shared -o out_loam.so ./plugin`.
//
// This file is only the cgo shim Fluent Bit's Go proxy calls (see
// harness/README.md for how Fluent Bit loads it): it reads the instance's
// config keys during FLBPluginInit, hands every flush to its
// output.Instance and maps the answer to FLB_OK / FLB_RETRY / FLB_ERROR.
// Everything else lives in plain Go packages under internal/ that `go test`
// runs without cgo.
package main

import "C"

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	flb "github.com/fluent/fluent-bit-go/output"

	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/plugin/internal/output"
)

// Fluent Bit's return codes, as plain ints for the exported functions.
const (
	flbError = C.int(flb.FLB_ERROR)
	flbOK    = C.int(flb.FLB_OK)
	flbRetry = C.int(flb.FLB_RETRY)
)

// instances are the initialised, not yet closed instances, in init order.
// FLBPluginFlush (no context) needs them; FLBPluginFlushCtx does not.
var (
	mu        sync.Mutex
	instances []*output.Instance
	inited    int // instances ever initialised: names loam.0, loam.1, …
)

// pluginConfig reads keys of the instance being initialised. Fluent Bit's
// lookup is case-insensitive and answers NULL ("") for an unset or empty
// key; the pointer is only valid during FLBPluginInit.
type pluginConfig struct{ plugin unsafe.Pointer }

func (c pluginConfig) Get(key string) string { return flb.FLBPluginConfigKey(c.plugin, key) }

// FLBPluginRegister registers the output plugin `loam` once per load of the
// shared object.
//
//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) C.int {
	return C.int(flb.FLBPluginRegister(def, "loam", "Loam (and Grafana Loki) push API"))
}

// FLBPluginUnregister frees the strings FLBPluginRegister allocated.
//
//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	flb.FLBPluginUnregister(def)
}

// FLBPluginInit is called once per [OUTPUT] section, one after another. A
// bad value answers FLB_ERROR, and Fluent Bit refuses to start: it is the
// only moment config keys can be read.
//
//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) C.int {
	mu.Lock()
	name := "loam." + strconv.Itoa(inited)
	inited++
	mu.Unlock()

	cfg, err := config.Parse(pluginConfig{plugin})
	if err != nil {
		logInitError(name+": ", err)
		return flbError
	}
	inst, err := output.New(cfg, name)
	if err != nil {
		logInitError("", err) // names the instance already
		return flbError
	}
	flb.FLBPluginSetContext(plugin, inst)
	mu.Lock()
	instances = append(instances, inst)
	mu.Unlock()
	return flbOK
}

// logInitError writes err in Fluent Bit's style, one line per problem
// (config.Parse reports every bad key at once, joined by newlines).
func logInitError(prefix string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(os.Stderr, "[%s] [error] [output:loam] %s%s\n", time.Now().Format("2006/01/02 15:04:05.000"), prefix, line)
	}
}

// FLBPluginFlushCtx delivers one chunk of one instance. Fluent Bit calls it
// from its engine thread, or from N worker threads at once with `Workers N`.
// data is Fluent Bit's memory, freed once this returns: it is passed as a
// view, and whatever outlives the call is copied by the batch builder.
//
//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.size_t, tag *C.char) C.int {
	inst, ok := flb.FLBPluginGetContext(ctx).(*output.Instance)
	if !ok {
		fmt.Fprintln(os.Stderr, "[error] [output:loam] flush with an unknown plugin context")
		return flbError
	}
	return flush(inst, data, length, tag)
}

// FLBPluginFlush is the flush of hosts that pass no context. Fluent Bit
// calls it only when FLBPluginFlushCtx is missing, so it is here for other
// hosts; with several instances it cannot tell them apart and refuses.
//
//export FLBPluginFlush
func FLBPluginFlush(data unsafe.Pointer, length C.size_t, tag *C.char) C.int {
	mu.Lock()
	n := len(instances)
	var inst *output.Instance
	if n == 1 {
		inst = instances[0]
	}
	mu.Unlock()
	if inst == nil {
		fmt.Fprintf(os.Stderr, "[error] [output:loam] flush without a plugin context and %d instances: the host must call FLBPluginFlushCtx\n", n)
		return flbError
	}
	return flush(inst, data, length, tag)
}

func flush(inst *output.Instance, data unsafe.Pointer, length C.size_t, tag *C.char) C.int {
	var chunk []byte
	if length > 0 {
		chunk = unsafe.Slice((*byte)(data), int(length))
	}
	return C.int(inst.Flush(context.Background(), chunk, C.GoString(tag)))
}

// FLBPluginExitCtx closes one instance at shutdown: what it holds is sent
// or given up within its configured timeout.
//
//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) C.int {
	inst, ok := flb.FLBPluginGetContext(ctx).(*output.Instance)
	if !ok {
		fmt.Fprintln(os.Stderr, "[error] [output:loam] exit with an unknown plugin context")
		return flbError
	}
	mu.Lock()
	for i, x := range instances {
		if x == inst {
			instances = append(instances[:i], instances[i+1:]...)
			break
		}
	}
	mu.Unlock()
	if err := inst.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "[error] [output:loam] close: %v\n", err)
		return flbError
	}
	return flbOK
}

// FLBPluginExit is the exit of hosts that pass no context (Fluent Bit calls
// FLBPluginExitCtx instead when it exists): it closes every instance left.
//
//export FLBPluginExit
func FLBPluginExit() C.int {
	mu.Lock()
	left := instances
	instances = nil
	mu.Unlock()
	ret := flbOK
	for _, inst := range left {
		if err := inst.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "[error] [output:loam] close: %v\n", err)
			ret = flbError
		}
	}
	return ret
}

// The plugin lives in Fluent Bit's process on every node, where its memory
// counts. Its flushes allocate almost nothing once buffers are warm, so a
// tighter GC target than Go's default (100) costs next to no CPU and keeps
// the heap near what is live (3–4 MiB less peak RSS at 10,000 records/s).
// GOGC in the environment still wins.
func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

func main() {}
