package tensorboard

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// crc32cBitwise is CRC-32C computed bit by bit from the polynomial
// (reflected 0x82F63B78), independent of hash/crc32's tables.
func crc32cBitwise(data []byte) uint32 {
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

// TestCRC32CKnownAnswers checks the CRC against the vectors of RFC 3720
// B.4, which TensorFlow's crc32c_test.cc (StandardResults) asserts, and the
// mask against the TFRecord format description: masked_crc = ((crc >> 15) |
// (crc << 17)) + 0xa282ead8.
func TestCRC32CKnownAnswers(t *testing.T) {
	seq := func(f func(i int) byte) []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	iscsi := []byte{
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
	for _, tc := range []struct {
		name string
		data []byte
		crc  uint32
	}{
		{"32 zeros", seq(func(int) byte { return 0 }), 0x8a9136aa},
		{"32 0xff", seq(func(int) byte { return 0xff }), 0x62a8ab43},
		{"0..31", seq(func(i int) byte { return byte(i) }), 0x46dd794e},
		{"31..0", seq(func(i int) byte { return byte(31 - i) }), 0x113fdb5c},
		{"iSCSI read", iscsi, 0xd9963a56},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := crc32cBitwise(tc.data); got != tc.crc {
				t.Fatalf("bitwise CRC-32C %#08x, want %#08x", got, tc.crc)
			}
			want := (tc.crc>>15 | tc.crc<<17) + 0xa282ead8
			if got := MaskedCRC(tc.data); got != want {
				t.Fatalf("MaskedCRC %#08x, want %#08x", got, want)
			}
		})
	}
	// The mask's worked value: Mask(0) is the delta itself.
	if got := MaskedCRC(nil); got != 0xa282ead8 {
		t.Fatalf("MaskedCRC(empty) = %#08x, want 0xa282ead8", got)
	}
}

// frame is one TFRecord read back by the test's own decoder.
type frame struct{ data []byte }

// readFrames decodes a TFRecord stream with the test's bitwise CRC: every
// length CRC and data CRC must check and the stream must end on a frame.
func readFrames(t *testing.T, b []byte) []frame {
	t.Helper()
	mask := func(c uint32) uint32 { return (c>>15 | c<<17) + 0xa282ead8 }
	var out []frame
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			t.Fatalf("offset %d: %d trailing bytes, not a frame header", off, len(b)-off)
		}
		n := binary.LittleEndian.Uint64(b[off:])
		if got, want := binary.LittleEndian.Uint32(b[off+8:]), mask(crc32cBitwise(b[off:off+8])); got != want {
			t.Fatalf("offset %d: length CRC %#x, want %#x", off, got, want)
		}
		end := off + 12 + int(n) + 4
		if end > len(b) {
			t.Fatalf("offset %d: frame of %d bytes runs past the end (%d)", off, n, len(b))
		}
		data := b[off+12 : off+12+int(n)]
		if got, want := binary.LittleEndian.Uint32(b[end-4:]), mask(crc32cBitwise(data)); got != want {
			t.Fatalf("offset %d: data CRC %#x, want %#x", off, got, want)
		}
		out = append(out, frame{data})
		off = end
	}
	return out
}

// eventDescriptor builds tensorboard.Event, Summary, Summary.Value and
// HistogramProto from TensorFlow's .proto field numbers, for the real
// protobuf decoder (dynamicpb): an independent reading of our bytes.
func eventDescriptor(t *testing.T) protoreflect.MessageDescriptor {
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

// decodedEvent is an Event as the independent decoder read it.
type decodedEvent struct {
	wall        float64
	step        int64
	fileVersion string
	scalars     map[string]float32
	hists       map[string]Histogram
}

// DecodeFile reads an event file with the test's frame decoder and the
// protobuf library's dynamic messages.
func decodeFile(t *testing.T, b []byte) []decodedEvent {
	t.Helper()
	md := eventDescriptor(t)
	var out []decodedEvent
	for i, fr := range readFrames(t, b) {
		m := dynamicpb.NewMessage(md)
		if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(fr.data, m); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if len(m.GetUnknown()) > 0 {
			t.Fatalf("event %d: unknown fields %x", i, m.GetUnknown())
		}
		get := func(m protoreflect.Message, name string) protoreflect.Value {
			return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
		}
		ev := decodedEvent{wall: get(m, "wall_time").Float(), step: get(m, "step").Int(), fileVersion: get(m, "file_version").String(),
			scalars: map[string]float32{}, hists: map[string]Histogram{}}
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
				ev.hists[tag] = Histogram{Tag: tag, Min: get(h, "min").Float(), Max: get(h, "max").Float(), Num: get(h, "num").Float(),
					Sum: get(h, "sum").Float(), SumSquares: get(h, "sum_squares").Float(), Limits: list("bucket_limit"), Counts: list("bucket")}
			} else {
				ev.scalars[tag] = float32(get(v, "simple_value").Float())
			}
		}
		out = append(out, ev)
	}
	return out
}

func TestWriterLocalReadsBack(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tensorboard")
	start := time.Unix(1765000000, 250_000_000)
	w, err := Open(ctx, dir, Options{Now: start, Host: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "events.out.tfevents.1765000000.node1")
	if w.Path() != want {
		t.Fatalf("path %s, want %s", w.Path(), want)
	}
	sizes := []float64{0, 0, 3, 5, 5, 7, 40}
	for step := range int64(5) {
		sc := []Scalar{{"train/loss", 3 - 0.1*float64(step)}, {"train/lr", 0.5}}
		var hs []Histogram
		if step == 4 {
			hs = append(hs, NewHistogram("monitor/cluster_sizes", sizes, 30))
		}
		if err := w.Write(ctx, step, start.Add(time.Duration(step)*time.Second), sc, hs); err != nil {
			t.Fatal(err)
		}
		// Every write is whole frames already on disk (kill -9 safe):
		// read the file as it is now, before Close.
		b, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(readFrames(t, b)); n != int(step)+2 {
			t.Fatalf("after step %d the file holds %d frames, want %d", step, n, step+2)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal("second Close:", err)
	}
	b, _ := os.ReadFile(want)
	evs := decodeFile(t, b)
	if evs[0].fileVersion != "brain.Event:2" || evs[0].wall != 1765000000.25 {
		t.Fatalf("first event %+v, want file_version brain.Event:2 at 1765000000.25", evs[0])
	}
	for i, ev := range evs[1:] {
		if ev.step != int64(i) || ev.scalars["train/loss"] != float32(3-0.1*float64(i)) || ev.scalars["train/lr"] != 0.5 {
			t.Fatalf("event %d: %+v", i+1, ev)
		}
	}
	h := evs[5].hists["monitor/cluster_sizes"]
	if h.Num != 7 || h.Min != 0 || h.Max != 40 || h.Sum != 60 || h.SumSquares != 9+50+49+1600 {
		t.Fatalf("histogram %+v", h)
	}
	var total float64
	for _, c := range h.Counts {
		total += c
	}
	if total != 7 || len(h.Limits) != len(h.Counts) || h.Limits[len(h.Limits)-1] != 40 {
		t.Fatalf("histogram buckets %v limits %v", h.Counts, h.Limits)
	}
}

func TestNewHistogram(t *testing.T) {
	for _, tc := range []struct {
		name           string
		vals           []float64
		limits, counts []float64
	}{
		{"integers one bucket each", []float64{1, 1, 3}, []float64{1, 2, 3}, []float64{2, 0, 1}},
		{"one value", []float64{5, 5}, []float64{5}, []float64{2}},
		{"wide range", []float64{0, 10, 100}, []float64{50, 100}, []float64{2, 1}},
		{"empty", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram("x", tc.vals, 2+boolInt(tc.name == "integers one bucket each"))
			if fmt.Sprint(h.Limits) != fmt.Sprint(tc.limits) || fmt.Sprint(h.Counts) != fmt.Sprint(tc.counts) {
				t.Fatalf("limits %v counts %v, want %v %v", h.Limits, h.Counts, tc.limits, tc.counts)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFileName(t *testing.T) {
	got := FileName(time.Unix(42, 0), "h")
	if got != "events.out.tfevents.0000000042.h" {
		t.Fatal(got)
	}
	if d := Dir("", "runs/x"); d != "runs/x/tensorboard" {
		t.Fatal(d)
	}
	if d := Dir("", "s3://b/run/"); d != "s3://b/run/tensorboard" {
		t.Fatal(d)
	}
	if d := Dir("s3://b/tb", "runs/x"); d != "s3://b/tb" {
		t.Fatal(d)
	}
}

// TestScalarIsFloat32 pins simple_value's width: TensorBoard's field is a
// float, so a value is rounded to float32.
func TestScalarIsFloat32(t *testing.T) {
	b := AppendRecord(nil, summaryEvent(1, 7, []Scalar{{"a", math.Pi}}, nil))
	ev := decodeFile(t, b)[0]
	if ev.scalars["a"] != float32(math.Pi) || ev.step != 7 {
		t.Fatalf("%+v", ev)
	}
	if !bytes.Contains(b, []byte("a")) || strings.Count(string(b), "a") < 1 {
		t.Fatal("tag missing")
	}
}
