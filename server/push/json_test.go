package push

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

var jsonValidTests = []struct {
	name string
	body string
	want []Stream
}{
	{
		name: "one entry",
		body: `{"streams":[{"stream":{"job":"a"},"values":[["1","hello"]]}]}`,
		want: []Stream{{Labels: `{job="a"}`, Entries: []Entry{{Timestamp: 1, Line: "hello"}}}},
	},
	{
		name: "labels keep their order",
		body: `{"streams":[{"stream":{"z":"1","a":"2","m":"3"},"values":[["1700000000123456789","x"]]}]}`,
		want: []Stream{{Labels: `{z="1", a="2", m="3"}`, Entries: []Entry{{Timestamp: 1700000000123456789, Line: "x"}}}},
	},
	{
		name: "multiple streams and entries",
		body: `{"streams":[
			{"stream":{"job":"a"},"values":[["1","one"],["2","two"]]},
			{"stream":{"job":"b"},"values":[["3","three"]]}
		]}`,
		want: []Stream{
			{Labels: `{job="a"}`, Entries: []Entry{{Timestamp: 1, Line: "one"}, {Timestamp: 2, Line: "two"}}},
			{Labels: `{job="b"}`, Entries: []Entry{{Timestamp: 3, Line: "three"}}},
		},
	},
	{
		name: "structured metadata",
		body: `{"streams":[{"stream":{"job":"a"},"values":[["1","x",{"trace_id":"abc","user":"u1"}],["2","y"],["3","z",{}],["4","w",null]]}]}`,
		want: []Stream{{Labels: `{job="a"}`, Entries: []Entry{
			{Timestamp: 1, Line: "x", Metadata: []LabelPair{{"trace_id", "abc"}, {"user", "u1"}}},
			{Timestamp: 2, Line: "y"},
			{Timestamp: 3, Line: "z"},
			{Timestamp: 4, Line: "w"},
		}}},
	},
	{
		name: "escapes in lines",
		body: `{"streams":[{"stream":{},"values":[["1","q\"b\\s\/n\nt\tr\rb\bf\fu\u00e9\u4e16 pair \ud83d\ude00 end"]]}]}`,
		want: []Stream{{Labels: `{}`, Entries: []Entry{{Timestamp: 1, Line: "q\"b\\s/n\nt\tr\rb\bf\fué世 pair 😀 end"}}}},
	},
	{
		name: "lone surrogates become U+FFFD",
		body: `{"streams":[{"stream":{},"values":[["1","\ud800x\udc00\ud83d\u0041"]]}]}`,
		want: []Stream{{Labels: `{}`, Entries: []Entry{{Timestamp: 1, Line: "\uFFFDx\uFFFD\uFFFDA"}}}},
	},
	{
		name: "raw unicode",
		body: `{"streams":[{"stream":{"city":"Zürich"},"values":[["1","héllo 世界 😀"]]}]}`,
		want: []Stream{{Labels: `{city="Zürich"}`, Entries: []Entry{{Timestamp: 1, Line: "héllo 世界 😀"}}}},
	},
	{
		name: "escapes in labels and metadata",
		body: `{"streams":[{"stream":{"job":"a\"b","path":"c:\\d","nl":"x\ny"},"values":[["1","l",{"k\"":"v\\"}]]}]}`,
		want: []Stream{{Labels: `{job="a\"b", path="c:\\d", nl="x\ny"}`, Entries: []Entry{
			{Timestamp: 1, Line: "l", Metadata: []LabelPair{{`k"`, `v\`}}},
		}}},
	},
	{
		name: "odd label names are quoted",
		body: `{"streams":[{"stream":{"a b":"1","x\", y=\"z":"2","_ok9":"3"},"values":[]}]}`,
		want: []Stream{{Labels: `{"a b"="1", "x\", y=\"z"="2", _ok9="3"}`}},
	},
	{
		name: "timestamp as a number",
		body: `{"streams":[{"stream":{"job":"a"},"values":[[1700000000000000000,"x"],[-5,"y"]]}]}`,
		want: []Stream{{Labels: `{job="a"}`, Entries: []Entry{{Timestamp: 1700000000000000000, Line: "x"}, {Timestamp: -5, Line: "y"}}}},
	},
	{
		name: "values before stream, empty line, unknown fields",
		body: `{"extra":{"x":[1,{"y":"\"z"}]},"streams":[{"values":[["7",""]],"hash":"12","stream":{"job":"a"}}],"more":null}`,
		want: []Stream{{Labels: `{job="a"}`, Entries: []Entry{{Timestamp: 7}}}},
	},
	{
		name: "stream without values",
		body: `{"streams":[{"stream":{"job":"a"}},{"stream":{"job":"b"},"values":null}]}`,
		want: []Stream{{Labels: `{job="a"}`}, {Labels: `{job="b"}`}},
	},
	{
		name: "whitespace everywhere",
		body: " \n{ \"streams\" : [ { \"stream\" : { \"job\" : \"a\" } , \"values\" : [ [ \"1\" , \"x\" , { \"k\" : \"v\" } ] ] } ] }\r\n\t",
		want: []Stream{{Labels: `{job="a"}`, Entries: []Entry{{Timestamp: 1, Line: "x", Metadata: []LabelPair{{"k", "v"}}}}}},
	},
	{
		name: "empty keys",
		body: `{"":1,"streams":[{"":{"":""},"stream":{"":"x"},"values":[["1","l",{"":"v"}]]}]}`,
		want: []Stream{{Labels: `{""="x"}`, Entries: []Entry{{Timestamp: 1, Line: "l", Metadata: []LabelPair{{"", "v"}}}}}},
	},
	{
		name: "no streams",
		body: `{"streams":[]}`,
	},
	{
		name: "empty object",
		body: `{}`,
	},
	{
		name: "null streams",
		body: `{"streams":null}`,
	},
	{
		name: "legacy labels and entries",
		body: `{"streams":[{"labels":"{job=\"a\"}","entries":[{"ts":"2023-11-14T22:13:20.123456789Z","line":"x"},{"timestamp":"1970-01-01T00:00:01+01:00","line":"y\n"}]}]}`,
		want: []Stream{{Labels: `{job="a"}`, Entries: []Entry{
			{Timestamp: 1700000000123456789, Line: "x"},
			{Timestamp: -3599 * 1e9, Line: "y\n"},
		}}},
	},
}

func TestDecodeJSON(t *testing.T) {
	for _, tt := range jsonValidTests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			if err := DecodeJSON([]byte(tt.body), &r); err != nil {
				t.Fatal(err)
			}
			checkStreams(t, r.Streams, tt.want)
		})
	}
}

var jsonInvalidTests = []struct {
	name string
	body string
	want string
}{
	{"empty", "  ", "the body is empty"},
	{"array body", `[]`, "the body must be a JSON object"},
	{"null body", `null`, "the body must be a JSON object"},
	{"streams not array", `{"streams":{}}`, `"streams" must be an array of stream objects, not an object`},
	{"stream not object", `{"streams":[1]}`, "streams[0]: a stream must be an object"},
	{"no labels", `{"streams":[{"values":[]}]}`, `streams[0]: has no "stream" object of labels`},
	{"labels not object", `{"streams":[{"stream":"job=a"}]}`, `streams[0]: "stream" must be an object`},
	{"label not string", `{"streams":[{"stream":{"a":1}}]}`, `streams[0]: label "a" must have a string value, not a number`},
	{"both label forms", `{"streams":[{"stream":{},"labels":"{}"}]}`, `has both "stream" and "labels"`},
	{"values not array", `{"streams":[{"stream":{},"values":{}}]}`, `streams[0]: "values" must be an array`},
	{"value not array", `{"streams":[{"stream":{},"values":["x"]}]}`, "streams[0].values[0]: a value must be an array"},
	{"empty value", `{"streams":[{"stream":{},"values":[[]]}]}`, "streams[0].values[0]: is empty"},
	{"no line", `{"streams":[{"stream":{},"values":[["1"]]}]}`, "streams[0].values[0]: has no log line"},
	{"line not string", `{"streams":[{"stream":{},"values":[["1",5]]}]}`, "the log line must be a string, not a number"},
	{"bad timestamp", `{"streams":[{"stream":{},"values":[["abc","x"]]}]}`, `streams[0].values[0]: timestamp "abc" is not an integer of unix nanoseconds`},
	{"bad timestamp later", `{"streams":[{"stream":{},"values":[["1","x"]]},{"stream":{},"values":[["1","a"],["2","b"],["3","c"],["4","d"],["5","e"],["1.5","f"]]}]}`,
		`streams[1].values[5]: timestamp "1.5" is not an integer`},
	{"float timestamp number", `{"streams":[{"stream":{},"values":[[1.5e18,"x"]]}]}`, `timestamp "1.5e18" is not an integer`},
	{"empty timestamp", `{"streams":[{"stream":{},"values":[["","x"]]}]}`, `timestamp "" is not an integer`},
	{"timestamp overflow", `{"streams":[{"stream":{},"values":[["99999999999999999999","x"]]}]}`, "is out of range"},
	{"timestamp bool", `{"streams":[{"stream":{},"values":[[true,"x"]]}]}`, "timestamp must be a string of integer unix nanoseconds, not a boolean"},
	{"long bad timestamp is cut", `{"streams":[{"stream":{},"values":[["` + strings.Repeat("x", 200) + `","x"]]}]}`, `"` + strings.Repeat("x", 64) + `"...`},
	{"metadata not object", `{"streams":[{"stream":{},"values":[["1","x","y"]]}]}`, "streams[0].values[0]: structured metadata must be an object"},
	{"metadata value not string", `{"streams":[{"stream":{},"values":[["1","x",{"a":1}]]}]}`, `structured metadata "a" must have a string value, not a number`},
	{"four elements", `{"streams":[{"stream":{},"values":[["1","x",{},4]]}]}`, "has more than 3 elements"},
	{"truncated", `{"streams":[{"stream":{},"values":[["1","x"`, "truncated"},
	{"truncated string", `{"streams":[{"stream":{},"values":[["1","x`, "truncated"},
	{"unterminated escaped string", `{"streams":[{"stream":{},"values":[["1","x\"`, "unterminated string"},
	{"trailing data", `{"streams":[]} x`, "unexpected data after the JSON object"},
	{"closing bracket after", `{}]`, "unexpected data after the JSON object"},
	{"missing comma", `{"streams":[{"stream":{} "values":[]}]}`, "streams[0]: malformed JSON"},
	{"missing comma between values", `{"streams":[{"stream":{},"values":[["1","x"] ["2","y"]]}]}`, "streams[0].values[1]: a value must be an array"}, // jsoniter takes '[' as a separator,
	{"invalid escape", `{"streams":[{"stream":{},"values":[["1","a\x"]]}]}`, `invalid escape \x in string`},
	{"short unicode escape", `{"streams":[{"stream":{},"values":[["1","a\u12G4"]]}]}`, "want four hex digits"},
	{"raw control character", "{\"streams\":[{\"stream\":{},\"values\":[[\"1\",\"a\x01b\"]]}]}", "control character 0x01"},
	{"raw newline after escape", "{\"streams\":[{\"stream\":{},\"values\":[[\"1\",\"a\\\\\nb\"]]}]}", "control character 0x0a"},
	{"legacy bad ts", `{"streams":[{"labels":"{}","entries":[{"ts":"yesterday","line":"x"}]}]}`, `streams[0].entries[0]: ts "yesterday" is not an RFC 3339 time`},
	{"legacy entry not object", `{"streams":[{"labels":"{}","entries":[[]]}]}`, "streams[0].entries[0]: an entry must be an object"},
	{"legacy labels not string", `{"streams":[{"labels":{}}]}`, `"labels" must be a string`},
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, tt := range jsonInvalidTests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			err := DecodeJSON([]byte(tt.body), &r)
			checkDecodeError(t, err, "json", tt.want)
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var got Request
	for i := range 2000 {
		in := randomRequest(rng, true)
		body := EncodeJSON(nil, in)
		if !json.Valid(body) {
			t.Fatalf("case %d: EncodeJSON wrote invalid JSON: %s", i, body)
		}
		if err := DecodeJSON(body, &got); err != nil {
			t.Fatalf("case %d: %v\nbody: %s", i, err, body)
		}
		if !sameStreams(got.Streams, in.Streams) {
			t.Fatalf("case %d: round trip differs\nbody: %s\n got: %s\nwant: %s", i, body, dump(got.Streams), dump(in.Streams))
		}
	}
}

// TestEncodeJSONMatchesEncodingJSON checks EncodeJSON's output against what
// the standard library reads from it.
func TestEncodeJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		in := randomRequest(rng, false)
		body := EncodeJSON(nil, in)
		var doc struct {
			Streams []struct {
				Stream map[string]string `json:"stream"`
				Labels *string           `json:"labels"`
				Values [][]any           `json:"values"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, body)
		}
		if len(doc.Streams) != len(in.Streams) {
			t.Fatalf("case %d: %d streams, want %d", i, len(doc.Streams), len(in.Streams))
		}
		for si, s := range doc.Streams {
			want := in.Streams[si]
			if err := eachLabel(want.Labels, func(string, string) {}); err != nil {
				if s.Labels == nil || *s.Labels != want.Labels && !hasInvalidRunes(want.Labels) {
					t.Fatalf("case %d stream %d: unparsable labels %q not sent as legacy labels: %s", i, si, want.Labels, body)
				}
			} else if s.Stream == nil {
				t.Fatalf("case %d stream %d: labels %q not sent as a stream object", i, si, want.Labels)
			}
			for ei, v := range s.Values {
				e := want.Entries[ei]
				if v[1].(string) != strings.ToValidUTF8(e.Line, "\uFFFD") && !hasInvalidRunes(e.Line) {
					t.Fatalf("case %d: line %q read back as %q", i, e.Line, v[1])
				}
			}
		}
	}
}

// hasInvalidRunes: encoding/json and EncodeJSON may split the replacement of
// a run of invalid bytes differently, so such lines are only checked to parse.
func hasInvalidRunes(s string) bool { return strings.ToValidUTF8(s, "") != s }

func TestEncodeJSONLegacyLabels(t *testing.T) {
	in := &Request{Streams: []Stream{{Labels: `not {labels`, Entries: []Entry{{Timestamp: 5, Line: "x"}}}}}
	body := EncodeJSON(nil, in)
	if want := `{"streams":[{"labels":"not {labels","values":[["5","x"]]}]}`; string(body) != want {
		t.Fatalf("got %s, want %s", body, want)
	}
	var got Request
	if err := DecodeJSON(body, &got); err != nil {
		t.Fatal(err)
	}
	checkStreams(t, got.Streams, in.Streams)
}

func TestEncodeJSONLabelForms(t *testing.T) {
	for _, tt := range []struct{ labels, want string }{
		{`{}`, `{}`},
		{` { a = "1" , b="2", } `, `{"a":"1","b":"2"}`},
		{"{a=`raw\\n`}", `{"a":"raw\\n"}`},
		{`{"odd name"="v\x41\u00e9"}`, `{"odd name":"vAé"}`},
		{`{a="b\"c"}`, `{"a":"b\"c"}`},
	} {
		body := EncodeJSON(nil, &Request{Streams: []Stream{{Labels: tt.labels}}})
		want := `{"streams":[{"stream":` + tt.want + `,"values":[]}]}`
		if string(body) != want {
			t.Errorf("labels %s: got %s, want %s", tt.labels, body, want)
		}
	}
}

// TestDecodeJSONReuse checks that strings from one decode survive the next
// decode into the same Request, and that streams cannot overwrite each other.
func TestDecodeJSONReuse(t *testing.T) {
	var r Request
	body1 := []byte(`{"streams":[{"stream":{"a":"1"},"values":[["1","esc\"aped",{"k":"v\n"}],["2","plain"]]},{"stream":{"b":"2"},"values":[["3","next"]]}]}`)
	if err := DecodeJSON(body1, &r); err != nil {
		t.Fatal(err)
	}
	line, meta, labels := r.Streams[0].Entries[0].Line, r.Streams[0].Entries[0].Metadata[0].Value, r.Streams[0].Labels
	next := r.Streams[1].Entries[0]
	_ = append(r.Streams[0].Entries, Entry{Line: "appended"})
	if !reflect.DeepEqual(r.Streams[1].Entries[0], next) {
		t.Fatal("appending to one stream's entries overwrote the next stream")
	}
	body2 := []byte(`{"streams":[{"stream":{"c":"3"},"values":[["9","ot\"her",{"x":"y\t"}]]}]}`)
	if err := DecodeJSON(body2, &r); err != nil {
		t.Fatal(err)
	}
	if line != `esc"aped` || meta != "v\n" || labels != `{a="1"}` {
		t.Fatalf("strings from the first decode changed: %q %q %q", line, meta, labels)
	}
	checkStreams(t, r.Streams, []Stream{{Labels: `{c="3"}`, Entries: []Entry{{Timestamp: 9, Line: `ot"her`, Metadata: []LabelPair{{"x", "y\t"}}}}}})
}

func TestStringEnd(t *testing.T) {
	for n := 0; n < 20; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0x00, 0x1f, '\\', '"'} {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = c
				if pos+1 < n {
					b[n-1] = '"' // a later special must not be found first
				}
				if got := stringEnd(b); got != pos {
					t.Fatalf("%q: got %d, want %d", b, got, pos)
				}
			}
		}
		b := []byte(strings.Repeat("a é\x7f\xff]}[!#", 3)[:n])
		if got := stringEnd(b); got != n {
			t.Fatalf("%q: got %d, want %d", b, got, n)
		}
	}
	for c := 0; c < 256; c++ {
		b := bytes.Repeat([]byte{byte(c)}, 9)
		want := 9
		if c < 0x20 || c == '\\' || c == '"' {
			want = 0
		}
		if got := stringEnd(b); got != want {
			t.Fatalf("byte %#x: got %d, want %d", c, got, want)
		}
		// Borrows from a special byte must not hide or fake one before it.
		b = append([]byte{byte(c), 0x00}, bytes.Repeat([]byte{'a'}, 7)...)
		if want == 9 {
			want = 1
		}
		if got := stringEnd(b); got != want {
			t.Fatalf("byte %#x then NUL: got %d, want %d", c, got, want)
		}
	}
}
