package fbtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// BaseTime is the time the constructors give events unless told otherwise:
// fixed, with every nanosecond digit significant, so tests see truncation.
var BaseTime = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// Container describes one container log line and where it came from.
type Container struct {
	Time                       time.Time // zero: BaseTime
	Node, Namespace, Pod, Name string    // kubernetes.host, namespace_name, pod_name, container_name
	Line                       string    // what the application wrote, without the newline
	Stream                     string    // "stdout" (default) or "stderr"

	// Labels are the pod's labels; nil gives
	// {"app.kubernetes.io/name": Name, "pod-template-hash": <derived>}.
	Labels map[string]string
	// NoKubernetes leaves out the kubernetes filter: no `kubernetes` map.
	NoKubernetes bool
	// MergeLog is the filter's Merge_Log: a Line that is a JSON object has
	// its fields added to the record (Keep_Log On: `log` stays).
	MergeLog bool
	// MergeLogKey is Merge_Log_Key: the merged fields go under this key.
	MergeLogKey string
	Form        Form
}

// CRIKubernetes is a containerd/CRI-O log line read by tail with the cri
// multiline parser and enriched by the kubernetes filter.
func CRIKubernetes(node, ns, pod, container, line string, mergeLog bool) Event {
	return Container{Node: node, Namespace: ns, Pod: pod, Name: container, Line: line, MergeLog: mergeLog}.CRI()
}

// DockerJSON is a Docker json-file log line read by tail with the docker
// parser and enriched by the kubernetes filter.
func DockerJSON(node, ns, pod, container, line string, mergeLog bool) Event {
	return Container{Node: node, Namespace: ns, Pod: pod, Name: container, Line: line, MergeLog: mergeLog}.Docker()
}

// CRI returns the event the cri parser makes of c: time, stream, _p, log.
func (c Container) CRI() Event {
	t := c.time()
	rec := map[string]any{
		"time":   t.Format(time.RFC3339Nano),
		"stream": c.stream(),
		"_p":     "F",
		"log":    c.Line,
	}
	return c.finish(t, rec, []string{"time", "stream", "_p", "log"})
}

// Docker returns the event the docker parser makes of c: log (with the
// trailing newline the application wrote), stream, time.
func (c Container) Docker() Event {
	t := c.time()
	rec := map[string]any{
		"log":    c.Line + "\n",
		"stream": c.stream(),
		"time":   t.Format(time.RFC3339Nano),
	}
	return c.finish(t, rec, []string{"log", "stream", "time"})
}

func (c Container) time() time.Time {
	if c.Time.IsZero() {
		return BaseTime
	}
	return c.Time
}

func (c Container) stream() string {
	if c.Stream == "" {
		return "stdout"
	}
	return c.Stream
}

// finish applies the kubernetes filter: Merge_Log, then the kubernetes map,
// in the order kubernetes.c appends them.
func (c Container) finish(t time.Time, rec map[string]any, order []string) Event {
	if !c.NoKubernetes && c.MergeLog {
		if fields, keys, ok := jsonObject(c.Line); ok {
			if c.MergeLogKey != "" {
				rec[c.MergeLogKey] = fields
				order = append(order, c.MergeLogKey)
			} else {
				for _, k := range keys {
					rec[k] = fields[k]
				}
				order = append(order, keys...)
			}
		}
	}
	if !c.NoKubernetes {
		rec["kubernetes"] = c.kubernetes()
		order = append(order, "kubernetes")
	}
	return Event{Time: t, Record: rec, Form: c.Form, Order: order}
}

func (c Container) kubernetes() map[string]any {
	labels := map[string]any{}
	if c.Labels == nil {
		labels["app.kubernetes.io/name"] = c.Name
		labels["pod-template-hash"] = digest("hash", c.Namespace, c.Pod)[:10]
	}
	for k, v := range c.Labels {
		labels[k] = v
	}
	return map[string]any{
		"pod_name":        c.Pod,
		"namespace_name":  c.Namespace,
		"pod_id":          uuid(c.Namespace, c.Pod),
		"labels":          labels,
		"annotations":     map[string]any{"kubectl.kubernetes.io/default-container": c.Name},
		"host":            c.Node,
		"container_name":  c.Name,
		"docker_id":       ContainerID(c.Namespace, c.Pod, c.Name),
		"container_hash":  "registry.example/" + c.Name + "@sha256:" + digest("image", c.Name),
		"container_image": "registry.example/" + c.Name + ":1.0",
	}
}

// ContainerID is the 64-hex container id the constructors use for a
// container, derived from its names so it is stable across runs.
func ContainerID(ns, pod, container string) string {
	return digest("ctr", ns, pod, container)
}

// Tag is the tail input's tag for a container's log file with Tag
// `kube.*`: the path /var/log/containers/<pod>_<ns>_<container>-<id>.log
// with slashes turned into dots.
func Tag(ns, pod, container string) string {
	return "kube.var.log.containers." + pod + "_" + ns + "_" + container + "-" + ContainerID(ns, pod, container) + ".log"
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func uuid(parts ...string) string {
	d := digest(append([]string{"uid"}, parts...)...)
	return d[0:8] + "-" + d[8:12] + "-" + d[12:16] + "-" + d[16:20] + "-" + d[20:32]
}

// jsonObject parses s as Fluent Bit's JSON packer would for Merge_Log:
// integers stay integers, other numbers become float64. It returns the keys
// in document order.
func jsonObject(s string) (map[string]any, []string, bool) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, false
	}
	fields := map[string]any{}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, false
		}
		k := tok.(string)
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, nil, false
		}
		if _, dup := fields[k]; !dup {
			keys = append(keys, k)
		}
		fields[k] = numbers(v)
	}
	if _, err := d.Token(); err != nil {
		return nil, nil, false
	}
	if d.More() {
		return nil, nil, false
	}
	return fields, keys, true
}

func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}

// Journal is a journald entry as the systemd input emits it: every field a
// string, PRIORITY "0".."7". The event time is BaseTime at the microsecond
// precision journald keeps.
func Journal(host, unit, message string, priority int) Event {
	t := BaseTime.Truncate(time.Microsecond)
	pid := strconv.Itoa(1000 + int(digest(unit)[0]))
	ident := unit
	if i := len(ident) - len(".service"); i > 0 && ident[i:] == ".service" {
		ident = ident[:i]
	}
	rec := map[string]any{
		"_TRANSPORT":                 "journal",
		"_UID":                       "0",
		"_GID":                       "0",
		"_BOOT_ID":                   digest("boot", host)[:32],
		"_MACHINE_ID":                digest("machine", host)[:32],
		"_HOSTNAME":                  host,
		"PRIORITY":                   strconv.Itoa(priority),
		"SYSLOG_FACILITY":            "3",
		"SYSLOG_IDENTIFIER":          ident,
		"_PID":                       pid,
		"_COMM":                      ident,
		"_EXE":                       "/usr/bin/" + ident,
		"_CMDLINE":                   "/usr/bin/" + ident,
		"_SYSTEMD_CGROUP":            "/system.slice/" + unit,
		"_SYSTEMD_UNIT":              unit,
		"_SYSTEMD_SLICE":             "system.slice",
		"_SYSTEMD_INVOCATION_ID":     digest("inv", host, unit)[:32],
		"MESSAGE":                    message,
		"_SOURCE_REALTIME_TIMESTAMP": strconv.FormatInt(t.UnixMicro(), 10),
	}
	order := []string{"_TRANSPORT", "_UID", "_GID", "_BOOT_ID", "_MACHINE_ID", "_HOSTNAME",
		"PRIORITY", "SYSLOG_FACILITY", "SYSLOG_IDENTIFIER", "_PID", "_COMM", "_EXE", "_CMDLINE",
		"_SYSTEMD_CGROUP", "_SYSTEMD_UNIT", "_SYSTEMD_SLICE", "_SYSTEMD_INVOCATION_ID", "MESSAGE",
		"_SOURCE_REALTIME_TIMESTAMP"}
	if unit == "" {
		for _, k := range []string{"_SYSTEMD_CGROUP", "_SYSTEMD_UNIT", "_SYSTEMD_SLICE", "_SYSTEMD_INVOCATION_ID"} {
			delete(rec, k)
		}
	}
	return Event{Time: t, Record: rec, Order: order}
}

// Kernel is a kernel ring-buffer message as the systemd input emits it: no
// unit, no process.
func Kernel(host, message string) Event {
	t := BaseTime.Truncate(time.Microsecond)
	rec := map[string]any{
		"_TRANSPORT":                  "kernel",
		"_BOOT_ID":                    digest("boot", host)[:32],
		"_MACHINE_ID":                 digest("machine", host)[:32],
		"_HOSTNAME":                   host,
		"PRIORITY":                    "6",
		"SYSLOG_FACILITY":             "0",
		"SYSLOG_IDENTIFIER":           "kernel",
		"MESSAGE":                     message,
		"_SOURCE_MONOTONIC_TIMESTAMP": "12345678",
	}
	order := []string{"_TRANSPORT", "_BOOT_ID", "_MACHINE_ID", "_HOSTNAME", "PRIORITY",
		"SYSLOG_FACILITY", "SYSLOG_IDENTIFIER", "MESSAGE", "_SOURCE_MONOTONIC_TIMESTAMP"}
	return Event{Time: t, Record: rec, Order: order}
}

// Line returns a log line of exactly n bytes (n ≥ 0) that reads like an
// application's, numbered i so lines differ.
func Line(i, n int) string {
	head := fmt.Sprintf(`level=info ts=2025-03-14T15:09:26Z caller=handler.go:%d msg="request served" seq=%d body=`, i%997, i)
	if n <= len(head) {
		return head[:n]
	}
	b := make([]byte, n)
	copy(b, head)
	for j := len(head); j < n; j++ {
		b[j] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i+j)%36]
	}
	return string(b)
}
