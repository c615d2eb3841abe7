package batch

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/plugin/internal/event"
	"github.com/loam-logs/loam/plugin/internal/record"
	"github.com/loam-logs/loam/server/labels"
)

// errDropped marks a record excluded by ExcludeNamespaces.
var errDropped = errors.New("excluded namespace")

// add maps one event to an entry of a stream of a tenant.
func (b *Builder) add(e *event.Event) error {
	if err := b.paths.Extract(e.Record, b.slots); err != nil {
		return err
	}
	s := b.slots
	cfg := b.cfg
	k8s := s[slotKubernetes] != nil && record.IsMap(s[slotKubernetes])
	journal := s[slotMessage] != nil &&
		(s[slotHostname] != nil || s[slotUnit] != nil || s[slotTransport] != nil || s[slotIdentifier] != nil)
	fromTag := !k8s && !journal && b.tag.ok

	var ns []byte
	switch {
	case k8s:
		ns = b.text1(s[slotK8sNamespace])
	case fromTag:
		ns = b.tag.namespace
	}
	if len(cfg.ExcludeNamespaces) > 0 && len(ns) > 0 && b.excluded.match(cfg.ExcludeNamespaces, ns) {
		return errDropped
	}

	b.lbls = b.lbls[:0]
	if cfg.AutoKubernetesLabels {
		switch {
		case k8s:
			b.setLabel("node", b.orNode(b.text1(s[slotK8sHost])))
			b.setLabel("namespace", ns)
			b.setLabel("pod", b.text1(s[slotK8sPod]))
			b.setLabel("container", b.text1(s[slotK8sContainer]))
			for _, slot := range [...]int{slotK8sAppName, slotK8sApp, slotK8sK8sApp} {
				if v := b.text1(s[slot]); len(v) > 0 {
					b.setLabel("app", v)
					break
				}
			}
		case journal:
			b.setLabel("node", b.orNode(b.text1(s[slotHostname])))
			unit := b.text1(s[slotUnit])
			if len(unit) == 0 {
				unit = b.text1(s[slotIdentifier])
			}
			if string(b.text1(s[slotTransport])) == "kernel" {
				unit = kernel
			}
			b.setLabel("unit", unit)
		case fromTag:
			b.setLabel("node", b.nodeBytes)
			b.setLabel("namespace", b.tag.namespace)
			b.setLabel("pod", b.tag.pod)
			b.setLabel("container", b.tag.container)
		}
	}
	for _, l := range b.static {
		b.setLabelString(l.Name, l.Value)
	}
	for _, k := range b.labelKeys {
		b.setLabel(k.name, b.text1(s[k.slot]))
	}
	if len(b.lbls) == 0 {
		b.lbls = append(b.lbls, labels.Label{Name: "job", Value: "fluent-bit"})
	}
	sortLabels(b.lbls)

	t := b.tenant(b.tenantID())

	line, err := b.line(e.Record)
	if err != nil {
		return err
	}
	if len(cfg.Redact) > 0 && (len(cfg.RedactNamespaces) == 0 || len(ns) > 0 && b.redacted.match(cfg.RedactNamespaces, ns)) {
		for _, re := range cfg.Redact {
			if re.Match(line) {
				line = re.ReplaceAllLiteral(line, b.redactWith)
			}
		}
	}

	meta0 := len(b.metas)
	if journal {
		if lvl := level(b.text1(s[slotPriority])); lvl != nil {
			b.metas = append(b.metas, metaRef{name: "level", value: lvl})
		}
	}
	for _, k := range b.metaKeys {
		if v := b.text1(s[k.slot]); len(v) > 0 {
			b.metas = append(b.metas, metaRef{name: k.name, value: b.validUTF8(v)})
		}
	}

	b.key = appendStreamKey(b.key[:0], b.lbls)
	idx, ok := t.streams[string(b.key)]
	if !ok {
		idx = int32(len(t.list))
		t.list = append(t.list, stream{labels: string(b.key)})
		t.streams[t.list[idx].labels] = idx
	}
	t.list[idx].gen = b.gen
	if len(t.entries) == 0 {
		b.active = append(b.active, t)
	}
	t.entries = append(t.entries, int32(len(b.entries)))
	b.entries = append(b.entries, entry{
		ts:     e.Time,
		line:   line,
		stream: idx,
		meta0:  int32(meta0),
		metaN:  int32(len(b.metas) - meta0),
	})
	return nil
}

var kernel = []byte("kernel")

// text1 returns the text of a raw value (nil for none): str and bin alias
// the record, anything else is rendered into b.text.
func (b *Builder) text1(v []byte) []byte {
	if v == nil {
		return nil
	}
	if s, ok := record.StringBytes(v); ok {
		return s
	}
	start := len(b.text)
	var err error
	if b.text, err = record.AppendText(b.text, v); err != nil {
		b.text = b.text[:start]
		return nil
	}
	return b.text[start:]
}

func (b *Builder) orNode(v []byte) []byte {
	if len(v) == 0 {
		return b.nodeBytes
	}
	return v
}

// setLabel sets name to the text v, replacing an earlier value; an empty
// v is no label and leaves an earlier one.
func (b *Builder) setLabel(name string, v []byte) {
	if len(v) == 0 {
		return
	}
	v = b.validUTF8(v)
	if len(v) > maxLabelValueBytes {
		// Cut at a rune boundary: the server would refuse the stream, and
		// with it the records.
		n := maxLabelValueBytes
		for n > 0 && !utf8.RuneStart(v[n]) {
			n--
		}
		v = v[:n]
	}
	b.setLabelString(name, unsafeString(v))
}

// maxLabelValueBytes is Loki's and Loam's default max_label_value_length.
const maxLabelValueBytes = 2048

func (b *Builder) setLabelString(name, v string) {
	for i := range b.lbls {
		if b.lbls[i].Name == name {
			b.lbls[i].Value = v
			return
		}
	}
	b.lbls = append(b.lbls, labels.Label{Name: name, Value: v})
}

// sortLabels sorts a handful of labels by name without allocating.
func sortLabels(ls labels.Labels) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// tenantID is the record's TenantIDKey text, else the configured TenantID.
func (b *Builder) tenantID() []byte {
	if b.tenantSlot >= 0 {
		if v := b.text1(b.slots[b.tenantSlot]); len(v) > 0 {
			return v
		}
	}
	return nil
}

// tenant finds or creates the tenant state for id (nil: TenantID).
func (b *Builder) tenant(id []byte) *tenant {
	var t *tenant
	if id == nil {
		for _, x := range b.tenants {
			if x.id == b.cfg.TenantID {
				t = x
				break
			}
		}
	} else {
		for _, x := range b.tenants {
			if x.id == string(id) {
				t = x
				break
			}
		}
	}
	if t == nil {
		name := b.cfg.TenantID
		if id != nil {
			name = strings.ToValidUTF8(string(id), "\ufffd")
		}
		t = &tenant{id: name, streams: map[string]int32{}}
		b.tenants = append(b.tenants, t)
	}
	t.gen = b.gen
	return t
}

// line returns the record's log line per LineFormat.
func (b *Builder) line(rec []byte) ([]byte, error) {
	if b.cfg.LineFormat == config.LineRaw {
		v := b.slots[slotLog]
		if v == nil {
			v = b.slots[slotMessage]
		}
		if v != nil {
			if s, ok := record.StringBytes(v); ok {
				return trimNewline(s), nil
			}
			return b.text1(v), nil
		}
	}
	start := len(b.text)
	if b.cfg.DropSingleKey {
		out, ok, err := record.AppendSingle(b.text, rec, b.remove)
		if err != nil {
			return nil, err
		}
		if ok {
			b.text = out
			return trimNewline(b.text[start:]), nil
		}
	}
	var err error
	if b.cfg.LineFormat == config.LineKeyValue {
		b.text, err = record.AppendKeyValue(b.text, rec, b.remove)
	} else {
		b.text, err = record.AppendJSON(b.text, rec, b.remove)
	}
	if err != nil {
		b.text = b.text[:start]
		return nil, err
	}
	return b.text[start:], nil
}

// trimNewline strips one trailing "\n" or "\r\n": the line terminator the
// application wrote, which Docker keeps and Loki would show.
func trimNewline(s []byte) []byte {
	if n := len(s); n > 0 && s[n-1] == '\n' {
		s = s[:n-1]
		if n := len(s); n > 0 && s[n-1] == '\r' {
			s = s[:n-1]
		}
	}
	return s
}

// The level words, as bytes so that metadata values need no conversion.
var (
	levelCritical = []byte("critical")
	levelError    = []byte("error")
	levelWarn     = []byte("warn")
	levelInfo     = []byte("info")
	levelDebug    = []byte("debug")
)

// level maps a syslog PRIORITY ("0".."7") to the words of Loki's
// detected_level; nil for anything else.
func level(p []byte) []byte {
	if len(p) != 1 {
		return nil
	}
	switch p[0] {
	case '0', '1', '2':
		return levelCritical
	case '3':
		return levelError
	case '4':
		return levelWarn
	case '5', '6':
		return levelInfo
	case '7':
		return levelDebug
	}
	return nil
}

// nsCache remembers which namespaces a list of patterns matches, so that
// each record costs a map lookup instead of regular expression runs.
type nsCache map[string]bool

// maxCachedNamespaces bounds the cache; a cluster has far fewer.
const maxCachedNamespaces = 4096

func (c *nsCache) match(res []*regexp.Regexp, ns []byte) bool {
	if m, ok := (*c)[string(ns)]; ok {
		return m
	}
	if *c == nil || len(*c) >= maxCachedNamespaces {
		*c = nsCache{}
	}
	m := slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.Match(ns) })
	(*c)[string(ns)] = m
	return m
}

// tagInfo is what a container log file's tail tag says.
type tagInfo struct {
	ok                        bool
	pod, namespace, container []byte
}

// parseTag reads <anything>var.log.containers.<pod>_<namespace>_<container>-<64 hex>.log,
// the tag tail gives /var/log/containers/* files (as the kubernetes filter
// does, kube_regex.h).
func parseTag(tag string) tagInfo {
	const marker, suffix = "var.log.containers.", ".log"
	i := strings.LastIndex(tag, marker)
	if i < 0 || len(tag) < i+len(marker)+len(suffix) || !strings.HasSuffix(tag, suffix) {
		return tagInfo{}
	}
	name := tag[i+len(marker) : len(tag)-len(suffix)]
	// <pod>_<namespace>_<container>-<id>
	if len(name) < 65 || name[len(name)-65] != '-' || !isHex(name[len(name)-64:]) {
		return tagInfo{}
	}
	name = name[:len(name)-65]
	pod, rest, ok1 := strings.Cut(name, "_")
	ns, container, ok2 := strings.Cut(rest, "_")
	if !ok1 || !ok2 || pod == "" || ns == "" || container == "" {
		return tagInfo{}
	}
	return tagInfo{ok: true, pod: []byte(pod), namespace: []byte(ns), container: []byte(container)}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
