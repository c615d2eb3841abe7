package record

import (
	"encoding/json"
	"testing"

	"github.com/loam-logs/loam/plugin/fbtest"
)

// FuzzRender feeds arbitrary bytes as a record: nothing may panic, and
// whatever renders as JSON must be valid JSON.
func FuzzRender(f *testing.F) {
	f.Add(recordOf(fbtest.CRIKubernetes("n", "ns", "p", "c", `{"a":[1,2.5,"x"]}`, true)))
	f.Add(recordOf(fbtest.Journal("h", "u.service", "m\xff", 3)))
	f.Add(rec(map[string]any{"a": map[string]any{"b": []any{nil, true, float32(1.5)}}, "t": fbtest.BaseTime}))
	f.Add([]byte{0x81, 0x01, 0xc4, 0x01, 0xff})
	f.Add([]byte{0x81, 0xa1, 'k', 0xd4, 0x09, 0x01})
	paths := NewPaths([]string{"a"}, []string{"a", "b"}, []string{"log"}, []string{"kubernetes", "labels", "app"})
	f.Fuzz(func(t *testing.T, b []byte) {
		out := make([][]byte, paths.Len())
		_ = paths.Extract(b, out)
		for _, v := range out {
			if v != nil {
				if _, err := AppendText(nil, v); err != nil {
					t.Fatalf("extracted value %x does not render: %v", v, err)
				}
			}
		}
		if j, err := AppendJSON(nil, b, paths); err == nil && !json.Valid(j) {
			t.Fatalf("invalid JSON %q from %x", j, b)
		}
		if j, err := AppendJSON(nil, b, nil); err == nil && !json.Valid(j) {
			t.Fatalf("invalid JSON %q from %x", j, b)
		}
		_, _ = AppendKeyValue(nil, b, paths)
		_, _, _ = AppendSingle(nil, b, paths)
	})
}
