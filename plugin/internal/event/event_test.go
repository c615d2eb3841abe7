package event

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/plugin/fbtest"
	"github.com/tinylib/msgp/msgp"
)

type got struct {
	index int
	time  int64
	meta  bool
	bad   error
}

func collect(t *testing.T, chunk []byte) ([]got, error) {
	t.Helper()
	var out []got
	r := NewReader(chunk)
	for r.Next() {
		e := r.At()
		out = append(out, got{e.Index, e.Time, e.Meta != nil, e.Bad})
		if e.Bad == nil && msgp.NextType(e.Record) != msgp.MapType {
			t.Errorf("event %d: record is %s", e.Index, msgp.NextType(e.Record))
		}
	}
	return out, r.Err()
}

func TestReader(t *testing.T) {
	ts := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	rec := map[string]any{"log": "hi"}
	ev := func(f fbtest.Form) fbtest.Event { return fbtest.Event{Time: ts, Record: rec, Form: f} }
	raw := func(vs ...any) []byte {
		var b []byte
		for _, v := range vs {
			b = fbtest.AppendValue(b, v)
		}
		return b
	}
	eventTime := func(secs, nanos uint32) fbtest.RawMsgpack {
		b := []byte{0xd7, 0, byte(secs >> 24), byte(secs >> 16), byte(secs >> 8), byte(secs), byte(nanos >> 24), byte(nanos >> 16), byte(nanos >> 8), byte(nanos)}
		return b
	}
	tests := []struct {
		name  string
		chunk []byte
		want  []got
	}{
		{"empty", nil, nil},
		{"v1 EventTime", fbtest.Chunk(ev(fbtest.V1EventTime)), []got{{0, ts.UnixNano(), false, nil}}},
		{"v1 int", fbtest.Chunk(ev(fbtest.V1Int)), []got{{0, ts.Unix() * 1e9, false, nil}}},
		// 1741964966.535897932 is not a float64; the nearest one is
		// 1741964966.5358979702, which rounds to ...970 ns.
		{"v1 float", fbtest.Chunk(ev(fbtest.V1Float)), []got{{0, 1741964966535897970, false, nil}}},
		{"v2", fbtest.Chunk(ev(fbtest.V2)), []got{{0, ts.UnixNano(), true, nil}}},
		{"float exact half", raw([]any{1.5, rec}), []got{{0, 1_500_000_000, false, nil}}},
		{"float just under a second", raw([]any{0.9999999999, rec}), []got{{0, 1_000_000_000, false, nil}}},
		{"ext8 EventTime", raw([]any{fbtest.RawMsgpack{0xc7, 8, 0, 0, 0, 0, 7, 0, 0, 0, 9}, rec}), []got{{0, 7e9 + 9, false, nil}}},
		{"groups skipped", fbtest.Chunk(
			fbtest.Event{Group: fbtest.GroupStart, Meta: map[string]any{"schema": "otlp"}, Record: map[string]any{"resource": map[string]any{}}},
			ev(fbtest.V2),
			fbtest.Event{Group: fbtest.GroupEnd},
			ev(fbtest.V2),
		), []got{{1, ts.UnixNano(), true, nil}, {3, ts.UnixNano(), true, nil}}},
		{"integer group markers skipped", raw([]any{[]any{-1, map[string]any{}}, rec}, []any{[]any{-2, map[string]any{}}, rec}), nil},
		{"not an array", raw("hello", []any{1, rec}), []got{{0, 0, false, ErrNotEvent}, {1, 1e9, false, nil}}},
		{"three elements", raw([]any{1, rec, 3}), []got{{0, 0, false, ErrNotEvent}}},
		{"bad header", raw([]any{[]any{1}, rec}), []got{{0, 0, false, ErrNotEvent}}},
		{"string timestamp", raw([]any{"2025", rec}), []got{{0, 0, false, ErrTimestamp}}},
		{"negative timestamp", raw([]any{-5, rec}), []got{{0, 0, false, ErrTimestamp}}},
		{"negative EventTime", raw([]any{eventTime(0xfffffff0, 0), rec}), []got{{0, 0, false, ErrTimestamp}}},
		{"nanos out of range", raw([]any{eventTime(1, 1e9), rec}), []got{{0, 0, false, ErrTimestamp}}},
		{"other extension", raw([]any{fbtest.RawMsgpack{0xd6, 5, 0, 0, 0, 1}, rec}), []got{{0, 0, false, ErrTimestamp}}},
		{"NaN", raw([]any{fbtest.RawMsgpack{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, rec}), []got{{0, 0, false, ErrTimestamp}}},
		{"huge seconds", raw([]any{uint64(1) << 62, rec}), []got{{0, 0, false, ErrTimestamp}}},
		{"record not a map", raw([]any{1, "text"}), []got{{0, 0, false, ErrRecord}}},
		{"metadata not a map", raw([]any{[]any{1, "m"}, rec}), []got{{0, 0, false, ErrMetadata}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := collect(t, tt.chunk)
			if err != nil {
				t.Fatalf("Err() = %v", err)
			}
			if len(out) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %d %+v", len(out), out, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				g := out[i]
				if g.index != w.index || g.time != w.time || g.meta != w.meta || !errors.Is(g.bad, w.bad) || (w.bad == nil) != (g.bad == nil) {
					t.Errorf("event %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	good := fbtest.Chunk(fbtest.CRIKubernetes("n", "ns", "p", "c", "line", false))
	tests := []struct {
		name  string
		chunk []byte
		want  string
		n     int // good events before the error
	}{
		{"truncated", good[:len(good)-3], "event 0 at byte 0: truncated msgpack", 0},
		{"truncated second", append(append([]byte{}, good...), good[:20]...), "event 1 at byte " + strconv.Itoa(len(good)) + ": truncated", 1},
		{"invalid byte", append(append([]byte{}, good...), 0xc1), "event 1 at byte " + strconv.Itoa(len(good)) + ": not msgpack: byte 0xc1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := collect(t, tt.chunk)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Err() = %v, want prefix %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not *Error", err)
			}
			if len(out) != tt.n {
				t.Errorf("%d events before the error, want %d", len(out), tt.n)
			}
		})
	}
}

func TestReaderNoAllocs(t *testing.T) {
	var es []fbtest.Event
	for i := range 50 {
		e := fbtest.CRIKubernetes("node", "ns", "pod", "c", fbtest.Line(i, 200), i%2 == 0)
		e.Form = fbtest.Form(i % 4)
		es = append(es, e, fbtest.Event{Group: fbtest.GroupEnd})
	}
	chunk := fbtest.Chunk(es...)
	var r Reader
	n := 0
	allocs := testing.AllocsPerRun(20, func() {
		r.Reset(chunk)
		for r.Next() {
			n++
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per chunk, want 0", allocs)
	}
	if r.Err() != nil || n == 0 {
		t.Errorf("err %v, %d events", r.Err(), n)
	}
}

func BenchmarkReader(b *testing.B) {
	var es []fbtest.Event
	for i := range 2000 {
		es = append(es, fbtest.CRIKubernetes("node", "ns", "pod", "c", fbtest.Line(i, 1000), false))
	}
	chunk := fbtest.Chunk(es...)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	var r Reader
	for b.Loop() {
		r.Reset(chunk)
		for r.Next() {
		}
	}
}
