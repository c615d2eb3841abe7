// Package config reads the plugin's settings from the keys of one
// [OUTPUT] section. Fluent Bit hands keys over only during FLBPluginInit and
// never checks them, so every value is validated here, at start-up, and an
// error names the key.
package config

import (
	"crypto/tls"
	"net/url"
	"regexp"
	"time"
)

// Getter returns the value of a config key of the output section, "" when
// it is not set. Keys are case-insensitive (Fluent Bit's own lookup is).
type Getter interface {
	Get(key string) string
}

// LineFormat says how a record becomes a log line.
type LineFormat int

const (
	// LineRaw: the line is the record's `log` field (containers) or
	// `MESSAGE` (journal) as it is; a record with neither is sent as JSON.
	LineRaw LineFormat = iota
	// LineJSON: what is left of the record after labels and RemoveKeys, as
	// one JSON object.
	LineJSON
	// LineKeyValue: the same as logfmt-quoted key=value pairs.
	LineKeyValue
)

// Label is one static label or metadata pair.
type Label struct{ Name, Value string }

// KeyPath names a record field, nested maps allowed: "kubernetes.labels.app"
// is Path ["kubernetes", "labels", "app"]. Name is the label it becomes
// (the last path element, sanitised to a Prometheus label name, unless the
// config gave one).
type KeyPath struct {
	Path []string
	Name string
}

// Config is one output instance's settings, validated.
type Config struct {
	URLs        []*url.URL // Url: one or more push URLs, tried in turn (failover)
	TenantID    string     // TenantID: X-Scope-OrgID, "" for none
	TenantIDKey []string   // TenantIDKey: record field holding the tenant (wins over TenantID)

	Labels                 []Label   // Labels: static labels, `{cluster="lab"}`
	LabelKeys              []KeyPath // LabelKeys: record fields that become labels
	LabelMap               []KeyPath // LabelMapPath: JSON file mapping record paths to label names
	AutoKubernetesLabels   bool      // AutoKubernetesLabels (default true)
	RemoveKeys             [][]string
	LineFormat             LineFormat
	DropSingleKey          bool
	StructuredMetadataKeys []KeyPath
	ExcludeNamespaces      []*regexp.Regexp // whole-name matches; records of these namespaces are dropped and counted
	Redact                 []*regexp.Regexp // matches in lines are replaced by RedactWith
	RedactNamespaces       []*regexp.Regexp // redact only these namespaces' lines; empty: every line
	RedactWith             string           // default "[REDACTED]"

	BatchWait  time.Duration
	BatchSize  int // raw line bytes per push request; a flush is cut into requests of at most this
	Timeout    time.Duration
	MinBackoff time.Duration
	MaxBackoff time.Duration
	MaxRetries int // retries of a request within one flush (1+MaxRetries attempts) before answering FLB_RETRY

	TLS             *tls.Config // nil: system defaults (https URLs) or plain http
	Username        string
	Password        string
	BearerToken     string
	BearerTokenFile string // re-read on each request when set, as projected tokens rotate

	MetricsAddr string // "" for no metrics endpoint
}
