package extract

import "testing"

// Lines of about 300 bytes, like those of the conformance corpus.
var (
	benchJSONLine   = []byte(`{"ts":"2026-11-01T00:00:00.123Z","level":"error","msg":"upstream timeout","method":"POST","path":"/v1/pay","status":503,"duration":"968.8ms","bytes":89188,"request_id":"ad1c85bc-5ac9-49b9-ae52-525d58b71b8c","user":{"id":40,"tier":"pro"},"error":"invalid card","retry":false}`)
	benchLogfmtLine = []byte(`ts=2026-11-01T00:00:00.123Z level=info caller=worker.go:83 msg="job done" job_id=23473 queue=high attempt=4 duration=4.46s size=1.7MiB tenant=payments trace_id=c80e691e8db08e2 query="sum by (queue) (rate({app=\"worker\"}[5m]))" status=200 bytes=375MB`)
	benchNginxLine  = []byte(`10.2.149.40 - - [01/Nov/2026:00:00:00 +0000] "POST /v1/users/4711/orders?expand=items HTTP/1.1" 304 17009 "https://shop.example.com/checkout" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36" 0.870`)
)

func benchEmit(name, value string) bool { return true }

func BenchmarkJSON(b *testing.B) {
	j := NewJSON()
	b.SetBytes(int64(len(benchJSONLine)))
	b.ReportAllocs()
	for b.Loop() {
		if err := j.Extract(benchJSONLine, benchEmit); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONPaths(b *testing.B) {
	j, err := NewJSONPaths([]Param{{"status", "status"}, {"uid", "user.id"}, {"tier", `user["tier"]`}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchJSONLine)))
	b.ReportAllocs()
	for b.Loop() {
		j.Extract(benchJSONLine, benchEmit, func(string) {})
	}
}

func BenchmarkLogfmt(b *testing.B) {
	l, err := NewLogfmt(false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchLogfmtLine)))
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Extract(benchLogfmtLine, benchEmit); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLogfmtParams(b *testing.B) {
	l, err := NewLogfmt(true, false, []Param{{"queue", "queue"}, {"d", "duration"}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchLogfmtLine)))
	b.ReportAllocs()
	for b.Loop() {
		l.Extract(benchLogfmtLine, benchEmit)
	}
}

func BenchmarkPattern(b *testing.B) {
	p, err := NewPattern(`<ip> - - [<_>] "<method> <path> <_>" <status> <size> "<_>" "<agent>" <rt>`)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchNginxLine)))
	b.ReportAllocs()
	for b.Loop() {
		p.Extract(benchNginxLine, benchEmit)
	}
}

func BenchmarkRegexp(b *testing.B) {
	r, err := NewRegexp(`^(?P<ip>\S+) .* "(?P<method>\w+) (?P<path>\S+) HTTP`)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchNginxLine)))
	b.ReportAllocs()
	for b.Loop() {
		r.Extract(benchNginxLine, benchEmit)
	}
}

func BenchmarkUnpack(b *testing.B) {
	line := []byte(`{"namespace":"payments","pod":"api-7d9f-x2k4l","container":"api","node":"node-1","_entry":"{\"level\":\"error\",\"msg\":\"upstream timeout\",\"method\":\"POST\",\"path\":\"/v1/pay\",\"status\":503,\"duration\":\"968.8ms\",\"bytes\":89188}"}`)
	u := NewUnpack()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := u.Extract(line, func(string, string) {}); err != nil {
			b.Fatal(err)
		}
	}
}
