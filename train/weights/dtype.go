package weights

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/swavgo/swav/train"
)

type trainTensor = train.Tensor

// widen converts n little-endian elements of a floating dtype to float32.
// F32 data that is 4-byte aligned is reinterpreted in place (no copy): the
// result then shares raw's memory.
func widen(raw []byte, dtype string, n int) []float32 {
	if n == 0 {
		return []float32{}
	}
	if dtype == F32 && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 && littleEndianHost {
		return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n)
	}
	out := make([]float32, n)
	switch dtype {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case F16:
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
	return out
}

var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// halfToFloat converts an IEEE 754 binary16 value exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0: // zero
		return math.Float32frombits(sign)
	}
	// subnormal: frac * 2^-24
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// floatBytes is the little-endian bytes of vs (shares memory on
// little-endian hosts).
func floatBytes(vs []float32) []byte {
	if len(vs) == 0 {
		return []byte{}
	}
	if littleEndianHost {
		return unsafe.Slice((*byte)(unsafe.Pointer(&vs[0])), 4*len(vs))
	}
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// intBytes is the little-endian bytes of vs as int64.
func intBytes(vs []int64) []byte {
	out := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
	}
	return out
}
