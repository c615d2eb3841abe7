package auth

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func (g *testGuard) write(t *testing.T, content string) {
	t.Helper()
	// Through a rename, as a Secret update is: never half a file.
	if err := os.WriteFile(g.file+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(g.file+".tmp", g.file); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	g := newTestGuard(t, Config{ReloadPeriod: time.Hour})
	push := g.Wrap(Rule{Access: Push, Tenant: true}, echo)
	fb := basic("fluent-bit", "fb-secret")
	status := func(authz string) int { return call(push, "POST", authz, "team-b").Code }
	ok := func() float64 { return testutil.ToFloat64(g.reloadOK) }
	if status(fb) != 403 || status("Bearer push-token") != 200 {
		t.Fatal("the sample file is not in force")
	}
	if g.table.Load().cache.len() != 1 {
		t.Fatalf("the verified password is not cached")
	}
	orig, _ := os.ReadFile(g.file)

	// fluent-bit moves to team-b; the token pusher is removed.
	edited := strings.Replace(string(orig), "tenants: [team-a]", "tenants: [team-b]", 1)
	edited = edited[:strings.Index(edited, "  - name: pusher")]
	g.write(t, edited)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if status(fb) != 200 || status("Bearer push-token") != 401 || ok() != 1 {
		t.Errorf("after the edit: fluent-bit %d (want 200), removed token %d (want 401), reload gauge %v", status(fb), status("Bearer push-token"), ok())
	}

	// A bad file keeps the last good table, says so once, and the gauge drops.
	g.write(t, edited+"  - name: broken\n    role: push\n")
	for range 2 {
		if err := g.Reload(); err == nil || !strings.Contains(err.Error(), "tokens[1] (broken)") {
			t.Fatalf("bad file: %v", err)
		}
	}
	if status(fb) != 200 || ok() != 0 {
		t.Errorf("after a bad file: fluent-bit %d (want 200: last good), gauge %v (want 0)", status(fb), ok())
	}
	if n := strings.Count(g.log.String(), "auth configuration not reloaded"); n != 1 {
		t.Errorf("the bad file was logged %d times, want once:\n%s", n, g.log.String())
	}

	// A vanished file keeps the last good table too.
	os.Remove(g.file)
	if err := g.Reload(); err == nil || status(fb) != 200 || ok() != 0 {
		t.Errorf("a vanished file: %v, fluent-bit %d, gauge %v", err, status(fb), ok())
	}

	// Back to the original: a new table, an empty cache.
	g.write(t, string(orig))
	if err := g.Reload(); err != nil || ok() != 1 {
		t.Fatalf("back to the sample: %v, gauge %v", err, ok())
	}
	if g.table.Load().cache.len() != 0 {
		t.Error("a reload kept the cache")
	}
	if status(fb) != 403 || status("Bearer push-token") != 200 {
		t.Error("the sample file is not in force again")
	}
}

// TestReloadChangedPassword: a password changed in the file stops working
// at once though it was cached.
func TestReloadChangedPassword(t *testing.T) {
	g := newTestGuard(t, Config{ReloadPeriod: time.Hour})
	h := g.Wrap(Rule{Access: Any}, echo)
	fb := basic("fluent-bit", "fb-secret")
	if call(h, "GET", fb).Code != 200 {
		t.Fatal("fluent-bit refused")
	}
	orig, _ := os.ReadFile(g.file)
	// reader's hash for fluent-bit: its password is now reader-secret.
	g.write(t, strings.Replace(string(orig), goodHash, "$2a$04$oX88hPoAQYcTvRJ8TxAQ4OQSz9ami5iwTlg45qgz0ZPWD5f074phm", 1))
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if c := call(h, "GET", fb).Code; c != 401 {
		t.Errorf("the old, cached password after a change: %d, want 401", c)
	}
	if c := call(h, "GET", basic("fluent-bit", "reader-secret")).Code; c != 200 {
		t.Errorf("the new password: %d, want 200", c)
	}
}

func TestRun(t *testing.T) {
	g := newTestGuard(t, Config{ReloadPeriod: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	h := g.Wrap(Rule{Access: Any}, echo)
	orig, _ := os.ReadFile(g.file)
	g.write(t, strings.Replace(string(orig), "name: grafana", "name: grafana2", 1))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if w := call(h, "GET", "Bearer grafana-token"); w.Code == 200 && strings.HasSuffix(w.Body.String(), "grafana2") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the edit was not picked up within 5s with a 10ms period")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCacheBounded(t *testing.T) {
	var c cache
	c.init(3)
	id := &Identity{Name: "x"}
	for i := range 10 {
		c.put(c.key("u", string(rune('a'+i))), id)
		if c.len() > 3 {
			t.Fatalf("%d entries in a cache of 3", c.len())
		}
	}
	k := c.key("u", "z")
	c.put(k, id)
	if c.get(k) != id {
		t.Error("the newest entry is not there")
	}
	var other cache
	other.init(3)
	if other.key("u", "z") == k {
		t.Error("two caches share a key: the HMAC secret is not random")
	}
}

// TestConcurrent: many goroutines verify at once while the file is
// reloaded (run it with -race).
func TestConcurrent(t *testing.T) {
	g := newTestGuard(t, Config{ReloadPeriod: time.Hour, MaxConcurrentBcrypt: 2})
	h := g.Wrap(Rule{Access: Push, Tenant: true}, echo)
	orig, _ := os.ReadFile(g.file)
	done := make(chan struct{})
	errs := make(chan string, 64)
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				authz := basic("fluent-bit", "fb-secret")
				if (w+i)%3 == 0 {
					authz = "Bearer push-token"
				}
				if c := call(h, "POST", authz).Code; c != 200 {
					errs <- "refused"
					return
				}
			}
		}()
	}
	for i := range 10 {
		g.write(t, string(orig)+strings.Repeat("#\n", i+1))
		g.Reload()
	}
	for range 8 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
