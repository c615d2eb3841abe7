package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// isolationSeedEnv replays a failed TestTenantIsolation: the test logs the
// seed it used.
const isolationSeedEnv = "LOAM_E2E_ISOLATION_SEED"

// isoTenant is one tenant of the isolation test and the model of what it
// pushed.
type isoTenant struct {
	name   string
	marker string // in every line, and in the owner label of its own streams
	token  string // its bearer token when auth is on
	hdr    http.Header
	// labelSets are its streams; some are the same label set in every
	// tenant, to make the store tell them apart by tenant alone.
	labelSets []map[string]string
	entries   []entry
}

// TestTenantIsolation is a property test of tenant isolation: random
// streams and lines pushed to five tenants whose label names and values
// overlap, then every read endpoint asked by each tenant answers exactly
// that tenant's data (counts and sets checked against the model) and
// nothing of the others (every answer is searched for the other tenants'
// markers); a tail sees only its tenant's live pushes while all five push,
// and a delete request of one tenant neither shows to nor hides the lines
// of another. It runs with tenants named by X-Scope-OrgID, and with
// -auth.enabled, each tenant with its own bearer token and no tenant
// header. The seed is logged; set LOAM_E2E_ISOLATION_SEED to replay it.
func TestTenantIsolation(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(isolationSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: not an unsigned integer", isolationSeedEnv, s)
		}
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, isolationSeedEnv, seed)
	for _, mode := range []string{"header", "auth"} {
		t.Run(mode, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x15017a7e))
			tenants := newIsoTenants(rng, mode == "auth")
			dir := t.TempDir()
			var args []string
			if mode == "auth" {
				var b strings.Builder
				b.WriteString("tokens:\n")
				for _, tn := range tenants {
					fmt.Fprintf(&b, "  - {name: %s, token_sha256: %s, tenants: [%s], role: admin}\n", tn.name, tokenSum(tn.token), tn.name)
				}
				authFile := filepath.Join(dir, "auth.yaml")
				writeAuthFile(t, authFile, b.String())
				args = []string{"-auth.enabled", "-auth.file", authFile}
			}
			l := startLoam(t, filepath.Join(dir, "data"), args...)
			checkIsolation(t, l, rng, tenants, mode == "auth")
			if t.Failed() {
				t.Logf("seed %d (replay with %s=%d)", seed, isolationSeedEnv, seed)
			}
		})
	}
}

// Label values every tenant draws from.
var (
	isoApps = []string{"api", "web", "db"}
	isoEnvs = []string{"prod", "dev"}
	isoPods = []string{"pod-a", "pod-b", "pod-c"}
	isoUser = []string{"ann", "bob", "cyd", "dee", "eve", "fay"}
)

const isoShared = "shared" // app of the label sets every tenant has

func newIsoTenants(rng *rand.Rand, auth bool) []*isoTenant {
	tenants := make([]*isoTenant, 5)
	for i := range tenants {
		tn := &isoTenant{name: fmt.Sprintf("tenant-%c", 'a'+i), marker: fmt.Sprintf("mark%cx%d", 'a'+i, rng.IntN(1000)), hdr: http.Header{}}
		if auth {
			tn.token = fmt.Sprintf("token-%d-%d", i, rng.Uint64())
			tn.hdr.Set("Authorization", "Bearer "+tn.token)
		} else {
			tn.hdr.Set("X-Scope-OrgID", tn.name)
		}
		// The same label set in every tenant, and maybe the other shared one.
		tn.labelSets = append(tn.labelSets, map[string]string{"app": isoShared, "env": "prod"})
		if rng.IntN(2) == 0 {
			tn.labelSets = append(tn.labelSets, map[string]string{"app": isoShared, "env": "dev"})
		}
		seen := map[string]bool{}
		for n := 2 + rng.IntN(5); n > 0; n-- {
			ls := map[string]string{
				"app":   isoApps[rng.IntN(len(isoApps))],
				"env":   isoEnvs[rng.IntN(len(isoEnvs))],
				"pod":   isoPods[rng.IntN(len(isoPods))],
				"owner": tn.marker,
			}
			if rng.IntN(3) == 0 {
				ls["only_"+strings.ReplaceAll(tn.name, "-", "_")] = "yes"
			}
			if k := labelsText(ls); !seen[k] {
				seen[k] = true
				tn.labelSets = append(tn.labelSets, ls)
			}
		}
		tenants[i] = tn
	}
	return tenants
}

// line is a logfmt line of tn: its marker, and fields whose values are
// drawn from sets every tenant shares; level and user "" draw one.
func (tn *isoTenant) line(rng *rand.Rand, level, user string, n int) string {
	if level == "" {
		level = []string{"info", "warn", "error"}[rng.IntN(3)]
	}
	if user == "" {
		user = isoUser[rng.IntN(len(isoUser))]
	}
	return fmt.Sprintf(`level=%s mark=%s user=%s n=%d msg="did the thing"`, level, tn.marker, user, n)
}

// checkIsolation pushes the random data, then asks every read endpoint as
// every tenant.
func checkIsolation(t *testing.T, l *loam, rng *rand.Rand, tenants []*isoTenant, auth bool) {
	base := time.Now().Add(-15 * time.Minute).Truncate(time.Minute)
	// History: 40 to 90 entries a tenant at distinct times of the next 10
	// minutes, pushed in random batches to the tenants in turn. The first
	// 35 are info lines of ann in the shared stream: a pattern (patterns
	// are mined per stream and level, need 30 lines, and a word that varies
	// early in a line splits them).
	var batches []func()
	for _, tn := range tenants {
		used := map[int64]bool{}
		n := 40 + rng.IntN(51)
		var es []entry
		for j := 0; j < n; j++ {
			ts := base.Add(time.Duration(rng.IntN(600_000)) * time.Millisecond).UnixNano()
			for used[ts] {
				ts++
			}
			used[ts] = true
			ls, level, user := tn.labelSets[rng.IntN(len(tn.labelSets))], "", ""
			if j < 35 {
				ls, level, user = tn.labelSets[0], "info", "ann"
			}
			es = append(es, entry{Labels: ls, T: ts, Line: tn.line(rng, level, user, j)})
		}
		tn.entries = es
		for len(es) > 0 {
			k := min(len(es), 1+rng.IntN(20))
			batch, tn := es[:k], tn
			es = es[k:]
			batches = append(batches, func() { isoPush(t, l, rng, tn, batch) })
		}
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	for _, push := range batches {
		push()
	}

	for i, tn := range tenants {
		t.Run(tn.name, func(t *testing.T) {
			c := &isoClient{l: l, tn: tn, others: slices.Delete(slices.Clone(tenants), i, i+1)}
			c.checkReads(t, base)
			if auth {
				// Its token does not open another tenant, even named.
				other := c.others[0]
				h := tn.hdr.Clone()
				h.Set("X-Scope-OrgID", other.name)
				q := url.Values{"query": {`{app=~".+"}`}, "start": {ns(base)}}
				code, _, body := l.do(t, "GET", "/loki/api/v1/query_range?"+q.Encode(), h, nil)
				if code != http.StatusForbidden || strings.Contains(string(body), other.marker) {
					t.Errorf("%s's token naming %s: %d %q, want 403 and no data", tn.name, other.name, code, clip(string(body)))
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	t.Run("tail", func(t *testing.T) { checkIsoTail(t, l, rng, tenants, base) })
	t.Run("delete", func(t *testing.T) { checkIsoDelete(t, l, tenants, base) })
}

// isoPush pushes es to tn, as JSON or as snappy protobuf.
func isoPush(t *testing.T, l *loam, rng *rand.Rand, tn *isoTenant, es []entry) {
	t.Helper()
	h := tn.hdr.Clone()
	body := jsonBody(es)
	h.Set("Content-Type", ctJSON)
	if rng.IntN(2) == 0 {
		body = protoBody(es)
		h.Set("Content-Type", ctProto)
	}
	code, _, msg := l.do(t, "POST", "/loki/api/v1/push", h, strings.NewReader(string(body)))
	if code != http.StatusNoContent {
		t.Fatalf("push of %d entries to %s: %d %s", len(es), tn.name, code, msg)
	}
}

// isoClient asks the read endpoints as one tenant, and checks that no
// answer names another.
type isoClient struct {
	l      *loam
	tn     *isoTenant
	others []*isoTenant
}

// get requires 200, and an answer without the others' markers.
func (c *isoClient) get(t *testing.T, path string, q url.Values) []byte {
	t.Helper()
	code, _, body := c.l.do(t, "GET", path+"?"+q.Encode(), c.tn.hdr, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s %v as %s: %d %s", path, q, c.tn.name, code, clip(string(body)))
	}
	c.noLeak(t, path, body)
	return body
}

func (c *isoClient) noLeak(t *testing.T, what string, body []byte) {
	t.Helper()
	for _, o := range c.others {
		if strings.Contains(string(body), o.marker) || strings.Contains(string(body), "only_"+strings.ReplaceAll(o.name, "-", "_")) {
			t.Errorf("%s as %s shows data of %s (%s):\n%s", what, c.tn.name, o.name, o.marker, clip(string(body)))
		}
	}
}

// data decodes the data of a {"status":"success","data":...} answer.
func (c *isoClient) data(t *testing.T, path string, q url.Values, v any) {
	t.Helper()
	body := c.get(t, path, q)
	var resp struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Status != "success" {
		t.Fatalf("GET %s: %v %s", path, err, clip(string(body)))
	}
	if err := json.Unmarshal(resp.Data, v); err != nil {
		t.Fatalf("GET %s: data: %v\n%s", path, err, clip(string(body)))
	}
}

// count is, from the model, the lines and bytes of the tenant's entries
// whose labels sel keeps.
func (tn *isoTenant) count(sel func(map[string]string) bool) (lines, bytes int) {
	for _, e := range tn.entries {
		if sel(e.Labels) {
			lines++
			bytes += len(e.Line)
		}
	}
	return
}

func anyApp(map[string]string) bool { return true }

// distinct maps each label name of the tenant's streams that hold entries
// to its distinct values.
func (tn *isoTenant) distinct() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, e := range tn.entries {
		for k, v := range e.Labels {
			if out[k] == nil {
				out[k] = map[string]bool{}
			}
			out[k][v] = true
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkReads asks every read endpoint but tail as c's tenant.
func (c *isoClient) checkReads(t *testing.T, base time.Time) {
	tn := c.tn
	start, end := base.Add(-time.Minute), time.Now().Add(time.Minute)
	rangeQ := func(query string, kv ...string) url.Values {
		q := url.Values{"query": {query}, "start": {ns(start)}, "end": {ns(end)}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	all := `{app=~".+"}`
	total, totalBytes := tn.count(anyApp)
	names := tn.distinct()

	t.Run("query_range log", func(t *testing.T) {
		for _, sel := range []struct {
			query string
			keep  func(entry) bool
		}{
			{all, func(entry) bool { return true }},
			{`{app="shared", env="prod"}`, func(e entry) bool { return e.Labels["app"] == isoShared && e.Labels["env"] == "prod" }},
			{`{env="prod"} |= "user=ann"`, func(e entry) bool { return e.Labels["env"] == "prod" && strings.Contains(e.Line, "user=ann") }},
		} {
			q := rangeQ(sel.query, "limit", strconv.Itoa(total+10), "direction", "forward")
			got := parseStreams(t, q, c.get(t, "/loki/api/v1/query_range", q))
			want := expectStreams(tn.entries, sel.keep, start.UnixNano(), end.UnixNano(), false, total+10)
			if d := diffStreams(got, want); d != "" {
				t.Errorf("%s as %s:\n%s", sel.query, tn.name, d)
			}
		}
	})
	t.Run("query metric", func(t *testing.T) {
		var got struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		}
		q := url.Values{"query": {`sum by (app) (count_over_time({app=~".+"}[30m]))`}, "time": {ns(time.Now())}}
		c.data(t, "/loki/api/v1/query", q, &got)
		want := map[string]int{}
		for _, e := range tn.entries {
			want[e.Labels["app"]]++
		}
		gotCounts := map[string]int{}
		for _, s := range got.Result {
			n, _ := strconv.Atoi(fmt.Sprint(s.Value[1]))
			gotCounts[s.Metric["app"]] = n
		}
		if got.ResultType != "vector" || !mapsEqual(gotCounts, want) {
			t.Errorf("%s: %s %v, want vector %v", q.Get("query"), got.ResultType, gotCounts, want)
		}
	})
	t.Run("query_range metric", func(t *testing.T) {
		var got struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		}
		// Windows as long as the step: each entry counted once.
		q := url.Values{"query": {`sum by (owner) (count_over_time({app=~".+"}[1m]))`}, "start": {ns(base)},
			"end": {ns(base.Add(12 * time.Minute))}, "step": {"60s"}}
		c.data(t, "/loki/api/v1/query_range", q, &got)
		want := map[string]int{}
		for _, e := range tn.entries {
			want[e.Labels["owner"]]++
		}
		sums := map[string]int{}
		for _, s := range got.Result {
			for _, v := range s.Values {
				n, _ := strconv.Atoi(fmt.Sprint(v[1]))
				sums[s.Metric["owner"]] += n
			}
		}
		if got.ResultType != "matrix" || !mapsEqual(sums, want) {
			t.Errorf("%s: %s %v, want matrix %v", q.Get("query"), got.ResultType, sums, want)
		}
	})
	t.Run("labels", func(t *testing.T) {
		for _, path := range []string{"/loki/api/v1/labels", "/loki/api/v1/label"} {
			var got []string
			c.data(t, path, url.Values{"start": {ns(start)}, "end": {ns(end)}}, &got)
			if want := sortedKeys(names); !slices.Equal(got, want) {
				t.Errorf("%s: %q, want %q", path, got, want)
			}
		}
	})
	t.Run("label values", func(t *testing.T) {
		for _, name := range []string{"app", "env", "pod", "owner"} {
			var got []string
			c.data(t, "/loki/api/v1/label/"+name+"/values", url.Values{"start": {ns(start)}, "end": {ns(end)}}, &got)
			if want := sortedKeys(names[name]); !slices.Equal(got, want) {
				t.Errorf("values of %s: %q, want %q", name, got, want)
			}
		}
	})
	t.Run("series", func(t *testing.T) {
		var got []map[string]string
		c.data(t, "/loki/api/v1/series", url.Values{"match[]": {all}, "start": {ns(start)}, "end": {ns(end)}}, &got)
		var gotSets []string
		for _, s := range got {
			gotSets = append(gotSets, labelsText(s))
		}
		want := map[string]bool{}
		for _, e := range tn.entries {
			want[labelsText(e.Labels)] = true
		}
		slices.Sort(gotSets)
		if !slices.Equal(gotSets, sortedKeys(want)) {
			t.Errorf("series: %q, want %q", gotSets, sortedKeys(want))
		}
	})
	t.Run("index stats", func(t *testing.T) {
		var got struct{ Streams, Entries, Bytes int }
		body := c.get(t, "/loki/api/v1/index/stats", rangeQ(all))
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		streams := map[string]bool{}
		for _, e := range tn.entries {
			streams[labelsText(e.Labels)] = true
		}
		if got.Streams != len(streams) || got.Entries != total || got.Bytes != totalBytes {
			t.Errorf("stats %+v, want %d streams, %d entries, %d bytes", got, len(streams), total, totalBytes)
		}
	})
	appBytes := map[string]int{}
	for _, app := range append([]string{isoShared}, isoApps...) {
		if _, b := tn.count(func(ls map[string]string) bool { return ls["app"] == app }); b > 0 {
			appBytes[app] = b
		}
	}
	t.Run("index volume", func(t *testing.T) {
		var got struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		}
		c.data(t, "/loki/api/v1/index/volume", rangeQ(all, "limit", "100"), &got)
		gotBytes := map[string]int{}
		for _, s := range got.Result {
			n, _ := strconv.Atoi(fmt.Sprint(s.Value[1]))
			gotBytes[s.Metric["app"]] += n
		}
		if !mapsEqual(gotBytes, appBytes) {
			t.Errorf("volume by app %v, want %v", gotBytes, appBytes)
		}
	})
	t.Run("index volume_range", func(t *testing.T) {
		var got struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		}
		c.data(t, "/loki/api/v1/index/volume_range", rangeQ(all, "step", "60s", "limit", "100"), &got)
		gotBytes := map[string]int{}
		for _, s := range got.Result {
			for _, v := range s.Values {
				n, _ := strconv.Atoi(fmt.Sprint(v[1]))
				gotBytes[s.Metric["app"]] += n
			}
		}
		if !mapsEqual(gotBytes, appBytes) {
			t.Errorf("volume_range by app %v, want %v", gotBytes, appBytes)
		}
	})
	// The fields of the lines: level, mark, user, n and msg.
	fieldValues := map[string]map[string]bool{}
	for _, e := range tn.entries {
		for _, f := range strings.Fields(strings.TrimSuffix(e.Line, ` msg="did the thing"`)) {
			k, v, _ := strings.Cut(f, "=")
			if fieldValues[k] == nil {
				fieldValues[k] = map[string]bool{}
			}
			fieldValues[k][v] = true
		}
	}
	fieldValues["msg"] = map[string]bool{"did the thing": true}
	t.Run("detected_fields", func(t *testing.T) {
		var got struct {
			Fields []struct {
				Label       string `json:"label"`
				Cardinality int    `json:"cardinality"`
			} `json:"fields"`
		}
		body := c.get(t, "/loki/api/v1/detected_fields", rangeQ(all, "line_limit", "5000"))
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		gotCard := map[string]int{}
		for _, f := range got.Fields {
			gotCard[f.Label] = f.Cardinality
		}
		want := map[string]int{}
		for k, vs := range fieldValues {
			want[k] = len(vs)
		}
		if !mapsEqual(gotCard, want) {
			t.Errorf("detected fields %v, want %v", gotCard, want)
		}
	})
	t.Run("detected_field values", func(t *testing.T) {
		for _, name := range []string{"mark", "user"} {
			var got struct {
				Values []string `json:"values"`
			}
			body := c.get(t, "/loki/api/v1/detected_field/"+name+"/values", rangeQ(all, "line_limit", "5000"))
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got.Values)
			if want := sortedKeys(fieldValues[name]); !slices.Equal(got.Values, want) {
				t.Errorf("values of field %s: %q, want %q", name, got.Values, want)
			}
		}
	})
	t.Run("detected_labels", func(t *testing.T) {
		var got struct {
			DetectedLabels []struct {
				Label       string `json:"label"`
				Cardinality int    `json:"cardinality"`
			} `json:"detectedLabels"`
		}
		body := c.get(t, "/loki/api/v1/detected_labels", rangeQ(all))
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		gotCard := map[string]int{}
		for _, d := range got.DetectedLabels {
			gotCard[d.Label] = d.Cardinality
		}
		want := map[string]int{}
		for k, vs := range names {
			want[k] = len(vs)
		}
		if !mapsEqual(gotCard, want) {
			t.Errorf("detected labels %v, want %v", gotCard, want)
		}
	})
	t.Run("patterns", func(t *testing.T) {
		var got []struct {
			Pattern string     `json:"pattern"`
			Samples [][2]int64 `json:"samples"`
		}
		c.data(t, "/loki/api/v1/patterns", rangeQ(all, "step", "60s"), &got)
		sum := 0
		for _, p := range got {
			if !strings.Contains(p.Pattern, "mark="+tn.marker) {
				t.Errorf("pattern %q does not hold the tenant's marker %s", p.Pattern, tn.marker)
			}
			for _, s := range p.Samples {
				sum += int(s[1])
			}
		}
		// Patterns seen fewer than 30 times are left out.
		if len(got) == 0 || sum > total {
			t.Errorf("%d patterns counting %d lines, want some and at most the %d pushed", len(got), sum, total)
		}
	})
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkIsoDelete: the first tenant deletes its shared stream {app="shared",
// env="prod"}, which every tenant has. Only its lines disappear; no other
// tenant lists the request or may cancel it.
func checkIsoDelete(t *testing.T, l *loam, tenants []*isoTenant, base time.Time) {
	a := tenants[0]
	sel := `{app="shared", env="prod"}`
	q := url.Values{"query": {sel}, "start": {strconv.FormatInt(base.Add(-time.Hour).Unix(), 10)}}
	code, hdr, body := l.do(t, "POST", "/loki/api/v1/delete?"+q.Encode(), a.hdr, nil)
	id := hdr.Get("X-Delete-Request-ID")
	if code != http.StatusNoContent || id == "" {
		t.Fatalf("delete request of %s: %d %s", a.name, code, body)
	}
	list := func(tn *isoTenant) string {
		code, _, body := l.do(t, "GET", "/loki/api/v1/delete", tn.hdr, nil)
		if code != http.StatusOK {
			t.Fatalf("delete list of %s: %d %s", tn.name, code, body)
		}
		return string(body)
	}
	if got := list(a); strings.Count(got, `"request_id"`) != 1 || !strings.Contains(got, id) {
		t.Errorf("%s lists %s, want its request %s", a.name, got, id)
	}
	shared := func(e entry) bool { return e.Labels["app"] == isoShared && e.Labels["env"] == "prod" }
	for _, tn := range tenants {
		if tn != a {
			if got := list(tn); strings.TrimSpace(got) != "null" {
				t.Errorf("%s lists %s, want null", tn.name, got)
			}
			if code, _, body := l.do(t, "DELETE", "/loki/api/v1/delete?request_id="+id, tn.hdr, nil); code != http.StatusNotFound {
				t.Errorf("%s cancels %s's request: %d %s, want 404", tn.name, a.name, code, body)
			}
		}
		keep := func(entry) bool { return true }
		if tn == a {
			keep = func(e entry) bool { return !shared(e) }
		}
		n := len(tn.entries) + 10
		end := time.Now().Add(time.Minute)
		q := url.Values{"query": {`{app=~".+"}`}, "start": {ns(base.Add(-time.Minute))}, "end": {ns(end)}, "limit": {strconv.Itoa(n)}, "direction": {"forward"}}
		code, _, body := l.do(t, "GET", "/loki/api/v1/query_range?"+q.Encode(), tn.hdr, nil)
		if code != http.StatusOK {
			t.Fatalf("query of %s after the delete: %d %s", tn.name, code, body)
		}
		got := parseStreams(t, q, body)
		want := expectStreams(tn.entries, keep, base.Add(-time.Minute).UnixNano(), end.UnixNano(), false, n)
		if d := diffStreams(got, want); d != "" {
			t.Errorf("%s after %s's delete of %s:\n%s", tn.name, a.name, sel, d)
		}
	}
	// Its own tenant may cancel it (the delete delay has not passed).
	if code, _, body := l.do(t, "DELETE", "/loki/api/v1/delete?request_id="+id, a.hdr, nil); code != http.StatusNoContent {
		t.Errorf("%s cancels its request: %d %s", a.name, code, body)
	}
}
