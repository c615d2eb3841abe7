package pipeline

import (
	"testing"

	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
)

// FuzzPipeline runs random log queries over random lines: whatever parses
// and compiles must process any line without panicking, and keep the
// stream's labels among the result's unless a stage removes them.
func FuzzPipeline(f *testing.F) {
	for _, q := range []string{
		`{a="b"} | json`, `{a="b"} | logfmt --strict`, `{a="b"} | json x="y.z[0]" | x != ""`,
		`{a="b"} | regexp "(?P<w>\\w+)" | w =~ "e.*"`, `{a="b"} | pattern "<x> <_>" | line_format "{{.x}}"`,
		`{a="b"} | unpack | label_format q=a`, `{a="b"} | decolorize |= "x"`, `{a="b"} | drop a | keep b`,
		`{a="b"} | json | status >= 500 or duration > 1s`, `{a="b"} |= ip("10.0.0.0/8") | x = ip("::1")`,
		`{a="b"} | logfmt | label_format t="{{ __line__ | count \"a\" }}" | t > 0`,
	} {
		f.Add(q, `{"x":{"y":[1]},"status":500,"_entry":"e","a":"c"}`)
		f.Add(q, `level=info a=1 b="two words" duration=1.5s`)
		f.Add(q, "\x1b[31mred\x1b[0m 10.1.2.3")
	}
	f.Fuzz(func(t *testing.T, q, line string) {
		if len(q) > 512 || len(line) > 4096 {
			return
		}
		e, err := logql.ParseLogSelector(q)
		if err != nil {
			return
		}
		p, err := New(e)
		if err != nil {
			return
		}
		stream := labels.Labels{{Name: "a", Value: "b"}}
		sp := p.ForStream(stream)
		for i, meta := range []labels.Labels{nil, {{Name: "m", Value: "v"}}} {
			out, r, ok := sp.Process(int64(i), []byte(line), meta)
			if !ok {
				continue
			}
			_ = out
			if r == nil || r.Hash != r.All.Hash() {
				t.Fatalf("%s on %q: bad result %+v", q, line, r)
			}
		}
	})
}
