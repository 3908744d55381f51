package weights_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/train/weights"
)

func TestReadHandBuiltFiles(t *testing.T) {
	want := twoTensors()
	// A transposed view: shape (3, 2) over the 2x3 storage of "w".
	view := []fixtureTensor{{name: "wt", shape: []int{3, 2}, stride: []int{1, 3}, numel: 6, data: []float32{1, 2, 3, 4, 5, 6}}}
	for _, tc := range []struct {
		name, format string
		data         []byte
		tensors      []fixtureTensor
		values       [][]float32
	}{
		{"zip", weights.FormatTorchZip, torchZipOf(t, want), want, [][]float32{{1, 2, 3, 4, 5, 6}, {-1, 0.5, 7}}},
		{"legacy", weights.FormatTorchLegacy, torchLegacyOf(want), want, [][]float32{{1, 2, 3, 4, 5, 6}, {-1, 0.5, 7}}},
		{"strided view", weights.FormatTorchZip, torchZipOf(t, view), view, [][]float32{{1, 4, 2, 5, 3, 6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := weights.Decode(tc.data, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != tc.format || len(f.Tensors) != len(tc.tensors) {
				t.Fatalf("format %s with %d tensors, want %s with %d", f.Format, len(f.Tensors), tc.format, len(tc.tensors))
			}
			for i, ft := range tc.tensors {
				got := f.Tensors[i]
				if got.Name != ft.name || !slices.Equal(got.Shape, ft.shape) || !testutil.BitEqual(got.Float, tc.values[i]) {
					t.Errorf("tensor %d: %s %v %v, want %s %v %v", i, got.Name, got.Shape, got.Float, ft.name, ft.shape, tc.values[i])
				}
			}
		})
	}
}

// TestReadRejectsBadFiles: every damaged or hostile file is a named error,
// never a panic, and reading it allocates no more than the file's size
// (plus a fixed allowance for the reader's own bookkeeping).
func TestReadRejectsBadFiles(t *testing.T) {
	good := torchZipOf(t, twoTensors())
	legacy := torchLegacyOf(twoTensors())
	hostile := (&pickler{}).proto().global("os", "system").str("echo pwned").op(0x85).reduce().stop().Bytes()
	huge := (&pickler{}).proto().op('X')
	binary.Write(&huge.Buffer, binary.LittleEndian, uint32(0xfffffff0))
	huge.WriteString("short")
	hugeBytes := (&pickler{}).proto().op(0x8e)
	binary.Write(&hugeBytes.Buffer, binary.LittleEndian, uint64(1)<<62)
	short := []fixtureTensor{{name: "w", shape: []int{3, 4}, stride: []int{4, 1}, numel: 6, data: []float32{1, 2, 3, 4, 5, 6}}}
	past := []fixtureTensor{{name: "w", shape: []int{2, 3}, stride: []int{3, 1}, numel: 6, offset: 2, data: []float32{1, 2, 3, 4, 5, 6}}}
	stF32 := func(name string, begin, end int) map[string]any {
		return map[string]any{"dtype": "F32", "shape": []int{(end - begin) / 4}, "data_offsets": []int{begin, end}}
	}
	hugeHeader := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeHeader, 1<<60)
	hugeHeader[8] = '{'
	for _, tc := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"truncated zip", good[:len(good)/2], weights.ErrCorrupt, "truncated"},
		{"truncated legacy", legacy[:len(legacy)-10], weights.ErrCorrupt, "storage 1"},
		{"global off the allow-list", torchZip(t, hostile, nil), weights.ErrUnsafePickle, "os.system"},
		{"global off the allow-list, legacy", append(legacyHeader(), hostile...), weights.ErrUnsafePickle, "os.system"},
		{"string longer than the file", torchZip(t, huge.Bytes(), nil), weights.ErrCorrupt, "declares 4294967280 bytes"},
		{"bytes8 longer than the file", torchZip(t, hugeBytes.Bytes(), nil), weights.ErrCorrupt, "declares 4611686018427387904 bytes"},
		{"pickle without STOP", torchZip(t, bytes.TrimSuffix(torchPickle(twoTensors()), []byte(".")), nil), weights.ErrCorrupt, "without STOP"},
		{"tensor larger than its storage", torchZip(t, torchPickle(short), [][]byte{floatLE(short[0].data)}), weights.ErrCorrupt, "needs more elements than its storage 0 holds (6)"},
		{"view past the storage's end", torchZip(t, torchPickle(past), [][]byte{floatLE(past[0].data)}), weights.ErrCorrupt, "needs more elements"},
		{"storage entry shorter than declared", torchZip(t, torchPickle(twoTensors()), [][]byte{floatLE([]float32{1, 2}), floatLE([]float32{1, 2, 3})}), weights.ErrCorrupt, "storage 0 declares 6 F32 elements (24 bytes), its entry holds 8 bytes"},
		{"safetensors overlapping offsets", safetensorsOf(t, map[string]any{"a": stF32("a", 0, 8), "b": stF32("b", 4, 12)}, make([]byte, 12)), weights.ErrCorrupt, "offset"},
		{"safetensors offsets past the end", safetensorsOf(t, map[string]any{"a": stF32("a", 0, 1<<30)}, make([]byte, 8)), weights.ErrCorrupt, "incomplete"},
		{"safetensors shape and offsets disagree", safetensorsOf(t, map[string]any{"a": map[string]any{"dtype": "F32", "shape": []int{1 << 40, 1 << 40}, "data_offsets": []int{0, 8}}}, make([]byte, 8)), weights.ErrCorrupt, "shape"},
		{"safetensors header claims a huge size", hugeHeader, weights.ErrCorrupt, "header too large"},
		{"not a weights file", []byte("name,shape\nconv1.weight,64x3x7x7\n"), weights.ErrFormat, "not a torch.save file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			f, err := weights.Decode(tc.data, "bad.pth")
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("read %d tensors, want an error", len(f.Tensors))
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "bad.pth") {
				t.Fatalf("error %q, want %v naming bad.pth and containing %q", err, tc.want, tc.msg)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(tc.data))+256<<10 {
				t.Errorf("allocated %d bytes reading a %d-byte file", alloc, len(tc.data))
			}
		})
	}
}

func TestSafetensorsRoundTripAndWidening(t *testing.T) {
	in := []weights.Tensor{
		{Name: "conv1.weight", Shape: []int{2, 1, 1, 2}, DType: weights.F32, Float: []float32{1, -2, 3.5, float32(math.Inf(1))}},
		{Name: "bn1.num_batches_tracked", Shape: []int{}, DType: weights.I64, Int: []int64{12345}},
	}
	var buf bytes.Buffer
	if err := weights.WriteSafetensors(&buf, in, map[string]string{"arch": "resnet18"}); err != nil {
		t.Fatal(err)
	}
	f, err := weights.Decode(buf.Bytes(), "round.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != weights.FormatSafetensors || f.Metadata["arch"] != "resnet18" {
		t.Fatalf("format %s metadata %v", f.Format, f.Metadata)
	}
	for _, want := range in {
		got := f.Lookup(want.Name)
		if got == nil || !slices.Equal(got.Shape, want.Shape) || !testutil.BitEqual(got.Float, want.Float) || !slices.Equal(got.Int, want.Int) {
			t.Errorf("%s: got %+v, want %+v", want.Name, got, want)
		}
	}
	// F16 and BF16 are widened exactly: 1, -2.5, the smallest subnormal, +Inf.
	f16 := []uint16{0x3c00, 0xc100, 0x0001, 0x7c00}
	bf16 := []uint16{0x3f80, 0xc020, 0x0001, 0x7f80}
	data := make([]byte, 16)
	for i := range 4 {
		binary.LittleEndian.PutUint16(data[2*i:], f16[i])
		binary.LittleEndian.PutUint16(data[8+2*i:], bf16[i])
	}
	file := safetensorsOf(t, map[string]any{
		"h": map[string]any{"dtype": "F16", "shape": []int{4}, "data_offsets": []int{0, 8}},
		"b": map[string]any{"dtype": "BF16", "shape": []int{4}, "data_offsets": []int{8, 16}},
	}, data)
	f, err = weights.Decode(file, "half.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	inf := float32(math.Inf(1))
	if got := f.Lookup("h").Float; !testutil.BitEqual(got, []float32{1, -2.5, float32(math.Ldexp(1, -24)), inf}) {
		t.Errorf("F16 widened to %v", got)
	}
	if got := f.Lookup("b").Float; !testutil.BitEqual(got, []float32{1, -2.5, math.Float32frombits(0x00010000), inf}) {
		t.Errorf("BF16 widened to %v", got)
	}
}
