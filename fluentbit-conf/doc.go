// Package fluentbitconf holds no code: its tests check the Fluent Bit
// configurations of this directory, which the Kubernetes kit (../deploy)
// runs as they are. Every key of every section must be one Fluent Bit's
// manual lists for that section or plugin (testdata/known-keys.yaml, with
// the page of each), or, for the `loam` output, one the plugin reads
// (../plugin/internal/config); fluent-bit.yaml and fluent-bit.conf must say
// the same thing in their two syntaxes, and fluent-bit-fanout.yaml must
// differ from fluent-bit.yaml only by its extra outputs.
package fluentbitconf
