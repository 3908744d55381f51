//go:build amd64 && !purego

package rowsum

import "golang.org/x/sys/cpu"

// Available reports whether Sum16 runs here (SSE4.1).
var Available = cpu.X86.HasSSE41

// Sum16 computes out[i] = sat8(uint32(bias + sum_t rows[t][i]*w[t]) >>
// shift) for i < 16*blocks, where sat8 clamps the shifted value, read as an
// int32, to [0, 255], and the sum wraps modulo 2^32. rows points at taps row
// pointers, each row holding at least 16*blocks bytes; w at taps weights.
// Implemented in rowsum_amd64.s (SSE4.1, 16 values per step).
//
//go:noescape
func Sum16(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32)
