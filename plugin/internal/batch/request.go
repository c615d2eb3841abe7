package batch

// Request is one push request, ready to send.
type Request struct {
	Tenant  string // X-Scope-OrgID; "" sends no header
	Body    []byte // snappy-compressed protobuf PushRequest
	Records int    // entries in Body
	Bytes   int    // raw line bytes in Body
}
