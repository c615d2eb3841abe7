package extract

import (
	"strings"
	"testing"
)

// apiLine is a line of the conformance corpus's JSON API stream.
const apiLine = `{"level":"error","msg":"upstream timeout","method":"POST","path":"/v1/status","status":200,"duration":"1.48s","bytes":46703,"request_id":"fbfc3895-edba-496c-ad77-ba1bd3882947","user":{"id":48,"tier":"enterprise"},"error":"invalid card"}`

// workerLine is a line of the corpus's logfmt worker stream, which
// | json sees in the json_error_label case.
const workerLine = `level=info msg="queue drained" job_id=44240 duration=8.76s size=13KB attempt=3 queue=low`

const errNotObject = "JSONParserErr: Value looks like object, but can't find closing '}' symbol"

func TestJSON(t *testing.T) {
	for _, tt := range []struct {
		name string
		line string
		want []string
		err  string
	}{
		{"api log", apiLine, []string{
			`level="error"`, `msg="upstream timeout"`, `method="POST"`, `path="/v1/status"`, `status="200"`,
			`duration="1.48s"`, `bytes="46703"`, `request_id="fbfc3895-edba-496c-ad77-ba1bd3882947"`,
			`user_id="48"`, `user_tier="enterprise"`, `error="invalid card"`,
		}, ""},
		{"deep nesting", `{"pod":{"uuid":"foo","deployment":{"ref":"foobar"}},"ns":"prod"}`,
			[]string{`pod_uuid="foo"`, `pod_deployment_ref="foobar"`, `ns="prod"`}, ""},
		{"arrays and nulls are skipped", `{"tags":["a","b"],"n":null,"o":{"list":[{"x":1}],"z":null,"k":"v"}}`,
			[]string{`o_k="v"`}, ""},
		{"numbers as written", `{"a":1.50,"b":-0e+3,"c":1e400,"d":007,"e":-}`,
			[]string{`a="1.50"`, `b="-0e+3"`, `c="1e400"`, `d="007"`, `e="-"`}, ""},
		{"booleans", `{"ok":true,"retry":false}`, []string{`ok="true"`, `retry="false"`}, ""},
		{"escapes", `{"msg":"say \"hi\"\t\u00e9\ud83d\ude00 \/ \\"}`, []string{`msg="say \"hi\"\té😀 / \\"`}, ""},
		{"invalid escape gives empty", `{"a":"x\qy","b":"ok"}`, []string{`a=""`, `b="ok"`}, ""},
		{"lone surrogate escape is invalid", `{"a":"\ud800x"}`, []string{`a=""`}, ""},
		{"invalid UTF-8 and U+FFFD become spaces", "{\"a\":\"x\xff\xfey\",\"b\":\"\uFFFD\"}", []string{`a="x  y"`, `b=" "`}, ""},
		{"number bytes kept raw", "{\"a\":1\xff}", []string{`a="1\xff"`}, ""},
		{"key sanitising", `{"cou-nter":1,"1a":2,"é":3," spaced ":4,"a.b":{"c-d":5}}`,
			[]string{`cou_nter="1"`, `_1a="2"`, `_="3"`, `spaced="4"`, `a_b_c_d="5"`}, ""},
		{"digit prefix only for the first part", `{"1a":{"2b":1}," ":{"3c":2},"x":{"4d":3}}`,
			[]string{`_1a_2b="1"`, `_3c="2"`, `x_4d="3"`}, ""},
		{"blank keys", `{"":1," ":2,"a":{"":3," ":{"b":4}}," ":{" ":5}}`,
			[]string{`a="3"`, `a_b="4"`, `="5"`}, ""},
		{"escaped keys are unescaped", `{"\u006cevel":"warn","a\"b":1}`, []string{`level="warn"`, `a_b="1"`}, ""},
		{"duplicates all emitted", `{"a":"x","a":"y","a_b":1,"a":{"b":2}}`,
			[]string{`a="x"`, `a="y"`, `a_b="1"`, `a_b="2"`}, ""},
		{"white space around", " \t{ \"a\" :\n\"b\" , \"c\":1 } trailing", []string{`a="b"`, `c="1"`}, ""},
		{"trailing comma", `{"a":1,}`, []string{`a="1"`}, ""},
		{"empty object", `{}`, nil, ""},

		{"logfmt line", workerLine, nil, errNotObject},
		{"empty line", ``, nil, errNotObject},
		{"array", `[{"a":1}]`, nil, errNotObject},
		{"garbage key", `{n}`, nil, errNotObject},
		{"labels before an error stay", `{"a":1,"b":tru}`, []string{`a="1"`}, "JSONParserErr: Unknown value type"},
		{"unterminated object", `{"a":1`, []string{`a="1"`}, "JSONParserErr: Value is array, but can't find closing ']' symbol"},
		{"unterminated string", `{"a":"b}`, nil, `JSONParserErr: Value is string, but can't find closing '"' symbol`},
		{"unterminated nested", `{"a":{"b":1}`, []string{`a_b="1"`}, "JSONParserErr: Value is array, but can't find closing ']' symbol"},
		{"unbalanced nested", `{"a":{"b":1`, nil, errNotObject},
		{"missing colon", `{"a" 1}`, nil, "JSONParserErr: Malformed JSON error"},
		{"missing comma", `{"a":1 "b":2}`, []string{`a="1"`}, errNotObject},
		{"missing value", `{"a":}`, nil, "JSONParserErr: Unknown value type"},
		{"nothing after colon", `{"a":`, nil, "JSONParserErr: Malformed JSON error"},
		{"bad key escape", `{"a\x":1}`, nil, "JSONParserErr: Encountered an invalid escape sequence in a string"},
		{"error inside a nested object", `{"a":{"b":nul}}`, nil, "JSONParserErr: Unknown value type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got labels
			err := NewJSON().Extract([]byte(tt.line), got.emit)
			checkLabels(t, got, tt.want...)
			if e := errString(err); e != tt.err {
				t.Errorf("error %q, want %q", e, tt.err)
			}
		})
	}
}

func TestJSONStop(t *testing.T) {
	var got labels
	n := 0
	err := NewJSON().Extract([]byte(`{"a":1,"b":{"c":2,"d":3},"e":tru}`), func(name, value string) bool {
		got.emit(name, value)
		n++
		return n < 2
	})
	checkLabels(t, got, `a="1"`, `b_c="2"`)
	if err != nil {
		t.Errorf("error %v after stop, want none", err)
	}
}

func TestJSONExtractedName(t *testing.T) {
	j := NewJSON()
	got := map[string]string{}
	j.Extract([]byte(`{"app":1,"1a":2,"pod":{"uuid":3,"name ":4," ":5,"x\u00a0":6}}`), func(name, value string) bool {
		got[value] = j.ExtractedName(name)
		return true
	})
	want := map[string]string{
		"1": "app_extracted",
		"2": "_1a_extracted",
		"3": "pod_uuid_extracted",
		"4": "pod_name__extracted", // Loki suffixes the raw key "name "
		"5": "pod__extracted",
		"6": "pod_x__extracted",
	}
	for v, w := range want {
		if got[v] != w {
			t.Errorf("value %s: ExtractedName %q, want %q", v, got[v], w)
		}
	}
}

// TestJSONReuse checks that an extractor gives the same answer line after
// line, with its caches warm.
func TestJSONReuse(t *testing.T) {
	j := NewJSON()
	var first, second labels
	j.Extract([]byte(apiLine), first.emit)
	j.Extract([]byte(`{"x":"\"y\""}`), func(string, string) bool { return true })
	j.Extract([]byte(apiLine), second.emit)
	checkLabels(t, second, first...)
}

func TestJSONPaths(t *testing.T) {
	line := `{"app":"foo","field with space":"value","null_field":null,"bool_field":false,"num":1.5,` +
		`"pod":{"uuid":"foo","deployment":{"ref":"foobar","params":[1,2,3,"string_value",{"k":"v"}]}},` +
		`"esc":"a\"b","arr":["x\"y",{"b":"c"}],"dup":1,"dup":2,"obj":{"name":"great \"loki\""},"bad":"\u00e9\ud800"}`
	for _, tt := range []struct {
		name    string
		params  []Param
		line    string
		want    []string
		missing []string
		err     string
	}{
		{"field", []Param{{"app", "app"}}, line, []string{`app="foo"`}, nil, ""},
		{"rename and order of the line", []Param{{"u", "pod.uuid"}, {"a", "app"}}, line, []string{`a="foo"`, `u="foo"`}, nil, ""},
		{"bracket key", []Param{{"f", `["field with space"]`}}, line, []string{`f="value"`}, nil, ""},
		{"bracket forms", []Param{{"a", `pod["uuid"]`}, {"b", `["pod"]["deployment"].ref`}}, line,
			[]string{`a="foo"`, `b="foobar"`}, nil, ""},
		{"array index", []Param{{"p", "pod.deployment.params[0]"}, {"s", "pod.deployment.params[3]"}, {"k", "pod.deployment.params[4].k"}}, line,
			[]string{`p="1"`, `s="string_value"`, `k="v"`}, nil, ""},
		{"index out of range", []Param{{"p", "pod.deployment.params[9]"}}, line, nil, []string{"p"}, ""},
		{"object as written", []Param{{"o", "obj"}}, line, []string{`o="{\"name\":\"great \\\"loki\\\"\"}"`}, nil, ""},
		{"array unescaped as a string", []Param{{"a", "arr"}}, line, []string{`a="[\"x\"y\",{\"b\":\"c\"}]"`}, nil, ""},
		{"null", []Param{{"n", "null_field"}}, line, []string{`n=""`}, nil, ""},
		{"bool and number", []Param{{"b", "bool_field"}, {"n", "num"}}, line, []string{`b="false"`, `n="1.5"`}, nil, ""},
		{"escapes", []Param{{"e", "esc"}}, line, []string{`e="a\"b"`}, nil, ""},
		{"invalid surrogate gives empty", []Param{{"b", "bad"}}, line, []string{`b=""`}, nil, ""},
		{"first duplicate wins", []Param{{"d", "dup"}}, line, []string{`d="1"`}, nil, ""},
		{"missing", []Param{{"a", "app"}, {"nope", "pod.nope"}, {"e", `pod[""]`}}, line, []string{`a="foo"`}, []string{"nope", "e"}, ""},
		{"same name twice", []Param{{"a", "app"}, {"a", "nope"}}, line, []string{`a="foo"`}, []string{"a"}, ""},
		{"top-level array", []Param{{"x", "[1].a"}, {"y", "[0]"}}, `["q",{"a":1}]`, []string{`y="q"`, `x="1"`}, nil, ""},
		{"empty object", []Param{{"u", "pod.uuid"}}, `{}`, nil, []string{"u"}, ""},
		{"empty line: nothing", []Param{{"u", "pod.uuid"}}, ``, nil, nil, ""},
		{"not JSON: error without details", []Param{{"u", "pod.uuid"}}, workerLine, nil, nil, "JSONParserErr: "},
		{"leading space is not JSON", []Param{{"u", "u"}}, ` {"u":1}`, nil, nil, "JSONParserErr: "},
		{"bad value: error and missing", []Param{{"a", "a"}, {"b", "b"}}, `{"a":tru,"b":2}`, []string{`b="2"`}, []string{"a"}, "JSONParserErr: Unknown value type"},
		{"key outside an object", []Param{{"a", "a"}}, `"a":1`, nil, []string{"a"}, "JSONParserErr: Malformed JSON error"},
		{"lenient: stops when all found", []Param{{"a", "a"}}, `{"a":1,]]]`, []string{`a="1"`}, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j, err := NewJSONPaths(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			var got labels
			var missing []string
			e := j.Extract([]byte(tt.line), got.emit, func(name string) { missing = append(missing, name) })
			checkLabels(t, got, tt.want...)
			if !equalStrings(missing, tt.missing) {
				t.Errorf("missing %q, want %q", missing, tt.missing)
			}
			if s := errString(e); s != tt.err {
				t.Errorf("error %q, want %q", s, tt.err)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
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

// TestJSONPathErrors pins the messages of Loki's expression grammar,
// recorded from Loki's own parser.
func TestJSONPathErrors(t *testing.T) {
	for _, tt := range []struct {
		expr string
		path []string
		err  string
	}{
		{"a", []string{"a"}, ""},
		{"a.b", []string{"a", "b"}, ""},
		{"a[0]", []string{"a", "[0]"}, ""},
		{`a["b c"]`, []string{"a", "b c"}, ""},
		{"[0]", []string{"[0]"}, ""},
		{`["a"]`, []string{"a"}, ""},
		{"a[0].b", []string{"a", "[0]", "b"}, ""},
		{"a[0][1]", []string{"a", "[0]", "[1]"}, ""},
		{`a[""]`, []string{"a", ""}, ""},
		{"a[ 1 ]", []string{"a", "[1]"}, ""},
		{"a [0]", []string{"a", "[0]"}, ""},
		{"a[00]", []string{"a", "[0]"}, ""},
		{"a\x00b", []string{"a"}, ""}, // NUL ends the expression
		{`["a"]["b"]`, []string{"a", "b"}, ""},
		{"a[\"é\xff\"]", []string{"a", "é\uFFFD"}, ""},
		{".a", nil, "syntax error: unexpected DOT, expecting LSB or FIELD"},
		{"a.", nil, "syntax error: unexpected $end, expecting FIELD"},
		{"a..b", nil, "syntax error: unexpected DOT, expecting FIELD"},
		{"5", nil, "syntax error: unexpected $end, expecting LSB or FIELD"},
		{"a.5", nil, "syntax error: unexpected $end, expecting FIELD"},
		{"a[1.5]", nil, "syntax error: unexpected $end, expecting STRING or INDEX"},
		{"a[x]", nil, "syntax error: unexpected FIELD, expecting STRING or INDEX"},
		{"a[0", nil, "syntax error: unexpected $end, expecting STRING or INDEX"},
		{`a["b`, nil, "syntax error: unexpected $end, expecting RSB"},
		{`a["b]c"]`, nil, "syntax error: unexpected FIELD, expecting RSB"},
		{"", nil, "syntax error: unexpected $end, expecting LSB or FIELD"},
		{"a b", nil, "syntax error: unexpected FIELD"},
		{"a-b", nil, "unexpected char -"},
		{"a[0]-", nil, "unexpected char -"},
		{"é", nil, "syntax error: unexpected $end, expecting LSB or FIELD"},
		{"a]", nil, "syntax error: unexpected RSB"},
		{"a[]", nil, "syntax error: unexpected RSB, expecting STRING or INDEX"},
		{`a."b"`, nil, "syntax error: unexpected STRING, expecting FIELD"},
		{"a[99999999999999999999]", nil, "syntax error: unexpected $end, expecting STRING or INDEX"},
		{"a[0]b", nil, "syntax error: unexpected FIELD"},
		{"a.[0]", nil, "syntax error: unexpected LSB, expecting FIELD"},
		{"field with space", nil, "syntax error: unexpected FIELD"},
	} {
		path, err := parseJSONPath(tt.expr)
		checkErr(t, err, tt.err)
		if err == nil && !equalStrings(path, tt.path) {
			t.Errorf("parseJSONPath(%q) = %q, want %q", tt.expr, path, tt.path)
		}
	}
	_, err := NewJSONPaths([]Param{{"a", "a"}, {"b", "x..y"}})
	checkErr(t, err, "cannot parse expression [x..y]: syntax error: unexpected DOT, expecting FIELD")
	_, err = NewJSONPaths([]Param{{"", "a"}})
	checkErr(t, err, "invalid extracted label name ''")
}

func TestUnpack(t *testing.T) {
	for _, tt := range []struct {
		name   string
		line   string
		want   []string
		entry  string
		packed bool
		err    string
	}{
		{"packed", `{"bar":1,"app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}}`,
			[]string{`app="foo"`, `namespace="prod"`}, "some message", true, ""},
		{"raw keys", `{"foo.bar":"10ms","test-dash":"foo","\u0061":"x","_entry":"m"}`,
			[]string{`foo.bar="10ms"`, `test-dash="foo"`, `a="x"`}, "m", true, ""},
		{"entry unescaped, values cleaned", "{\"_entry\":\"I0303 \\\"Pod status\\\" \\u00e9\",\"v\":\"a\\u0041\xff\"}",
			[]string{`v="aA "`}, `I0303 "Pod status" é`, true, ""},
		{"last entry wins", `{"_entry":"one","_entry":"two"}`, nil, "two", true, ""},
		{"entry must be a string", `{"_entry":1,"a":"b"}`, []string{`a="b"`}, "", false, ""},
		{"not packed", `{"app":"foo","n":2}`, []string{`app="foo"`}, "", false, ""},
		{"empty line", ``, nil, "", false, ""},
		{"not an object", `["foo","bar"]`, nil, "", false, "JSONParserErr: expecting json object(6), but it is not"},
		{"leading space", ` {"a":"b"}`, nil, "", false, "JSONParserErr: expecting json object(6), but it is not"},
		{"logfmt", workerLine, nil, "", false, "JSONParserErr: expecting json object(6), but it is not"},
		{"malformed", `{"a":"b","_entry":"x",}}`, []string{`a="b"`}, "x", true, ""},
		{"malformed error", `{"a":"b" "_entry":"x"}`, []string{`a="b"`}, "", false, "JSONParserErr: Value looks like object, but can't find closing '}' symbol"},
		{"bad entry escape", `{"a":"b","_entry":"\q"}`, []string{`a="b"`}, "", false, "JSONParserErr: Encountered an invalid escape sequence in a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got labels
			entry, packed, err := NewUnpack().Extract([]byte(tt.line), func(k, v string) { got.emit(k, v) })
			checkLabels(t, got, tt.want...)
			if string(entry) != tt.entry || packed != tt.packed {
				t.Errorf("entry %q packed %v, want %q %v", entry, packed, tt.entry, tt.packed)
			}
			if s := errString(err); s != tt.err {
				t.Errorf("error %q, want %q", s, tt.err)
			}
		})
	}
}

// TestUnpackEntryBuffer checks that an escaped entry does not change under
// the caller until the next call.
func TestUnpackEntryBuffer(t *testing.T) {
	u := NewUnpack()
	e1, _, _ := u.Extract([]byte(`{"_entry":"a\"b"}`), func(string, string) {})
	s1 := string(e1)
	e2, _, _ := u.Extract([]byte(`{"_entry":"plain","_entry":"c\"d"}`), func(string, string) {})
	if s1 != `a"b` || string(e2) != `c"d` {
		t.Errorf("entries %q %q", s1, e2)
	}
}

// TestJSONDeep checks deep nesting against a walk that never remembers
// object ends.
func TestJSONDeep(t *testing.T) {
	for _, line := range []string{
		strings.Repeat(`{"k":1,"a":`, 40) + `{"b":1"x{","c":{"d":2}}` + strings.Repeat(`,"z":"}"}`, 40),
		strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 99),
		strings.Repeat(`{"a":{"s":"}{"},"b":`, 30) + `true` + strings.Repeat(`}`, 30),
	} {
		var got, want labels
		errGot := NewJSON().Extract([]byte(line), got.emit)
		errWant := shallowJSON(t, []byte(line), want.emit)
		checkLabels(t, got, want...)
		if errString(errGot) != errString(errWant) {
			t.Errorf("error %v, want %v", errGot, errWant)
		}
	}
}

// shallowJSON is JSON without objectEnds, for TestJSONDeep.
func shallowJSON(t *testing.T, line []byte, emit Emit) *Error {
	var prefix []byte
	var buf, keyBuf []byte
	var ls lineString
	ls.reset(line)
	depth := 0
	var member func(key, value []byte, typ jsonType) *Error
	member = func(key, value []byte, typ jsonType) *Error {
		switch typ {
		case jsonString, jsonNumber, jsonBoolean:
			n := len(prefix)
			name := ""
			if depth == 0 {
				name = SanitizeName(string(key))
				if name == "" {
					return nil
				}
			} else {
				prefix = appendPart(prefix, key)
				name = string(prefix)
				prefix = prefix[:n]
			}
			var v string
			switch typ {
			case jsonString:
				v = jsonStringValue(&ls, value, &buf)
			case jsonBoolean:
				v = string(value)
			default:
				v = ls.of(value)
			}
			emit(name, v)
		case jsonObject:
			n := len(prefix)
			prefix = appendPart(prefix, key)
			depth++
			err := eachMember(value, &keyBuf, nil, member)
			depth--
			prefix = prefix[:n]
			return err
		}
		return nil
	}
	return eachMember(line, &keyBuf, nil, member)
}

func BenchmarkJSONDeep(b *testing.B) {
	line := []byte(strings.Repeat(`{"k":1,"a":`, 1000) + `1` + strings.Repeat(`}`, 1000))
	j := NewJSON()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		j.Extract(line, benchEmit)
	}
}
