package weights_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"
)

// pickler writes protocol-2 pickle opcodes: enough to build torch.save files
// by hand, valid or broken in exactly one way.
type pickler struct{ bytes.Buffer }

func (p *pickler) op(b ...byte) *pickler { p.Write(b); return p }
func (p *pickler) proto() *pickler       { return p.op(0x80, 2) }
func (p *pickler) mark() *pickler        { return p.op('(') }
func (p *pickler) tuple() *pickler       { return p.op('t') }
func (p *pickler) reduce() *pickler      { return p.op('R') }
func (p *pickler) persid() *pickler      { return p.op('Q') }
func (p *pickler) stop() *pickler        { return p.op('.') }
func (p *pickler) emptyDict() *pickler   { return p.op('}') }
func (p *pickler) setitem() *pickler     { return p.op('s') }
func (p *pickler) global(module, name string) *pickler {
	p.op('c')
	p.WriteString(module + "\n" + name + "\n")
	return p
}
func (p *pickler) str(s string) *pickler {
	p.op('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}
func (p *pickler) int(n int) *pickler {
	p.op('J')
	binary.Write(&p.Buffer, binary.LittleEndian, int32(n))
	return p
}
func (p *pickler) ints(ns ...int) *pickler {
	p.mark()
	for _, n := range ns {
		p.int(n)
	}
	return p.tuple()
}

// tensor pushes _rebuild_tensor_v2(storage key (numel float32s), offset, shape, stride).
func (p *pickler) tensor(key string, numel, offset int, shape, stride []int) *pickler {
	p.global("torch._utils", "_rebuild_tensor_v2").mark()
	p.mark().str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).tuple().persid()
	p.int(offset).ints(shape...).ints(stride...).op(0x89) // False
	p.global("collections", "OrderedDict").op(')').reduce()
	return p.tuple().reduce()
}

// fixtureTensor is one tensor of a hand-built file.
type fixtureTensor struct {
	name          string
	shape, stride []int
	numel, offset int // storage size and view offset
	data          []float32
}

// torchPickle is the state dict {name: tensor} of ts, storage i keyed "i".
func torchPickle(ts []fixtureTensor) []byte {
	p := &pickler{}
	p.proto().emptyDict()
	for i, t := range ts {
		p.str(t.name).tensor(string(rune('0'+i)), t.numel, t.offset, t.shape, t.stride).setitem()
	}
	return p.stop().Bytes()
}

func floatLE(vs []float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// torchZip builds a torch.save zip file: archive/data.pkl = pkl, and the
// storages data/<i> (the bytes of each tensor's data).
func torchZip(t testing.TB, pkl []byte, storages [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	put("archive/data.pkl", pkl)
	put("archive/byteorder", []byte("little"))
	for i, s := range storages {
		put("archive/data/"+string(rune('0'+i)), s)
	}
	put("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// torchZipOf is torchZip of the state dict ts.
func torchZipOf(t testing.TB, ts []fixtureTensor) []byte {
	var storages [][]byte
	for _, ft := range ts {
		storages = append(storages, floatLE(ft.data))
	}
	return torchZip(t, torchPickle(ts), storages)
}

// legacyHeader is the three pickles that open a legacy torch.save stream:
// the magic number, the protocol version and sys_info.
func legacyHeader() []byte {
	var out bytes.Buffer
	magic := &pickler{}
	magic.proto().op(0x8a, 10).Write([]byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19})
	out.Write(magic.stop().Bytes())
	out.Write((&pickler{}).proto().int(1001).stop().Bytes())
	sys := &pickler{}
	sys.proto().emptyDict().str("little_endian").op(0x88).setitem()
	out.Write(sys.stop().Bytes())
	return out.Bytes()
}

// torchLegacyOf is the legacy torch.save stream of the state dict ts.
func torchLegacyOf(ts []fixtureTensor) []byte {
	var out bytes.Buffer
	out.Write(legacyHeader())
	out.Write(torchPickle(ts))
	keys := &pickler{}
	keys.proto().op(']').mark()
	for i := range ts {
		keys.str(string(rune('0' + i)))
	}
	keys.op('e')
	out.Write(keys.stop().Bytes())
	for _, ft := range ts {
		binary.Write(&out, binary.LittleEndian, int64(len(ft.data)))
		out.Write(floatLE(ft.data))
	}
	return out.Bytes()
}

// safetensorsOf builds a safetensors file from a header (name -> dtype,
// shape, offsets) and the data section.
func safetensorsOf(t testing.TB, header map[string]any, data []byte) []byte {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint64(len(h)))
	out.Write(h)
	out.Write(data)
	return out.Bytes()
}

// twoTensors is a small valid state dict: a 2x3 matrix and a vector.
func twoTensors() []fixtureTensor {
	return []fixtureTensor{
		{name: "w", shape: []int{2, 3}, stride: []int{3, 1}, numel: 6, data: []float32{1, 2, 3, 4, 5, 6}},
		{name: "b", shape: []int{3}, stride: []int{1}, numel: 3, data: []float32{-1, 0.5, 7}},
	}
}
