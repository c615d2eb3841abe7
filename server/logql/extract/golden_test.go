package extract

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/loam-logs/loam/internal/golden"
)

// stageCase is one line of testdata/stages.txt under its stage.
type stageCase struct {
	stage string // the stage line, without "stage "
	line  string
}

// readStages reads a stages file: "stage <kind> <args>" lines set the
// stage for the lines that follow; a line starting with "q " is a
// Go-quoted string; "#" starts a comment; blank lines are skipped.
func readStages(data []byte) ([]stageCase, error) {
	var cases []stageCase
	stage := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
		case strings.HasPrefix(text, "stage "):
			stage = strings.TrimPrefix(text, "stage ")
		case stage == "":
			return nil, fmt.Errorf("line %d: no stage yet", n)
		case strings.HasPrefix(text, "q "):
			s, err := strconv.Unquote(text[2:])
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			cases = append(cases, stageCase{stage, s})
		default:
			cases = append(cases, stageCase{stage, text})
		}
	}
	return cases, sc.Err()
}

// splitArgs splits stage arguments at spaces outside double quotes.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, esc := false, false
	for _, c := range s {
		switch {
		case esc:
			esc = false
		case inQuote && c == '\\':
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == ' ' && !inQuote:
			if cur.Len() > 0 {
				args = append(args, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(c)
	}
	if cur.Len() > 0 {
		args = append(args, cur.String())
	}
	return args
}

// stageParams reads the flags and name=expr parameters of a json or logfmt
// stage; a quoted expr is unquoted.
func stageParams(args []string) (strict, keepEmpty bool, params []Param, err error) {
	for _, a := range args {
		switch a {
		case "--strict":
			strict = true
			continue
		case "--keep-empty":
			keepEmpty = true
			continue
		}
		name, expr, ok := strings.Cut(a, "=")
		if !ok {
			expr = name
		} else if strings.HasPrefix(expr, `"`) {
			if expr, err = strconv.Unquote(expr); err != nil {
				return false, false, nil, err
			}
		}
		params = append(params, Param{name, expr})
	}
	return strict, keepEmpty, params, nil
}

// runStage runs one case and describes what the extractor reported, one
// item a line, in order.
func runStage(c stageCase) (string, error) {
	var out strings.Builder
	emit := func(name, value string) bool {
		fmt.Fprintf(&out, "%s=%q\n", name, value)
		return true
	}
	report := func(e *Error) {
		if e != nil {
			fmt.Fprintf(&out, "error %s: %q\n", e.Kind, e.Details)
		}
	}
	kind, rest, _ := strings.Cut(c.stage, " ")
	line := []byte(c.line)
	switch kind {
	case "json", "logfmt":
		strict, keepEmpty, params, err := stageParams(splitArgs(rest))
		if err != nil {
			return "", err
		}
		switch {
		case kind == "json" && params == nil:
			report(NewJSON().Extract(line, emit))
		case kind == "json":
			j, err := NewJSONPaths(params)
			if err != nil {
				return "", err
			}
			report(j.Extract(line, emit, func(name string) { fmt.Fprintf(&out, "missing %s\n", name) }))
		default:
			l, err := NewLogfmt(strict, keepEmpty, params)
			if err != nil {
				return "", err
			}
			report(l.Extract(line, emit))
		}
	case "pattern":
		p, err := NewPattern(rest)
		if err != nil {
			return "", err
		}
		p.Extract(line, emit)
	case "regexp":
		r, err := NewRegexp(rest)
		if err != nil {
			return "", err
		}
		r.Extract(line, emit)
	case "unpack":
		entry, packed, err := NewUnpack().Extract(line, func(k, v string) { emit(k, v) })
		report(err)
		if packed {
			fmt.Fprintf(&out, "entry %q\n", entry)
		}
	default:
		return "", fmt.Errorf("unknown stage %q", kind)
	}
	return out.String(), nil
}

// TestGolden runs every line of testdata/stages.txt (lines of the
// conformance corpus and hand-made edge cases) and compares what the
// extractors report with testdata/stages.golden. Run with -update to
// rewrite the golden file; review its diff.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/stages.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := readStages(data)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	stage := ""
	for _, c := range cases {
		if c.stage != stage {
			stage = c.stage
			fmt.Fprintf(&got, "\nstage %s\n", stage)
		}
		res, err := runStage(c)
		if err != nil {
			t.Fatalf("stage %s: %v", c.stage, err)
		}
		fmt.Fprintf(&got, "> %q\n%s", c.line, res)
	}
	golden.Check(t, "testdata/stages.golden", got.Bytes())
}
