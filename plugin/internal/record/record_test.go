package record

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/internal/golden"

	"github.com/loam-logs/loam/plugin/fbtest"
)

// recordOf returns the msgpack record of e, as the event reader hands it out.
func recordOf(e fbtest.Event) []byte {
	b := fbtest.Append(nil, e)
	// [ts, record]: skip the array header and the 10-byte EventTime.
	return b[1+10:]
}

func rec(m map[string]any, order ...string) []byte {
	return recordOf(fbtest.Event{Record: m, Order: order})
}

func TestExtract(t *testing.T) {
	cri := recordOf(fbtest.CRIKubernetes("node-1", "shop", "cart-1", "cart", `{"level":"warn"}`, true))
	p := NewPaths(
		[]string{"log"},
		[]string{"kubernetes", "host"},
		[]string{"kubernetes", "labels", "app.kubernetes.io/name"},
		[]string{"kubernetes"},
		[]string{"missing"},
		[]string{"kubernetes", "missing", "deeper"},
		[]string{"log", "not-a-map"},
		nil,
		[]string{"level"},
		[]string{"log"}, // duplicate: the first slot gets it
	)
	out := make([][]byte, p.Len())
	if err := p.Extract(cri, out); err != nil {
		t.Fatal(err)
	}
	text := func(i int) string {
		if out[i] == nil {
			return "<nil>"
		}
		s, err := AppendText(nil, out[i])
		if err != nil {
			t.Fatal(err)
		}
		return string(s)
	}
	want := map[int]string{0: `{"level":"warn"}`, 1: "node-1", 2: "cart", 4: "<nil>", 5: "<nil>", 6: "<nil>", 7: "<nil>", 8: "warn", 9: "<nil>"}
	for i, w := range want {
		if g := text(i); g != w {
			t.Errorf("slot %d = %q, want %q", i, g, w)
		}
	}
	if !strings.Contains(text(3), `"namespace_name":"shop","pod_id":`) {
		t.Errorf("kubernetes map as text: %s", text(3))
	}

	// Duplicate keys (Merge_Log of a JSON line with a "stream" field):
	// lookups see the first.
	dup := fbtest.RawMsgpack(append(append(append([]byte{0x82},
		fbtest.AppendValue(nil, "stream")...), fbtest.AppendValue(nil, "stdout")...),
		append(fbtest.AppendValue(nil, "stream"), fbtest.AppendValue(nil, "app")...)...))
	if v, ok := Lookup(dup, "stream"); !ok || string(v[1:]) != "stdout" {
		t.Errorf("duplicate key lookup = %q", v)
	}

	// bin keys and values read as strings.
	binRec := []byte{0x81, 0xc4, 3, 'l', 'o', 'g', 0xc4, 2, 'h', 'i'}
	if v, ok := Lookup(binRec, "log"); !ok {
		t.Error("bin key not found")
	} else if s, _ := StringBytes(v); string(s) != "hi" {
		t.Errorf("bin value %q", s)
	}

	for _, bad := range [][]byte{fbtest.AppendValue(nil, "text"), {0x81}, {0x81, 0xa1, 'k'}, {}} {
		if err := p.Extract(bad, out); err == nil {
			t.Errorf("Extract(%x) succeeded", bad)
		}
	}
	if err := p.Extract(fbtest.AppendValue(nil, 5), out); !errors.Is(err, ErrNotMap) {
		t.Errorf("Extract(int) = %v, want ErrNotMap", err)
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"plain", "plain"},
		{[]byte("bin"), "bin"},
		{"line\n", "line\n"},
		{42, "42"},
		{-7, "-7"},
		{uint64(1) << 63, "9223372036854775808"},
		{1.5, "1.5"},
		{float32(0.1), "0.1"},
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
		{fbtest.RawMsgpack{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, "NaN"},
		{fbtest.RawMsgpack{0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}, "+Inf"},
		{true, "true"},
		{nil, "null"},
		{[]any{"a", 1, nil}, `["a",1,null]`},
		{map[string]any{"b": map[string]any{"c": "d\"e"}}, `{"b":{"c":"d\"e"}}`},
		{time.Unix(1, 5).UTC(), `"1970-01-01T00:00:01.000000005Z"`},
		{fbtest.RawMsgpack{0xd4, 0x09, 0x01}, "null"}, // unknown extension
	}
	for _, tt := range tests {
		got, err := AppendText(nil, fbtest.AppendValue(nil, tt.v))
		if err != nil || string(got) != tt.want {
			t.Errorf("AppendText(%#v) = %q, %v; want %q", tt.v, got, err, tt.want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"héllo ✓", `"héllo ✓"`},
		{"a\"b\\c\n\r\t\x01\x7f", `"a\"b\\c\n\r\t\u0001` + "\x7f" + `"`},
		{"bad\xffutf8\xe2\x82", `"bad\ufffdutf8\ufffd\ufffd"`},
		{"<html>&", `"<html>&"`},
	}
	for _, tt := range tests {
		got := string(appendJSONString(nil, []byte(tt.in)))
		if got != tt.want {
			t.Errorf("%q → %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%q → %s is not valid JSON", tt.in, got)
		}
	}
}

func TestRender(t *testing.T) {
	r := rec(map[string]any{
		"log":        "GET /cart 200",
		"stream":     "stdout",
		"kubernetes": map[string]any{"pod_name": "cart-1", "labels": map[string]any{"app": "cart", "tier": "web"}},
		"empty":      "",
		"n":          3,
		"list":       []any{"a b", 1},
		"k y=":       "v",
	}, "log", "stream", "kubernetes")
	tests := []struct {
		name     string
		remove   [][]string
		json, kv string
		single   string
		singleOK bool
	}{
		{"all", nil,
			`{"log":"GET /cart 200","stream":"stdout","kubernetes":{"labels":{"app":"cart","tier":"web"},"pod_name":"cart-1"},"empty":"","k y=":"v","list":["a b",1],"n":3}`,
			`log="GET /cart 200" stream=stdout kubernetes.labels.app=cart kubernetes.labels.tier=web kubernetes.pod_name=cart-1 empty= k_y_=v list="[\"a b\",1]" n=3`,
			"", false},
		{"nested removal", [][]string{{"kubernetes", "labels", "app"}, {"stream"}, {"missing", "x"}},
			`{"log":"GET /cart 200","kubernetes":{"labels":{"tier":"web"},"pod_name":"cart-1"},"empty":"","k y=":"v","list":["a b",1],"n":3}`,
			`log="GET /cart 200" kubernetes.labels.tier=web kubernetes.pod_name=cart-1 empty= k_y_=v list="[\"a b\",1]" n=3`,
			"", false},
		{"single string", [][]string{{"stream"}, {"kubernetes"}, {"empty"}, {"n"}, {"list"}, {"k y="}},
			`{"log":"GET /cart 200"}`, `log="GET /cart 200"`, "GET /cart 200", true},
		{"single map", [][]string{{"stream"}, {"log"}, {"empty"}, {"n"}, {"list"}, {"k y="}, {"kubernetes", "labels"}},
			`{"kubernetes":{"pod_name":"cart-1"}}`, `kubernetes.pod_name=cart-1`, `{"pod_name":"cart-1"}`, true},
		{"nothing left", [][]string{{"stream"}, {"log"}, {"empty"}, {"n"}, {"list"}, {"k y="}, {"kubernetes"}},
			`{}`, ``, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := NewPaths(tt.remove...)
			j, err := AppendJSON(nil, r, rm)
			if err != nil || string(j) != tt.json {
				t.Errorf("JSON:\n got  %s (%v)\n want %s", j, err, tt.json)
			}
			if !json.Valid(j) {
				t.Errorf("invalid JSON %s", j)
			}
			kv, err := AppendKeyValue(nil, r, rm)
			if err != nil || string(kv) != tt.kv {
				t.Errorf("key_value:\n got  %s (%v)\n want %s", kv, err, tt.kv)
			}
			s, ok, err := AppendSingle([]byte("x"), r, rm)
			if err != nil || ok != tt.singleOK || (ok && string(s) != "x"+tt.single) || (!ok && string(s) != "x") {
				t.Errorf("single = %q, %v, %v; want %q, %v", s, ok, err, tt.single, tt.singleOK)
			}
		})
	}
	if _, err := AppendJSON(nil, fbtest.AppendValue(nil, "s"), nil); !errors.Is(err, ErrNotMap) {
		t.Errorf("AppendJSON(str) = %v", err)
	}
}

// TestGolden renders real Fluent Bit records whole; the files show what a
// LineFormat json or key_value line looks like before label keys are removed.
func TestGolden(t *testing.T) {
	records := map[string]fbtest.Event{
		"cri_merged": fbtest.CRIKubernetes("node-1", "shop", "cart-7d4b9-x2x", "cart", `{"level":"warn","msg":"slow \"checkout\"","ms":1250,"ratio":0.25}`, true),
		"docker":     fbtest.DockerJSON("node-1", "shop", "cart-7d4b9-x2x", "cart", "plain text line", false),
		"journal":    fbtest.Journal("node-1", "kubelet.service", "Started kubelet", 6),
		"kernel":     fbtest.Kernel("node-1", "oom-kill: task=java pid=4242"),
	}
	for name, e := range records {
		r := recordOf(e)
		j, err := AppendJSON(nil, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := AppendKeyValue(nil, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, name+".json", append(j, '\n'))
		checkGolden(t, name+".logfmt", append(kv, '\n'))
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

func TestExtractNoAllocs(t *testing.T) {
	r := recordOf(fbtest.CRIKubernetes("node-1", "shop", "cart-1", "cart", fbtest.Line(1, 1000), false))
	p := NewPaths([]string{"log"}, []string{"kubernetes", "host"}, []string{"kubernetes", "labels", "app"})
	out := make([][]byte, p.Len())
	allocs := testing.AllocsPerRun(100, func() {
		if err := p.Extract(r, out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Extract: %v allocations, want 0", allocs)
	}
}
