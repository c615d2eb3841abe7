package conformance

import (
	"encoding/json"
	"strings"
	"testing"
)

// hour is a shift of one hour; answers carry it, expectations do not.
var hour = ShiftHours(1)

func TestNormalizeDiff(t *testing.T) {
	const streamKey = `{"app": "api", "pod": "p-1"}`
	tests := []struct {
		name   string
		want   string // the recorded answer, normalized
		status int
		body   string // the server's answer, shifted by one hour
		diff   string // "" when they must match, else a part of the diff
	}{
		{"streams match, stats ignored", `{"resultType":"streams","streams":{"{\"app\": \"api\", \"pod\": \"p-1\"}":[["1000","b"],["999","a"]]}}`,
			200, `{"status":"success","data":{"resultType":"streams","result":[{"stream":{"pod":"p-1","app":"api"},"values":[["3600000001000","b"],["3600000000999","a"]]}],"stats":{"summary":{"x":1}}}}`, ""},
		{"entry order inside a stream counts", `{"resultType":"streams","streams":{"{\"app\": \"api\", \"pod\": \"p-1\"}":[["1000","b"],["999","a"]]}}`,
			200, `{"data":{"resultType":"streams","result":[{"stream":{"pod":"p-1","app":"api"},"values":[["3600000000999","a"],["3600000001000","b"]]}]}}`,
			"stream " + streamKey + `: entry 0 is [999 "a"], expected [1000 "b"]`},
		{"stream order ignored", `{"resultType":"streams","streams":{"{\"a\": \"1\"}":[["5","x"]],"{\"a\": \"2\"}":[["6","y"]]}}`,
			200, `{"data":{"resultType":"streams","result":[{"stream":{"a":"2"},"values":[["3600000000006","y"]]},{"stream":{"a":"1"},"values":[["3600000000005","x"]]}]}}`, ""},
		{"a stream answered twice is one", `{"resultType":"streams","streams":{"{\"a\": \"1\"}":[["6","y"],["5","x"]]}}`,
			200, `{"data":{"resultType":"streams","result":[{"stream":{"a":"1"},"values":[["3600000000006","y"]]},{"stream":{"a":"1"},"values":[["3600000000005","x"]]}]}}`, ""},
		{"missing stream", `{"resultType":"streams","streams":{"{\"a\": \"1\"}":[["5","x"]],"{\"a\": \"2\"}":[["6","y"]]}}`,
			200, `{"data":{"resultType":"streams","result":[{"stream":{"a":"1"},"values":[["3600000000005","x"]]}]}}`, `stream sets differ: missing ["{\"a\": \"2\"}"] unexpected []`},
		{"fewer entries", `{"resultType":"streams","streams":{"{\"a\": \"1\"}":[["6","y"],["5","x"]]}}`,
			200, `{"data":{"resultType":"streams","result":[{"stream":{"a":"1"},"values":[["3600000000006","y"]]}]}}`, "1 entries, expected 2"},
		{"metadata after the line is not compared", `{"resultType":"streams","streams":{"{\"a\": \"1\"}":[["5","x"]]}}`,
			200, `{"data":{"resultType":"streams","result":[{"stream":{"a":"1"},"values":[["3600000000005","x",{"trace":"t"}]]}]}}`, ""},
		{"label sets written as Python does", `{"resultType":"streams","streams":{"{\"msg\": \"caf\\u00e9 \\ud83d\\ude00\", \"z\": \"\\u001b[0m\"}":[["5","x"]]}}`,
			200, `{"data":{"resultType":"streams","result":[{"stream":{"z":"\u001b[0m","msg":"café 😀"},"values":[["3600000000005","x"]]}]}}`, ""},

		{"matrix match, values within 1e-6", `{"resultType":"matrix","series":{"{\"level\": \"info\"}":[[1793491260.0,"3"],[1793491320.0,"1000000"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{"level":"info"},"values":[[1793494860,"3.000000001"],[1793494920,"1000000.5"]]}]}}`, ""},
		{"a differing point fails", `{"resultType":"matrix","series":{"{\"level\": \"info\"}":[[1793491260.0,"3"],[1793491320.0,"4"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{"level":"info"},"values":[[1793494860,"3"],[1793494920,"4.0001"]]}]}}`,
			`series {"level": "info"}: point (1793491320, 4.0001), expected (1793491320, 4)`},
		{"beyond the tolerance", `{"resultType":"matrix","series":{"{}":[[10.0,"1000"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610,"1000.01"]]}]}}`, "point (10, 1000.01)"},
		{"below 1 the tolerance is absolute", `{"resultType":"matrix","series":{"{}":[[10.0,"0"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610,"0.0000009"]]}]}}`, ""},
		{"NaN equals NaN", `{"resultType":"matrix","series":{"{}":[[10.0,"NaN"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610,"NaN"]]}]}}`, ""},
		{"NaN is not a number", `{"resultType":"matrix","series":{"{}":[[10.0,"NaN"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610,"0"]]}]}}`, "point (10, 0), expected (10, NaN)"},
		{"an infinity equals only itself", `{"resultType":"matrix","series":{"{}":[[10.0,"+Inf"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610,"-Inf"]]}]}}`, "point (10, -Inf)"},
		{"point times must match exactly", `{"resultType":"matrix","series":{"{}":[[10.0,"1"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610.001,"1"]]}]}}`, "point (10.001, 1)"},
		{"point times rounded to ms as Python does", `{"resultType":"matrix","series":{"{}":[[10.012,"1"],[10.013,"1"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610.0125,"1"],[3610.0126,"1"]]}]}}`, ""},
		{"more points", `{"resultType":"matrix","series":{"{}":[[10.0,"1"]]}}`,
			200, `{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[3610,"1"],[3620,"1"]]}]}}`, "2 points, expected 1"},
		{"series order ignored", `{"resultType":"vector","series":{"{\"a\": \"1\"}":[[10.0,"1"]],"{\"a\": \"2\"}":[[10.0,"2"]]}}`,
			200, `{"data":{"resultType":"vector","result":[{"metric":{"a":"2"},"value":[3610,"2"]},{"metric":{"a":"1"},"value":[3610,"1"]}]}}`, ""},
		{"unexpected series", `{"resultType":"vector","series":{}}`,
			200, `{"data":{"resultType":"vector","result":[{"metric":{"a":"2"},"value":[3610,"2"]}]}}`, `series sets differ: missing [] unexpected ["{\"a\": \"2\"}"]`},
		{"result type counts", `{"resultType":"vector","series":{}}`,
			200, `{"data":{"resultType":"matrix","result":[]}}`, `resultType "matrix", expected "vector"`},
		{"scalar", `{"resultType":"scalar","scalar":[10.0,"2"]}`,
			200, `{"data":{"resultType":"scalar","result":[3610,"2"]}}`, ""},
		{"scalar differs", `{"resultType":"scalar","scalar":[10.0,"2"]}`,
			200, `{"data":{"resultType":"scalar","result":[3610,"3"]}}`, "scalar (10, 3), expected (10, 2)"},
		{"another result type compared whole", `{"resultType":"other","raw":{"b":[1,"x"],"a":null}}`,
			200, `{"data":{"resultType":"other","result":{"a":null,"b":[1,"x"]}}}`, ""},
		{"another result type differs", `{"resultType":"other","raw":{"b":[1,"x"]}}`,
			200, `{"data":{"resultType":"other","result":{"b":[1,"y"]}}}`, "results differ"},

		{"label list order ignored", `{"list":["app","pod"]}`, 200, `{"status":"success","data":["pod","app"]}`, ""},
		{"label list differs", `{"list":["app","pod"]}`, 200, `{"data":["app","node"]}`, `missing ["pod"] unexpected ["node"]`},
		{"empty list", `{"list":[]}`, 200, `{"data":[]}`, ""},
		{"series list as Python writes it", `{"list":["{\"a\": \"1\", \"b\": \"\\u00e9\"}","{\"a\": \"2\"}"]}`,
			200, `{"data":[{"a":"2"},{"b":"é","a":"1"}]}`, ""},
		{"series list differs", `{"list":["{\"a\": \"1\"}"]}`, 200, `{"data":[{"a":"2"}]}`, `missing ["{\"a\": \"1\"}"]`},
		{"list is not a result", `{"list":[]}`, 200, `{"data":{"resultType":"streams","result":[]}}`, `resultType "streams", expected ""`},

		{"same error status", `{"status":400}`, 400, `parse error`, ""},
		{"error where an answer was", `{"list":["a"]}`, 500, `boom`, "status 500, expected 200"},
		{"answer where an error was", `{"status":400}`, 200, `{"data":["a"]}`, "status 200, expected 400"},
		{"another error status", `{"status":400}`, 422, `no`, "status 422, expected 400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want Answer
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatalf("expected answer: %v", err)
			}
			got, err := Normalize(tc.status, []byte(tc.body), hour)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			d := Diff(want, got)
			switch {
			case tc.diff == "" && d != "":
				t.Errorf("Diff = %q, want a match", d)
			case tc.diff != "" && !strings.Contains(d, tc.diff):
				t.Errorf("Diff = %q, want it to contain %q", d, tc.diff)
			}
			if d := Diff(want, want); d != "" {
				t.Errorf("the expected answer differs from itself: %s", d)
			}
		})
	}
}

// TestNormalizeRejects: a 200 that is not an answer of Loki's shape is an
// error, not a silently empty answer.
func TestNormalizeRejects(t *testing.T) {
	for _, body := range []string{
		``, `not json`, `[]`, `{"data":null}`, `{}`, `{"data":{"resultType":"streams","result":{}}}`,
		`{"data":{"resultType":"streams","result":[{"values":[]}]}}`,
		`{"data":{"resultType":"streams","result":[{"stream":{},"values":[["x","l"]]}]}}`,
		`{"data":{"resultType":"streams","result":[{"stream":{},"values":[["1",2]]}]}}`,
		`{"data":{"resultType":"streams","result":[{"stream":{},"values":[["1"]]}]}}`,
		`{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}`,
		`{"data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1",3]]}]}}`,
		`{"data":{"resultType":"matrix","result":[{"values":[]}]}}`,
		`{"data":{"resultType":"vector","result":[{"metric":{}}]}}`,
		`{"data":{"resultType":"scalar","result":[1]}}`,
		`{"data":{"resultType":5}}`,
		`{"data":[1,2]}`,
		`{"data":[]} {}`,
	} {
		if a, err := Normalize(200, []byte(body), 0); err == nil {
			t.Errorf("Normalize(%q) = %+v, want an error", body, a)
		}
	}
}

func TestExpectedRejects(t *testing.T) {
	for _, s := range []string{
		`[]`, `{}`, `{"status":200}`, `{"status":"400"}`, `{"status":400,"list":[]}`, `{"list":[1]}`,
		`{"list":[],"resultType":"streams"}`, `{"resultType":"streams"}`, `{"resultType":"matrix","streams":{}}`,
		`{"resultType":"streams","streams":{"{}":[["x","l"]]}}`, `{"resultType":"streams","streams":{"{}":[["1","l","m"]]}}`,
		`{"resultType":"vector","series":{"{}":[["1","2"]]}}`, `{"resultType":"vector","series":{"{}":[[1,"x"]]}}`,
		`{"resultType":"scalar","scalar":[1]}`, `{"resultType":"streams","raw":[]}`, `{"resultType":"x","raw":1,"list":[]}`,
		`{"resultType":"streams","streams":{},"extra":1}`,
	} {
		var a Answer
		if err := json.Unmarshal([]byte(s), &a); err == nil {
			t.Errorf("expected answer %s accepted as %+v", s, a)
		}
	}
}

func TestPyDumps(t *testing.T) {
	tests := []struct{ in, want string }{
		// Outputs of Python 3's json.dumps(json.loads(in), sort_keys=True).
		{`{"b":"x\u00e9\ud83d\ude00\"\\\n\t\u0001\u007f","a":"1"}`, `{"a": "1", "b": "x\u00e9\ud83d\ude00\"\\\n\t\u0001\u007f"}`},
		{`[{"c":[1,2.5],"b":true,"a":null}]`, `[{"a": null, "b": true, "c": [1, 2.5]}]`},
		{`{}`, `{}`},
		{`{"é":"", "z":"", "Z":""}`, `{"Z": "", "z": "", "\u00e9": ""}`},
		{`"\r\b\f/<>&~"`, `"\r\b\f/<>&~"`},
	}
	for _, tc := range tests {
		v, err := decodeAny([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := pyDumpsString(v); got != tc.want {
			t.Errorf("pyDumps(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRoundMilli(t *testing.T) {
	// Python: round(x, 3).
	for _, tc := range []struct{ in, want float64 }{
		{1793491260.0005, 1793491260.0}, // just below the tie in binary
		{0.0125, 0.013},                 // just above it
		{2.675, 2.675},
		{-1.0005, -1.0},
		{1793494860.25, 1793494860.25},
	} {
		if got := roundMilli(tc.in); got != tc.want {
			t.Errorf("roundMilli(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
