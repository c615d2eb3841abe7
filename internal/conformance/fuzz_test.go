package conformance

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeCases: any cases file is decoded or refused with an error, and
// every decoded expectation matches itself.
func FuzzDecodeCases(f *testing.F) {
	f.Add([]byte(twoCases))
	f.Add([]byte(`[{"id":"s","endpoint":"/x","expected":{"resultType":"scalar","scalar":[1.5,"NaN"]}}]`))
	f.Add([]byte(`[{"id":"m","endpoint":"/x","expected":{"resultType":"matrix","series":{"{}":[[1,"2"]]}}}]`))
	f.Add([]byte(`[{"id":"r","endpoint":"/x","expected":{"resultType":"x","raw":{"a":[1,null]}}}]`))
	f.Add([]byte(`[{"id":"e","endpoint":"/x","expected":{"status":400}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := DecodeCases(b)
		if err != nil {
			return
		}
		for _, c := range cs {
			if d := Diff(c.Expected, c.Expected); d != "" {
				t.Fatalf("case %s differs from itself: %s", c.ID, d)
			}
			_ = c.Query()
		}
	})
}

// FuzzNormalize: any server answer is reduced or refused with an error, an
// answer matches itself, and an answer Loki could have recorded (written
// back in the cases' form) reads back equal.
func FuzzNormalize(f *testing.F) {
	f.Add(200, []byte(`{"data":{"resultType":"streams","result":[{"stream":{"a":"é"},"values":[["3600000000005","x"]]}]}}`))
	f.Add(200, []byte(`{"data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[3610.5,"1e3"],[3620,"NaN"]]}]}}`))
	f.Add(200, []byte(`{"data":{"resultType":"vector","result":[{"metric":{},"value":[3610,"+Inf"]}]}}`))
	f.Add(200, []byte(`{"data":{"resultType":"scalar","result":[3610,"2"]}}`))
	f.Add(200, []byte(`{"data":[{"a":"1"},{"b":["x",1,true,null]}]}`))
	f.Add(200, []byte(`{"data":["b","a"]}`))
	f.Add(200, []byte(`{"data":{"resultType":"x","result":{"k":[1.50,"v"]}}}`))
	f.Add(404, []byte(`not found`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a, err := Normalize(status, body, hour)
		if err != nil {
			return
		}
		if d := Diff(a, a); d != "" {
			t.Fatalf("answer differs from itself: %s", d)
		}
		rec, err := json.Marshal(recorded(a))
		if err != nil {
			t.Fatal(err)
		}
		var back Answer
		if err := json.Unmarshal(rec, &back); err != nil {
			// Only what Loki never answers cannot be recorded: a status
			// outside HTTP's range, a non-string list item or label set.
			if a.Kind == KindStatus && (a.Status < 100 || a.Status > 599) || a.Kind == KindList || a.Kind == KindRaw {
				return
			}
			t.Fatalf("recorded answer %s does not read back: %v", rec, err)
		}
		if d := Diff(back, a); d != "" {
			t.Fatalf("recorded answer %s reads back different: %s", rec, d)
		}
	})
}

// recorded writes an Answer in the cases file's form, as conformance.py
// records it.
func recorded(a Answer) map[string]any {
	pt := func(p Point) []any { return []any{p.T, p.V} }
	switch a.Kind {
	case KindStatus:
		return map[string]any{"status": a.Status}
	case KindList:
		return map[string]any{"list": a.List}
	case KindStreams:
		m := map[string]any{}
		for k, es := range a.Streams {
			l := [][2]string{}
			for _, e := range es {
				l = append(l, [2]string{e.TS, e.Line})
			}
			m[k] = l
		}
		return map[string]any{"resultType": a.ResultType, "streams": m}
	case KindSeries:
		m := map[string]any{}
		for k, ps := range a.Series {
			l := [][]any{}
			for _, p := range ps {
				l = append(l, pt(p))
			}
			m[k] = l
		}
		return map[string]any{"resultType": a.ResultType, "series": m}
	case KindScalar:
		return map[string]any{"resultType": a.ResultType, "scalar": pt(a.Scalar)}
	default:
		return map[string]any{"resultType": a.ResultType, "raw": json.RawMessage(a.Raw)}
	}
}

// FuzzShiftBody: any push line is shifted or refused with an error; a
// shifted body shifts back to the same body.
func FuzzShiftBody(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"app":"a"},"values":[["1793491200000000001","x <y> é",{"m":"1"}]]}]}`))
	f.Add([]byte(`{"streams":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, n, size, err := shiftBody(b, hour)
		if err != nil {
			return
		}
		back, n2, size2, err := shiftBody(out, -hour)
		if err != nil {
			t.Fatalf("shifted body %s does not parse: %v", out, err)
		}
		again, _, _, err := shiftBody(back, hour)
		if err != nil || string(again) != string(out) || n != n2 || size != size2 {
			t.Fatalf("shift is not reversible: %s → %s → %s", b, out, again)
		}
	})
}
