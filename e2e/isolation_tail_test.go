package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// checkIsoTail opens a tail per tenant from the start of the data, reads
// each one's history, then pushes live entries to every tenant in a random
// order: each tail shows exactly its tenant's, and nothing more.
func checkIsoTail(t *testing.T, l *loam, rng *rand.Rand, tenants []*isoTenant, base time.Time) {
	tails := make([]*tailClient, len(tenants))
	for i, tn := range tenants {
		q := url.Values{"query": {`{app=~".+"}`}, "start": {ns(base.Add(-time.Minute))}, "limit": {"5000"}}
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		conn, resp, err := d.Dial("ws://"+l.addr+"/loki/api/v1/tail?"+q.Encode(), tn.hdr)
		if err != nil {
			var body []byte
			if resp != nil {
				body, _ = io.ReadAll(resp.Body)
			}
			t.Fatalf("tail as %s: %v %s", tn.name, err, body)
		}
		t.Cleanup(func() { conn.Close() })
		tails[i] = &tailClient{t: t, conn: conn}
		checkTailLines(t, tn, tenants, tails[i], tn.entries, "history")
	}
	live := make([][]entry, len(tenants))
	var pushes []func()
	for i, tn := range tenants {
		for k := 1 + rng.IntN(3); k > 0; k-- {
			var es []entry
			for j := 1 + rng.IntN(5); j > 0; j-- {
				es = append(es, entry{Labels: tn.labelSets[rng.IntN(len(tn.labelSets))], Line: tn.line(rng, "", "", 1000+rng.IntN(1000))})
			}
			pushes = append(pushes, func() {
				now := time.Now().UnixNano()
				for j := range es {
					es[j].T = now + int64(j)
				}
				isoPush(t, l, rng, tn, es)
				live[i] = append(live[i], es...)
			})
		}
	}
	rng.Shuffle(len(pushes), func(i, j int) { pushes[i], pushes[j] = pushes[j], pushes[i] })
	for _, p := range pushes {
		p()
	}
	for i, tn := range tenants {
		tn.entries = append(tn.entries, live[i]...)
		checkTailLines(t, tn, tenants, tails[i], live[i], "live")
	}
	for i := range tails {
		tails[i].quiet(300 * time.Millisecond)
	}
}

// checkTailLines reads len(want) entries from c and compares them, in any
// order, with want.
func checkTailLines(t *testing.T, tn *isoTenant, tenants []*isoTenant, c *tailClient, want []entry, what string) {
	t.Helper()
	var got []tailLine
	for len(got) < len(want) {
		es, err := c.next(15 * time.Second)
		if err != nil {
			t.Fatalf("tail of %s (%s): after %d of %d entries: %v", tn.name, what, len(got), len(want), err)
		}
		got = append(got, es...)
	}
	key := func(x tailLine) string { return fmt.Sprintf("%d %s %s", x.T, x.Labels, x.Line) }
	gotKeys, wantKeys := make([]string, len(got)), make([]string, len(want))
	for i, x := range got {
		gotKeys[i] = key(x)
		for _, o := range tenants {
			if o != tn && strings.Contains(x.Line, o.marker) {
				t.Errorf("tail of %s shows a line of %s: %s", tn.name, o.name, x.Line)
			}
		}
	}
	for i, x := range asTailLines(want) {
		wantKeys[i] = key(x)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("tail of %s (%s): got %d entries, want %d:\n got %q\nwant %q", tn.name, what, len(got), len(want), clipStrings(gotKeys), clipStrings(wantKeys))
	}
}

func clipStrings(s []string) []string {
	if len(s) > 6 {
		return append(s[:6:6], "…")
	}
	return s
}
