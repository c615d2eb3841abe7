// Package push reads and writes the bodies of Loki's push API
// (POST /loki/api/v1/push), so that Loam accepts what Promtail, Grafana
// Alloy, the Docker driver, Fluent Bit and hand-written clients already send.
//
// Two wire formats are supported, both ways:
//
//   - JSON: {"streams":[{"stream":{"k":"v"},"values":[["<ns>","line",{"meta":"v"}]]}]},
//     plus the legacy {"labels":"{k=\"v\"}","entries":[{"ts":"RFC3339","line":"..."}]}
//     form that older Promtail sent. See DecodeJSON and EncodeJSON.
//   - Protobuf: logproto.PushRequest, walked by hand with protowire so that
//     decoding a body into a reused Request does not allocate. See DecodeProto
//     and EncodeProto.
//
// ReadBody undoes the HTTP transport encodings first (gzip, deflate, snappy,
// and the snappy block compression that protobuf pushes always carry) while
// bounding memory, and reports oversized bodies with ErrTooLarge and unsupported
// encodings with ErrUnsupportedEncoding; malformed input is a *DecodeError.
//
// Ownership: decoded strings alias the body (or, for JSON strings with escapes,
// memory allocated by that decode); they are never overwritten afterwards, so
// the body must not be modified or reused while they are in use. The slices of
// a Request (Streams, Entries, Metadata) are reused by the next decode into the
// same Request: copy what must outlive it.
//
// The package depends on nothing else in the repository, so the Fluent Bit
// output plugin can import it without pulling in the server.
package push
