// Package fbtest builds msgpack chunks exactly as Fluent Bit hands them to a
// Go output plugin's flush, for tests and benchmarks of the plugin. It is test
// support: no production code imports it.
//
// # Chunk layout
//
// A chunk is msgpack values back to back, one per event; each event is a
// 2-element array (flb_log_event_decoder.c):
//
//	v1 (Form V1EventTime, V1Int, V1Float):  [ts, record]
//	v2 (Form V2, Fluent Bit ≥ 2.1):        [[ts, metadata], record]
//
// ts is, by Form:
//
//   - V1EventTime, V2: the EventTime extension — fixext8 (0xd7), ext type 0,
//     big-endian uint32 seconds then uint32 nanoseconds. This is what Fluent
//     Bit's encoder writes for every record it creates
//     (flb_log_event_encoder_append_forward_v1_timestamp).
//   - V1Int: a positive integer of seconds (the legacy forward format).
//   - V1Float: a float64 of seconds (what some older inputs and forwarders
//     produce; precision is whatever float64 keeps, about 240 ns today).
//
// Integers use msgpack's smallest form (as msgpack-c's pack_int64 and
// pack_uint64 do), strings are str, []byte is bin, floats are float64,
// float32 is float32.
//
// # Group markers
//
// Fluent Bit 4/5 wrap records of some inputs (OpenTelemetry, processors) in
// groups: a v2 event whose ts has seconds -1 opens a group, -2 closes it;
// consumers skip both (flb_log_event.h, FLB_LOG_EVENT_GROUP_START/END).
// Fluent Bit's encoder writes those seconds through the same EventTime path,
// so on the wire they are the ext with seconds 0xFFFFFFFF / 0xFFFFFFFE, read
// back as int32 by its decoder. Event.Group = -1 or -2 writes that; Group
// markers carry Meta (the group metadata) and Record (the group attributes).
//
// # Key order
//
// Go maps have no order, so a map is written with its keys sorted, except the
// record's top level when Event.Order is set: those keys first, in that
// order, then the rest sorted. The constructors set Order to what Fluent Bit
// produces, so rendered lines read as they would in production.
//
// # Record shapes
//
// The constructors return records as the inputs and filters of a Kubernetes
// DaemonSet produce them (checked against Fluent Bit's sources):
//
//   - Container.CRI, CRIKubernetes: tail input with `multiline.parser cri`
//     (flb_ml_parser_cri.c: regex `time stream _p log`, time kept): fields
//     time (RFC 3339 nanoseconds), stream, _p ("F", full line), log (no
//     trailing newline: the runtime stripped it).
//   - Container.Docker, DockerJSON: tail with the docker parser: log (with
//     the application's trailing "\n"), stream, time.
//   - Both then pass the kubernetes filter (kube_meta.c), which appends a
//     `kubernetes` map: pod_name, namespace_name, pod_id, labels, annotations,
//     host, container_name, docker_id, container_hash, container_image. With
//     Merge_Log On and a `log` that is a JSON object, its fields are merged
//     into the record's top level, or under Merge_Log_Key; Keep_Log (default
//     On) keeps `log`.
//   - Journal: systemd input — every journal field as a string, names as
//     journald spells them (_HOSTNAME, _SYSTEMD_UNIT, SYSLOG_IDENTIFIER,
//     PRIORITY "0".."7", MESSAGE, _TRANSPORT, _PID, _BOOT_ID, …).
//   - Kernel: systemd input, kernel ring buffer messages: _TRANSPORT=kernel,
//     SYSLOG_IDENTIFIER=kernel, SYSLOG_FACILITY=0, no _SYSTEMD_UNIT or _PID.
//
// Tag returns the tail tag Fluent Bit gives a container log file
// (`kube.var.log.containers.<pod>_<namespace>_<container>-<id>.log`), which
// the kubernetes filter parses (kube_regex.h) and the plugin falls back to.
package fbtest
