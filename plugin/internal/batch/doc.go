// Package batch turns the msgpack chunks Fluent Bit hands to a flush into
// push request bodies: records are mapped to labelled streams and encoded as
// snappy-compressed protobuf PushRequests, which Loam and Grafana Loki both
// accept at /loki/api/v1/push (Content-Type application/x-protobuf).
//
// # From record to entry
//
// Each record of a chunk (see package event) becomes one entry of one
// stream, with the record's own timestamp to the nanosecond. In this table
// k8s.X is the record's kubernetes.X (added by Fluent Bit's kubernetes
// filter) and "journal record" is one with MESSAGE and at least one of
// _HOSTNAME, _SYSTEMD_UNIT, _TRANSPORT, SYSLOG_IDENTIFIER (systemd input).
//
//	What                 Rule
//	-------------------  ----------------------------------------------------------------
//	labels, automatic    AutoKubernetesLabels (default on); with a kubernetes map:
//	                       node ← k8s.host (else env NODE_NAME), namespace ← k8s.namespace_name,
//	                       pod ← k8s.pod_name, container ← k8s.container_name,
//	                       app ← first of k8s.labels["app.kubernetes.io/name"], ["app"], ["k8s-app"];
//	                     else for a journal record:
//	                       node ← _HOSTNAME (else env NODE_NAME),
//	                       unit ← _SYSTEMD_UNIT, else SYSLOG_IDENTIFIER; "kernel" when _TRANSPORT=kernel;
//	                     else, when the tag is a container log file's,
//	                     <anything>var.log.containers.<pod>_<namespace>_<container>-<64 hex>.log:
//	                       pod, namespace, container from the tag, node ← env NODE_NAME.
//	                     Off: no automatic labels at all, journal ones included.
//	labels, configured   Labels (static), then LabelKeys, then LabelMapPath fields, each
//	                     overriding a same-named label before it (automatic < static <
//	                     LabelKeys < LabelMap). A field's value as text: str/bin as is,
//	                     numbers/bools/null as JSON text, maps/arrays as JSON.
//	label set            empty values dropped, values cut to 2048 bytes (the servers'
//	                     default max_label_value_length, past which they refuse the stream),
//	                     names sanitised to [a-zA-Z_][a-zA-Z0-9_]*, sorted; the stream key is the canonical {a="b", c="d"} text with
//	                     Go-quoted values, as Loki prints it. A record left with no label at
//	                     all gets job="fluent-bit" (Loki rejects empty label sets; it is
//	                     Loki's Fluent Bit plugin's default label).
//	level                journal records: PRIORITY → structured metadata level:
//	                     0–2 critical, 3 error, 4 warn, 5–6 info, 7 debug — the values of
//	                     Loki's detected_level (Loki and Loam read "warning" as "warn", so
//	                     the canonical word is sent). Metadata, not a label: a label would
//	                     split every unit's stream up to eight ways.
//	structured metadata  StructuredMetadataKeys fields (text, empty values dropped), after level.
//	tenant               the TenantIDKey field's text when the record has a non-empty one,
//	                     else TenantID. Requests are per tenant.
//	line, raw            `log` (containers), else MESSAGE (journal); one trailing "\n" or
//	                     "\r\n" stripped. A record with neither: as for json.
//	line, json           the record as one JSON object, minus the removed keys.
//	line, key_value      the same as logfmt pairs (nested maps flattened: a.b=c).
//	removed keys         RemoveKeys, plus the fields used for labels, metadata and tenant:
//	                     the kubernetes map (when AutoKubernetesLabels), LabelKeys,
//	                     LabelMapPath, TenantIDKey and StructuredMetadataKeys paths.
//	                     Journal fields stay.
//	DropSingleKey        when exactly one key is left, the line is that value's text.
//	Redact               each expression's matches in the line are replaced by RedactWith,
//	                     for records whose namespace matches RedactNamespaces (every
//	                     record when RedactNamespaces is empty).
//	ExcludeNamespaces    a record whose namespace matches is dropped (Result.Dropped).
//	invalid              an event that is not [ts, map] (bad timestamp, record not a map) is
//	                     skipped and counted (Result.Invalid); a chunk that stops being
//	                     msgpack fails Build with an error naming the event and offset.
//
// The namespace for ExcludeNamespaces and Redact comes from k8s.namespace_name
// or the tag, whether or not AutoKubernetesLabels is on; journal records have
// none.
//
// # Requests
//
// Entries of one tenant are cut, in chunk order, into requests of at most
// BatchSize raw line bytes (an entry bigger than that goes alone); within a
// request, entries are grouped by stream, streams in order of first
// appearance, entries of a stream in chunk order. The body is
// server/push.EncodeProto's PushRequest, snappy block-compressed.
//
// # Memory
//
// A Builder keeps its buffers, stream keys and tenants from one Build to the
// next, so that a steady flow of chunks allocates almost nothing: Result and
// its Requests (and their Body) stay valid only until the next Build on the
// same Builder. Build copies what it keeps: the chunk belongs to Fluent Bit
// and is freed when the flush returns. A Builder is not safe for concurrent
// use; give each flush worker its own.
//
// The package imports plugin/internal/{config,event,record}, server/push and
// server/labels, nothing else of the repository.
package batch
