package push

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/timestamppb" // registers google/protobuf/timestamp.proto
)

// pushRequestDescriptor describes logproto.PushRequest as Loki's push.proto
// does, so the real protobuf library can check our hand-written wire code.
func pushRequestDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, repeated bool) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name:     proto.String(name),
			JsonName: proto.String(name),
			Number:   proto.Int32(num),
			Type:     typ.Enum(),
			Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		}
		if repeated {
			f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	const (
		msg    = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		str    = descriptorpb.FieldDescriptorProto_TYPE_STRING
		uint64 = descriptorpb.FieldDescriptorProto_TYPE_UINT64
	)
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("loam_test/push.proto"),
		Package:    proto.String("logproto"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("PushRequest"), Field: []*descriptorpb.FieldDescriptorProto{
				field("streams", 1, msg, ".logproto.StreamAdapter", true),
			}},
			{Name: proto.String("StreamAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				field("labels", 1, str, "", false),
				field("entries", 2, msg, ".logproto.EntryAdapter", true),
				field("hash", 3, uint64, "", false),
			}},
			{Name: proto.String("EntryAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				field("timestamp", 1, msg, ".google.protobuf.Timestamp", false),
				field("line", 2, str, "", false),
				field("structuredMetadata", 3, msg, ".logproto.LabelPairAdapter", true),
			}},
			{Name: proto.String("LabelPairAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				field("name", 1, str, "", false),
				field("value", 2, str, "", false),
			}},
		},
	}
	file, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return file.Messages().ByName("PushRequest")
}

// toDynamic builds a PushRequest message from r with protoreflect.
func toDynamic(md protoreflect.MessageDescriptor, r *Request) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	streams := m.Mutable(md.Fields().ByName("streams")).List()
	for _, s := range r.Streams {
		sm := streams.NewElement().Message()
		sd := sm.Descriptor()
		sm.Set(sd.Fields().ByName("labels"), protoreflect.ValueOfString(s.Labels))
		sm.Set(sd.Fields().ByName("hash"), protoreflect.ValueOfUint64(12345))
		entries := sm.Mutable(sd.Fields().ByName("entries")).List()
		for _, e := range s.Entries {
			em := entries.NewElement().Message()
			ed := em.Descriptor()
			secs, nanos := splitNanos(e.Timestamp)
			ts := em.Mutable(ed.Fields().ByName("timestamp")).Message()
			ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(secs))
			ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(nanos))
			em.Set(ed.Fields().ByName("line"), protoreflect.ValueOfString(e.Line))
			meta := em.Mutable(ed.Fields().ByName("structuredMetadata")).List()
			for _, p := range e.Metadata {
				pm := meta.NewElement().Message()
				pm.Set(pm.Descriptor().Fields().ByName("name"), protoreflect.ValueOfString(p.Name))
				pm.Set(pm.Descriptor().Fields().ByName("value"), protoreflect.ValueOfString(p.Value))
				meta.Append(protoreflect.ValueOfMessage(pm))
			}
			entries.Append(protoreflect.ValueOfMessage(em))
		}
		streams.Append(protoreflect.ValueOfMessage(sm))
	}
	return m
}

// fromDynamic reads a PushRequest message back into a Request.
func fromDynamic(m protoreflect.Message) *Request {
	r := &Request{}
	streams := m.Get(m.Descriptor().Fields().ByName("streams")).List()
	for i := range streams.Len() {
		sm := streams.Get(i).Message()
		sd := sm.Descriptor()
		s := Stream{Labels: sm.Get(sd.Fields().ByName("labels")).String()}
		entries := sm.Get(sd.Fields().ByName("entries")).List()
		for j := range entries.Len() {
			em := entries.Get(j).Message()
			ed := em.Descriptor()
			ts := em.Get(ed.Fields().ByName("timestamp")).Message()
			secs := ts.Get(ts.Descriptor().Fields().ByName("seconds")).Int()
			nanos := ts.Get(ts.Descriptor().Fields().ByName("nanos")).Int()
			e := Entry{Timestamp: secs*1e9 + nanos, Line: em.Get(ed.Fields().ByName("line")).String()}
			meta := em.Get(ed.Fields().ByName("structuredMetadata")).List()
			for k := range meta.Len() {
				pm := meta.Get(k).Message()
				e.Metadata = append(e.Metadata, LabelPair{
					Name:  pm.Get(pm.Descriptor().Fields().ByName("name")).String(),
					Value: pm.Get(pm.Descriptor().Fields().ByName("value")).String(),
				})
			}
			s.Entries = append(s.Entries, e)
		}
		r.Streams = append(r.Streams, s)
	}
	return r
}

// TestProtoAgainstProtobufLibrary checks both directions against
// google.golang.org/protobuf driven by Loki's schema.
func TestProtoAgainstProtobufLibrary(t *testing.T) {
	md := pushRequestDescriptor(t)
	rng := rand.New(rand.NewPCG(7, 8))
	var got Request
	for i := range 500 {
		// proto3 strings must be UTF-8 for the library; ours need not be.
		in := randomRequest(rng, true)

		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(toDynamic(md, in))
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeProto(body, &got); err != nil {
			t.Fatalf("case %d: decoding the library's encoding: %v", i, err)
		}
		if !sameStreams(got.Streams, in.Streams) {
			t.Fatalf("case %d: decoding the library's encoding\n got: %s\nwant: %s", i, dump(got.Streams), dump(in.Streams))
		}

		m := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(EncodeProto(nil, in), m); err != nil {
			t.Fatalf("case %d: the library rejects EncodeProto's output: %v", i, err)
		}
		if back := fromDynamic(m); !sameStreams(back.Streams, in.Streams) {
			t.Fatalf("case %d: the library reads EncodeProto's output differently\n got: %s\nwant: %s", i, dump(back.Streams), dump(in.Streams))
		}
	}
}
