package conformance

import (
	"strings"
	"testing"
	"time"
)

const twoCases = `[
 {"id":"log_a","endpoint":"/loki/api/v1/query_range","params":{"query":"{a=\"1\"}","start":"1793491200000000000"},
  "expected":{"resultType":"streams","streams":{}}},
 {"id":"labels","endpoint":"/loki/api/v1/labels","params":{},"expected":{"list":["a"]}}
]`

func TestDecodeCases(t *testing.T) {
	cs, err := DecodeCases([]byte(twoCases))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].ID != "log_a" || cs[0].Expected.Kind != KindStreams || cs[1].Expected.Kind != KindList ||
		cs[0].Query() != `{a="1"}` {
		t.Fatalf("decoded %+v", cs)
	}
	for name, bad := range map[string]string{
		"not a list":     `{}`,
		"no id":          `[{"endpoint":"/x","params":{},"expected":{"list":[]}}]`,
		"duplicate id":   `[{"id":"a","endpoint":"/x","expected":{"list":[]}},{"id":"a","endpoint":"/y","expected":{"list":[]}}]`,
		"no endpoint":    `[{"id":"a","params":{},"expected":{"list":[]}}]`,
		"no expected":    `[{"id":"a","endpoint":"/x","params":{}}]`,
		"unknown field":  `[{"id":"a","endpoint":"/x","expected":{"list":[]},"note":1}]`,
		"bad expected":   `[{"id":"a","endpoint":"/x","expected":{"list":[1]}}]`,
		"numeric param":  `[{"id":"a","endpoint":"/x","params":{"limit":5},"expected":{"list":[]}}]`,
		"trailing data":  twoCases + `[]`,
		"truncated list": twoCases[:40],
	} {
		if cs, err := DecodeCases([]byte(bad)); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, cs)
		}
	}
}

func TestSelect(t *testing.T) {
	var cs []Case
	for _, id := range []string{"log_ns", "log_ns_forward", "m_count", "i_sort", "labels_all"} {
		cs = append(cs, Case{ID: id})
	}
	for _, tc := range []struct{ only, want string }{
		{"", "log_ns log_ns_forward m_count i_sort labels_all"},
		{"log_ns", "log_ns"},
		{"log_*", "log_ns log_ns_forward"},
		{"m_*,labels_all", "m_count labels_all"},
		{"*", "log_ns log_ns_forward m_count i_sort labels_all"},
		{"log", ""},   // not a prefix match without *
		{"*sort", ""}, // * only at the end
		{"i_sort,nope", "i_sort"},
	} {
		var ids []string
		for _, c := range Select(cs, tc.only) {
			ids = append(ids, c.ID)
		}
		if got := strings.Join(ids, " "); got != tc.want {
			t.Errorf("Select(%q) = %q, want %q", tc.only, got, tc.want)
		}
	}
}

func TestShiftParam(t *testing.T) {
	s := ShiftHours(865)
	for _, tc := range []struct{ name, in, want string }{
		{"start", "1793491200000000000", "1796605200000000000"},
		{"end", "2026-11-01T00:40:00Z", "2026-12-07T01:40:00Z"},
		{"time", "2026-11-01T00:40:00.5Z", "2026-12-07T01:40:00.5Z"},
		{"end", "2026-11-01T01:40:00+01:00", "2026-12-07T01:40:00Z"},
		{"limit", "1793491200000000000", "1793491200000000000"},
		{"query", "2026-11-01T00:40:00Z", "2026-11-01T00:40:00Z"},
	} {
		got, err := s.param(tc.name, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("param(%s=%s) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
		}
	}
	if got, err := Shift(0).param("start", "yesterday"); got != "yesterday" || err != nil {
		t.Errorf("no shift changed a parameter: %q, %v", got, err)
	}
	for _, bad := range []string{"yesterday", "1793491200.5", "-5", "99999999999999999999", "9223372036854775807"} {
		if got, err := s.param("start", bad); err == nil {
			t.Errorf("param(start=%s) = %q, want an error", bad, got)
		}
	}
}

func TestAutoShift(t *testing.T) {
	end := CorpusStart.Add(time.Hour)
	for now := CorpusStart.Add(66 * time.Minute); now.Before(CorpusStart.Add(100 * time.Hour)); now = now.Add(7*time.Minute + 13*time.Second) {
		s := AutoShift(now)
		if int64(s)%int64(time.Hour) != 0 {
			t.Fatalf("AutoShift(%v) = %v, not whole hours", now, time.Duration(s))
		}
		shifted := end.Add(time.Duration(s))
		if age := now.Sub(shifted); age < 5*time.Minute || age > 65*time.Minute {
			t.Fatalf("AutoShift(%v) = %dh: the corpus ends %v before now", now, s.Hours(), age)
		}
	}
	if s := AutoShift(CorpusStart); s != 0 {
		t.Errorf("AutoShift before the corpus = %dh, want 0", s.Hours())
	}
	// The shift grows when the shifted corpus would end 5 minutes ago.
	edge := CorpusStart.Add(866*time.Hour + 5*time.Minute)
	if a, b := AutoShift(edge.Add(-time.Second)).Hours(), AutoShift(edge).Hours(); a != 864 || b != 865 {
		t.Errorf("AutoShift around %v: %dh then %dh, want 864h then 865h", edge, a, b)
	}
}
