package batch

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/loam-logs/loam/plugin/internal/config"
	"github.com/loam-logs/loam/plugin/internal/event"
	"github.com/loam-logs/loam/plugin/internal/record"
	"github.com/loam-logs/loam/server/labels"
	"github.com/loam-logs/loam/server/push"
)

// Result is what one chunk became.
type Result struct {
	Requests []Request // per tenant, each at most BatchSize raw line bytes (but one entry)
	Records  int       // entries in Requests
	Dropped  int       // records of ExcludeNamespaces
	Invalid  int       // events that are not [ts, map] (skipped)

	// FirstInvalid says why the first invalid event was skipped, for the
	// log; nil when Invalid is 0.
	FirstInvalid error
}

// Slots of the fields the mapping rules read; config paths follow.
const (
	slotLog = iota
	slotMessage
	slotKubernetes
	slotK8sHost
	slotK8sNamespace
	slotK8sPod
	slotK8sContainer
	slotK8sAppName // labels["app.kubernetes.io/name"]
	slotK8sApp     // labels["app"]
	slotK8sK8sApp  // labels["k8s-app"]
	slotHostname
	slotUnit
	slotIdentifier
	slotTransport
	slotPriority
	numFixedSlots
)

var fixedPaths = [numFixedSlots][]string{
	slotLog:          {"log"},
	slotMessage:      {"MESSAGE"},
	slotKubernetes:   {"kubernetes"},
	slotK8sHost:      {"kubernetes", "host"},
	slotK8sNamespace: {"kubernetes", "namespace_name"},
	slotK8sPod:       {"kubernetes", "pod_name"},
	slotK8sContainer: {"kubernetes", "container_name"},
	slotK8sAppName:   {"kubernetes", "labels", "app.kubernetes.io/name"},
	slotK8sApp:       {"kubernetes", "labels", "app"},
	slotK8sK8sApp:    {"kubernetes", "labels", "k8s-app"},
	slotHostname:     {"_HOSTNAME"},
	slotUnit:         {"_SYSTEMD_UNIT"},
	slotIdentifier:   {"SYSLOG_IDENTIFIER"},
	slotTransport:    {"_TRANSPORT"},
	slotPriority:     {"PRIORITY"},
}

// namedSlot is a configured record field: where Extract puts it and the
// label or metadata name it becomes.
type namedSlot struct {
	slot int
	name string
}

// Builder maps chunks to push requests. See the package doc for the rules
// and for memory and concurrency.
type Builder struct {
	cfg        *config.Config
	nodeBytes  []byte // env NODE_NAME, the node label's fallback
	redactWith []byte

	paths      *record.Paths
	slots      [][]byte
	remove     *record.Paths // keys left out of json / key_value lines
	static     []labels.Label
	labelKeys  []namedSlot // LabelKeys then LabelMap
	metaKeys   []namedSlot
	tenantSlot int // -1: no TenantIDKey

	reader event.Reader

	// Per Build; see reset.
	gen     uint64
	tag     tagInfo
	text    []byte // rendered lines and values; entries hold slices of it
	entries []entry
	metas   []metaRef
	lbls    labels.Labels
	key     []byte
	active  []*tenant

	// Kept across Builds.
	tenants  []*tenant
	excluded nsCache
	redacted nsCache

	// Encoding scratch and output.
	pr       push.Request
	pentries []push.Entry
	pmeta    []push.LabelPair
	used     []int32
	raw      []byte
	bodies   []byte
	reqs     []Request
}

type entry struct {
	ts     int64
	line   []byte // aliases the chunk or Builder.text
	stream int32
	meta0  int32 // first of its metas
	metaN  int32
}

type metaRef struct {
	name  string
	value []byte
}

// tenant holds one tenant's streams, kept across Builds so that stream
// keys are allocated once, and its entries of the current Build.
type tenant struct {
	id      string
	gen     uint64 // last Build that used it
	streams map[string]int32
	list    []stream
	entries []int32 // indexes into Builder.entries, chunk order
}

type stream struct {
	labels string
	gen    uint64
	// Encoding scratch: entries in the current request, and where they go.
	count, next int32
}

// Limits on what a Builder keeps between Builds.
const (
	maxIdleStreams = 10000 // per tenant: beyond this, streams unused in the last Build are forgotten
	maxIdleTenants = 100
)

// NewBuilder compiles cfg's record paths and label names.
func NewBuilder(cfg *config.Config) (*Builder, error) {
	b := &Builder{cfg: cfg, nodeBytes: []byte(os.Getenv("NODE_NAME")), redactWith: []byte(cfg.RedactWith), tenantSlot: -1}
	paths := fixedPaths[:]
	index := map[string]int{}
	for i, p := range paths {
		index[strings.Join(p, "\x00")] = i
	}
	slotOf := func(p []string) int {
		k := strings.Join(p, "\x00")
		if i, ok := index[k]; ok {
			return i
		}
		paths = append(paths, p)
		index[k] = len(paths) - 1
		return len(paths) - 1
	}
	for _, l := range cfg.Labels {
		name, err := labelName(l.Name, "Labels")
		if err != nil {
			return nil, err
		}
		if l.Value != "" {
			b.static = append(b.static, labels.Label{Name: name, Value: strings.ToValidUTF8(l.Value, "\ufffd")})
		}
	}
	var remove [][]string
	for _, set := range []struct {
		key   string
		paths []config.KeyPath
		dst   *[]namedSlot
	}{
		{"LabelKeys", cfg.LabelKeys, &b.labelKeys},
		{"LabelMapPath", cfg.LabelMap, &b.labelKeys},
		{"StructuredMetadataKeys", cfg.StructuredMetadataKeys, &b.metaKeys},
	} {
		for _, kp := range set.paths {
			if len(kp.Path) == 0 {
				return nil, fmt.Errorf("%s: empty record path", set.key)
			}
			name := kp.Name
			if name == "" {
				name = kp.Path[len(kp.Path)-1]
			}
			name, err := labelName(name, set.key)
			if err != nil {
				return nil, err
			}
			*set.dst = append(*set.dst, namedSlot{slot: slotOf(kp.Path), name: name})
			remove = append(remove, kp.Path)
		}
	}
	if len(cfg.TenantIDKey) > 0 {
		b.tenantSlot = slotOf(cfg.TenantIDKey)
		remove = append(remove, cfg.TenantIDKey)
	}
	if cfg.AutoKubernetesLabels {
		remove = append(remove, []string{"kubernetes"})
	}
	for _, p := range cfg.RemoveKeys {
		if len(p) > 0 {
			remove = append(remove, p)
		}
	}
	b.paths = record.NewPaths(paths...)
	b.slots = make([][]byte, b.paths.Len())
	b.remove = record.NewPaths(remove...)
	return b, nil
}

// labelName sanitises a configured name to [a-zA-Z_][a-zA-Z0-9_]*.
func labelName(s, key string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%s: empty label name", key)
	}
	if labels.ValidName(s) {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			sb.WriteByte(c)
			continue
		}
		if i == 0 && '0' <= c && c <= '9' {
			sb.WriteByte('_')
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('_')
	}
	return sb.String(), nil
}

// Build maps one chunk, with the tag Fluent Bit flushed it under, to push
// requests. It fails only when the chunk is not msgpack; events that are
// not records are counted in Result.Invalid.
func (b *Builder) Build(chunk []byte, tag string) (Result, error) {
	b.reset(tag)
	defer b.release()
	var res Result
	b.reader.Reset(chunk)
	for b.reader.Next() {
		e := b.reader.At()
		bad := e.Bad
		if bad == nil {
			switch err := b.add(e); {
			case err == errDropped:
				res.Dropped++
				continue
			case err != nil:
				bad = err
			default:
				continue
			}
		}
		res.Invalid++
		if res.FirstInvalid == nil {
			res.FirstInvalid = fmt.Errorf("event %d at byte %d: %w", e.Index, e.Offset, bad)
		}
	}
	if err := b.reader.Err(); err != nil {
		return Result{}, fmt.Errorf("chunk of tag %q: %w", tag, err)
	}
	res.Records = len(b.entries)
	res.Requests = b.encode()
	return res, nil
}

// reset starts a Build: per-Build state emptied, idle streams and tenants
// forgotten when there are too many.
func (b *Builder) reset(tag string) {
	b.gen++
	b.tag = parseTag(tag)
	b.text = b.text[:0]
	b.entries = b.entries[:0]
	b.metas = b.metas[:0]
	b.active = b.active[:0]
	b.reqs = b.reqs[:0]
	b.bodies = b.bodies[:0]
	if len(b.tenants) > maxIdleTenants {
		kept := b.tenants[:0]
		for _, t := range b.tenants {
			if t.gen+1 >= b.gen {
				kept = append(kept, t)
			}
		}
		clear(b.tenants[len(kept):])
		b.tenants = kept
	}
	for _, t := range b.tenants {
		t.entries = t.entries[:0]
		if len(t.list) > maxIdleStreams {
			t.prune(b.gen)
		}
	}
}

// prune forgets the streams not used in the last Build.
func (t *tenant) prune(gen uint64) {
	kept := t.list[:0]
	for _, s := range t.list {
		if s.gen+1 >= gen {
			kept = append(kept, s)
		}
	}
	clear(t.list[len(kept):])
	t.list = kept
	clear(t.streams)
	for i := range t.list {
		t.streams[t.list[i].labels] = int32(i)
	}
}

// release drops what still points into the chunk, which Fluent Bit frees
// once the flush returns.
func (b *Builder) release() {
	clear(b.entries)
	clear(b.metas)
	clear(b.slots)
	clear(b.lbls[:cap(b.lbls)])
	clear(b.pentries[:cap(b.pentries)])
	clear(b.pmeta[:cap(b.pmeta)])
	b.tag = tagInfo{}
	b.reader.Reset(nil)
}

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// validUTF8 returns s, or a copy in b.text with invalid bytes replaced:
// label values must be UTF-8.
func (b *Builder) validUTF8(s []byte) []byte {
	if utf8.Valid(s) {
		return s
	}
	start := len(b.text)
	b.text = append(b.text, strings.ToValidUTF8(unsafeString(s), "\ufffd")...)
	return b.text[start:]
}
