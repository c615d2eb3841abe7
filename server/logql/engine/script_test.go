package engine

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/block"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/logql"
	"github.com/loam-logs/loam/server/store"
)

// The LogQL test scripts under ../testdata/*.test load lines into a real
// store and evaluate queries against expected results. See
// ../testdata/README.md for the format.

// scriptEpoch is time 0 of a script: offsets such as 1m30s count from it.
var scriptEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.test")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type scriptLine struct {
	no   int
	text string
}

func runScript(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []scriptLine
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		lines = append(lines, scriptLine{n, sc.Text()})
	}
	st, err := store.Open(store.Options{Dir: t.TempDir(), OutOfOrderWindow: 1000 * time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := New(st, Limits{})
	for i := 0; i < len(lines); {
		l := lines[i]
		text := strings.TrimSpace(l.text)
		i++
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		// The block of indented lines that follows.
		var body []scriptLine
		for i < len(lines) && (strings.HasPrefix(lines[i].text, " ") || strings.HasPrefix(lines[i].text, "\t")) {
			if s := strings.TrimSpace(lines[i].text); s != "" && !strings.HasPrefix(s, "#") {
				body = append(body, scriptLine{lines[i].no, s})
			}
			i++
		}
		where := fmt.Sprintf("%s:%d", filepath.Base(path), l.no)
		switch {
		case text == "flush":
			if err := st.Flush(context.Background()); err != nil {
				t.Fatalf("%s: flush: %v", where, err)
			}
		case strings.HasPrefix(text, "load "):
			load(t, where, st, strings.TrimPrefix(text, "load "), body)
		case strings.HasPrefix(text, "eval "):
			evalCase(t, where, eng, strings.TrimPrefix(text, "eval "), body)
		default:
			t.Fatalf("%s: unknown directive %q", where, text)
		}
	}
}

// parseOffset reads a script time: an offset from the epoch (0s, 1m30s).
func parseOffset(s string) (int64, error) {
	if s == "0" {
		return scriptEpoch, nil
	}
	d, err := logql.ParseDuration(s)
	if err != nil {
		if n, err2 := strconv.ParseInt(s, 10, 64); err2 == nil {
			return scriptEpoch + n, nil
		}
		return 0, err
	}
	return scriptEpoch + int64(d), nil
}

// load appends the body's entries, "<offset> [@{metadata}] <line>", to the
// stream.
func load(t *testing.T, where string, st *store.Store, sel string, body []scriptLine) {
	ms, err := logql.ParseMatchers(sel)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var ls labels.Labels
	for _, m := range ms {
		ls = append(ls, labels.Label{Name: m.Name, Value: m.Value})
	}
	stream := store.Stream{Labels: labels.New(ls...)}
	for _, b := range body {
		off, rest, _ := strings.Cut(b.text, " ")
		ts, err := parseOffset(off)
		if err != nil {
			t.Fatalf("%s:%d: %v", where, b.no, err)
		}
		rest = strings.TrimLeft(rest, " ")
		var meta labels.Labels
		if strings.HasPrefix(rest, "@{") {
			end := strings.Index(rest, "}")
			mms, err := logql.ParseMatchers(rest[1 : end+1])
			if err != nil {
				t.Fatalf("%s:%d: metadata: %v", where, b.no, err)
			}
			for _, m := range mms {
				meta = append(meta, labels.Label{Name: m.Name, Value: m.Value})
			}
			meta = labels.New(meta...)
			rest = strings.TrimLeft(rest[end+1:], " ")
		}
		stream.Entries = append(stream.Entries, block.Entry{T: ts, Line: []byte(unquoteLine(rest)), Meta: meta})
	}
	slices.SortStableFunc(stream.Entries, func(a, b block.Entry) int { return int(a.T - b.T) })
	if rej, err := st.Append("fake", []store.Stream{stream}); err != nil || len(rej) > 0 {
		t.Fatalf("%s: append: %v %v", where, err, rej)
	}
}

// unquoteLine lets a line be written as a Go string when it needs leading
// spaces or escapes: "…".
func unquoteLine(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	return s
}

// evalCase runs one eval directive:
//
//	eval logs <start> <end> [forward] [limit=N] [interval=D]: <query>
//	eval range <start> <end> <step>: <query>
//	eval instant <time>: <query>
//	eval error: <query>
func evalCase(t *testing.T, where string, eng *Engine, spec string, body []scriptLine) {
	head, query, ok := strings.Cut(spec, ": ")
	if !ok {
		t.Fatalf("%s: eval needs \": <query>\"", where)
	}
	f := strings.Fields(head)
	expr, perr := logql.ParseExpr(query)
	if f[0] == "error" {
		err := perr
		if err == nil {
			_, err = eng.Query(context.Background(), Params{Tenant: "fake", Expr: expr,
				Start: scriptEpoch, End: scriptEpoch + int64(time.Hour), Step: time.Minute, Limit: 100})
		}
		if err == nil {
			t.Errorf("%s: %s: no error", where, query)
			return
		}
		for _, b := range body {
			if !strings.Contains(err.Error(), b.text) {
				t.Errorf("%s: %s: error %q does not contain %q", where, query, err, b.text)
			}
		}
		return
	}
	if perr != nil {
		t.Errorf("%s: %s: %v", where, query, perr)
		return
	}
	p := Params{Tenant: "fake", Expr: expr, Limit: 100, Backward: true}
	mustT := func(s string) int64 {
		v, err := parseOffset(s)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		return v
	}
	switch f[0] {
	case "logs":
		p.Start, p.End = mustT(f[1]), mustT(f[2])
		for _, o := range f[3:] {
			switch {
			case o == "forward":
				p.Backward = false
			case strings.HasPrefix(o, "limit="):
				p.Limit, _ = strconv.Atoi(strings.TrimPrefix(o, "limit="))
			case strings.HasPrefix(o, "interval="):
				d, err := logql.ParseDuration(strings.TrimPrefix(o, "interval="))
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				p.Interval = d
			}
		}
	case "range":
		p.Start, p.End = mustT(f[1]), mustT(f[2])
		d, err := logql.ParseDuration(f[3])
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		p.Step = d
	case "instant":
		p.Start, p.End, p.Instant = mustT(f[1]), mustT(f[1]), true
	default:
		t.Fatalf("%s: unknown eval kind %q", where, f[0])
	}
	res, err := eng.Query(context.Background(), p)
	if err != nil {
		t.Errorf("%s: %s: %v", where, query, err)
		return
	}
	got := formatResult(res)
	var want []string
	for _, b := range body {
		want = append(want, b.text)
	}
	if res.Type == "matrix" || res.Type == "vector" && !sortedBy(expr.(logql.SampleExpr)) {
		slices.Sort(got)
		slices.Sort(want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: %s\n got:\n\t%s\n want:\n\t%s", where, query, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// formatResult prints a result one line per stream entry, series or sample,
// in the script's notation.
func formatResult(res *Result) []string {
	off := func(ns int64) string { return scriptOffset(time.Duration(ns - scriptEpoch)) }
	val := func(v float64) string {
		if math.Abs(v-math.Round(v)) < 1e-9 && math.Abs(v) < 1e15 {
			return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	var out []string
	switch res.Type {
	case "streams":
		// Rows in time order across streams (the query's direction), which
		// also checks the order inside each stream.
		type row struct {
			t int64
			s string
		}
		var rows []row
		for _, s := range res.Streams {
			for _, e := range s.Entries {
				rows = append(rows, row{e.T, s.Labels.All.String() + " " + off(e.T) + " " + strconv.Quote(e.Line)})
			}
		}
		backward := len(rows) > 1 && rows[0].t > rows[len(rows)-1].t
		slices.SortStableFunc(rows, func(a, b row) int {
			if a.t != b.t {
				if backward {
					return int(b.t - a.t)
				}
				return int(a.t - b.t)
			}
			return strings.Compare(a.s, b.s)
		})
		for _, r := range rows {
			out = append(out, r.s)
		}
	case "matrix":
		for _, s := range res.Matrix {
			var b strings.Builder
			b.WriteString(s.Labels.String())
			for _, p := range s.Points {
				b.WriteString(" " + off(p.T*1e6) + ":" + val(p.V))
			}
			out = append(out, b.String())
		}
	case "vector":
		for _, s := range res.Vector {
			out = append(out, s.Labels.String()+" "+val(s.V))
		}
	case "scalar":
		out = append(out, "scalar "+val(res.Scalar.V))
	}
	return out
}

// scriptOffset prints an offset as the scripts write them: 1h2m, 90s is
// 1m30s, 1500ms is 1s500ms.
func scriptOffset(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		s string
		d time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"ns", 1}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.s)
			d -= n * u.d
		}
	}
	return b.String()
}
