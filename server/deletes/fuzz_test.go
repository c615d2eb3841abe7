package deletes

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseParams: any parameters give a request or a BadRequestError,
// never a panic; a request accepted is within its bounds, its parts cover
// its range, and it reads back the same from the file.
func FuzzParseParams(f *testing.F) {
	for _, s := range [][4]string{
		{`{app="a"}`, "1714561200", "", ""},
		{`{app="a"} |= "x"`, "2024-04-28T06:00:00Z", nowS, "1h"},
		{`{app=~"a|b"} |~ "(a" != "b"`, "0000000000", "1714560000", "24h"},
		{`{a="b"} | json`, "-000000001", "0000000001", ""},
		{`{a="b"} |> "<_> x"`, "1.71456e+9", "2024-05-01T11:30:00.5+01:00", "30s"},
		{`count_over_time({a="b"}[1m])`, "abcdefghij", "", "0s"},
		{"", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, query, start, end, maxInterval string) {
		p := Params{Query: query, Start: start, End: end, MaxInterval: maxInterval}
		s, err := parseParams(p, now, DefaultOptions.MaxInterval)
		if err != nil {
			var br *BadRequestError
			if !errors.As(err, &br) || br.Msg == "" {
				t.Fatalf("error %v is not a BadRequestError with a message", err)
			}
			return
		}
		if s.start >= s.end || s.end > now.UnixMilli() {
			t.Fatalf("range [%d, %d] accepted (now %d)", s.start, s.end, now.UnixMilli())
		}
		if s.interval != 0 && (s.interval < 1000 || s.sel.line == nil) {
			t.Fatalf("parts of %d ms for %q", s.interval, query)
		}
		n := shardCount(s.start, s.end, s.interval)
		if n < 1 || n > maxShards {
			t.Fatalf("%d parts", n)
		}
		if a, b := shardRange(s.start, s.end, s.interval, 0, n); a != s.start || b != s.end {
			t.Fatalf("parts span [%d, %d], want [%d, %d]", a, b, s.start, s.end)
		}
		prev := s.start
		for i := int64(0); i < min(n, 50); i++ {
			a, b := shardRange(s.start, s.end, s.interval, i, i+1)
			if a != prev || b <= a || (s.interval > 0 && b-a > s.interval) {
				t.Fatalf("part %d = [%d, %d] after %d (interval %d)", i, a, b, prev, s.interval)
			}
			prev = b
		}

		// What Add would store reads back the same.
		r := newRequest(Request{ID: "01234567", Tenant: "t", Query: s.query, Start: s.start, End: s.end,
			CreatedAt: now.UnixMilli(), Shards: n}, s.sel, s.interval)
		b, err := encode([]*request{r})
		if err != nil {
			t.Fatal(err)
		}
		back, err := decode(b, "fuzz")
		if err != nil {
			t.Fatalf("an accepted request does not read back: %v\n%s", err, b)
		}
		if len(back) != 1 || back[0].Request != r.Request || back[0].interval != r.interval {
			t.Fatalf("read back %+v, want %+v", back[0].Request, r.Request)
		}
	})
}

// FuzzDecode: any file content is read or refused with an error that names
// the file, never a panic; what is read writes back to what reads the same.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"requests":[{"id":"a","tenant":"t","query":"{a=\"b\"} |= \"x\"","start_ms":0,"end_ms":86400001,"created_ms":5,"shard_interval_ms":3600000,"shards_done":3}]}`))
	f.Add([]byte(`{"version":1,"requests":[]}`))
	f.Add([]byte(`{"version":1,"requests":[{"id":"a","tenant":"t","query":"{a=\"b\"}","start_ms":-5,"end_ms":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := decode(b, "deletes.json")
		if err != nil {
			if !strings.Contains(err.Error(), "deletes.json") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range reqs {
			if r.ShardsDone < 0 || r.ShardsDone > r.Shards || r.Shards > maxShards || r.Start >= r.End {
				t.Fatalf("read %+v", r.Request)
			}
			r.Status() // any state has a status
			if r.ShardsDone < r.Shards {
				from, to := r.ShardsDone, min(r.ShardsDone+batchShards, r.Shards)
				if a, b := shardRange(r.Start, r.End, r.interval, from, to); a > b || a < r.Start || b > r.End {
					t.Fatalf("batch [%d, %d) spans [%d, %d] outside [%d, %d]", from, to, a, b, r.Start, r.End)
				}
			}
			_ = time.UnixMilli(r.CreatedAt)
		}
		out, err := encode(reqs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decode(out, "deletes.json")
		if err != nil || len(again) != len(reqs) {
			t.Fatalf("written back, it does not read: %v\n%s", err, out)
		}
		for i := range reqs {
			if again[i].Request != reqs[i].Request || again[i].interval != reqs[i].interval {
				t.Fatalf("read back %+v, want %+v", again[i].Request, reqs[i].Request)
			}
		}
	})
}
