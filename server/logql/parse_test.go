package logql

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/loam-logs/loam/server/labels"
)

// validQueries maps a query to its canonical printed form.
var validQueries = []struct{ in, want string }{
	{`{a="b"}`, `{a="b"}`},
	{`{app="api",env!="dev"}`, `{app="api", env!="dev"}`},
	{`{ a =~ "x.+" , b !~ "y" }`, `{a=~"x.+", b!~"y"}`},
	{"{a=`raw\\d+`}", `{a="raw\\d+"}`},
	{`{a="with \"quotes\" and \\ and \n"}`, `{a="with \"quotes\" and \\ and \n"}`},
	{`{a="é ✓"}`, `{a="é ✓"}`},
	{`{z="1", a="2", z="3"}`, `{z="1", a="2", z="3"}`},
	{`{_under="x", A9="y"}`, `{_under="x", A9="y"}`},
	{`{by="x", or="y"}`, `{by="x", or="y"}`},
	{`{a!=""}`, `{a!=""}`},
	{`{a=~".+"}`, `{a=~".+"}`},
	{`{a=~".*", b="c"}`, `{a=~".*", b="c"}`},
	{`{a!~".*"}`, `{a!~".*"}`},
	{`{a="b"} |= "error"`, `{a="b"} |= "error"`},
	{`{a="b"}|="error"!="timeout"`, `{a="b"} |= "error" != "timeout"`},
	{`{a="b"} |~ "err.*" !~ "debug"`, `{a="b"} |~ "err.*" !~ "debug"`},
	{"{a=\"b\"} |~ `error=\\w+`", `{a="b"} |~ "error=\\w+"`},
	{`{a="b"} |> "<_> level=error <_>" !> "<_> caller=x"`, `{a="b"} |> "<_> level=error <_>" !> "<_> caller=x"`},
	{`{a="b"} |= "a" or "b"`, `{a="b"} |= "a" or "b"`},
	{`{a="b"} != "a" or "b" or "c"`, `{a="b"} != "a" or "b" or "c"`},
	{`{a="b"} |~ "a" or "b" |= "c"`, `{a="b"} |~ "a" or "b" |= "c"`},
	{`{a="b"} |= ""`, `{a="b"} |= ""`},
	{`{a="b"} |= "tab\there"`, `{a="b"} |= "tab\there"`},
	{"{a=\"b\"} |= `back\\slash`", `{a="b"} |= "back\\slash"`},
	{`{a="b"} |= "\x00\xff"`, `{a="b"} |= "\x00\xff"`},
	{`({a="b"} |= "x")`, `{a="b"} |= "x"`},
	{`((({a="b"})))`, `{a="b"}`},
	{"  {a=\"b\"}\n\t|= \"x\"   # trailing comment\n  != \"y\"\n", `{a="b"} |= "x" != "y"`},
	{"# leading comment\n{a=\"b\"}", `{a="b"}`},
	{`{a="b"} |> "exact line"`, `{a="b"} |> "exact line"`},
	{`{a="b"} |> "a < b > c <_>"`, `{a="b"} |> "a < b > c <_>"`},
	{`{a="b"} |~ "(?i)error"`, `{a="b"} |~ "(?i)error"`},
	{`{a="b"}|~""`, `{a="b"} |~ ""`},
	// The queries of the conformance cases and the rest of the language.
	{`{namespace="payments"}`, `{namespace="payments"}`},
	{`{namespace="default"}`, `{namespace="default"}`},
	{`{namespace=~"pay.*|default"} != "healthz"`, `{namespace=~"pay.*|default"} != "healthz"`},
	{`{job="systemd-journal", unit="kubelet.service"} |~ "(?i)error|crashloop"`, `{job="systemd-journal", unit="kubelet.service"} |~ "(?i)error|crashloop"`},
	{`{node="node-1"} |= "lease"`, `{node="node-1"} |= "lease"`},
	{"{app=\"api\"} |= `\"status\":500`", `{app="api"} |= "\"status\":500"`},
	{`{app="api"} |= "timeout" or "refused"`, `{app="api"} |= "timeout" or "refused"`},
	{`{app="ingress"} |= "GET" != "kube-probe" |~ "\" 50[02] "`, `{app="ingress"} |= "GET" != "kube-probe" |~ "\" 50[02] "`},
	{`{cluster="lab"}`, `{cluster="lab"}`},
	{`{unit="salt-minion.service"}`, `{unit="salt-minion.service"}`},
	{`{app="api"} | json | level="error" | line_format "{{.method}} {{.path}} {{.status}} {{.error}}"`, `{app="api"} | json | level="error" | line_format "{{.method}} {{.path}} {{.status}} {{.error}}"`},
	{`{app="api"} | json | line_format "{{.user_tier | upper}} {{.duration}}"`, `{app="api"} | json | line_format "{{.user_tier | upper}} {{.duration}}"`},
	{`{app="api"} | json | drop request_id, bytes, path, duration, user_id | status=201`, `{app="api"} | json | drop request_id, bytes, path, duration, user_id | status == 201`},
	{`{app="api"} | json | keep level, status | level="warn"`, `{app="api"} | json | keep level, status | level="warn"`},
	{`{app="api"} | json | status >= 400 and status < 500 or duration > 2s`, `{app="api"} | json | status >= 400 and status < 500 or duration > 2s`},
	{`{namespace="payments"} | json | __error__ != ""`, `{namespace="payments"} | json | __error__!=""`},
	{`{app="api"} | json | duration < 1ms`, `{app="api"} | json | duration < 1ms`},
	{`{app="worker"} | logfmt | duration > 2s`, `{app="worker"} | logfmt | duration > 2s`},
	{`{app="worker"} | logfmt | queue="high" | line_format "{{.job_id}} took {{.duration}}"`, `{app="worker"} | logfmt | queue="high" | line_format "{{.job_id}} took {{.duration}}"`},
	{`{app="worker"} | logfmt --strict | __error__!=""`, `{app="worker"} | logfmt --strict | __error__!=""`},
	{`{unit="containerd.service"} | logfmt | level="error"`, `{unit="containerd.service"} | logfmt | level="error"`},
	{"{app=\"ingress\"} | pattern `<ip> - - [<_>] \"<method> <path> <_>\" <status> <size> \"<_>\" \"<agent>\" <rt>` | status=\"404\"", `{app="ingress"} | pattern "<ip> - - [<_>] \"<method> <path> <_>\" <status> <size> \"<_>\" \"<agent>\" <rt>" | status="404"`},
	{"{app=\"ingress\"} | regexp `^(?P<ip>\\S+) .* \"(?P<method>\\w+) (?P<path>\\S+) HTTP` | method=\"POST\"", `{app="ingress"} | regexp "^(?P<ip>\\S+) .* \"(?P<method>\\w+) (?P<path>\\S+) HTTP" | method="POST"`},
	{`{app="grafana"} | decolorize |= "EROR"`, `{app="grafana"} | decolorize |= "EROR"`},
	{"{app=\"worker\"} | logfmt | line_format `{{ printf \"%-6s\" .queue }}#{{ .attempt }}`", `{app="worker"} | logfmt | line_format "{{ printf \"%-6s\" .queue }}#{{ .attempt }}"`},
	{`{app="worker"} | logfmt | label_format q=queue | q="low"`, `{app="worker"} | logfmt | label_format q=queue | q="low"`},
	{`{app="api"} | json | path=~"/v1/users/.*" | method!="GET"`, `{app="api"} | json | path=~"/v1/users/.*" | method!="GET"`},
	{`count_over_time({namespace="payments"}[5m])`, `count_over_time({namespace="payments"}[5m])`},
	{`sum by (level) (count_over_time({app="api"} | json [5m]))`, `sum by (level) (count_over_time({app="api"} | json[5m]))`},
	{`rate({app="ingress"} |= " 500 " [1m])`, `rate({app="ingress"} |= " 500 "[1m])`},
	{`sum(bytes_rate({job="systemd-journal"}[5m]))`, `sum(bytes_rate({job="systemd-journal"}[5m]))`},
	{`sum by (pod) (rate({app="api"} | json | status >= 500 [5m]))`, `sum by (pod) (rate({app="api"} | json | status >= 500[5m]))`},
	{`bottomk(1, sum by (pod) (count_over_time({app="api"}[10m])))`, `bottomk(1, sum by (pod) (count_over_time({app="api"}[10m])))`},
	{`avg_over_time({app="worker"} | logfmt | unwrap duration(duration) [5m]) by (pod)`, `avg_over_time({app="worker"} | logfmt | unwrap duration(duration)[5m]) by (pod)`},
	{`sum by (queue) (sum_over_time({app="worker"} | logfmt | unwrap bytes(size) [10m]))`, `sum by (queue) (sum_over_time({app="worker"} | logfmt | unwrap bytes(size)[10m]))`},
	{`max_over_time({app="api"} | json | unwrap bytes [5m]) by (pod)`, `max_over_time({app="api"} | json | unwrap bytes[5m]) by (pod)`},
	{`stddev_over_time({app="worker"} | logfmt | unwrap attempt [10m]) by (queue)`, `stddev_over_time({app="worker"} | logfmt | unwrap attempt[10m]) by (queue)`},
	{`stdvar_over_time({app="worker"} | logfmt | unwrap attempt [10m]) by (queue)`, `stdvar_over_time({app="worker"} | logfmt | unwrap attempt[10m]) by (queue)`},
	{`absent_over_time({app="nonexistent"}[5m])`, `absent_over_time({app="nonexistent"}[5m])`},
	{`sum(count_over_time({app="api"}[5m])) / sum(count_over_time({namespace="payments"}[5m]))`, `sum(count_over_time({app="api"}[5m])) / sum(count_over_time({namespace="payments"}[5m]))`},
	{`sum by (pod) (count_over_time({app="api"}[5m])) > bool 330`, `sum by (pod) (count_over_time({app="api"}[5m])) > bool 330`},
	{`count(count_over_time({cluster="lab"}[5m]))`, `count(count_over_time({cluster="lab"}[5m]))`},
	{`sum by (namespace) (count_over_time({cluster="lab"}[5m] offset 10m))`, `sum by (namespace) (count_over_time({cluster="lab"}[5m] offset 10m))`},
	{`label_replace(sum by (pod) (count_over_time({app="api"}[5m])), "short", "$1", "pod", "api-7d9f-(.*)")`, `label_replace(sum by (pod) (count_over_time({app="api"}[5m])), "short", "$1", "pod", "api-7d9f-(.*)")`},
	{`sum without (pod, node) (count_over_time({app="api"}[5m]))`, `sum without (pod, node) (count_over_time({app="api"}[5m]))`},
	{"sum by (status) (count_over_time({app=\"ingress\"} | pattern `<_> - - [<_>] \"<_>\" <status> <_>` [5m]))", `sum by (status) (count_over_time({app="ingress"} | pattern "<_> - - [<_>] \"<_>\" <status> <_>"[5m]))`},
	{`sum by (pod) (count_over_time({app="api"} | json | status="500" [5m])) / on(pod) sum by (pod) (count_over_time({app="api"}[5m]))`, `sum by (pod) (count_over_time({app="api"} | json | status="500"[5m])) / on (pod) sum by (pod) (count_over_time({app="api"}[5m]))`},
	{`sum by (pod) (count_over_time({app="api"}[5m])) and on (pod) (sum by (pod) (count_over_time({app="api"} |= "error" [5m])) > 8)`, `sum by (pod) (count_over_time({app="api"}[5m])) and on (pod) sum by (pod) (count_over_time({app="api"} |= "error"[5m])) > 8`},
	{`max by (namespace) (count_over_time({cluster="lab", namespace=~".+"}[5m]))`, `max by (namespace) (count_over_time({cluster="lab", namespace=~".+"}[5m]))`},
	{`min by (namespace) (count_over_time({cluster="lab", namespace=~".+"}[5m]))`, `min by (namespace) (count_over_time({cluster="lab", namespace=~".+"}[5m]))`},
	{`sum(rate({namespace=~"kube-.*|monitoring"}[2m]))`, `sum(rate({namespace=~"kube-.*|monitoring"}[2m]))`},
	{`sum(count_over_time({app="ingress"}[1m]))`, `sum(count_over_time({app="ingress"}[1m]))`},
	{`sort(sum by (unit) (count_over_time({job="systemd-journal"}[1h])))`, `sort(sum by (unit) (count_over_time({job="systemd-journal"}[1h])))`},
	{`sum by (level) (count_over_time({app="worker"} | logfmt [1h]))`, `sum by (level) (count_over_time({app="worker"} | logfmt[1h]))`},
	{`sum by (namespace) (rate({cluster="lab"}[10m]))`, `sum by (namespace) (rate({cluster="lab"}[10m]))`},
	{"quantile_over_time(0.5, {app=\"ingress\"} | pattern `<_> \"<_>\" \"<_>\" <rt>` | unwrap rt [1h]) by (pod)", `quantile_over_time(0.5, {app="ingress"} | pattern "<_> \"<_>\" \"<_>\" <rt>" | unwrap rt[1h]) by (pod)`},
	{`avg(sum by (pod) (count_over_time({app="api"}[1h])))`, `avg(sum by (pod) (count_over_time({app="api"}[1h])))`},
	{`sum by (container) (bytes_over_time({namespace="kube-system"}[1h]))`, `sum by (container) (bytes_over_time({namespace="kube-system"}[1h]))`},
	{`{a="b"} | json`, `{a="b"} | json`},
	{`{a="b"} |= "x" | logfmt --strict`, `{a="b"} |= "x" | logfmt --strict`},
	{`{a="b"} | regexp "(?P<x>.*)"`, `{a="b"} | regexp "(?P<x>.*)"`},
	{`{a="b"} | pattern "<x> <_>"`, `{a="b"} | pattern "<x> <_>"`},
	{`{a="b"} | unpack`, `{a="b"} | unpack`},
	{`{a="b"} | line_format "{{.x}}"`, `{a="b"} | line_format "{{.x}}"`},
	{`{a="b"} | label_format a=b`, `{a="b"} | label_format a=b`},
	{`{a="b"} | drop a, b`, `{a="b"} | drop a, b`},
	{`{a="b"} | keep a`, `{a="b"} | keep a`},
	{`{a="b"} | decolorize`, `{a="b"} | decolorize`},
	{`{a="b"} | level="error"`, `{a="b"} | level="error"`},
	{`{a="b"} | json | status >= 500 and duration > 1s`, `{a="b"} | json | status >= 500 and duration > 1s`},
	{`{a="b"} | status >= 500`, `{a="b"} | status >= 500`},
	{`{a="b"} | size > 10KB`, `{a="b"} | size > 10KB`},
	{`{a="b"} | __error__ != ""`, `{a="b"} | __error__!=""`},
	{`{a="b"} | (a="b" or c="d")`, `{a="b"} | a="b" or c="d"`},
	{`{a="b"} | addr = ip("10.0.0.0/8")`, `{a="b"} | addr = ip("10.0.0.0/8")`},
	{`{a="b"} |= ip("192.168.0.1")`, `{a="b"} |= ip("192.168.0.1")`},
	{`rate({a="b"}[5m])`, `rate({a="b"}[5m])`},
	{`count_over_time({a="b"} |= "x" [1m])`, `count_over_time({a="b"} |= "x"[1m])`},
	{`bytes_rate({a="b"}[1m])`, `bytes_rate({a="b"}[1m])`},
	{`quantile_over_time(0.99, {a="b"} | json | unwrap d [1m]) by (x)`, `quantile_over_time(0.99, {a="b"} | json | unwrap d[1m]) by (x)`},
	{`absent_over_time({a="b"}[1m])`, `absent_over_time({a="b"}[1m])`},
	{`sum by (x) (count_over_time({a="b"}[1m]))`, `sum by (x) (count_over_time({a="b"}[1m]))`},
	{`sum(rate({a="b"}[1m])) by (x)`, `sum by (x) (rate({a="b"}[1m]))`},
	{`topk(5, rate({a="b"}[1m]))`, `topk(5, rate({a="b"}[1m]))`},
	{`count without (a) (rate({a="b"}[1m]))`, `count without (a) (rate({a="b"}[1m]))`},
	{`sort_desc(rate({a="b"}[1m]))`, `sort_desc(rate({a="b"}[1m]))`},
	{`label_replace(rate({a="b"}[1m]), "dst", "$1", "src", "(.*)")`, `label_replace(rate({a="b"}[1m]), "dst", "$1", "src", "(.*)")`},
	{`vector(1)`, `vector(1)`},
	{`1`, `1`},
	// Operations between numbers fold, as in Loki's parser.
	{`1 + 1`, `2`},
	{`rate({a="b"}[1m]) / rate({a="b"}[5m])`, `rate({a="b"}[1m]) / rate({a="b"}[5m])`},
	{`(sum(rate({a="b"}[1m])))`, `sum(rate({a="b"}[1m]))`},
	{`vector(1)+vector(1)`, `vector(1) + vector(1)`},
	{`1 + 2 * 3`, `7`},
	{`(1 + 2) * 3`, `9`},
	{`2 ^ 3 ^ 2`, `512`},
	{`(2 ^ 3) ^ 2`, `64`},
	{`1 - 2 - 3`, `-4`},
	{`1 - (2 - 3)`, `2`},
	{`1 > bool 2`, `0`},
	{`vector(1) - 2 - 3`, `vector(1) - 2 - 3`},
	{`vector(1) - (2 - 3)`, `vector(1) - (-1)`},
	{`2 ^ vector(3) ^ 2`, `2 ^ vector(3) ^ 2`},
	{`(vector(2) ^ 3) ^ 2`, `(vector(2) ^ 3) ^ 2`},
	{`sum(rate({a="b"}[1m])) > 5`, `sum(rate({a="b"}[1m])) > 5`},
	{`sum by (a) (rate({a="b"}[1m])) / ignoring (x) group_left (y) sum by (a) (rate({a="b"}[1m]))`, `sum by (a) (rate({a="b"}[1m])) / ignoring (x) group_left (y) sum by (a) (rate({a="b"}[1m]))`},
	{`rate({a="b"}[1m]) or vector(0)`, `rate({a="b"}[1m]) or vector(0)`},
	{`count_over_time({a="b"}[5m] offset 1h)`, `count_over_time({a="b"}[5m] offset 1h)`},
	{`count_over_time({a="b"}[5m] | json)`, `count_over_time({a="b"} | json[5m])`},
	{`count_over_time(({a="b"} |= "x")[5m])`, `count_over_time({a="b"} |= "x"[5m])`},
	{`sum_over_time({a="b"} | logfmt | unwrap bytes(size) | __error__="" [1h])`, `sum_over_time({a="b"} | logfmt | unwrap bytes(size) | __error__=""[1h])`},
	{`rate({a="b"} | json | unwrap duration_seconds(d) [1m])`, `rate({a="b"} | json | unwrap duration_seconds(d)[1m])`},
	{`{a="b"} | json first="a.b", second="c[0]"`, `{a="b"} | json first="a.b", second="c[0]"`},
	{`{a="b"} | logfmt --keep-empty --strict x="y"`, `{a="b"} | logfmt --strict --keep-empty x="y"`},
	{`{a="b"} | label_format x="{{.y}}", z=w`, `{a="b"} | label_format x="{{.y}}", z=w`},
	{`{a="b"} | drop a="x", b=~"y.*", c`, `{a="b"} | drop a="x", b=~"y.*", c`},
	// "," and juxtaposition take all that follows, as in Loki's grammar.
	{`{a="b"} | a="x" b="y", c="z" and d="w" or e="f"`, `{a="b"} | a="x" and (b="y" and (c="z" and d="w" or e="f"))`},
	{`{app="foo"} | foo="bar" buzz!="blip", blop=~"boop" or fuzz==5`, `{app="foo"} | foo="bar" and (buzz!="blip" and (blop=~"boop" or fuzz == 5))`},
	{`{a="b"} | a="1", b="2" or c="3"`, `{a="b"} | a="1" and (b="2" or c="3")`},
	{`{a="b"} | a="1" and b="2" or c="3"`, `{a="b"} | a="1" and b="2" or c="3"`},
	{`{a="b"} | a="1" or b="2", c="3"`, `{a="b"} | a="1" or b="2" and c="3"`},
	{`{a="b"} | (a="1", b="2") or c="3"`, `{a="b"} | a="1" and b="2" or c="3"`},
	{`{a="b"} | a > 1 or b < 2 and c >= 3`, `{a="b"} | a > 1 or b < 2 and c >= 3`},
	{`{a="b"} | x = -1`, `{a="b"} | x == -1`},
	{`rate({a="b"}[1d])`, `rate({a="b"}[1d])`},
	{`rate({a="b"}[15000ms])`, `rate({a="b"}[15s])`},
	{`topk by (x) (2, rate({a="b"}[1m]))`, `topk by (x) (2, rate({a="b"}[1m]))`},
	{`sum(count_over_time({a="b"}[5m])) by ()`, `sum by () (count_over_time({a="b"}[5m]))`},
	{`avg_over_time({a="b"} | unwrap x [5m]) by (x)`, `avg_over_time({a="b"} | unwrap x[5m]) by (x)`},
	// Bare parameters of json and logfmt: the name is the path or key too,
	// and prints as Loki prints it.
	{`{a="b"} | json method, code="status"`, `{a="b"} | json method="method", code="status"`},
	{`{a="b"} | json code="status", method`, `{a="b"} | json code="status", method="method"`},
	{`{a="b"} | logfmt msg, dur="duration"`, `{a="b"} | logfmt msg="msg", dur="duration"`},
	{`{a="b"} | logfmt --strict msg`, `{a="b"} | logfmt --strict msg="msg"`},
	{`{a="b"} | logfmt --keep-empty msg, err `, `{a="b"} | logfmt --keep-empty msg="msg", err="err"`},
	{`{a="b"} | logfmt --strict --keep-empty a,b`, `{a="b"} | logfmt --strict --keep-empty a="a", b="b"`},
	{`{app="foo"} | json response_code, api_key="request.headers[\"X-API-KEY\"]", layer7_something_specific="layer7_something_specific"`, `{app="foo"} | json response_code="response_code", api_key="request.headers[\"X-API-KEY\"]", layer7_something_specific="layer7_something_specific"`},
	{`{a="b"} | json ip, rate, sum | ip="x"`, `{a="b"} | json ip="ip", rate="rate", sum="sum" | ip="x"`},
	{`{a="b"} | json msg |= "x"`, `{a="b"} | json msg="msg" |= "x"`},
	{`count_over_time({a="b"} | json level [5m])`, `count_over_time({a="b"} | json level="level"[5m])`},
	{`sum_over_time({a="b"} | logfmt n | unwrap n [5m])`, `sum_over_time({a="b"} | logfmt n="n" | unwrap n[5m])`},
	// ip("…") among the alternatives of a line filter.
	{`{a="b"} |= ip("10.0.0.1") or "foo"`, `{a="b"} |= ip("10.0.0.1") or "foo"`},
	{`{a="b"} |= "foo" or ip("10.0.0.0/8")`, `{a="b"} |= "foo" or ip("10.0.0.0/8")`},
	{`{a="b"} |= ip("10.0.0.1") or ip("::1") or "x"`, `{a="b"} |= ip("10.0.0.1") or ip("::1") or "x"`},
	{`{a="b"} != ip("10.0.0.1") or "foo"`, `{a="b"} != ip("10.0.0.1") or "foo"`},
	{`{a="b"} != "foo" or ip("10.0.0.1-10.0.0.9") |= "bar"`, `{a="b"} != "foo" or ip("10.0.0.1-10.0.0.9") |= "bar"`},
	{`{a="b"} |= IP("10.0.0.1") or Ip("10.0.0.2")`, `{a="b"} |= ip("10.0.0.1") or ip("10.0.0.2")`},
	{`{a="b"} | addr = IP("10.0.0.1")`, `{a="b"} | addr = ip("10.0.0.1")`},
	{`{ foo = "bar" , ip="foo"}|logfmt|= ip("127.0.0.1")|ip="2.3.4.5"|ip="abc"|ipaddr=ip("4.5.6.7")|ip=ip("6.7.8.9")`, `{foo="bar", ip="foo"} | logfmt |= ip("127.0.0.1") | ip="2.3.4.5" | ip="abc" | ipaddr = ip("4.5.6.7") | ip = ip("6.7.8.9")`},
	// Keywords, function and stage names in any case; label names keep
	// theirs.
	{`SUM(Count_Over_Time({app="x"}[5m])) BY (level)`, `sum by (level) (count_over_time({app="x"}[5m]))`},
	{`SUM BY (Level) (COUNT_OVER_TIME({app="x"}[5m]))`, `sum by (Level) (count_over_time({app="x"}[5m]))`},
	{`topK(2, RATE({a="b"}[1m])) > BOOL 1`, `topk(2, rate({a="b"}[1m])) > bool 1`},
	{`Sort_Desc(Bytes_Rate({a="b"}[1m]))`, `sort_desc(bytes_rate({a="b"}[1m]))`},
	{`Quantile_Over_Time(0.9, {a="b"} | JSON | UNWRAP Duration(d) [1m]) BY (x)`, `quantile_over_time(0.9, {a="b"} | json | unwrap duration(d)[1m]) by (x)`},
	{`sum_over_time({a="b"} | Logfmt | Unwrap BYTES(size) | __error__="" [1m] OFFSET 1h)`, `sum_over_time({a="b"} | logfmt | unwrap bytes(size) | __error__=""[1m] offset 1h)`},
	{`Label_Replace(VECTOR(1), "a", "b", "c", "(.*)")`, `label_replace(vector(1), "a", "b", "c", "(.*)")`},
	{`rate({a="b"}[1m]) / ON (x) GROUP_LEFT (y) rate({a="b"}[1m]) OR rate({a="b"}[1m]) AND rate({a="b"}[1m]) UNLESS rate({a="b"}[1m])`, `rate({a="b"}[1m]) / on (x) group_left (y) rate({a="b"}[1m]) or rate({a="b"}[1m]) and rate({a="b"}[1m]) unless rate({a="b"}[1m])`},
	{`sum WITHOUT (x) (rate({a="b"}[1m])) + IGNORING (y) GROUP_RIGHT sum(rate({a="b"}[1m]))`, `sum without (x) (rate({a="b"}[1m])) + ignoring (y) group_right () sum(rate({a="b"}[1m]))`},
	{`{a="b"} |= "a" OR "b" Or "c"`, `{a="b"} |= "a" or "b" or "c"`},
	{`{a="b"} | JSON | Level="error" AND status >= 500 Or x="y"`, `{a="b"} | json | Level="error" and status >= 500 or x="y"`},
	{`{a="b"} | LOGFMT | LINE_FORMAT "{{.x}}" | Label_Format a=b | DROP a | KEEP b | DECOLORIZE | Unpack | REGEXP "(?P<x>.)" | Pattern "<x> <_>"`, `{a="b"} | logfmt | line_format "{{.x}}" | label_format a=b | drop a | keep b | decolorize | unpack | regexp "(?P<x>.)" | pattern "<x> <_>"`},
	{`{BY="x", Json="y"}`, `{BY="x", Json="y"}`},
	{`{a="b"} | Rate="x"`, `{a="b"} | Rate="x"`},
	// A stage name after "|" is the stage, whatever follows.
	{`{a="b"} | decolorize != "x"`, `{a="b"} | decolorize != "x"`},
	{`{a="b"} | decolorize !~ "x" |= "y"`, `{a="b"} | decolorize !~ "x" |= "y"`},
	{`{a="b"} | json != "x"`, `{a="b"} | json != "x"`},
	{`{a="b"} | logfmt !~ "x"`, `{a="b"} | logfmt !~ "x"`},
	{`{a="b"} | unpack != "x"`, `{a="b"} | unpack != "x"`},
	{`{a="b"} | distinct = "x"`, `{a="b"} | distinct="x"`},
	// Operations between numbers.
	{`1 == 1`, `1`},
	{`1 != 1`, `0`},
	{`1 > 1 < 1`, `1`},
	{`1 > 1 > bool 1`, `0`},
	{`1 + 1 + 1`, `3`},
	{`1 / 0`, `(0 / 0)`},
	{`0 % 0`, `(0 / 0)`},
	{`1e308 * 10`, `(1e308 * 10)`},
	{`-1e308 * 10`, `(-1e308 * 10)`},
	{`rate({a="b"}[1m]) * (1 + 1)`, `rate({a="b"}[1m]) * 2`},
	{`rate({a="b"}[1m]) + 1 / 0`, `rate({a="b"}[1m]) + (0 / 0)`},
	{`rate({a="b"}[1m]) + bool rate({a="b"}[1m])`, `rate({a="b"}[1m]) + rate({a="b"}[1m])`},
	{`rate({a="b"}[1m]) and on (x) group_left rate({a="b"}[1m])`, `rate({a="b"}[1m]) and on (x) group_left () rate({a="b"}[1m])`},
	{`{a="b"} | x > 1e3`, `{a="b"} | x > 1e3`},
	{`rate({a="b"}[1m]) > 1e3`, `rate({a="b"}[1m]) > 1000`},
	// The places of a range.
	{`sum_over_time({a="b"}[5m] offset 1h | json | unwrap x)`, `sum_over_time({a="b"} | json | unwrap x[5m] offset 1h)`},
	{`sum_over_time({a="b"}[5m] | unwrap x)`, `sum_over_time({a="b"} | unwrap x[5m])`},
	{`sum_over_time(({a="b"})[5m] | unwrap x)`, `sum_over_time({a="b"} | unwrap x[5m])`},
	{`sum_over_time(({a="b"} | unwrap x)[5m])`, `sum_over_time({a="b"} | unwrap x[5m])`},
	{`count_over_time(({a="b"}[5m]))`, `count_over_time({a="b"}[5m])`},
	{`count_over_time((({a="b"} |= "x")[5m]))`, `count_over_time({a="b"} |= "x"[5m])`},
	{`count_over_time(({a="b"}[5m] | json))`, `count_over_time({a="b"} | json[5m])`},
	{`count_over_time({a="b"}[5m] offset -1h)`, `count_over_time({a="b"}[5m] offset -1h)`},
	{`count_over_time({a="b"}[1h30m] offset 1.5h)`, `count_over_time({a="b"}[1h30m] offset 1h30m)`},
	{`count_over_time({a="b"}[1y2w3d4h5m6s7ms])`, `count_over_time({a="b"}[382d4h5m6s7ms])`},
	{`count_over_time({a="b"}[30d1h])`, `count_over_time({a="b"}[30d1h])`},
	{`count_over_time({a="b"}[14d])`, `count_over_time({a="b"}[2w])`},
	{`{a="b"} | took > 1.5s or took < 250us`, `{a="b"} | took > 1.5s or took < 250us`},
	// sort takes an empty grouping, which changes nothing.
	{`sort(rate({a="b"}[1m])) by ()`, `sort(rate({a="b"}[1m]))`},
	{`sort_desc without () (rate({a="b"}[1m]))`, `sort_desc(rate({a="b"}[1m]))`},
	{`approx_topk(2, rate({a="b"}[1m]))`, `approx_topk(2, rate({a="b"}[1m]))`},
	{`{a="b"} | regexp "(?P<1a>x)"`, `{a="b"} | regexp "(?P<1a>x)"`},
	{`label_replace(rate({a="b"}[1m]), "a-b", "$1", "c", "(.*)")`, `label_replace(rate({a="b"}[1m]), "a-b", "$1", "c", "(.*)")`},
	{`{a="b"} | size > 5M or size < 2Ki`, `{a="b"} | size > 5M or size < 2Ki`},
	{`{a="b"} | x > +1 and y < - 2`, `{a="b"} | x > 1 and y < -2`},
	{`sum by (on, bool) (count_over_time({a="b"}[1m]))`, `sum by (on, bool) (count_over_time({a="b"}[1m]))`},
}

func TestParseValid(t *testing.T) {
	for _, c := range validQueries {
		e, err := ParseExpr(c.in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.in, err)
			continue
		}
		if got := e.String(); got != c.want {
			t.Errorf("ParseExpr(%q).String() = %q, want %q", c.in, got, c.want)
		}
		// Round trip: the printed form parses to the same thing.
		e2, err := ParseExpr(e.String())
		if err != nil {
			t.Errorf("reparse %q: %v", e.String(), err)
			continue
		}
		if e2.String() != e.String() {
			t.Errorf("round trip %q -> %q", e.String(), e2.String())
		}
		if !reflect.DeepEqual(summary(e), summary(e2)) {
			t.Errorf("round trip of %q changed the tree", c.in)
		}
		if _, ok := e.(*LogSelectorExpr); ok {
			sel, err := ParseLogSelector(c.in)
			if err != nil || sel.String() != c.want {
				t.Errorf("ParseLogSelector(%q) = %v, %v", c.in, sel, err)
			}
		}
	}
}

// summary flattens a tree for comparison (matchers hold compiled regexps).
func summary(e Expr) []any {
	sel, ok := e.(*LogSelectorExpr)
	if !ok {
		return []any{e.String()}
	}
	var out []any
	for _, m := range sel.Matchers {
		out = append(out, m.Type, m.Name, m.Value)
	}
	for _, s := range sel.Pipeline {
		if f, ok := s.(*LineFilter); ok {
			out = append(out, f.Op, f.Values, f.IP)
		} else {
			out = append(out, s.String())
		}
	}
	return out
}

func TestParseTree(t *testing.T) {
	e, err := ParseLogSelector(`{app="api", env=~"prod|dev"} |= "a" or "b" !~ "x" |> "<_> y"`)
	if err != nil {
		t.Fatal(err)
	}
	wantM := []struct {
		t       labels.MatchType
		n, v    string
		matches string
	}{
		{labels.MatchEqual, "app", "api", "api"},
		{labels.MatchRegexp, "env", "prod|dev", "dev"},
	}
	if len(e.Matchers) != len(wantM) {
		t.Fatalf("matchers %v", e.Matchers)
	}
	for i, w := range wantM {
		m := e.Matchers[i]
		if m.Type != w.t || m.Name != w.n || m.Value != w.v || !m.Matches(w.matches) {
			t.Errorf("matcher %d = %v", i, m)
		}
	}
	want := []*LineFilter{
		{Op: LineContains, Values: []string{"a", "b"}},
		{Op: LineNotMatch, Values: []string{"x"}},
		{Op: LinePattern, Values: []string{"<_> y"}},
	}
	if !reflect.DeepEqual(e.PreFilters(), want) {
		t.Errorf("Filters() = %v, want %v", e.PreFilters(), want)
	}
}

var invalidQueries = []struct{ in, want string }{
	{``, `parse error at line 1, col 1: syntax error: unexpected end of input, expecting a stream selector`},
	{`   `, `line 1, col 4: syntax error: unexpected end of input`},
	{`{}`, `line 1, col 2: syntax error: unexpected "}", expecting a label matcher`},
	{`{a}`, `line 1, col 3: syntax error: unexpected "}", expecting a label matcher operator (=, !=, =~ or !~) after a`},
	{`{a="b"`, `line 1, col 7: syntax error: unexpected end of input, expecting "," or "}"`},
	{`{a="b",}`, `line 1, col 8: syntax error: unexpected "}", expecting a label name`},
	{`{a="b" c="d"}`, `line 1, col 8: syntax error: unexpected identifier c, expecting "," or "}"`},
	{`{="b"}`, `line 1, col 2: syntax error: unexpected "=", expecting a label name`},
	{`{a=b}`, `line 1, col 4: syntax error: unexpected identifier b, expecting a quoted label value`},
	{`{a=="b"}`, `line 1, col 3: syntax error: unexpected "==", expecting a label matcher operator`},
	{`{a=5}`, `line 1, col 4: syntax error: unexpected number 5, expecting a quoted label value`},
	{`{1a="b"}`, `line 1, col 2: invalid number, duration or byte size "1a"`},
	{`{a-b="c"}`, `line 1, col 3: syntax error: unexpected "-", expecting a label matcher operator`},
	{`{a=~"("}`, `line 1, col 5: invalid regexp "(" for label a`},
	{`{a="b"}}`, `line 1, col 8: syntax error: unexpected "}", expecting a pipeline stage`},
	{`{a="b"} {c="d"}`, `line 1, col 9: syntax error: unexpected "{", expecting a pipeline stage`},
	{`{a="b"} "x"`, `line 1, col 9: syntax error: unexpected string "x", expecting a pipeline stage or end of input (a line filter needs an operator: |= "text")`},
	{`{a="b"} "ééééééééééééééééééééééééééééééééééééééééé"`, `unexpected string "éééééééééééééééééééé"…, expecting`},
	{`{a="b"} |= 5`, `line 1, col 12: syntax error: unexpected number 5, expecting a string or ip("…") after |=`},
	{`{a="b"} |=`, `line 1, col 11: syntax error: unexpected end of input, expecting a string or ip("…") after |=`},
	{`{a="b"} |~ "("`, `line 1, col 12: invalid regexp in line filter |~ "(": error parsing regexp: missing closing )`},
	{`{a="b"} !~ "a**"`, `line 1, col 12: invalid regexp in line filter !~ "a**"`},
	{`{a="b"} |> "<x> y"`, `line 1, col 12: invalid pattern in line filter |> "<x> y": named captures are not allowed`},
	{`{a="b"} |> "<_><_>"`, `invalid pattern in line filter |> "<_><_>": consecutive <_> wildcards`},
	{`{a="b"} |= "x" or`, `line 1, col 18: syntax error: unexpected end of input, expecting a string or ip("…") after "or"`},
	{`{a="b"} |= "x" or 5`, `line 1, col 19: syntax error: unexpected number 5, expecting a string or ip("…") after "or"`},
	{`{a="b"} |= "x" or |= "y"`, `line 1, col 19: syntax error: unexpected "|="`},
	{`{a="b"} |`, `line 1, col 10: syntax error: unexpected end of input, expecting a stage after "|"`},
	{`{a="b"} | "x"`, `line 1, col 11: syntax error: unexpected string "x", expecting a stage after "|" (for a line filter, write |= "x")`},
	{`{a="b"} | foo`, `line 1, col 11: syntax error: unexpected identifier foo, expecting a stage after "|"`},
	{`{a="b"} |~ ip("1.2.3.4")`, `line 1, col 12: syntax error: ip() line filters take |= or !=, not |~`},
	{`{a="b"}[5m]`, `line 1, col 8: syntax error: unexpected "[": a range such as [5m] belongs inside a range aggregation`},
	{`{a="b"} or {c="d"}`, `line 1, col 9: syntax error: unexpected binary operator or: binary operators combine metric queries, not log queries`},
	{`{a="b"} + 1`, `line 1, col 9: syntax error: unexpected binary operator +`},
	{`{a="b"} > 5`, `syntax error: unexpected binary operator >`},
	{`({a="b"}`, `line 1, col 9: syntax error: unexpected end of input, expecting ")"`},
	{`({a="b"}) |= "x"`, `line 1, col 11: syntax error: unexpected |= after ")": a pipeline goes inside the parentheses`},
	{`({a="b"}) != "x"`, `line 1, col 11: syntax error: unexpected binary operator !=`},
	{`foo{a="b"}`, `line 1, col 1: syntax error: unexpected identifier foo, expecting a stream selector such as {app="api"}`},
	{`foo({a="b"})`, `line 1, col 1: syntax error: unknown function foo`},
	{`by`, `line 1, col 1: syntax error: unexpected keyword by`},
	{`"x"`, `line 1, col 1: syntax error: unexpected string "x", expecting a stream selector`},
	{"{a=\"b\"}\n|= \"x\"\n  |~ \"[\"", `parse error at line 3, col 6: invalid regexp in line filter |~ "["`},
	{"{a=\"b\"}\n\t|= \"x\" |", `parse error at line 2, col 10: syntax error: unexpected end of input`},
	{`{a="b"} |= "x` + "\n" + `"`, `line 1, col 12: unterminated string: newline before the closing "`},
	{`{a="é"} !`, `line 1, col 9: unexpected character '!'`},
	{strings.Repeat("(", 300) + `{a="b"}` + strings.Repeat(")", 300), `expression nested too deeply`},
	// The empty-compatible rule.
	{`{a=~".*"}`, `parse error at line 1, col 1: queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will`},
	{`{a=""}`, `queries require at least one regexp or equality matcher that does not have an empty-compatible value`},
	{`{a!="x"}`, `queries require at least one regexp or equality matcher`},
	{`{a=~".*", b!~"x", c=""}`, `queries require at least one regexp or equality matcher`},
	{`{a=~"a*"} |= "x"`, `queries require at least one regexp or equality matcher`},
	{`  {a=~""}`, `line 1, col 3: queries require`},
	// Grouping on range aggregations: Loki allows it on avg, stddev,
	// stdvar, quantile, max, min, first and last_over_time only.
	{`rate({a="b"}[5m]) by (x)`, `line 1, col 1: grouping not allowed for rate aggregation`},
	{`RATE({a="b"}[5m]) BY (x)`, `grouping not allowed for rate aggregation`},
	{`rate({a="b"} | json | unwrap d [1m]) by (x)`, `grouping not allowed for rate aggregation`},
	{`rate_counter({a="b"} | unwrap d [1m]) without (x)`, `grouping not allowed for rate_counter aggregation`},
	{`sum_over_time({a="b"} | unwrap d [1m]) by (x)`, `grouping not allowed for sum_over_time aggregation`},
	{`bytes_rate({a="b"}[1m]) by (x)`, `grouping not allowed for bytes_rate aggregation`},
	{`approx_topk(2, rate({a="b"}[1m])) by (x)`, `grouping not allowed for approx_topk aggregation`},
	{`sort by (x) (rate({a="b"}[1m]))`, `sort and sort_desc doesn't allow grouping by`},
	// Ranges as Prometheus reads them; offsets are durations, - attached.
	{`count_over_time({a="b"}[1.5h])`, `invalid range "[1.5h]"`},
	{`count_over_time({a="b"}[ 5m ])`, `invalid range "[ 5m ]"`},
	{`count_over_time({a="b"}[5m ])`, `invalid range "[5m ]"`},
	{`count_over_time({a="b"}[30m1h])`, `invalid range "[30m1h]"`},
	{`count_over_time({a="b"}[100us])`, `invalid range "[100us]"`},
	{`count_over_time({a="b"}[1d12h] offset - 1h)`, `unexpected "-", expecting a duration after offset`},
	{`{a="b"} | d > 1.5d`, `invalid number, duration or byte size "1.5d"`},
	// ip() in line filters: |= and != only, a valid address, range or CIDR.
	{`{a="b"} |~ "a" or ip("1.2.3.4")`, `line 1, col 19: syntax error: ip() line filters take |= or !=, not |~`},
	{`{a="b"} |> ip("1.2.3.4")`, `ip() line filters take |= or !=, not |>`},
	{`{a="b"} |= ip("")`, `line 1, col 15: ip: invalid pattern: ""`},
	{`{a="b"} |= "x" or ip("10.0.0")`, `ip: invalid pattern: "10.0.0"`},
	{`{a="b"} |= ip(" 10.0.0.1")`, `ip: invalid pattern: " 10.0.0.1"`},
	{`{a="b"} |= ip("10.0.0.9-10.0.0.1")`, `ip: invalid pattern: "10.0.0.9-10.0.0.1"`},
	{`{a="b"} |= ip("10.0.0.0/33")`, `ip: invalid pattern: "10.0.0.0/33"`},
	{`{a="b"} | addr = ip("")`, `ip: invalid pattern: ""`},
	{`{a="b"} | addr > ip("1.2.3.4")`, `ip() label filters take = or !=, not >`},
	{`{a="b"} |= ip("1.2.3.4"`, `expecting ")" to close ip(`},
	{`{a="b"} |= ip "1.2.3.4"`, `unexpected identifier ip, expecting a string or ip("…") after |=`},
	// Bare parameters.
	{`{a="b"} | json a,`, `syntax error: unexpected end of input, expecting a parameter of | json after ","`},
	{`{a="b"} | logfmt a, "b"`, `unexpected string "b", expecting a parameter of | logfmt after ","`},
	{`{a="b"} | logfmt msg --strict`, `unexpected flag --strict`},
	{`{a="b"} | json a b`, `unexpected identifier b, expecting a pipeline stage`},
	{`{a="b"} | json by`, `unexpected keyword by, expecting a pipeline stage`},
	// A stage name after "|" is no label name.
	{`{a="b"} | json="x"`, `line 1, col 15: syntax error: unexpected "="`},
	{`{a="b"} | decolorize="x"`, `syntax error: unexpected "="`},
	{`{a="b"} | keep > 5`, `unexpected ">", expecting a label name after | keep`},
	// The places of a range.
	{`count_over_time({a="b"} |= "x" [5m] | json)`, `line 1, col 37: syntax error: unexpected | after the range`},
	{`count_over_time(({a="b"} |= "x")[5m] | json)`, `unexpected | after the range`},
	{`count_over_time(({a="b"})[5m] | json)`, `unexpected | after the range`},
	{`sum_over_time({a="b"} | unwrap x [5m] | unwrap y)`, `unexpected | after the range`},
	{`count_over_time((({a="b"}))[5m])`, `line 1, col 27: syntax error: a range aggregation needs a range`},
	// Numbers are decimal, as Loki's float parser reads them.
	{`{a="b"} | x > 0x10`, `unable to parse literal 0x10 as a float`},
	{`rate({a="b"}[1m]) > 1e999`, `unable to parse literal 1e999 as a float: value out of range`},
	{`{a="b"} | size > 10kb`, `invalid number, duration or byte size "10kb"`},
	{"{app=~\"\xff\xfe\"}", `invalid UTF-8 encoding in string`},
	{`{a="b"} | regexp "(?P<a>x)(?P<a>y)"`, `invalid regexp parser: duplicate extracted label name 'a'`},
	{`{a="b"} | regexp "(x)"`, `invalid regexp parser: at least one named capture must be supplied`},
	{`label_replace(rate({a="b"}[1m]), "", "$1", "c", "(.*)")`, `invalid destination label name in label_replace(): the name is empty`},
	{`label_replace(rate({ foo = "bar" }[5m]),"foo","$1","bar","^^^^x43\\q")`, "invalid regex in label_replace: error parsing regexp: invalid escape sequence: `\\q`"},
	{`bool 1 > 1`, `line 1, col 1: syntax error: unexpected keyword bool`},
	{`1 or 1`, `set operator "or" not allowed in binary scalar expression`},
	{`rate({a="b"}[1m]) and 1`, `set operator "and" not allowed in binary scalar expression`},
	// Parameters are unsigned numbers, k an integer.
	{`topk(1.0, rate({a="b"}[1m]))`, `invalid parameter for topk: 1.0 must be a positive integer`},
	{`bottomk(1e1, rate({a="b"}[1m]))`, `invalid parameter for bottomk: 1e1 must be a positive integer`},
	{`approx_topk(0, rate({a="b"}[1m]))`, `invalid parameter for approx_topk: 0 must be a positive integer`},
	{`topk(+2, rate({a="b"}[1m]))`, `unexpected "+", expecting the number of series k`},
	{`quantile_over_time(-0.5, {a="b"} | unwrap x [1m])`, `unexpected "-", expecting the quantile`},
	{`vector(-1)`, `unexpected "-", expecting a number: vector(1)`},
	{`sum by (a,) (rate({a="b"}[1m]))`, `unexpected ")", expecting a label name`},
	{`{a="b"} | label_format __error__="x"`, `__error__ cannot be formatted`},
}

func TestParseInvalid(t *testing.T) {
	for _, c := range invalidQueries {
		e, err := ParseExpr(c.in)
		if err == nil {
			t.Errorf("ParseExpr(%q) = %v, want error %q", c.in, e, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseExpr(%q):\n  error %q\n  want  %q", c.in, err, c.want)
		}
		if errors.Is(err, ErrNotSupported) {
			t.Errorf("ParseExpr(%q): %v wraps ErrNotSupported", c.in, err)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseExpr(%q): error %T is no *ParseError", c.in, err)
		}
		if _, err2 := ParseLogSelector(c.in); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("ParseLogSelector(%q) = %v, want %v", c.in, err2, err)
		}
	}
}

// unsupportedQueries are valid LogQL that this version does not implement.
var unsupportedQueries = []struct {
	in, want string
	metric   bool
}{
	{`{a="b"} | distinct a`, `line 1, col 9: the stage | distinct is not supported yet`, false},
}

func TestParseUnsupported(t *testing.T) {
	for _, c := range unsupportedQueries {
		_, err := ParseExpr(c.in)
		if !errors.Is(err, ErrNotSupported) {
			t.Errorf("ParseExpr(%q) = %v, want ErrNotSupported", c.in, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseExpr(%q):\n  error %q\n  want  %q", c.in, err, c.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	q := `{a="b"} |= "` + strings.Repeat("x", MaxQuerySize) + `"`
	want := fmt.Sprintf("parse error: input size too long (%d > %d)", len(q), MaxQuerySize)
	if _, err := ParseExpr(q); err == nil || err.Error() != want {
		t.Errorf("ParseExpr of %d bytes: %v, want %s", len(q), err, want)
	}
	if _, err := ParseMatchers(`{a="` + strings.Repeat("x", MaxQuerySize) + `"}`); err == nil || !strings.Contains(err.Error(), "input size too long") {
		t.Errorf("ParseMatchers: %v", err)
	}
	q = `{a="b"} |= "` + strings.Repeat("x", MaxQuerySize-20) + `"`
	if _, err := ParseExpr(q); err != nil {
		t.Errorf("ParseExpr of %d bytes: %v", len(q), err)
	}
}

func TestParseLogSelectorMetric(t *testing.T) {
	_, err := ParseLogSelector(`sum by (x) (rate({a="b"}[5m]))`)
	want := `parse error: a log query is expected here: a stream selector with an optional pipeline, such as {app="api"} |= "error"; this is a metric query`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestParseMatchers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{a="b"}`, `{a="b"}`},
		{` { a="b", c=~"d" } `, `{a="b", c=~"d"}`},
		{`{a=~".*"}`, `{a=~".*"}`}, // empty-compatible is fine here
		{`{a="", b!="x"}`, `{a="", b!="x"}`},
		{"{a=`x\\y`}", `{a="x\\y"}`},
	} {
		ms, err := ParseMatchers(c.in)
		if err != nil {
			t.Errorf("ParseMatchers(%q): %v", c.in, err)
			continue
		}
		if got := labels.MatchersString(ms); got != c.want {
			t.Errorf("ParseMatchers(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{``, `line 1, col 1: syntax error: unexpected end of input, expecting "{" to start a stream selector`},
		{`a="b"`, `line 1, col 1: syntax error: unexpected identifier a, expecting "{"`},
		{`{}`, `line 1, col 2: syntax error: unexpected "}", expecting a label matcher`},
		{`{a="b"} |= "x"`, `line 1, col 9: syntax error: unexpected "|=", expecting end of input: only a stream selector is allowed here`},
		{`{a="b"}{c="d"}`, `line 1, col 8: syntax error: unexpected "{", expecting end of input`},
		{`{a=~"["}`, `line 1, col 5: invalid regexp "[" for label a`},
		{`{a="b"} '`, `line 1, col 9: unexpected character '\''`},
	} {
		_, err := ParseMatchers(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseMatchers(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestParseLineFilters(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, ``},
		{`|= "a"`, `|= "a"`},
		{` |= "a"  != "b" or ip("10.0.0.1") |~ ` + "`x\\d`" + ` !> "<_> y"`, `|= "a" != "b" or ip("10.0.0.1") |~ "x\\d" !> "<_> y"`},
	} {
		fs, err := ParseLineFilters(c.in)
		if err != nil {
			t.Errorf("ParseLineFilters(%q): %v", c.in, err)
			continue
		}
		var parts []string
		for _, f := range fs {
			parts = append(parts, f.String())
		}
		if got := strings.Join(parts, " "); got != c.want {
			t.Errorf("ParseLineFilters(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`| json`, `line 1, col 1: syntax error: unexpected "|", expecting a line filter: only line filters are allowed here`},
		{`{a="b"} |= "x"`, `expecting a line filter`},
		{`|= "a" | line_format "x"`, `col 8: syntax error: unexpected "|"`},
		{`|~ "["`, `col 4: invalid regexp`},
		{`|=`, `expecting a string or ip("…") after |=`},
	} {
		_, err := ParseLineFilters(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseLineFilters(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestValidateMatchers(t *testing.T) {
	ms, _ := ParseMatchers(`{a=~".*", b=""}`)
	if err := ValidateMatchers(ms); err == nil || !strings.Contains(err.Error(), `app=~".+" will`) {
		t.Errorf("ValidateMatchers = %v", err)
	}
	ms, _ = ParseMatchers(`{a=~".*", b="x"}`)
	if err := ValidateMatchers(ms); err != nil {
		t.Errorf("ValidateMatchers = %v", err)
	}
}

func TestLineFilterString(t *testing.T) {
	for _, c := range []struct {
		f    LineFilter
		want string
	}{
		{LineFilter{Op: LineContains, Values: []string{"a"}}, `|= "a"`},
		{LineFilter{Op: LineNotContains, Values: []string{"a", "b"}}, `!= "a" or "b"`},
		{LineFilter{Op: LineMatch, Values: []string{`\d`}}, `|~ "\\d"`},
		{LineFilter{Op: LineNotMatch, Values: []string{"x"}}, `!~ "x"`},
		{LineFilter{Op: LinePattern, Values: []string{"<_> x"}}, `|> "<_> x"`},
		{LineFilter{Op: LineNotPattern, Values: []string{"y <_>"}}, `!> "y <_>"`},
		{LineFilter{Op: LineContains, Values: []string{"10.0.0.0/8"}, IP: []bool{true}}, `|= ip("10.0.0.0/8")`},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("String() = %s, want %s", got, c.want)
		}
	}
	if !LineNotPattern.Negated() || LinePattern.Negated() || LineFilterOp(42).String() != "LineFilterOp(42)" {
		t.Error("LineFilterOp methods")
	}
}
