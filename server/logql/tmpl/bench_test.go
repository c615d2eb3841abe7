package tmpl

import (
	"bytes"
	"testing"
	"text/template"
)

var benchLabels = map[string]string{
	"app": "api", "env": "prod", "method": "GET", "path": "/api/v1/query_range",
	"status": "200", "duration": "1523.57", "bytes": "1.5KiB",
}

var benchLine = []byte(`level=info ts=2024-01-04T23:58:47.696779826Z method=GET path=/api/v1/query_range status=200 duration=1.523571ms`)

func benchExecute(b *testing.B, text string) {
	tp, err := ParseLine(text)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, err = tp.Execute(buf[:0], benchLine, 1704412727696779826, benchLabels)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecuteFields is the typical line_format: three labels.
func BenchmarkExecuteFields(b *testing.B) {
	benchExecute(b, "{{.method}} {{.path}} {{.status}}")
}

// BenchmarkExecuteEngine is the same output as BenchmarkExecuteFields but
// through text/template (a pipe defeats the plan): the cost of the executor
// pool and of text/template itself.
func BenchmarkExecuteEngine(b *testing.B) {
	benchExecute(b, "{{.method}} {{.path}} {{.status | print}}")
}

// BenchmarkExecuteFunctions pipes labels and the line through functions.
func BenchmarkExecuteFunctions(b *testing.B) {
	benchExecute(b, `{{ .method | lower }} {{ printf "%-6s" .status }} {{ div .duration 1000 }}s {{ __line__ | count "=" }}`)
}

// BenchmarkExecuteSimpleKey is line_format "{{.path}}", which skips the
// template engine.
func BenchmarkExecuteSimpleKey(b *testing.B) {
	benchExecute(b, "{{.path}}")
}

// BenchmarkExecuteParallel runs the typical template from every P at once,
// which is what the executor pool is for.
func BenchmarkExecuteParallel(b *testing.B) {
	tp, err := ParseLine("{{.method}} {{.path}} {{.status}}")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		var err error
		for pb.Next() {
			buf, err = tp.Execute(buf[:0], benchLine, 1704412727696779826, benchLabels)
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkParse is the cost of building a stage, paid once per query.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLine("{{.method}} {{.path}} {{.status}}"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTextTemplate is the baseline: the templates of
// BenchmarkExecuteFields and BenchmarkExecuteEngine run by a plain
// text/template, as Loki's LineFormatter runs them (one goroutine, a reused
// buffer, no plan, no executor pool).
func BenchmarkTextTemplate(b *testing.B) {
	for name, text := range map[string]string{
		"fields": "{{.method}} {{.path}} {{.status}}",
		"engine": "{{.method}} {{.path}} {{.status | print}}",
	} {
		b.Run(name, func(b *testing.B) {
			t, err := template.New(LineName).Option("missingkey=zero").Funcs(parseFuncs).Parse(text)
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := t.Execute(&buf, benchLabels); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
