package batch

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/plugin/internal/event"
)

var (
	ts  = fbtest.BaseTime.UnixNano()
	jts = fbtest.BaseTime.Truncate(time.Microsecond).UnixNano()
)

const cartLabels = `{app="cart", container="cart", namespace="shop", node="node-1", pod="cart-1"}`

func cri(line string) fbtest.Event {
	return fbtest.CRIKubernetes("node-1", "shop", "cart-1", "cart", line, false)
}

func TestBuild(t *testing.T) {
	merged := `{"level":"warn","msg":"slow"}`
	tests := []struct {
		name             string
		cfg              func(*config.Config)
		tag              string
		nodeEnv          string
		events           []fbtest.Event
		want             []row
		dropped, invalid int
	}{
		{
			name:   "cri kubernetes",
			events: []fbtest.Event{cri("GET /cart 200")},
			want:   []row{{"", cartLabels, ts, "GET /cart 200", ""}},
		},
		{
			name:   "cri kubernetes merge_log, raw line is still log",
			events: []fbtest.Event{fbtest.CRIKubernetes("node-1", "shop", "cart-1", "cart", merged, true)},
			want:   []row{{"", cartLabels, ts, merged, ""}},
		},
		{
			name:   "cri kubernetes merge_log, json line without the kubernetes map",
			cfg:    func(c *config.Config) { c.LineFormat = config.LineJSON },
			events: []fbtest.Event{fbtest.CRIKubernetes("node-1", "shop", "cart-1", "cart", merged, true)},
			want: []row{{"", cartLabels, ts,
				`{"time":"2025-03-14T15:09:26.535897932Z","stream":"stdout","_p":"F","log":"{\"level\":\"warn\",\"msg\":\"slow\"}","level":"warn","msg":"slow"}`, ""}},
		},
		{
			name: "merge_log_key",
			cfg: func(c *config.Config) {
				c.LineFormat = config.LineKeyValue
				c.RemoveKeys = [][]string{{"time"}, {"_p"}, {"log"}}
			},
			events: []fbtest.Event{fbtest.Container{Node: "node-1", Namespace: "shop", Pod: "cart-1", Name: "cart",
				Line: merged, MergeLog: true, MergeLogKey: "app", Labels: map[string]string{"app": "cart"}}.CRI()},
			want: []row{{"", cartLabels, ts, `stream=stdout app.level=warn app.msg=slow`, ""}},
		},
		{
			name:   "docker json: trailing newline stripped",
			events: []fbtest.Event{fbtest.DockerJSON("node-1", "shop", "cart-1", "cart", "hello\r", false)},
			want:   []row{{"", cartLabels, ts, "hello", ""}},
		},
		{
			name:   "log that is a map or a number: its JSON text",
			tag:    "x",
			events: []fbtest.Event{{Time: fbtest.BaseTime, Record: map[string]any{"log": map[string]any{"a": 1}}}, {Time: fbtest.BaseTime, Record: map[string]any{"MESSAGE": 7, "_HOSTNAME": "h"}}},
			want: []row{
				{"", `{job="fluent-bit"}`, ts, `{"a":1}`, ""},
				{"", `{node="h"}`, ts, "7", ""},
			},
		},
		{
			name:   "long label values are cut at a rune boundary",
			cfg:    func(c *config.Config) { c.LabelKeys = []config.KeyPath{{Path: []string{"v"}, Name: "v"}} },
			tag:    "x",
			events: []fbtest.Event{{Time: fbtest.BaseTime, Record: map[string]any{"v": strings.Repeat("a", 2047) + "é", "log": "l"}}},
			want:   []row{{"", `{v="` + strings.Repeat("a", 2047) + `"}`, ts, "l", ""}},
		},
		{
			name:   "app label precedence",
			events: []fbtest.Event{fbtest.Container{Node: "n", Namespace: "ns", Pod: "p", Name: "c", Line: "x", Labels: map[string]string{"app": "a", "k8s-app": "k", "app.kubernetes.io/name": "name"}}.CRI(), fbtest.Container{Node: "n", Namespace: "ns", Pod: "p", Name: "c", Line: "y", Labels: map[string]string{"k8s-app": "k"}}.CRI(), fbtest.Container{Node: "n", Namespace: "ns", Pod: "p", Name: "c", Line: "z", Labels: map[string]string{"other": "o"}}.CRI()},
			want: []row{
				{"", `{app="name", container="c", namespace="ns", node="n", pod="p"}`, ts, "x", ""},
				{"", `{app="k", container="c", namespace="ns", node="n", pod="p"}`, ts, "y", ""},
				{"", `{container="c", namespace="ns", node="n", pod="p"}`, ts, "z", ""},
			},
		},
		{
			name:    "kubernetes map without host: NODE_NAME",
			nodeEnv: "env-node",
			events:  []fbtest.Event{fbtest.CRIKubernetes("", "shop", "cart-1", "cart", "x", false)},
			want:    []row{{"", `{app="cart", container="cart", namespace="shop", node="env-node", pod="cart-1"}`, ts, "x", ""}},
		},
		{
			name:   "journal",
			events: []fbtest.Event{fbtest.Journal("node-1", "kubelet.service", "Started kubelet", 3), fbtest.Journal("node-1", "kubelet.service", "ok", 6)},
			want: []row{
				{"", `{node="node-1", unit="kubelet.service"}`, jts, "Started kubelet", "level=error"},
				{"", `{node="node-1", unit="kubelet.service"}`, jts, "ok", "level=info"},
			},
		},
		{
			name:    "journal: SYSLOG_IDENTIFIER without a unit, NODE_NAME without _HOSTNAME",
			nodeEnv: "env-node",
			events:  []fbtest.Event{journalWithout(fbtest.Journal("h", "cron.service", "cron ran", 5), "_HOSTNAME", "_SYSTEMD_UNIT")},
			want:    []row{{"", `{node="env-node", unit="cron"}`, jts, "cron ran", "level=info"}},
		},
		{
			name: "journal priorities",
			events: []fbtest.Event{fbtest.Journal("h", "u", "0", 0), fbtest.Journal("h", "u", "2", 2), fbtest.Journal("h", "u", "4", 4),
				fbtest.Journal("h", "u", "7", 7), fbtest.Journal("h", "u", "9", 9)},
			want: []row{
				{"", `{node="h", unit="u"}`, jts, "0", "level=critical"},
				{"", `{node="h", unit="u"}`, jts, "2", "level=critical"},
				{"", `{node="h", unit="u"}`, jts, "4", "level=warn"},
				{"", `{node="h", unit="u"}`, jts, "7", "level=debug"},
				{"", `{node="h", unit="u"}`, jts, "9", ""},
			},
		},
		{
			name:   "kernel",
			events: []fbtest.Event{fbtest.Kernel("node-1", "Out of memory: Killed process 4242 (java)")},
			want:   []row{{"", `{node="node-1", unit="kernel"}`, jts, "Out of memory: Killed process 4242 (java)", "level=info"}},
		},
		{
			name: "timestamp forms and group markers",
			events: []fbtest.Event{
				{Group: fbtest.GroupStart, Record: map[string]any{"resource": "r"}},
				withForm(cri("eventtime"), fbtest.V1EventTime),
				withForm(cri("int"), fbtest.V1Int),
				withForm(cri("float"), fbtest.V1Float),
				withForm(cri("v2"), fbtest.V2),
				{Group: fbtest.GroupEnd},
			},
			want: []row{
				{"", cartLabels, ts, "eventtime", ""},
				{"", cartLabels, fbtest.BaseTime.Unix() * 1e9, "int", ""},
				{"", cartLabels, 1741964966535897970, "float", ""}, // the float64 nearest BaseTime
				{"", cartLabels, ts, "v2", ""},
			},
		},
		{
			name:    "tag fallback without the kubernetes filter",
			tag:     fbtest.Tag("shop", "cart-1", "cart"),
			nodeEnv: "env-node",
			events:  []fbtest.Event{fbtest.Container{Namespace: "shop", Pod: "cart-1", Name: "cart", Line: "plain", NoKubernetes: true}.CRI()},
			want:    []row{{"", `{container="cart", namespace="shop", node="env-node", pod="cart-1"}`, ts, "plain", ""}},
		},
		{
			name:   "custom tag prefix",
			tag:    "containers.var.log.containers.web-0_prod_nginx-" + strings.Repeat("ab", 32) + ".log",
			events: []fbtest.Event{fbtest.Container{Line: "plain", NoKubernetes: true}.Docker()},
			want:   []row{{"", `{container="nginx", namespace="prod", pod="web-0"}`, ts, "plain", ""}},
		},
		{
			name:   "not a container tag, nothing known: job label",
			tag:    "app.log",
			events: []fbtest.Event{{Time: fbtest.BaseTime, Record: map[string]any{"msg": "hi", "n": 1}}},
			want:   []row{{"", `{job="fluent-bit"}`, ts, `{"msg":"hi","n":1}`, ""}},
		},
		{
			name: "tenant from a record field",
			cfg: func(c *config.Config) {
				c.TenantID = "default"
				c.TenantIDKey = []string{"kubernetes", "labels", "tenant"}
			},
			events: []fbtest.Event{
				fbtest.Container{Node: "n", Namespace: "a", Pod: "p", Name: "c", Line: "1", Labels: map[string]string{"tenant": "team-a"}}.CRI(),
				fbtest.Container{Node: "n", Namespace: "b", Pod: "p", Name: "c", Line: "2", Labels: map[string]string{"tenant": ""}}.CRI(),
				fbtest.Container{Node: "n", Namespace: "a", Pod: "p", Name: "c", Line: "3", Labels: map[string]string{"tenant": "team-a"}}.CRI(),
			},
			want: []row{
				{"team-a", `{container="c", namespace="a", node="n", pod="p"}`, ts, "1", ""},
				{"team-a", `{container="c", namespace="a", node="n", pod="p"}`, ts, "3", ""},
				{"default", `{container="c", namespace="b", node="n", pod="p"}`, ts, "2", ""},
			},
		},
		{
			name: "static labels, LabelKeys with an accessor path, LabelMap; overrides",
			cfg: func(c *config.Config) {
				c.Labels = []config.Label{{Name: "cluster", Value: "lab"}, {Name: "node", Value: "static-node"}}
				c.LabelKeys = []config.KeyPath{{Path: []string{"kubernetes", "labels", "app.kubernetes.io/part-of"}, Name: "part_of"}, {Path: []string{"stream"}, Name: "stream"}}
				c.LabelMap = []config.KeyPath{{Path: []string{"kubernetes", "pod_id"}, Name: "pod"}, {Path: []string{"missing"}, Name: "cluster"}}
			},
			events: []fbtest.Event{fbtest.Container{Node: "n", Namespace: "ns", Pod: "p", Name: "c", Line: "x", Labels: map[string]string{"app.kubernetes.io/part-of": "shop"}}.CRI()},
			want:   []row{{"", `{cluster="lab", container="c", namespace="ns", node="static-node", part_of="shop", pod="` + podID(t, "ns", "p") + `", stream="stdout"}`, ts, "x", ""}},
		},
		{
			name: "AutoKubernetesLabels off: kubernetes map kept in json lines, label of a number",
			cfg: func(c *config.Config) {
				c.AutoKubernetesLabels = false
				c.LineFormat = config.LineJSON
				c.LabelKeys = []config.KeyPath{{Path: []string{"code"}, Name: "code"}, {Path: []string{"ok"}, Name: "ok"}}
				c.RemoveKeys = [][]string{{"kubernetes", "annotations"}, {"kubernetes", "labels"}, {"kubernetes", "container_hash"}, {"kubernetes", "container_image"}, {"kubernetes", "docker_id"}, {"kubernetes", "pod_id"}}
			},
			events: []fbtest.Event{{Time: fbtest.BaseTime, Record: map[string]any{"code": 404, "ok": false, "msg": "nf", "kubernetes": map[string]any{"host": "n", "pod_name": "p"}}}},
			want:   []row{{"", `{code="404", ok="false"}`, ts, `{"kubernetes":{"host":"n","pod_name":"p"},"msg":"nf"}`, ""}},
		},
		{
			name: "structured metadata keys, removed from the line",
			cfg: func(c *config.Config) {
				c.LineFormat = config.LineKeyValue
				c.StructuredMetadataKeys = []config.KeyPath{{Path: []string{"stream"}, Name: "stream"}, {Path: []string{"kubernetes", "pod_id"}, Name: "pod_uid"}, {Path: []string{"absent"}, Name: "absent"}}
				c.RemoveKeys = [][]string{{"time"}}
			},
			events: []fbtest.Event{cri("GET / 200")},
			want:   []row{{"", cartLabels, ts, `_p=F log="GET / 200"`, "stream=stdout,pod_uid=" + podID(t, "shop", "cart-1")}},
		},
		{
			name: "journal level before configured metadata",
			cfg: func(c *config.Config) {
				c.StructuredMetadataKeys = []config.KeyPath{{Path: []string{"_PID"}, Name: "pid"}}
			},
			events: []fbtest.Event{fbtest.Journal("h", "u.service", "m", 4)},
			want:   []row{{"", `{node="h", unit="u.service"}`, jts, "m", "level=warn,pid=" + fbtest.Journal("h", "u.service", "m", 4).Record["_PID"].(string)}},
		},
		{
			name: "DropSingleKey",
			cfg: func(c *config.Config) {
				c.LineFormat = config.LineJSON
				c.DropSingleKey = true
				c.RemoveKeys = [][]string{{"stream"}, {"time"}}
			},
			events: []fbtest.Event{fbtest.DockerJSON("node-1", "shop", "cart-1", "cart", "only the log\n", false), {Time: fbtest.BaseTime, Record: map[string]any{"n": 1.5}}},
			want: []row{
				{"", cartLabels, ts, "only the log\n", ""}, // the docker newline is stripped, the application's own kept
				{"", `{job="fluent-bit"}`, ts, "1.5", ""},
			},
		},
		{
			name:   "raw line falls back to json of the rest",
			cfg:    func(c *config.Config) { c.RemoveKeys = [][]string{{"b"}} },
			tag:    "x",
			events: []fbtest.Event{{Time: fbtest.BaseTime, Record: map[string]any{"a": "1", "b": "2", "kubernetes": map[string]any{"host": "n"}}}},
			want:   []row{{"", `{node="n"}`, ts, `{"a":"1"}`, ""}},
		},
		{
			name: "redact only in matching namespaces",
			cfg: func(c *config.Config) {
				c.Redact = []*regexp.Regexp{regexp.MustCompile(`password=\S+`), regexp.MustCompile(`\b\d{16}\b`)}
				c.RedactNamespaces = []*regexp.Regexp{regexp.MustCompile(`^(?:pay.*)$`)}
			},
			events: []fbtest.Event{
				fbtest.CRIKubernetes("n", "payments", "p", "c", "login password=hunter2 card 4111111111111111", false),
				fbtest.CRIKubernetes("n", "shop", "p", "c", "login password=hunter2", false),
				fbtest.Journal("n", "u", "password=x", 6),
			},
			want: []row{
				{"", `{app="c", container="c", namespace="payments", node="n", pod="p"}`, ts, "login [REDACTED] card [REDACTED]", ""},
				{"", `{app="c", container="c", namespace="shop", node="n", pod="p"}`, ts, "login password=hunter2", ""},
				{"", `{node="n", unit="u"}`, jts, "password=x", "level=info"},
			},
		},
		{
			name: "redact every line when RedactNamespaces is empty",
			cfg: func(c *config.Config) {
				c.Redact = []*regexp.Regexp{regexp.MustCompile(`secret`)}
				c.RedactWith = "***"
			},
			events: []fbtest.Event{fbtest.Journal("n", "u", "a secret", 6)},
			want:   []row{{"", `{node="n", unit="u"}`, jts, "a ***", "level=info"}},
		},
		{
			name: "exclude namespaces",
			cfg: func(c *config.Config) {
				c.ExcludeNamespaces = []*regexp.Regexp{regexp.MustCompile(`^(?:kube-.*)$`)}
			},
			events: []fbtest.Event{
				fbtest.CRIKubernetes("n", "kube-system", "coredns", "coredns", "x", false),
				fbtest.CRIKubernetes("n", "shop", "p", "c", "kept", false),
				fbtest.CRIKubernetes("n", "kube-public", "p", "c", "y", false),
			},
			want:    []row{{"", `{app="c", container="c", namespace="shop", node="n", pod="p"}`, ts, "kept", ""}},
			dropped: 2,
		},
		{
			name: "invalid events are counted and skipped",
			events: []fbtest.Event{
				cri("before"),
				{Time: fbtest.BaseTime, Record: map[string]any{"log": fbtest.RawMsgpack{0xc1}}}, // replaced below
				cri("after"),
			},
			want:    []row{{"", cartLabels, ts, "before", ""}, {"", cartLabels, ts, "after", ""}},
			invalid: 1,
		},
		{
			name: "invalid UTF-8 in labels and json lines",
			cfg: func(c *config.Config) {
				c.LineFormat = config.LineJSON
				c.LabelKeys = []config.KeyPath{{Path: []string{"who"}, Name: "who"}}
			},
			events: []fbtest.Event{{Time: fbtest.BaseTime, Record: map[string]any{"who": "b\xffd", "msg": "x\xfe"}}},
			want:   []row{{"", `{who="b` + "\ufffd" + `d"}`, ts, `{"msg":"x\ufffd"}`, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NODE_NAME", tt.nodeEnv)
			cfg := baseConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			b, err := NewBuilder(cfg)
			if err != nil {
				t.Fatal(err)
			}
			chunk := fbtest.Chunk(tt.events...)
			if tt.invalid > 0 {
				// A record that is not a map, in the middle.
				chunk = fbtest.Chunk(tt.events[0])
				chunk = fbtest.AppendValue(chunk, []any{fbtest.BaseTime, "not a map"})
				chunk = fbtest.Append(chunk, tt.events[2])
			}
			tag := tt.tag
			if tag == "" {
				tag = "kube.var.log.containers.x.log"
			}
			// Build twice: the second run reuses the Builder's state.
			for run := range 2 {
				res, err := b.Build(chunk, tag)
				if err != nil {
					t.Fatal(err)
				}
				got := rows(t, res)
				if len(got) != len(tt.want) {
					t.Fatalf("run %d: got %d entries, want %d:\n%s", run, len(got), len(tt.want), dump(got))
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("run %d, entry %d:\n got  %s\n want %s", run, i, got[i], tt.want[i])
					}
				}
				if res.Dropped != tt.dropped || res.Invalid != tt.invalid {
					t.Errorf("dropped %d invalid %d, want %d %d", res.Dropped, res.Invalid, tt.dropped, tt.invalid)
				}
				if (res.FirstInvalid != nil) != (tt.invalid > 0) {
					t.Errorf("FirstInvalid = %v", res.FirstInvalid)
				}
			}
		})
	}
}

func withForm(e fbtest.Event, f fbtest.Form) fbtest.Event { e.Form = f; return e }

func journalWithout(e fbtest.Event, keys ...string) fbtest.Event {
	for _, k := range keys {
		delete(e.Record, k)
	}
	return e
}

func podID(t *testing.T, ns, pod string) string {
	k := fbtest.CRIKubernetes("", ns, pod, "c", "", false).Record["kubernetes"].(map[string]any)
	return k["pod_id"].(string)
}

func dump(rs []row) string {
	var sb strings.Builder
	for _, r := range rs {
		sb.WriteString(r.String())
		sb.WriteByte('\n')
	}
	return sb.String()
}

func TestInvalidMessage(t *testing.T) {
	b, _ := NewBuilder(baseConfig())
	chunk := fbtest.Chunk(cri("a"))
	chunk = fbtest.AppendValue(chunk, []any{fbtest.BaseTime, "not a map"})
	res, err := b.Build(chunk, "t")
	if err != nil {
		t.Fatal(err)
	}
	want := "event 1 at byte " + strconv.Itoa(len(fbtest.Chunk(cri("a")))) + ": record is not a map"
	if res.FirstInvalid == nil || !strings.HasPrefix(res.FirstInvalid.Error(), want) || !errors.Is(res.FirstInvalid, event.ErrRecord) {
		t.Errorf("FirstInvalid = %v, want %q…", res.FirstInvalid, want)
	}
}

func TestNotMsgpack(t *testing.T) {
	b, _ := NewBuilder(baseConfig())
	good := fbtest.Chunk(cri("a"))
	for _, chunk := range [][]byte{append(append([]byte{}, good...), 0xc1), good[:len(good)-1]} {
		res, err := b.Build(chunk, "kube.x")
		var ee *event.Error
		if err == nil || !errors.As(err, &ee) || ee.Index != 0 && ee.Index != 1 {
			t.Errorf("Build(bad) = %+v, %v", res, err)
		}
		if !strings.Contains(err.Error(), `chunk of tag "kube.x": event `) {
			t.Errorf("error %q does not say where", err)
		}
	}
}

func TestBatchSize(t *testing.T) {
	cfg := baseConfig()
	cfg.BatchSize = 10
	b, _ := NewBuilder(cfg)
	lines := []string{"aaaa", "bbbb", "cc", "dddddddddddddddd", "e", "ffffffffff", "g"}
	var es []fbtest.Event
	for i, l := range lines {
		ns := []string{"one", "two"}[i%2]
		es = append(es, fbtest.CRIKubernetes("n", ns, "p", "c", l, false))
	}
	res, err := b.Build(fbtest.Chunk(es...), "t")
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var got []string
	for _, r := range res.Requests {
		sizes = append(sizes, r.Bytes)
		if r.Bytes > cfg.BatchSize && r.Records != 1 {
			t.Errorf("request of %d bytes holds %d records", r.Bytes, r.Records)
		}
	}
	for _, r := range rows(t, res) {
		got = append(got, r.line)
	}
	// Per request: streams in order of first appearance, so "one" lines
	// come before "two" lines within a request.
	wantSizes := []int{10, 16, 1, 10, 1}
	wantLines := []string{"aaaa", "cc", "bbbb", "dddddddddddddddd", "e", "ffffffffff", "g"}
	if !equal(sizes, wantSizes) || !equal(got, wantLines) {
		t.Errorf("sizes %v lines %v, want %v %v", sizes, got, wantSizes, wantLines)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStreamsGrouped(t *testing.T) {
	b, _ := NewBuilder(baseConfig())
	var es []fbtest.Event
	for i := range 9 {
		e := fbtest.CRIKubernetes("n", "ns", []string{"p0", "p1", "p2"}[i%3], "c", strconv.Itoa(i), false)
		e.Time = fbtest.BaseTime.Add(time.Duration(i))
		es = append(es, e)
	}
	res, err := b.Build(fbtest.Chunk(es...), "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Requests) != 1 {
		t.Fatalf("%d requests", len(res.Requests))
	}
	pr := decodeRequest(t, res.Requests[0])
	if len(pr.Streams) != 3 {
		t.Fatalf("%d streams", len(pr.Streams))
	}
	for si, s := range pr.Streams {
		if !strings.Contains(s.Labels, `pod="p`+strconv.Itoa(si)+`"`) {
			t.Errorf("stream %d is %s", si, s.Labels)
		}
		for j, e := range s.Entries {
			if want := strconv.Itoa(si + 3*j); e.Line != want || e.Timestamp != ts+int64(si+3*j) {
				t.Errorf("stream %d entry %d: %q at %d", si, j, e.Line, e.Timestamp)
			}
		}
	}
}

// TestResultLifetime checks that Build copies what it keeps: the chunk may
// be overwritten (Fluent Bit frees it) once Build returns.
func TestResultLifetime(t *testing.T) {
	b, _ := NewBuilder(baseConfig())
	chunk := fbtest.Chunk(cri("first line"), fbtest.Journal("h", "u", "second", 6))
	res, err := b.Build(chunk, "t")
	if err != nil {
		t.Fatal(err)
	}
	before := dump(rows(t, res))
	for i := range chunk {
		chunk[i] = 0xc1
	}
	if after := dump(rows(t, res)); after != before {
		t.Errorf("result changed with the chunk:\n%s\n%s", before, after)
	}
}

func TestNewBuilderNames(t *testing.T) {
	cfg := baseConfig()
	cfg.LabelKeys = []config.KeyPath{{Path: []string{"kubernetes", "labels", "app.kubernetes.io/name"}}, {Path: []string{"x"}, Name: "9lives"}}
	b, err := NewBuilder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b.labelKeys[0].name != "app_kubernetes_io_name" || b.labelKeys[1].name != "_9lives" {
		t.Errorf("names %+v", b.labelKeys)
	}
	cfg.LabelKeys = []config.KeyPath{{}}
	if _, err := NewBuilder(cfg); err == nil || !strings.Contains(err.Error(), "LabelKeys") {
		t.Errorf("empty path: %v", err)
	}
}

func TestParseTag(t *testing.T) {
	id := strings.Repeat("0f", 32)
	tests := []struct {
		tag           string
		ok            bool
		pod, ns, cont string
	}{
		{"kube.var.log.containers.web-0_prod_nginx-" + id + ".log", true, "web-0", "prod", "nginx"},
		{"var.log.containers.a.b-c_ns_side-car-" + id + ".log", true, "a.b-c", "ns", "side-car"},
		{"kube.var.log.containers.web-0_prod_nginx-" + id[:63] + ".log", false, "", "", ""},
		{"kube.var.log.containers.web-0_prod-" + id + ".log", false, "", "", ""},
		{"kube.var.log.containers.web-0_prod_nginx-" + strings.ToUpper(id) + ".log", false, "", "", ""},
		{"kube.var.log.pods.x", false, "", "", ""},
		{"var.log.containers.log", false, "", "", ""},
		{"", false, "", "", ""},
	}
	for _, tt := range tests {
		g := parseTag(tt.tag)
		if g.ok != tt.ok || string(g.pod) != tt.pod || string(g.namespace) != tt.ns || string(g.container) != tt.cont {
			t.Errorf("parseTag(%q) = %v %q %q %q", tt.tag, g.ok, g.pod, g.namespace, g.container)
		}
	}
}

// TestForgetIdleStreams checks that a Builder does not keep every stream it
// ever saw, and still maps correctly after forgetting.
func TestForgetIdleStreams(t *testing.T) {
	b, _ := NewBuilder(baseConfig())
	var es []fbtest.Event
	for i := range maxIdleStreams + 5 {
		es = append(es, fbtest.CRIKubernetes("n", "ns", "p"+strconv.Itoa(i), "c", "x", false))
	}
	if _, err := b.Build(fbtest.Chunk(es...), "t"); err != nil {
		t.Fatal(err)
	}
	small := fbtest.Chunk(cri("a"), fbtest.CRIKubernetes("n", "ns", "p7", "c", "b", false))
	for range 2 {
		res, err := b.Build(small, "t")
		if err != nil {
			t.Fatal(err)
		}
		if got := rows(t, res); len(got) != 2 || got[0].labels != cartLabels || got[1].line != "b" {
			t.Fatalf("after pruning: %s", dump(got))
		}
	}
	if n := len(b.tenants[0].list); n > 2 {
		t.Errorf("%d streams kept, want the 2 in use", n)
	}
}
