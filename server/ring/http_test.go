package ring

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// httpRing is a started ring "a" that also knows "b" (alive, healthy),
// "gone" (not alive) and an HTML-hostile name.
func httpRing(t *testing.T) *Ring {
	a := startRing(t, "a", 0, nil, nil)
	now := time.Now().UnixNano()
	a.receive(AppendDesc(nil, Desc{
		"b":                  {Name: "b", Addr: "10.0.0.2:3100", State: Active, Heartbeat: now, Tokens: Tokens("b", 16)},
		"gone":               {Name: "gone", Addr: "10.0.0.3:3100", State: Active, Heartbeat: now, Tokens: Tokens("gone", 16)},
		"<script>x</script>": {Name: "<script>x</script>", State: Leaving, Heartbeat: now},
	}), "state")
	a.setAlive("b", true)
	return a
}

func TestServeStatusJSON(t *testing.T) {
	a := httpRing(t)
	req := httptest.NewRequest("GET", "/ring", nil)
	req.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	a.ServeStatus(w, req)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var got struct {
		Self    string `json:"self"`
		Members []struct {
			Name         string  `json:"name"`
			Addr         string  `json:"addr"`
			State        string  `json:"state"`
			Tokens       int     `json:"tokens"`
			Ownership    float64 `json:"ownership"`
			Heartbeat    string  `json:"heartbeat"`
			HeartbeatAge float64 `json:"heartbeat_age_seconds"`
			Healthy      bool    `json:"healthy"`
		} `json:"members"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if got.Self != "a" || len(got.Members) != 4 {
		t.Fatalf("%s", w.Body)
	}
	byName := map[string]int{}
	var total float64
	for i, m := range got.Members {
		byName[m.Name] = i
		total += m.Ownership
		if _, err := time.Parse(time.RFC3339Nano, m.Heartbeat); err != nil || m.HeartbeatAge < 0 || m.HeartbeatAge > 60 {
			t.Errorf("%s: heartbeat %q age %v", m.Name, m.Heartbeat, m.HeartbeatAge)
		}
	}
	if total < 0.999 || total > 1.001 {
		t.Errorf("ownership sums to %v", total)
	}
	for name, want := range map[string]struct {
		state   string
		tokens  int
		healthy bool
	}{"a": {"JOINING", DefaultTokens, true}, "b": {"ACTIVE", 16, true}, "gone": {"ACTIVE", 16, false}, "<script>x</script>": {"LEAVING", 0, false}} {
		m := got.Members[byName[name]]
		if m.Name != name || m.State != want.state || m.Tokens != want.tokens || m.Healthy != want.healthy {
			t.Errorf("%s: %+v", name, m)
		}
	}
	if got.Members[byName["<script>x</script>"]].Ownership != 0 {
		t.Error("a LEAVING member owns keys")
	}
}

func TestServeStatusHTML(t *testing.T) {
	a := httpRing(t)
	w := httptest.NewRecorder()
	a.ServeStatus(w, httptest.NewRequest("GET", "/ring", nil))
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{"<table>", "a (this node)", "10.0.0.2:3100", "ACTIVE", "JOINING", "&lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a member name is not escaped")
	}
	// A Forget button for the gone member only (not a, not healthy b, and
	// the LEAVING one is unhealthy but not LEFT: it has one too).
	if n := strings.Count(body, `name="node"`); n != 2 || !strings.Contains(body, `name="node" value="gone"`) {
		t.Errorf("%d forget buttons:\n%s", n, body)
	}
}

func TestServeForget(t *testing.T) {
	a := httpRing(t)
	for _, tc := range []struct {
		target, accept string
		code           int
		body           string
	}{
		{"/ring/forget", "", 400, "missing parameter node"},
		{"/ring/forget?node=a", "", 400, "this node"},
		{"/ring/forget?node=nobody", "", 400, "no member named"},
		{"/ring/forget?node=b", "", 409, "is healthy"},
		{"/ring/forget?node=gone", "", 200, "gone is forgotten"},
		{"/ring/forget?node=gone", "text/html", 303, ""}, // again: already LEFT, fine; a browser goes back
	} {
		req := httptest.NewRequest("POST", tc.target, nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		w := httptest.NewRecorder()
		a.ServeForget(w, req)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.target, w.Code, w.Body, tc.code, tc.body)
		}
		if tc.code == 303 && w.Header().Get("Location") != "/ring" {
			t.Errorf("redirect to %q", w.Header().Get("Location"))
		}
	}
	if stateOf(a, "gone") != Left {
		t.Error("gone is not LEFT")
	}
	// The form of the page posts the name in the body.
	req := httptest.NewRequest("POST", "/ring/forget", strings.NewReader("node=%3Cscript%3Ex%3C%2Fscript%3E"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	a.ServeForget(w, req)
	if w.Code != http.StatusOK || stateOf(a, "<script>x</script>") != Left {
		t.Errorf("form post: %d %s", w.Code, w.Body)
	}
}
