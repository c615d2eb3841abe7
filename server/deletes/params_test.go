package deletes

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loam-logs/loam/server/labels"
)

// now is the clock of the tests: 2024-05-01T12:00:00Z.
var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

const nowS = "1714564800" // now in Unix seconds

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func TestParseParams(t *testing.T) {
	type want struct {
		start, end int64
		interval   time.Duration
		shards     int64
		lineFilter bool
	}
	cases := []struct {
		name string
		p    Params
		want want
		err  string // the message, or its start when it ends in "…"
	}{
		{name: "unix seconds", p: Params{Query: `{app="a"}`, Start: "1714561200", End: nowS},
			want: want{start: ms("2024-05-01T11:00:00Z"), end: now.UnixMilli(), shards: 1}},
		{name: "end defaults to now", p: Params{Query: `{app="a"}`, Start: "1714561200"},
			want: want{start: ms("2024-05-01T11:00:00Z"), end: now.UnixMilli(), shards: 1}},
		{name: "RFC 3339 with fractions and offsets", p: Params{Query: `{app="a"}`, Start: "2024-05-01T13:00:00.25+02:00", End: "2024-05-01T11:30:00.5Z"},
			want: want{start: ms("2024-05-01T11:00:00.25Z"), end: ms("2024-05-01T11:30:00.5Z"), shards: 1}},
		{name: "ten characters read as a float", p: Params{Query: `{app="a"}`, Start: "1714561.20", End: "1714564e03"},
			want: want{start: 1714561200, end: 1714564000000, shards: 1}},
		{name: "negative seconds", p: Params{Query: `{app="a"}`, Start: "-000000001", End: "0000000001"},
			want: want{start: -1000, end: 1000, shards: 1}},
		{name: "no line filter: one part however long", p: Params{Query: `{app="a", env=~"prod|dev"}`, Start: "2024-04-01T00:00:00Z", End: nowS},
			want: want{start: ms("2024-04-01T00:00:00Z"), end: now.UnixMilli(), shards: 1}},
		{name: "line filters: parts of max_interval, aligned", p: Params{Query: `{app="a"} |= "x"`, Start: "2024-04-28T06:00:00Z", End: nowS},
			want: want{start: ms("2024-04-28T06:00:00Z"), end: now.UnixMilli(), interval: 24 * time.Hour, shards: 4, lineFilter: true}},
		{name: "max_interval given", p: Params{Query: `{app="a"} |~ "x|y" != "z"`, Start: "2024-05-01T09:00:00Z", End: nowS, MaxInterval: "1h"},
			want: want{start: ms("2024-05-01T09:00:00Z"), end: now.UnixMilli(), interval: time.Hour, shards: 3, lineFilter: true}},
		{name: "max_interval larger than the default range", p: Params{Query: `{app="a"} |= "x"`, Start: "2024-05-01T09:00:00Z", End: nowS},
			want: want{start: ms("2024-05-01T09:00:00Z"), end: now.UnixMilli(), interval: 24 * time.Hour, shards: 1, lineFilter: true}},
		{name: "max_interval ignored without line filters", p: Params{Query: `{app="a"}`, Start: "2024-05-01T09:00:00Z", End: nowS, MaxInterval: "bogus"},
			want: want{start: ms("2024-05-01T09:00:00Z"), end: now.UnixMilli(), shards: 1}},

		{name: "no query", p: Params{Start: "1714561200"}, err: "query not set"},
		{name: "not a query", p: Params{Query: "not a query", Start: "1714561200"}, err: "invalid query expression: …"},
		{name: "metric query", p: Params{Query: `count_over_time({a="b"}[1m])`, Start: "1714561200"}, err: "invalid query expression: …"},
		{name: "parser", p: Params{Query: `{a="b"} | json`, Start: "1714561200"}, err: `invalid query expression: a delete query takes a stream selector and line filters only (|=, !=, |~, !~, |>, !>); "| json" is not a line filter`},
		{name: "label filter", p: Params{Query: `{a="b"} |= "x" | level="debug"`, Start: "1714561200"}, err: "invalid query expression: a delete query takes …"},
		{name: "empty-compatible selector", p: Params{Query: `{a=~".*"}`, Start: "1714561200"}, err: "invalid query expression: …"},
		{name: "bad regexp", p: Params{Query: `{a="b"} |~ "("`, Start: "1714561200"}, err: "invalid query expression: …"},
		{name: "not UTF-8", p: Params{Query: "{a=\"\xff\"}", Start: "1714561200"}, err: "invalid query expression: the query is not valid UTF-8"},
		{name: "no start", p: Params{Query: `{a="b"}`, End: nowS}, err: "start time not set"},
		{name: "start in ms", p: Params{Query: `{a="b"}`, Start: "1714561200000"}, err: "invalid start time: require unix seconds or RFC3339 format"},
		{name: "start not a number", p: Params{Query: `{a="b"}`, Start: "abcdefghij"}, err: "invalid start time: require unix seconds or RFC3339 format"},
		{name: "start too far", p: Params{Query: `{a="b"}`, Start: "-1.0e+300"}, err: "invalid start time: require unix seconds or RFC3339 format"},
		{name: "end in ns", p: Params{Query: `{a="b"}`, Start: "1714561200", End: "1714564800000000000"}, err: "invalid end time: require unix seconds or RFC3339 format"},
		{name: "end in the future", p: Params{Query: `{a="b"}`, Start: "1714561200", End: "1714564801"}, err: "deletes in the future are not allowed"},
		{name: "start at end", p: Params{Query: `{a="b"}`, Start: nowS, End: nowS}, err: "start time can't be greater than or equal to end time"},
		{name: "start after end", p: Params{Query: `{a="b"}`, Start: nowS, End: "1714561200"}, err: "start time can't be greater than or equal to end time"},
		{name: "max_interval not a duration", p: Params{Query: `{a="b"} |= "x"`, Start: "1714561200", MaxInterval: "not-a-duration"}, err: "invalid max_interval: valid time units are 's', 'm', 'h'"},
		{name: "max_interval below a second", p: Params{Query: `{a="b"} |= "x"`, Start: "1714561200", MaxInterval: "1ms"}, err: "invalid max_interval: valid time units are 's', 'm', 'h'"},
		{name: "max_interval over the maximum", p: Params{Query: `{a="b"} |= "x"`, Start: "1714561200", MaxInterval: "25h"}, err: "max_interval can't be greater than 24h0m0s"},
		{name: "max_interval over the range", p: Params{Query: `{a="b"} |= "x"`, Start: "1714561200", MaxInterval: "2h"}, err: "max_interval can't be greater than the interval to be deleted (1h0m0s)"},
		{name: "too many parts", p: Params{Query: `{a="b"} |= "x"`, Start: "0000000000", MaxInterval: "1s"}, err: "max_interval 1s splits the range into 1714564800 parts; at most 1000000 are allowed: use a larger max_interval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := parseParams(c.p, now, DefaultOptions.MaxInterval)
			if c.err != "" {
				var br *BadRequestError
				if !errors.As(err, &br) {
					t.Fatalf("err = %v, want a BadRequestError %q", err, c.err)
				}
				if prefix, ok := strings.CutSuffix(c.err, "…"); ok {
					if !strings.HasPrefix(err.Error(), prefix) || len(err.Error()) == len(prefix) {
						t.Fatalf("err = %q, want %q and details", err, c.err)
					}
				} else if err.Error() != c.err {
					t.Fatalf("err = %q, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{start: s.start, end: s.end, interval: time.Duration(s.interval) * time.Millisecond,
				shards: shardCount(s.start, s.end, s.interval), lineFilter: s.sel.line != nil}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if s.query != c.p.Query {
				t.Fatalf("query %q, want it as sent %q", s.query, c.p.Query)
			}
		})
	}
}

func TestSelector(t *testing.T) {
	cases := []struct {
		query      string
		stream     map[string]string
		covers     bool
		kept, gone []string // lines kept by the delete, lines it removes
	}{
		{query: `{app="a"}`, stream: map[string]string{"app": "a", "x": "y"}, covers: true, gone: []string{"anything", ""}},
		{query: `{app="a"}`, stream: map[string]string{"app": "b"}},
		{query: `{app=~"a|b", env!="dev"}`, stream: map[string]string{"app": "b", "env": "prod"}, covers: true, gone: []string{"x"}},
		{query: `{app="a"} |= "secret"`, stream: map[string]string{"app": "a"}, covers: true,
			gone: []string{"a secret line", "secret"}, kept: []string{"public", "SECRET"}},
		{query: `{app="a"} |= "secret" != "keep"`, stream: map[string]string{"app": "a"}, covers: true,
			gone: []string{"secret"}, kept: []string{"secret but keep", "other"}},
		{query: `{app="a"} |~ "user=(alice|bob)"`, stream: map[string]string{"app": "a"}, covers: true,
			gone: []string{"login user=bob"}, kept: []string{"login user=carol"}},
		{query: `{app="a"} |= ip("10.0.0.0/8")`, stream: map[string]string{"app": "a"}, covers: true,
			gone: []string{"from 10.1.2.3"}, kept: []string{"from 192.168.0.1"}},
		{query: `{app="a"} |> "GET <_>"`, stream: map[string]string{"app": "a"}, covers: true,
			gone: []string{"GET /x"}, kept: []string{"POST /x"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			s, err := parseSelector(c.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := labels.FromMap(c.stream).Matches(s.matchers); got != c.covers {
				t.Fatalf("covers %v = %v, want %v", c.stream, got, c.covers)
			}
			del := func(line string) bool { return s.line == nil || s.line([]byte(line)) }
			for _, l := range c.gone {
				if !del(l) {
					t.Errorf("line %q is kept, want it deleted", l)
				}
			}
			for _, l := range c.kept {
				if del(l) {
					t.Errorf("line %q is deleted, want it kept", l)
				}
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "", want: now.UnixMilli()},
		{in: "1714564800", want: 1714564800000},
		{in: "2024-05-01T12:00:00Z", want: 1714564800000},
		{in: "2024-05-01T12:00:00.123456Z", want: 1714564800123},
		{in: "1714564.8e3", err: true}, // 11 characters
		{in: "1.71456e+9", want: 1714560000000},
		{in: "000000.001", want: 1},
		{in: "0000000.0005", err: true},
		{in: "00000.0005", want: 1}, // rounded to the ms
		{in: "171456480", err: true},
		{in: "2024-05-01", err: true},
		{in: "+Infinity0", err: true},
		{in: "0x1p+10000", err: true},
	}
	for _, c := range cases {
		got, err := parseTime(c.in, now)
		if (err != nil) != c.err || (err == nil && got != c.want) {
			t.Errorf("parseTime(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestShards(t *testing.T) {
	h := time.Hour.Milliseconds()
	cases := []struct {
		start, end, interval int64
		want                 [][2]int64
	}{
		{start: 0, end: 3 * h, interval: 0, want: [][2]int64{{0, 3 * h}}},
		{start: 0, end: 3 * h, interval: 3 * h, want: [][2]int64{{0, 3 * h}}},
		{start: 0, end: 3 * h, interval: h, want: [][2]int64{{0, h}, {h, 2 * h}, {2 * h, 3 * h}}},
		{start: h / 2, end: 3*h + 1, interval: h, want: [][2]int64{{h / 2, h}, {h, 2 * h}, {2 * h, 3 * h}, {3 * h, 3*h + 1}}},
		{start: -h / 2, end: h, interval: h / 2, want: [][2]int64{{-h / 2, 0}, {0, h / 2}, {h / 2, h}}},
		{start: -h - 1, end: h, interval: h, want: [][2]int64{{-h - 1, -h}, {-h, 0}, {0, h}}},
	}
	for _, c := range cases {
		n := shardCount(c.start, c.end, c.interval)
		var got [][2]int64
		for i := int64(0); i < n; i++ {
			s, e := shardRange(c.start, c.end, c.interval, i, i+1)
			got = append(got, [2]int64{s, e})
		}
		if !equalRanges(got, c.want) {
			t.Errorf("shards of [%d, %d] at %d = %v, want %v", c.start, c.end, c.interval, got, c.want)
		}
		if s, e := shardRange(c.start, c.end, c.interval, 0, n); s != c.start || e != c.end {
			t.Errorf("all shards of [%d, %d] at %d span [%d, %d]", c.start, c.end, c.interval, s, e)
		}
	}
}

func equalRanges(a, b [][2]int64) bool {
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

func TestMsToNs(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{
		{1, 1_000_000},
		{-1, -1_000_000},
		{1 << 62, 1<<63 - 1},
		{-1 << 62, -1 << 63},
	} {
		if got := msToNs(c.in); got != c.want {
			t.Errorf("msToNs(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
