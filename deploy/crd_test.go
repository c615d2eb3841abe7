package deploy

import (
	"fmt"
	"regexp"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Prometheus operator's CRDs, as far as the kit uses them: each struct
// lists the fields of the published schema
// (monitoring.coreos.com_servicemonitors.yaml and
// monitoring.coreos.com_prometheusrules.yaml, v1) that the kit may set, with
// the schema's JSON names. Decoding with unknown fields rejected then refuses
// a misspelt or misplaced field, as the API server's structural schema would.

type serviceMonitor struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   metav1.ObjectMeta  `json:"metadata"`
	Spec       serviceMonitorSpec `json:"spec"`
}

type serviceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector *struct {
		Any        bool     `json:"any,omitempty"`
		MatchNames []string `json:"matchNames,omitempty"`
	} `json:"namespaceSelector,omitempty"`
	Endpoints []smEndpoint `json:"endpoints"`
}

type smEndpoint struct {
	Port            string         `json:"port,omitempty"`
	Path            string         `json:"path,omitempty"`
	Scheme          string         `json:"scheme,omitempty"`
	Interval        string         `json:"interval,omitempty"`
	ScrapeTimeout   string         `json:"scrapeTimeout,omitempty"`
	HonorLabels     bool           `json:"honorLabels,omitempty"`
	Authorization   *smSafeAuth    `json:"authorization,omitempty"`
	BearerTokenFile string         `json:"bearerTokenFile,omitempty"`
	Params          map[string]any `json:"params,omitempty"`
}

type smSafeAuth struct {
	Type        string             `json:"type,omitempty"`
	Credentials *secretKeySelector `json:"credentials,omitempty"`
}

type secretKeySelector struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional,omitempty"`
}

type prometheusRule struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   metav1.ObjectMeta  `json:"metadata"`
	Spec       prometheusRuleSpec `json:"spec"`
}

type prometheusRuleSpec struct {
	Groups []ruleGroup `json:"groups"`
}

// ruleGroup is also the shape of a group in a Prometheus rule file.
type ruleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

type rule struct {
	Record        string            `json:"record,omitempty"`
	Alert         string            `json:"alert,omitempty"`
	Expr          string            `json:"expr"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// promDuration is the schema's pattern for Duration fields.
var promDuration = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

// check applies the schema's constraints that a struct cannot express.
func (s *serviceMonitor) check() error {
	if len(s.Spec.Endpoints) == 0 {
		return fmt.Errorf("servicemonitor %s: no endpoints", s.Metadata.Name)
	}
	for _, e := range s.Spec.Endpoints {
		for _, d := range []string{e.Interval, e.ScrapeTimeout} {
			if d != "" && !promDuration.MatchString(d) {
				return fmt.Errorf("servicemonitor %s: %q is not a duration", s.Metadata.Name, d)
			}
		}
		if e.Scheme != "" && e.Scheme != "http" && e.Scheme != "https" {
			return fmt.Errorf("servicemonitor %s: scheme %q", s.Metadata.Name, e.Scheme)
		}
		if a := e.Authorization; a != nil && (a.Credentials == nil || a.Credentials.Name == "" || a.Credentials.Key == "") {
			return fmt.Errorf("servicemonitor %s: authorization without a secret key", s.Metadata.Name)
		}
	}
	return nil
}

func checkGroups(groups []ruleGroup) error {
	if len(groups) == 0 {
		return fmt.Errorf("no rule groups")
	}
	seen := map[string]bool{}
	for _, g := range groups {
		if g.Name == "" || seen[g.Name] {
			return fmt.Errorf("group name %q empty or repeated", g.Name)
		}
		seen[g.Name] = true
		if g.Interval != "" && !promDuration.MatchString(g.Interval) {
			return fmt.Errorf("group %s: interval %q", g.Name, g.Interval)
		}
		for _, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") || r.Expr == "" {
				return fmt.Errorf("group %s: a rule needs exactly one of alert and record, and an expr: %+v", g.Name, r)
			}
			for _, d := range []string{r.For, r.KeepFiringFor} {
				if d != "" && !promDuration.MatchString(d) {
					return fmt.Errorf("group %s: %q is not a duration", g.Name, d)
				}
			}
		}
	}
	return nil
}
