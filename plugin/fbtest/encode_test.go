package fbtest

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// TestAppendBytes pins the exact bytes of small events, written by hand from
// the msgpack spec and Fluent Bit's encoder, so the helpers other tests rely
// on cannot drift.
func TestAppendBytes(t *testing.T) {
	ts := time.Unix(0x01020304, 0x05060708)
	rec := map[string]any{"a": "b"}
	tests := []struct {
		name string
		e    Event
		want string // hex, spaces ignored
	}{
		{"v1 EventTime", Event{Time: ts, Record: rec},
			"92 d700 01020304 05060708 81 a161 a162"},
		{"v1 int", Event{Time: ts, Record: rec, Form: V1Int},
			"92 ce01020304 81 a161 a162"},
		{"v1 float", Event{Time: time.Unix(1, 500000000), Record: rec, Form: V1Float},
			"92 cb3ff8000000000000 81 a161 a162"},
		{"v2 no meta", Event{Time: ts, Record: rec, Form: V2},
			"92 92 d700 01020304 05060708 80 81 a161 a162"},
		{"v2 meta", Event{Time: ts, Meta: map[string]any{"m": 1}, Record: rec, Form: V2},
			"92 92 d700 01020304 05060708 81 a16d 01 81 a161 a162"},
		{"group start", Event{Group: GroupStart, Meta: map[string]any{}, Record: map[string]any{}},
			"92 92 d700 ffffffff 00000000 80 80"},
		{"group end", Event{Group: GroupEnd},
			"92 92 d700 fffffffe 00000000 80 80"},
		{"order", Event{Time: ts, Record: map[string]any{"a": 1, "b": 2, "c": 3}, Order: []string{"c", "missing"}},
			"92 d700 01020304 05060708 83 a163 03 a161 01 a162 02"},
		{"values", Event{Time: ts, Record: map[string]any{"k": []any{
			nil, true, false, -1, -33, 200, 70000, int64(-40000), uint64(1) << 40,
			float32(1), []byte{0xff}, []string{"x"}, map[string]string{"y": "z"},
		}}},
			"92 d700 01020304 05060708 81 a16b 9d c0 c3 c2 ff d0df ccc8 ce00011170 d2ffff63c0" +
				" cf0000010000000000 ca3f800000 c401ff 91a178 81a179a17a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hex.EncodeToString(Append(nil, tt.e))
			want := strings.ReplaceAll(tt.want, " ", "")
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestStringHeaders(t *testing.T) {
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		b := AppendValue(nil, strings.Repeat("x", n))
		var head int
		switch {
		case n < 32:
			head = 1
		case n < 256:
			head = 2
		case n < 65536:
			head = 3
		default:
			head = 5
		}
		if len(b) != head+n {
			t.Errorf("string of %d: %d bytes, want %d", n, len(b), head+n)
		}
	}
}

func TestShapes(t *testing.T) {
	e := CRIKubernetes("node-1", "shop", "cart-7d4b9-x2x", "cart", `{"level":"warn","n":3,"f":1.5}`, true)
	for _, k := range []string{"time", "stream", "_p", "log", "level", "n", "f", "kubernetes"} {
		if _, ok := e.Record[k]; !ok {
			t.Errorf("CRI merged record lacks %q: %v", k, e.Record)
		}
	}
	if e.Record["n"] != int64(3) || e.Record["f"] != 1.5 {
		t.Errorf("merged numbers: n=%#v f=%#v", e.Record["n"], e.Record["f"])
	}
	k := e.Record["kubernetes"].(map[string]any)
	if k["host"] != "node-1" || k["namespace_name"] != "shop" || k["pod_name"] != "cart-7d4b9-x2x" || k["container_name"] != "cart" {
		t.Errorf("kubernetes map: %v", k)
	}
	if id := k["docker_id"].(string); len(id) != 64 {
		t.Errorf("docker_id %q", id)
	}
	plain := CRIKubernetes("n", "ns", "p", "c", `{"level":"warn"}`, false)
	if _, ok := plain.Record["level"]; ok {
		t.Error("Merge_Log off merged fields")
	}
	keyed := Container{Namespace: "ns", Pod: "p", Name: "c", Line: `{"a":1}`, MergeLog: true, MergeLogKey: "app"}.CRI()
	if m, ok := keyed.Record["app"].(map[string]any); !ok || m["a"] != int64(1) {
		t.Errorf("Merge_Log_Key: %v", keyed.Record)
	}
	notJSON := CRIKubernetes("n", "ns", "p", "c", `{"a":1} trailing`, true)
	if _, ok := notJSON.Record["a"]; ok {
		t.Error("merged a line that is not one JSON object")
	}
	if d := DockerJSON("n", "ns", "p", "c", "hi", false); d.Record["log"] != "hi\n" {
		t.Errorf("docker log %q", d.Record["log"])
	}
	j := Journal("node-1", "kubelet.service", "started", 3)
	if j.Record["PRIORITY"] != "3" || j.Record["_SYSTEMD_UNIT"] != "kubelet.service" || j.Record["SYSLOG_IDENTIFIER"] != "kubelet" {
		t.Errorf("journal: %v", j.Record)
	}
	kern := Kernel("node-1", "oom")
	if _, ok := kern.Record["_SYSTEMD_UNIT"]; ok || kern.Record["_TRANSPORT"] != "kernel" {
		t.Errorf("kernel: %v", kern.Record)
	}
	if tag := Tag("ns", "p", "c"); !strings.HasPrefix(tag, "kube.var.log.containers.p_ns_c-") || !strings.HasSuffix(tag, ".log") {
		t.Errorf("tag %q", tag)
	}
	for _, n := range []int{0, 10, 1024} {
		if got := len(Line(5, n)); got != n {
			t.Errorf("Line(5, %d) has %d bytes", n, got)
		}
	}
	// Deterministic bytes: the same event encodes the same way every time.
	if a, b := Chunk(e, j, kern), Chunk(e, j, kern); string(a) != string(b) {
		t.Error("encoding is not deterministic")
	}
}
