package ring

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// MemberStatus is a member as GET /ring shows it.
type MemberStatus struct {
	Member
	Ownership    float64       // fraction of the key space of which it is the first owner
	HeartbeatAge time.Duration // since this node saw its heartbeat advance (no clock skew in it)
	Healthy      bool
}

// Status returns every member, by name, with its share of the ring and
// its health as this node sees them.
func (r *Ring) Status() []MemberStatus {
	r.mu.Lock()
	s := r.snap.Load() // rebuilt under mu: it matches desc
	out := make([]MemberStatus, len(s.members))
	now := r.since()
	for i, m := range s.members {
		out[i] = MemberStatus{Member: r.desc[m.Name], Ownership: s.share[i], Healthy: s.healthy(m.Name, r)}
		if s.seen[i] != nil {
			out[i].HeartbeatAge = time.Duration(now - s.seen[i].Load())
		}
	}
	r.mu.Unlock()
	return out
}

type statusJSON struct {
	Self    string       `json:"self"`
	Members []memberJSON `json:"members"`
}

type memberJSON struct {
	Name         string    `json:"name"`
	Addr         string    `json:"addr"`
	GossipAddr   string    `json:"gossip_addr"`
	State        State     `json:"state"`
	Tokens       int       `json:"tokens"`
	Ownership    float64   `json:"ownership"`
	Heartbeat    time.Time `json:"heartbeat"` // by the member's clock
	HeartbeatAge float64   `json:"heartbeat_age_seconds"`
	Healthy      bool      `json:"healthy"`
}

// ServeStatus answers GET /ring: an HTML table, or JSON when the request
// accepts application/json.
func (r *Ring) ServeStatus(w http.ResponseWriter, req *http.Request) {
	st := r.Status()
	if strings.Contains(req.Header.Get("Accept"), "application/json") {
		out := statusJSON{Self: r.name, Members: make([]memberJSON, len(st))}
		for i, m := range st {
			out.Members[i] = memberJSON{Name: m.Name, Addr: m.Addr, GossipAddr: m.GossipAddr, State: m.State,
				Tokens: len(m.Tokens), Ownership: m.Ownership, Heartbeat: time.Unix(0, m.Heartbeat).UTC(),
				HeartbeatAge: m.HeartbeatAge.Seconds(), Healthy: m.Healthy}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
		return
	}
	type row struct {
		MemberStatus
		Self, Forgettable bool
		Age               string
	}
	rows := make([]row, len(st))
	for i, m := range st {
		rows[i] = row{MemberStatus: m, Self: m.Name == r.name, Age: m.HeartbeatAge.Round(time.Millisecond).String(),
			Forgettable: m.Name != r.name && !m.Healthy && m.State != Left}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, struct {
		Self string
		Now  string
		Rows []row
	}{r.name, time.Now().UTC().Format(time.RFC3339), rows}); err != nil {
		r.log.Debug("writing /ring", "err", err)
	}
}

var statusPage = template.Must(template.New("ring").Funcs(template.FuncMap{
	"mul100": func(f float64) float64 { return 100 * f },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Loam ring</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}.bad{background:#fdd}</style>
</head><body>
<h1>Ring</h1>
<p>As seen by <b>{{.Self}}</b> at {{.Now}}. Heartbeat age: since this node saw the member's heartbeat advance.</p>
<table>
<tr><th>Name</th><th>State</th><th>Address</th><th>Gossip address</th><th>Tokens</th><th>Ownership</th><th>Last heartbeat</th><th>Healthy</th><th></th></tr>
{{range .Rows}}<tr{{if not .Healthy}} class="bad"{{end}}>
<td>{{.Name}}{{if .Self}} (this node){{end}}</td><td>{{.State}}</td><td>{{.Addr}}</td><td>{{.GossipAddr}}</td>
<td>{{len .Tokens}}</td><td>{{printf "%.1f%%" (mul100 .Ownership)}}</td><td>{{.Age}} ago</td><td>{{if .Healthy}}yes{{else}}no{{end}}</td>
<td>{{if .Forgettable}}<form method="post" action="ring/forget"><input type="hidden" name="node" value="{{.Name}}"><button type="submit">Forget</button></form>{{end}}</td>
</tr>
{{end}}</table>
</body></html>
`))

// ServeForget answers POST /ring/forget?node=NAME (the name may also come
// as a form field): the member is marked LEFT. 400 for this node or an
// unknown one, 409 for a healthy one. A browser's form is sent back to
// /ring.
func (r *Ring) ServeForget(w http.ResponseWriter, req *http.Request) {
	name := req.FormValue("node")
	if name == "" {
		httpError(w, http.StatusBadRequest, "missing parameter node: the name of the member to forget")
		return
	}
	switch err := r.Forget(name); {
	case errors.Is(err, ErrSelf):
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%s is this node: a node cannot forget itself; stop it with SIGTERM to make it leave", name))
	case errors.Is(err, ErrUnknown):
		httpError(w, http.StatusBadRequest, fmt.Sprintf("no member named %q in the ring", name))
	case errors.Is(err, ErrHealthy):
		httpError(w, http.StatusConflict, fmt.Sprintf("%s is healthy: only a node that is gone can be forgotten", name))
	case err != nil:
		httpError(w, http.StatusServiceUnavailable, err.Error())
	case strings.Contains(req.Header.Get("Accept"), "text/html"):
		http.Redirect(w, req, "../ring", http.StatusSeeOther)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s is forgotten: LEFT\n", name)
	}
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}
