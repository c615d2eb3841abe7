package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/loam-logs/loam/server/labels"
)

// The keys Parse reads, spelt as plugin/README.md documents them. Getters
// match them case-insensitively.
const (
	keyURL                    = "Url"
	keyTenantID               = "TenantID"
	keyTenantIDKey            = "TenantIDKey"
	keyLabels                 = "Labels"
	keyLabelKeys              = "LabelKeys"
	keyLabelMapPath           = "LabelMapPath"
	keyAutoKubernetesLabels   = "AutoKubernetesLabels"
	keyRemoveKeys             = "RemoveKeys"
	keyLineFormat             = "LineFormat"
	keyDropSingleKey          = "DropSingleKey"
	keyStructuredMetadataKeys = "StructuredMetadataKeys"
	keyExcludeNamespaces      = "ExcludeNamespaces"
	keyRedact                 = "Redact"
	keyRedactNamespaces       = "RedactNamespaces"
	keyRedactWith             = "RedactWith"
	keyBatchWait              = "BatchWait"
	keyBatchSize              = "BatchSize"
	keyTimeout                = "Timeout"
	keyMinBackoff             = "MinBackoff"
	keyMaxBackoff             = "MaxBackoff"
	keyMaxRetries             = "MaxRetries"
	keyCAFile                 = "CAFile"
	keyCertFile               = "CertFile"
	keyKeyFile                = "KeyFile"
	keyInsecureSkipVerify     = "InsecureSkipVerify"
	keyUsername               = "Username"
	keyPassword               = "Password"
	keyBearerToken            = "BearerToken"
	keyBearerTokenFile        = "BearerTokenFile"
	keyMetricsAddr            = "MetricsAddr"
)

// Defaults of the keys that have one.
const (
	DefaultURL        = "http://127.0.0.1:3100/loki/api/v1/push"
	PushPath          = "/loki/api/v1/push" // given to a Url whose path is empty or "/"
	DefaultRedactWith = "[REDACTED]"
	DefaultBatchWait  = time.Second
	DefaultBatchSize  = 1 << 20
	DefaultTimeout    = 10 * time.Second
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	DefaultMaxRetries = 3
)

// KeyError is one bad setting. Parse reports every one it finds, joined
// with errors.Join, so a person fixes the whole section in one go.
type KeyError struct {
	Key    string // as documented, e.g. "Timeout"
	Value  string // the value as given; "" for secrets and unset keys
	Reason string // what is wrong, and what is wanted
}

func (e *KeyError) Error() string {
	if e.Value == "" {
		return "config: " + e.Key + ": " + e.Reason
	}
	v := e.Value
	if len(v) > 120 {
		v = v[:120] + "…"
	}
	return fmt.Sprintf("config: %s %q: %s", e.Key, v, e.Reason)
}

// Parse reads and validates every key of one [OUTPUT] section. Files named by
// keys (CA, certificate, key, label map, bearer token) are read now, so that
// a bad one stops Fluent Bit at start-up rather than at the first flush.
// Values are trimmed of surrounding spaces; an empty value means the default.
func Parse(g Getter) (*Config, error) {
	p := &parser{g: g}
	c := &Config{
		AutoKubernetesLabels: true,
		LineFormat:           LineRaw,
		RedactWith:           DefaultRedactWith,
		BatchWait:            DefaultBatchWait,
		BatchSize:            DefaultBatchSize,
		Timeout:              DefaultTimeout,
		MinBackoff:           DefaultMinBackoff,
		MaxBackoff:           DefaultMaxBackoff,
		MaxRetries:           DefaultMaxRetries,
	}
	urlsOK := p.urls(c)
	p.tenant(c)
	p.staticLabels(c)
	p.record(c)
	p.redact(c)
	p.delivery(c)
	if urlsOK {
		p.tlsConfig(c)
	}
	p.auth(c)
	p.metrics(c)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

type parser struct {
	g    Getter
	errs []error
}

func (p *parser) get(key string) string { return strings.TrimSpace(p.g.Get(key)) }

func (p *parser) bad(key, value, reason string) {
	p.errs = append(p.errs, &KeyError{Key: key, Value: value, Reason: reason})
}

func (p *parser) boolean(key string, def bool) bool {
	v := p.get(key)
	if v == "" {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		p.bad(key, v, err.Error())
		return def
	}
	return b
}

// duration reads a duration key; ok is false when the value was bad.
func (p *parser) duration(key string, def time.Duration, zeroOK bool) (d time.Duration, ok bool) {
	v := p.get(key)
	if v == "" {
		return def, true
	}
	d, err := parseDuration(v)
	if err != nil {
		p.bad(key, v, err.Error())
		return def, false
	}
	if d == 0 && !zeroOK {
		p.bad(key, v, "must be greater than 0 (want e.g. 10s)")
		return def, false
	}
	return d, true
}

// paths reads a comma-separated list of record paths.
func (p *parser) paths(key string) [][]string {
	var out [][]string
	for _, e := range splitPaths(p.get(key)) {
		path, err := parsePath(e)
		if err != nil {
			p.bad(key, e, err.Error())
			continue
		}
		out = append(out, path)
	}
	return out
}

// keyPaths reads a comma-separated list of [name=]path entries.
func (p *parser) keyPaths(key string) []KeyPath {
	var out []KeyPath
	for _, e := range splitPaths(p.get(key)) {
		kp, err := parseKeyPath(e)
		if err != nil {
			p.bad(key, e, err.Error())
			continue
		}
		out = append(out, kp)
	}
	return out
}

// patterns reads a comma-separated list of whole-name regular expressions.
func (p *parser) patterns(key string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, e := range splitPatterns(p.get(key)) {
		re, err := compileWhole(e)
		if err != nil {
			p.bad(key, e, err.Error())
			continue
		}
		out = append(out, re)
	}
	return out
}

// readFile reads a file named by key; the error names the key and the path.
func (p *parser) readFile(key, path string) ([]byte, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.bad(key, path, "cannot read: "+err.Error())
		return nil, false
	}
	return data, true
}

// urls reads Url; it reports false when a URL was bad, so that checks
// depending on the schemes are skipped rather than reported twice.
func (p *parser) urls(c *Config) bool {
	v := p.get(keyURL)
	if v == "" {
		u, _ := url.Parse(DefaultURL)
		c.URLs = []*url.URL{u}
		return true
	}
	ok := true
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		u, err := parseURL(s)
		if err != nil {
			p.bad(keyURL, redactURL(s), err.Error())
			ok = false
			continue
		}
		c.URLs = append(c.URLs, u)
	}
	if ok && len(c.URLs) == 0 {
		p.bad(keyURL, v, "no URL in the list (want e.g. http://loam:3100)")
		ok = false
	}
	return ok
}

// parseURL checks one push URL and gives it the push path when it has none.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a URL: %v (want e.g. http://loam:3100)", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("want an http:// or https:// URL, e.g. http://loam:3100")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("no host (want e.g. http://loam:3100)")
	case u.User != nil:
		return nil, errors.New("credentials in the URL are not supported (use Username and Password)")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, errors.New("a #fragment means nothing to a push URL")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %s is not from 1 to 65535", port)
		}
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = PushPath, ""
	}
	return u, nil
}

// redactURL hides the password of a URL's user info, as url.URL.Redacted
// does, but works on text that may not parse: an error message must not
// carry a password into the log.
func redactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return s
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return s
	}
	return s[:i+3] + user + ":xxxxx" + rest[at:]
}

func (p *parser) tenant(c *Config) {
	if v := p.get(keyTenantID); v != "" {
		if validTenant(v) {
			c.TenantID = v
		} else {
			p.bad(keyTenantID, v, "not a tenant ID (want at most 150 letters, digits and !-_.*'(), not . or ..)")
		}
	}
	switch entries := splitPaths(p.get(keyTenantIDKey)); len(entries) {
	case 0:
	case 1:
		path, err := parsePath(entries[0])
		if err != nil {
			p.bad(keyTenantIDKey, entries[0], err.Error())
			return
		}
		c.TenantIDKey = path
	default:
		p.bad(keyTenantIDKey, p.get(keyTenantIDKey), "want one record path (the tenant comes from a single field)")
	}
}

func (p *parser) staticLabels(c *Config) {
	v := p.get(keyLabels)
	if v == "" {
		return
	}
	sel := v
	if !strings.HasPrefix(sel, "{") {
		sel = "{" + sel + "}" // the braces are easy to forget
	}
	ls, err := labels.Parse(sel)
	if err != nil {
		msg := err.Error()
		clipped := sel
		if len(clipped) > 120 {
			clipped = clipped[:120] + "…"
		}
		msg = strings.TrimPrefix(msg, fmt.Sprintf("label set %q: ", clipped))
		p.bad(keyLabels, v, msg+` (want e.g. {cluster="lab", env="prod"})`)
		return
	}
	for i, l := range ls {
		switch {
		case !labels.ValidName(l.Name):
			p.bad(keyLabels, v, fmt.Sprintf("%q is not a label name (want [a-zA-Z_][a-zA-Z0-9_]*)", l.Name))
		case l.Value == "":
			p.bad(keyLabels, v, fmt.Sprintf("label %s has an empty value, which Loki reads as no label", l.Name))
		case !utf8.ValidString(l.Value):
			p.bad(keyLabels, v, fmt.Sprintf("value of label %s is not UTF-8", l.Name))
		case i > 0 && ls[i-1].Name == l.Name:
			p.bad(keyLabels, v, fmt.Sprintf("label %s is given twice", l.Name))
		default:
			c.Labels = append(c.Labels, Label{Name: l.Name, Value: l.Value})
		}
	}
}

// record reads the keys that say how a record becomes labels and a line.
func (p *parser) record(c *Config) {
	c.LabelKeys = p.keyPaths(keyLabelKeys)
	if path := p.get(keyLabelMapPath); path != "" {
		if data, ok := p.readFile(keyLabelMapPath, path); ok {
			m, err := parseLabelMap(data)
			if err != nil {
				p.bad(keyLabelMapPath, path, err.Error())
			}
			c.LabelMap = m
		}
	}
	c.AutoKubernetesLabels = p.boolean(keyAutoKubernetesLabels, true)
	c.RemoveKeys = p.paths(keyRemoveKeys)
	switch v := p.get(keyLineFormat); strings.ToLower(v) {
	case "", "raw":
		c.LineFormat = LineRaw
	case "json":
		c.LineFormat = LineJSON
	case "key_value", "kv":
		c.LineFormat = LineKeyValue
	default:
		p.bad(keyLineFormat, v, "unknown line format (want raw, json or key_value)")
	}
	c.DropSingleKey = p.boolean(keyDropSingleKey, false)
	c.StructuredMetadataKeys = p.keyPaths(keyStructuredMetadataKeys)
	c.ExcludeNamespaces = p.patterns(keyExcludeNamespaces)
}

// redact reads Redact, RedactNamespaces and RedactWith. Redact is one
// expression, not a list: a pattern for secrets is likely to hold commas
// ("\d{3,4}"), so several are combined with '|'.
func (p *parser) redact(c *Config) {
	expr := p.get(keyRedact)
	if expr != "" {
		re, err := compileRedact(expr)
		if err != nil {
			p.bad(keyRedact, expr, err.Error())
		} else {
			c.Redact = []*regexp.Regexp{re}
		}
	}
	if v := p.get(keyRedactNamespaces); v != "" {
		c.RedactNamespaces = p.patterns(keyRedactNamespaces)
		if expr == "" {
			p.bad(keyRedactNamespaces, v, "has no effect without Redact")
		}
	}
	if v := p.get(keyRedactWith); v != "" {
		switch {
		case expr == "":
			p.bad(keyRedactWith, v, "has no effect without Redact")
		case !utf8.ValidString(v):
			p.bad(keyRedactWith, v, "not UTF-8 (log lines must be)")
		default:
			c.RedactWith = v
		}
	}
}

// delivery reads batching, timeout, backoff and retry keys.
func (p *parser) delivery(c *Config) {
	c.BatchWait, _ = p.duration(keyBatchWait, DefaultBatchWait, true)
	c.Timeout, _ = p.duration(keyTimeout, DefaultTimeout, false)
	var minOK, maxOK bool
	c.MinBackoff, minOK = p.duration(keyMinBackoff, DefaultMinBackoff, false)
	c.MaxBackoff, maxOK = p.duration(keyMaxBackoff, DefaultMaxBackoff, false)
	if minOK && maxOK && c.MinBackoff > c.MaxBackoff {
		minV, maxV := p.get(keyMinBackoff), p.get(keyMaxBackoff)
		if minV == "" {
			minV = DefaultMinBackoff.String() + " (default)"
		}
		if maxV == "" {
			maxV = DefaultMaxBackoff.String() + " (default)"
		}
		p.bad(keyMinBackoff, minV, fmt.Sprintf("greater than MaxBackoff %s (want MinBackoff ≤ MaxBackoff)", maxV))
	}
	if v := p.get(keyBatchSize); v != "" {
		n, err := parseSize(v)
		switch {
		case err != nil:
			p.bad(keyBatchSize, v, err.Error())
		case n <= 0:
			p.bad(keyBatchSize, v, "must be at least 1 byte (want e.g. 1MiB)")
		default:
			c.BatchSize = n
		}
	}
	if v := p.get(keyMaxRetries); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			p.bad(keyMaxRetries, v, "not a whole number (want e.g. 3)")
		case n < 0:
			p.bad(keyMaxRetries, v, "negative (want 0 or more)")
		default:
			c.MaxRetries = n
		}
	}
}

// tlsConfig builds the TLS client settings. Fluent Bit's core takes every tls.*
// property of an output for itself, so a Go plugin never sees them; hence
// these plain key names.
func (p *parser) tlsConfig(c *Config) {
	ca, cert, key := p.get(keyCAFile), p.get(keyCertFile), p.get(keyKeyFile)
	skip := p.boolean(keyInsecureSkipVerify, false)
	if ca == "" && cert == "" && key == "" && !skip {
		return
	}
	https := false
	for _, u := range c.URLs {
		https = https || u.Scheme == "https"
	}
	if !https {
		for _, kv := range [][2]string{{keyCAFile, ca}, {keyCertFile, cert}, {keyKeyFile, key}, {keyInsecureSkipVerify, p.get(keyInsecureSkipVerify)}} {
			if kv[1] != "" && (kv[0] != keyInsecureSkipVerify || skip) {
				p.bad(kv[0], kv[1], "TLS settings need an https:// Url, and every Url is http://")
			}
		}
		return
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skip}
	ok := true
	if ca != "" {
		if data, read := p.readFile(keyCAFile, ca); !read {
			ok = false
		} else if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(data) {
			p.bad(keyCAFile, ca, "holds no PEM certificate (want a file with -----BEGIN CERTIFICATE-----)")
			ok = false
		} else {
			cfg.RootCAs = pool
		}
	}
	switch {
	case cert == "" && key == "":
	case cert == "":
		p.bad(keyKeyFile, key, "set without CertFile (a client certificate needs both)")
		ok = false
	case key == "":
		p.bad(keyCertFile, cert, "set without KeyFile (a client certificate needs both)")
		ok = false
	default:
		certPEM, certOK := p.readFile(keyCertFile, cert)
		keyPEM, keyOK := p.readFile(keyKeyFile, key)
		if !certOK || !keyOK {
			ok = false
			break
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			p.bad(keyCertFile, cert, fmt.Sprintf("does not load with KeyFile %q: %v", key, strings.TrimPrefix(err.Error(), "tls: ")))
			ok = false
			break
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if ok {
		c.TLS = cfg
	}
}

// auth reads basic and bearer credentials. Secrets never appear in errors.
func (p *parser) auth(c *Config) {
	user, pass := p.get(keyUsername), p.get(keyPassword)
	token, tokenFile := p.get(keyBearerToken), p.get(keyBearerTokenFile)
	if pass != "" && user == "" {
		p.bad(keyPassword, "", "set without Username (basic auth needs both)")
	}
	if strings.Contains(user, ":") {
		p.bad(keyUsername, user, "must not hold ':' (basic auth cannot carry it)")
	}
	if user != "" && (token != "" || tokenFile != "") {
		k := keyBearerToken
		if token == "" {
			k = keyBearerTokenFile
		}
		p.bad(k, "", "set together with Username (choose basic or bearer auth)")
	}
	if token != "" && tokenFile != "" {
		p.bad(keyBearerTokenFile, tokenFile, "set together with BearerToken (choose one)")
	}
	if token != "" && !validToken(token) {
		p.bad(keyBearerToken, "", "holds spaces or control characters")
	}
	if tokenFile != "" {
		if data, ok := p.readFile(keyBearerTokenFile, tokenFile); ok {
			switch t := strings.TrimSpace(string(data)); {
			case t == "":
				p.bad(keyBearerTokenFile, tokenFile, "is empty")
			case !validToken(t):
				p.bad(keyBearerTokenFile, tokenFile, "holds spaces or control characters inside the token")
			}
		}
	}
	c.Username, c.Password = user, pass
	c.BearerToken, c.BearerTokenFile = token, tokenFile
}

// validToken refuses what would break or split an Authorization header.
func validToken(t string) bool {
	for _, r := range t {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func (p *parser) metrics(c *Config) {
	v := p.get(keyMetricsAddr)
	if v == "" {
		return
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		p.bad(keyMetricsAddr, v, "not host:port (want e.g. :2021 or 127.0.0.1:2021)")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.bad(keyMetricsAddr, v, "port is not a number from 1 to 65535 (want e.g. :2021)")
		return
	}
	c.MetricsAddr = v
}

// String names the line format as the LineFormat key spells it.
func (f LineFormat) String() string {
	switch f {
	case LineRaw:
		return "raw"
	case LineJSON:
		return "json"
	case LineKeyValue:
		return "key_value"
	}
	return "LineFormat(" + strconv.Itoa(int(f)) + ")"
}

// String summarises the settings in one line for the start-up log: Fluent
// Bit passes over a misspelt key in silence, and the summary shows it as a
// default. Secrets are never printed, only whether they are set.
func (c *Config) String() string {
	var b strings.Builder
	kv := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	list := func(n int, f func(int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = f(i)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	keyPaths := func(ks []KeyPath) string {
		return list(len(ks), func(i int) string { return ks[i].Name + "=" + formatPath(ks[i].Path) })
	}
	regexps := func(rs []*regexp.Regexp) string {
		return list(len(rs), func(i int) string { return rs[i].String() })
	}
	set := func(s string) string {
		if s == "" {
			return "unset"
		}
		return "set"
	}
	kv(keyURL, list(len(c.URLs), func(i int) string { return c.URLs[i].String() }))
	kv(keyTenantID, strconv.Quote(c.TenantID))
	if c.TenantIDKey != nil {
		kv(keyTenantIDKey, formatPath(c.TenantIDKey))
	} else {
		kv(keyTenantIDKey, "[]")
	}
	kv(keyLabels, list(len(c.Labels), func(i int) string { return c.Labels[i].Name + "=" + strconv.Quote(c.Labels[i].Value) }))
	kv(keyLabelKeys, keyPaths(c.LabelKeys))
	kv("LabelMap", keyPaths(c.LabelMap))
	kv(keyAutoKubernetesLabels, strconv.FormatBool(c.AutoKubernetesLabels))
	kv(keyRemoveKeys, list(len(c.RemoveKeys), func(i int) string { return formatPath(c.RemoveKeys[i]) }))
	kv(keyLineFormat, c.LineFormat.String())
	kv(keyDropSingleKey, strconv.FormatBool(c.DropSingleKey))
	kv(keyStructuredMetadataKeys, keyPaths(c.StructuredMetadataKeys))
	kv(keyExcludeNamespaces, regexps(c.ExcludeNamespaces))
	kv(keyRedact, regexps(c.Redact))
	kv(keyRedactNamespaces, regexps(c.RedactNamespaces))
	kv(keyRedactWith, strconv.Quote(c.RedactWith))
	kv(keyBatchWait, c.BatchWait.String())
	kv(keyBatchSize, strconv.Itoa(c.BatchSize))
	kv(keyTimeout, c.Timeout.String())
	kv(keyMinBackoff, c.MinBackoff.String())
	kv(keyMaxBackoff, c.MaxBackoff.String())
	kv(keyMaxRetries, strconv.Itoa(c.MaxRetries))
	switch {
	case c.TLS == nil:
		kv("TLS", "default")
	default:
		kv("TLS", fmt.Sprintf("{CA:%t,ClientCert:%t,InsecureSkipVerify:%t}", c.TLS.RootCAs != nil, len(c.TLS.Certificates) > 0, c.TLS.InsecureSkipVerify))
	}
	kv(keyUsername, strconv.Quote(c.Username))
	kv(keyPassword, set(c.Password))
	kv(keyBearerToken, set(c.BearerToken))
	kv(keyBearerTokenFile, strconv.Quote(c.BearerTokenFile))
	kv(keyMetricsAddr, strconv.Quote(c.MetricsAddr))
	return b.String()
}
