package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestClusterDeletes: a delete request made through one node hides its
// lines through every node at once; a node that was down when one was made
// catches up before it serves reads again; a cancel through another node
// shows the lines again everywhere.
func TestClusterDeletes(t *testing.T) {
	c := startCluster(t, 3, 3)
	now := time.Now()
	var es []entry
	for app := range 3 {
		for i := range 50 {
			es = append(es, entry{Labels: map[string]string{"job": "del", "app": fmt.Sprint("a", app)},
				T: now.Add(-10 * time.Minute).Add(time.Duration(i) * time.Second).UnixNano(), Line: fmt.Sprintf("line %d of a%d", i, app)})
		}
	}
	c.nodes[0].proc.mustPush(t, "", "application/json", "", jsonBody(es))
	start, end := now.Add(-time.Hour).UnixNano(), now.Add(time.Minute).UnixNano()
	// counts returns how many lines of a0, a1, a2 a node answers.
	counts := func(nd *clusterNode) []int {
		out := make([]int, 3)
		for app := range 3 {
			out[app] = len(queryAllForward(t, nd.proc, fmt.Sprintf(`{job="del", app="a%d"}`, app), start, end))
		}
		return out
	}
	expect := func(when string, want []int, nodes ...*clusterNode) {
		t.Helper()
		for _, nd := range nodes {
			if got := counts(nd); !slices.Equal(got, want) {
				t.Fatalf("%s, through %s: a0, a1, a2 hold %v lines, want %v", when, nd.name, got, want)
			}
		}
	}
	expect("before any delete", []int{50, 50, 50}, c.nodes...)
	del := func(nd *clusterNode, query string) string {
		t.Helper()
		q := url.Values{"query": {query}, "start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)},
			"end": {strconv.FormatInt(now.Unix(), 10)}}
		code, hdr, body := nd.proc.addDelete(t, http.MethodPost, "", q)
		if code != http.StatusNoContent {
			t.Fatalf("delete %s through %s: %d %s", query, nd.name, code, body)
		}
		return hdr.Get("X-Delete-Request-ID")
	}
	id0 := del(c.nodes[0], `{app="a0"}`)
	expect("a0 deleted through node-0", []int{0, 50, 50}, c.nodes...)

	// node-2 is away while a1's lines are deleted through node-1.
	c.nodes[2].proc.kill9()
	c.waitActive(2)
	del(c.nodes[1], `{app="a1"} |= "line 1"`) // line 1, line 10 … line 19: 11 lines
	expect("a1's lines deleted while node-2 is down", []int{0, 39, 50}, c.nodes[:2]...)
	c.restart(2)
	expect("node-2 back", []int{0, 39, 50}, c.nodes...)
	if rs, _ := c.nodes[2].proc.listDeletes(t, ""); len(rs) != 2 {
		t.Fatalf("node-2 lists %d delete requests, want 2", len(rs))
	}

	// A cancel through node-2 shows a0's lines again everywhere.
	if code, body := c.nodes[2].proc.cancelDelete(t, "", id0); code != http.StatusNoContent {
		t.Fatalf("cancel %s through node-2: %d %s", id0, code, body)
	}
	expect("a0's delete cancelled through node-2", []int{50, 39, 50}, c.nodes...)
	for _, nd := range c.nodes {
		rs, _ := nd.proc.listDeletes(t, "")
		if len(rs) != 1 || rs[0].RequestID == id0 {
			t.Fatalf("%s lists %+v, want only the request on a1", nd.name, rs)
		}
	}
}
