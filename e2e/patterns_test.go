package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPatterns pushes an access log and an application log over HTTP and
// asks /loki/api/v1/patterns for their patterns, as Grafana's Logs
// Drilldown does.
func TestPatterns(t *testing.T) {
	l := startLoam(t, t.TempDir())
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	web := map[string]string{"app": "web", "env": "prod"}
	api := map[string]string{"app": "api", "env": "prod"}
	var es []entry
	for i := 0; i < 40; i++ {
		ts := base.Add(time.Duration(i) * time.Second)
		es = append(es, entry{Labels: web, T: ts.UnixNano(), Line: fmt.Sprintf(
			`10.0.%d.%d - - [%s] "GET /api/items/%d HTTP/1.1" 200 %d "-" "kube-probe/1.29"`,
			i%4, 1+i, ts.UTC().Format("02/Jan/2006:15:04:05 -0700"), 100+i*3, 500+i)})
	}
	for i := 0; i < 35; i++ {
		ts := base.Add(time.Duration(i) * time.Second)
		es = append(es, entry{Labels: api, T: ts.UnixNano() + 1, Line: fmt.Sprintf(
			`level=error ts=%s msg="payment declined" order=%d amount=%d.%02d`,
			ts.UTC().Format(time.RFC3339Nano), 9000+i, i, i)})
	}
	// Too few to be a pattern (Loki answers patterns seen 30 times or more).
	for i := 0; i < 5; i++ {
		es = append(es, entry{Labels: api, T: base.Add(time.Duration(i)*time.Second).UnixNano() + 2,
			Line: fmt.Sprintf("level=info msg=\"rare event\" n=%d", i)})
	}
	l.mustPush(t, "", ctJSON, "", jsonBody(es))

	q := url.Values{
		"query": {`{env="prod"}`},
		"start": {ns(base.Add(-time.Minute))},
		"end":   {ns(time.Now().Add(time.Minute))},
		"step":  {"60s"},
	}
	var got []struct {
		Pattern string     `json:"pattern"`
		Level   string     `json:"level"`
		Samples [][2]int64 `json:"samples"`
	}
	l.getData(t, "/loki/api/v1/patterns", q, "", &got)
	var summary []string
	for _, p := range got {
		var total int64
		for _, s := range p.Samples {
			if s[0]%60 != 0 || s[0] < base.Unix() {
				t.Errorf("pattern %q: sample time %d is no step of 60s since %d", p.Pattern, s[0], base.Unix())
			}
			total += s[1]
		}
		summary = append(summary, fmt.Sprintf("%d %s %s", total, p.Level, p.Pattern))
	}
	want := []string{
		`40 unknown <_> - - [<_> +0000] "GET <_> HTTP/1.1" 200 <_> "-" "kube-probe/1.29"`,
		`35 error level=error ts=<_> msg="payment declined" order=<_> amount=<_>`,
	}
	if !slices.Equal(summary, want) {
		t.Fatalf("patterns:\n%s\nwant:\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}

	// Another tenant has none; a bad step is the client's error.
	var none []any
	l.getData(t, "/loki/api/v1/patterns", q, "other", &none)
	if len(none) != 0 {
		t.Fatalf("tenant other: %v", none)
	}
	q.Set("step", "0")
	if code, body := l.get(t, "/loki/api/v1/patterns", q, ""); code != http.StatusBadRequest || !strings.Contains(string(body), "step") {
		t.Fatalf("step=0: %d %s, want 400 about the step", code, body)
	}
}
