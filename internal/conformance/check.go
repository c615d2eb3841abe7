package conformance

import (
	"context"
	"fmt"
	"strings"
)

// Result is the outcome of one case.
type Result struct {
	Case *Case
	Diff string // "" when the answer matched
	// Error is the server's answer when it was not 200 and the case failed,
	// or why there was no answer to compare.
	Error string
}

// OK says whether the answer matched the recorded one.
func (r Result) OK() bool { return r.Diff == "" }

// String is one line: "ok   <id>" or "FAIL <id>: <diff> (<error>)".
func (r Result) String() string {
	if r.OK() {
		return "ok   " + r.Case.ID
	}
	s := "FAIL " + r.Case.ID + ": " + r.Diff
	if r.Error != "" {
		s += " (" + clipText(r.Error, 160) + ")"
	}
	return s
}

// Check asks t every case in turn, with shift applied, and compares each
// answer with the recorded one.
func Check(ctx context.Context, t Target, cases []Case, shift Shift) []Result {
	out := make([]Result, len(cases))
	for i := range cases {
		out[i] = CheckOne(ctx, t, &cases[i], shift)
	}
	return out
}

// CheckOne asks t one case and compares the answer with the recorded one.
func CheckOne(ctx context.Context, t Target, c *Case, shift Shift) Result {
	status, body, err := t.Fetch(ctx, c, shift)
	if err != nil {
		return Result{Case: c, Diff: "no answer", Error: err.Error()}
	}
	got, err := Normalize(status, body, shift)
	if err != nil {
		return Result{Case: c, Diff: "answer not understood", Error: err.Error()}
	}
	r := Result{Case: c, Diff: Diff(c.Expected, got)}
	if !r.OK() && status != 200 {
		r.Error = strings.TrimSpace(string(body))
	}
	return r
}

// Summary counts the results: "N passed, N failed".
func Summary(rs []Result) (passed, failed int, line string) {
	for _, r := range rs {
		if r.OK() {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed, fmt.Sprintf("%d passed, %d failed", passed, failed)
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
