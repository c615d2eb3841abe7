// Package deploy holds no code: its tests check the Kubernetes kit of this
// directory. Each overlay is built with `kubectl kustomize`, every object
// is decoded strictly into its Kubernetes API type (or, for the Prometheus
// operator's ServiceMonitor and PrometheusRule, into the shape of their
// published CRD schema), and the invariants README.md promises are checked
// on the result. The fluent-operator resources of ../fluentbit-conf/operator
// are checked against excerpts of their CRDs' OpenAPI schemas
// (testdata/fluent-operator) and against ../fluentbit-conf/fluent-bit.yaml.
// base/loam/prometheusrule.yaml is generated from ../rules by
// TestPrometheusRuleUpToDate -update.
package deploy
