// Package tbtest reads TensorBoard event files for tests, independently
// of sinks/tensorboard's writer: its own bit-by-bit CRC-32C for the
// TFRecord frames, and the protobuf library's dynamic messages over
// descriptors built from TensorFlow's event.proto and summary.proto field
// numbers for the Events.
package tbtest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Histogram is a decoded HistogramProto.
type Histogram struct {
	Min, Max, Num, Sum, SumSquares float64
	Limits, Counts                 []float64
}

// Event is a decoded Event: its summary's simple values and histograms by tag.
type Event struct {
	Wall        float64
	Step        int64
	FileVersion string
	Scalars     map[string]float32
	Hists       map[string]Histogram
}

// ReadDir decodes the one event file of dir (events.out.tfevents.*).
func ReadDir(t testing.TB, dir string) []Event {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if err != nil || len(m) != 1 {
		t.Fatalf("%s: want one event file, found %v (%v)", dir, m, err)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return Decode(t, b)
}

// CRC32C is CRC-32C computed bit by bit from the polynomial
// (reflected 0x82F63B78), independent of hash/crc32's tables.
func CRC32C(data []byte) uint32 {
	c := ^uint32(0)
	for _, b := range data {
		c ^= uint32(b)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// Frames decodes a TFRecord stream with the test's bitwise CRC: every
// length CRC and data CRC must check and the stream must end on a frame.
func Frames(t testing.TB, b []byte) [][]byte {
	t.Helper()
	mask := func(c uint32) uint32 { return (c>>15 | c<<17) + 0xa282ead8 }
	var out [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			t.Fatalf("offset %d: %d trailing bytes, not a frame header", off, len(b)-off)
		}
		n := binary.LittleEndian.Uint64(b[off:])
		if got, want := binary.LittleEndian.Uint32(b[off+8:]), mask(CRC32C(b[off:off+8])); got != want {
			t.Fatalf("offset %d: length CRC %#x, want %#x", off, got, want)
		}
		end := off + 12 + int(n) + 4
		if end > len(b) {
			t.Fatalf("offset %d: frame of %d bytes runs past the end (%d)", off, n, len(b))
		}
		data := b[off+12 : off+12+int(n)]
		if got, want := binary.LittleEndian.Uint32(b[end-4:]), mask(CRC32C(data)); got != want {
			t.Fatalf("offset %d: data CRC %#x, want %#x", off, got, want)
		}
		out = append(out, data)
		off = end
	}
	return out
}

// eventDescriptor builds tensorboard.Event, Summary, Summary.Value and
// HistogramProto from TensorFlow's .proto field numbers, for the real
// protobuf decoder (dynamicpb): an independent reading of our bytes.
func eventDescriptor(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	f := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label *descriptorpb.FieldDescriptorProto_Label, msg string) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label}
		if msg != "" {
			fd.TypeName = proto.String(msg)
		}
		return fd
	}
	T := descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("event_test.proto"), Package: proto.String("tensorboard"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("HistogramProto"), Field: []*descriptorpb.FieldDescriptorProto{
				f("min", 1, T, opt, ""), f("max", 2, T, opt, ""), f("num", 3, T, opt, ""), f("sum", 4, T, opt, ""),
				f("sum_squares", 5, T, opt, ""), f("bucket_limit", 6, T, rep, ""), f("bucket", 7, T, rep, ""),
			}},
			{Name: proto.String("Summary"), Field: []*descriptorpb.FieldDescriptorProto{
				f("value", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep, ".tensorboard.Summary.Value"),
			}, NestedType: []*descriptorpb.DescriptorProto{{Name: proto.String("Value"), Field: []*descriptorpb.FieldDescriptorProto{
				f("tag", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
				f("simple_value", 2, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, opt, ""),
				f("histo", 5, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".tensorboard.HistogramProto"),
			}}}},
			{Name: proto.String("Event"), Field: []*descriptorpb.FieldDescriptorProto{
				f("wall_time", 1, T, opt, ""),
				f("step", 2, descriptorpb.FieldDescriptorProto_TYPE_INT64, opt, ""),
				f("file_version", 3, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
				f("summary", 5, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".tensorboard.Summary"),
			}},
		},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("Event")
}

// Decode reads an event file with the test's frame decoder and the
// protobuf library's dynamic messages.
func Decode(t testing.TB, b []byte) []Event {
	t.Helper()
	md := eventDescriptor(t)
	var out []Event
	for i, fr := range Frames(t, b) {
		m := dynamicpb.NewMessage(md)
		if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(fr, m); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if len(m.GetUnknown()) > 0 {
			t.Fatalf("event %d: unknown fields %x", i, m.GetUnknown())
		}
		get := func(m protoreflect.Message, name string) protoreflect.Value {
			return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
		}
		ev := Event{Wall: get(m, "wall_time").Float(), Step: get(m, "step").Int(), FileVersion: get(m, "file_version").String(),
			Scalars: map[string]float32{}, Hists: map[string]Histogram{}}
		vals := get(get(m, "summary").Message(), "value").List()
		for j := range vals.Len() {
			v := vals.Get(j).Message()
			tag := get(v, "tag").String()
			if v.Has(v.Descriptor().Fields().ByName("histo")) {
				h := get(v, "histo").Message()
				list := func(name string) []float64 {
					l := get(h, name).List()
					out := make([]float64, l.Len())
					for k := range out {
						out[k] = l.Get(k).Float()
					}
					return out
				}
				ev.Hists[tag] = Histogram{Min: get(h, "min").Float(), Max: get(h, "max").Float(), Num: get(h, "num").Float(),
					Sum: get(h, "sum").Float(), SumSquares: get(h, "sum_squares").Float(), Limits: list("bucket_limit"), Counts: list("bucket")}
			} else {
				ev.Scalars[tag] = float32(get(v, "simple_value").Float())
			}
		}
		out = append(out, ev)
	}
	return out
}
