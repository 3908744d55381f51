//go:build amd64 && !purego

package rowsum

import "golang.org/x/sys/cpu"

// Available reports whether Sum16, HRow and Saturate run here (SSE4.1).
var Available = cpu.X86.HasSSE41

// Available32 reports whether Sum32 runs here (AVX2).
var Available32 = cpu.X86.HasAVX2

// Sum16 computes out[i] = sat8(uint32(bias + sum_t rows[t][i]*w[t]) >>
// shift) for i < 16*blocks, where sat8 clamps the shifted value, read as an
// int32, to [0, 255], and the sum wraps modulo 2^32. rows points at taps row
// pointers, each row holding at least 16*blocks bytes; w at taps weights.
// Implemented in rowsum_amd64.s (SSE4.1, 16 values per step).
//
//go:noescape
func Sum16(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32)

// HRow is one row of Pillow's horizontal resample pass: for each of count
// output pixels, with xmin, n = bounds[0], bounds[1] and weights kk[0..n),
// out[c] = clip8((2^21 + sum_k src[3(xmin+k)+c]*kk[k]) >> 22) for the 3
// channels; then out advances 3 bytes, bounds bstep bytes and kk kstep bytes
// (negative steps walk the tables backwards: a mirrored row). Every pixel
// read and written is 4 bytes wide: the caller guarantees one readable byte
// past the last tap and one writable byte past the last output (the next
// output overwrites it). Implemented in rowsum_amd64.s (SSE4.1).
//
//go:noescape
func HRow(out *byte, src *byte, bounds *int32, kk *int32, count int, bstep int, kstep int)

// Saturate is Pillow's ImageEnhance.Color(f) on packed RGB, in place, for
// 4*groups pixels: each channel v becomes clamp(trunc(float32(l) +
// float32(f*float32(v-l)))) with l the pixel's Pillow luma. It reads 4
// bytes past the last pixel (the caller guarantees them). Implemented in
// rowsum_amd64.s (SSE4.1).
//
//go:noescape
func Saturate(pix *byte, groups int, f float32)

// Sum32 is Sum16 for 32*blocks values, 32 at a time (AVX2).
//
//go:noescape
func Sum32(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32)
