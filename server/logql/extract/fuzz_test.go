package extract

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz tests check that no input panics or loops, and a few
// invariants: names are sanitised, results do not depend on what the
// extractor read before (its caches), and errors have the right kind.
// Their seeds are the table lines and testdata/stages.txt.

func seedLines(f *testing.F, kind string) []string {
	data, err := os.ReadFile("testdata/stages.txt")
	if err != nil {
		f.Fatal(err)
	}
	cases, err := readStages(data)
	if err != nil {
		f.Fatal(err)
	}
	var lines []string
	for _, c := range cases {
		if strings.HasPrefix(c.stage, kind) {
			lines = append(lines, c.line)
		}
	}
	return append(lines, apiLine, workerLine, containerdLine, nginxLine)
}

// isSanitized reports whether name could come out of SanitizeName.
func isSanitized(name string) bool {
	return SanitizeName(name) == name
}

// record runs extract twice, the second time after other lines went
// through the same extractor, and fails if the two runs differ.
func record(t *testing.T, run func(Emit) *Error, other func()) (labels, *Error) {
	var first, second labels
	err1 := run(first.emit)
	other()
	err2 := run(second.emit)
	if !slices.Equal(first, second) || errString(err1) != errString(err2) {
		t.Fatalf("results differ between runs:\n%v %v\n%v %v", first, err1, second, err2)
	}
	return first, err1
}

func FuzzJSON(f *testing.F) {
	for _, s := range seedLines(f, "json") {
		f.Add(s)
	}
	j := NewJSON()
	f.Fuzz(func(t *testing.T, line string) {
		names := map[string]bool{}
		got, err := record(t, func(emit Emit) *Error {
			return j.Extract([]byte(line), func(name, value string) bool {
				names[name] = true
				j.ExtractedName(name)
				return emit(name, value)
			})
		}, func() { j.Extract([]byte(apiLine), func(string, string) bool { return true }) })
		for name := range names {
			if !isSanitized(name) {
				t.Errorf("name %q not sanitised", name)
			}
		}
		if err != nil && err.Kind != KindJSON {
			t.Errorf("error kind %q", err.Kind)
		}
		if len(got) > 0 && !strings.HasPrefix(strings.TrimLeft(line, " \t\r\n"), "{") {
			t.Errorf("labels %v from a line that is not an object", got)
		}
	})
}

func FuzzJSONPaths(f *testing.F) {
	for _, s := range seedLines(f, "json") {
		f.Add(s, "user.id", `a["b c"][0]`)
	}
	f.Add(`{"a":[[1]]}`, `a[0][""]`, "a")
	f.Fuzz(func(t *testing.T, line, e1, e2 string) {
		j, err := NewJSONPaths([]Param{{"x", e1}, {"y", e2}})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "cannot parse expression [") {
				t.Fatalf("error %q", err)
			}
			return
		}
		var missing []string
		got, e := record(t, func(emit Emit) *Error {
			missing = missing[:0]
			return j.Extract([]byte(line), emit, func(name string) { missing = append(missing, name) })
		}, func() { j.Extract([]byte(apiLine), func(string, string) bool { return true }, func(string) {}) })
		if len(got)+len(missing) != 2 && len(line) > 0 && strings.ContainsRune("{[\"", rune(line[0])) {
			t.Errorf("%d labels and %d missing for 2 parameters", len(got), len(missing))
		}
		if e != nil && e.Kind != KindJSON {
			t.Errorf("error kind %q", e.Kind)
		}
	})
}

func FuzzJSONPathExpr(f *testing.F) {
	for _, s := range []string{"a", "a.b", "a[0]", `a["b c"]`, ".a", "a[1.5]", `a["b]c"]`, "a-b", "a\x00b", "[0][1].x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		path, err := parseJSONPath(expr)
		if err == nil && len(path) == 0 {
			t.Errorf("empty path without error for %q", expr)
		}
	})
}

func FuzzLogfmt(f *testing.F) {
	for _, s := range seedLines(f, "logfmt") {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	l := [2][2]*Logfmt{}
	for i := range 2 {
		for k := range 2 {
			l[i][k], _ = NewLogfmt(i == 1, k == 1, nil)
		}
	}
	f.Fuzz(func(t *testing.T, line string, strict, keepEmpty bool) {
		p := l[b2i(strict)][b2i(keepEmpty)]
		got, err := record(t, func(emit Emit) *Error {
			return p.Extract([]byte(line), func(name, value string) bool {
				if name == "" || !isSanitized(name) {
					t.Errorf("name %q", name)
				}
				if !utf8.ValidString(value) || strings.ContainsRune(value, utf8.RuneError) {
					t.Errorf("value %q has invalid UTF-8", value)
				}
				if value == "" && !keepEmpty {
					t.Errorf("empty value for %s without keepEmpty", name)
				}
				return emit(name, value)
			})
		}, func() { p.Extract([]byte(workerLine), func(string, string) bool { return true }) })
		_ = got
		if err != nil && (!strict || err.Kind != KindLogfmt || !strings.HasPrefix(err.Details, "logfmt syntax error at pos ")) {
			t.Errorf("error %v (strict %v)", err, strict)
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func FuzzLogfmtParams(f *testing.F) {
	for _, s := range seedLines(f, "logfmt") {
		f.Add(s, "level", `"msg"`)
	}
	f.Fuzz(func(t *testing.T, line, e1, e2 string) {
		l, err := NewLogfmt(true, false, []Param{{"lvl", e1}, {"app", e2}})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "cannot parse expression [") {
				t.Fatalf("error %q", err)
			}
			return
		}
		record(t, func(emit Emit) *Error {
			return l.Extract([]byte(line), func(name, value string) bool {
				if name != "lvl" && name != "app" {
					t.Errorf("name %q", name)
				}
				return emit(name, value)
			})
		}, func() { l.Extract([]byte(workerLine), func(string, string) bool { return true }) })
	})
}

func FuzzPattern(f *testing.F) {
	for _, s := range seedLines(f, "pattern") {
		f.Add(`<ip> - - [<_>] "<method> <path> <_>" <status> <size> "<_>" "<agent>" <rt>`, s)
		f.Add(`<_> "<_>" "<_>" <rt>`, s)
	}
	f.Add("<a>\xff<b>", "x")
	f.Fuzz(func(t *testing.T, pattern, line string) {
		p, err := NewPattern(pattern)
		if err != nil {
			return
		}
		got, _ := record(t, func(emit Emit) *Error {
			var names []string
			p.Extract([]byte(line), func(name, value string) bool {
				names = append(names, name)
				if !strings.Contains(line, value) {
					t.Errorf("value %q not in the line", value)
				}
				return emit(name, value)
			})
			if !slices.Equal(names, p.Names()[:len(names)]) {
				t.Errorf("names %q, pattern's %q", names, p.Names())
			}
			return nil
		}, func() { p.Extract([]byte(nginxLine), func(string, string) bool { return true }) })
		_ = got
	})
}

func FuzzRegexp(f *testing.F) {
	for _, s := range seedLines(f, "regexp") {
		f.Add(`^(?P<ip>\S+) .* "(?P<method>\w+) (?P<path>\S+) HTTP`, s)
	}
	f.Add(`(?P<a>x)?(?P<1b>y)(z)`, "yz")
	f.Fuzz(func(t *testing.T, expr, line string) {
		r, err := NewRegexp(expr)
		if err != nil {
			return
		}
		record(t, func(emit Emit) *Error {
			r.Extract([]byte(line), func(name, value string) bool {
				if !isSanitized(name) || name == "" {
					t.Errorf("name %q", name)
				}
				return emit(name, value)
			})
			return nil
		}, func() { r.Extract([]byte(nginxLine), func(string, string) bool { return true }) })
	})
}

func FuzzUnpack(f *testing.F) {
	for _, s := range seedLines(f, "unpack") {
		f.Add(s)
	}
	u := NewUnpack()
	f.Fuzz(func(t *testing.T, line string) {
		var entries [2]string
		var n int
		record(t, func(emit Emit) *Error {
			entry, packed, err := u.Extract([]byte(line), func(k, v string) { emit(k, v) })
			if packed && err != nil {
				t.Errorf("packed with error %v", err)
			}
			entries[n%2] = string(entry)
			n++
			return err
		}, func() { u.Extract([]byte(`{"_entry":"x\"y","a":"b"}`), func(string, string) {}) })
		if entries[0] != entries[1] {
			t.Errorf("entries differ: %q %q", entries[0], entries[1])
		}
	})
}

// FuzzObjectEnds checks that objectEnds, which remembers where objects
// end, always answers what blockEnd does, whatever the order of questions.
func FuzzObjectEnds(f *testing.F) {
	f.Add(`{"a":{"b":{"c":1"x{","d":{}}}}`, false)
	f.Add(`{"s":"}{","a":{"b":"\"}"}}}`, true)
	f.Add(`{{{{"}}}}`, false)
	var o objectEnds
	f.Fuzz(func(t *testing.T, s string, backwards bool) {
		line := []byte(s)
		o.reset(line)
		var starts []int
		for i, c := range line {
			if c == '{' {
				starts = append(starts, i)
			}
		}
		if backwards {
			slices.Reverse(starts)
		}
		for _, p := range starts {
			if got, want := o.find(line[p:]), blockEnd(line[p:], '{', '}'); got != want {
				t.Fatalf("at %d: find %d, blockEnd %d", p, got, want)
			}
		}
	})
}
