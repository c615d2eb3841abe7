package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestRulesPromtool runs `promtool check rules` on ../rules and `promtool
// test rules` on its tests: each alert fires, and does not, as the tests
// say (rules/tests/).
func TestRulesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus; CI installs it)")
	}
	files, _ := filepath.Glob(filepath.Join("..", "rules", "*.yaml"))
	tests, _ := filepath.Glob(filepath.Join("..", "rules", "tests", "*.yaml"))
	if len(files) == 0 || len(tests) == 0 {
		t.Fatalf("rule files %v, tests %v", files, tests)
	}
	for _, args := range [][]string{
		append([]string{"check", "rules"}, files...),
		append([]string{"test", "rules"}, tests...),
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args[:2], err, out)
		}
	}
}

// TestEveryAlertTestedAndDocumented: each alert of ../rules has a promtool
// test where it fires and one where it does not, and a runbook_url whose
// anchor is a section of docs/runbooks.md.
func TestEveryAlertTestedAndDocumented(t *testing.T) {
	var suite struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	tests, _ := filepath.Glob(filepath.Join("..", "rules", "tests", "*.yaml"))
	for _, f := range tests {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &suite); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range suite.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	runbooks, err := os.ReadFile(filepath.Join("..", "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(runbooks), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[strings.ToLower(strings.TrimSpace(h))] = true
		}
	}
	const prefix = "https://github.com/loam-logs/loam/blob/main/docs/runbooks.md#"
	n := 0
	for _, g := range rulesFromDir(t) {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("alert %s: a test where it fires: %v, where it does not: %v", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], prefix)
			if !ok || !anchors[anchor] || anchor != strings.ToLower(r.Alert) {
				t.Errorf("alert %s: runbook_url %q is not its section of docs/runbooks.md", r.Alert, r.Annotations["runbook_url"])
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: no severity or summary", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts")
	}
}
