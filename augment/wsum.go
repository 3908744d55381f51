package augment

import "github.com/swavgo/swav/augment/internal/rowsum"

// wsumRows is the vector part of the row-combining passes (the vertical
// resample pass and every blur pass): for i < len(out) rounded down to a
// multiple of 16, out[i] = sat8(uint32(bias + sum_t rows[t][i]*w[t]) >>
// shift), with 32-bit wrap-around like the Go loops. It returns how many
// leading values it wrote (0 when no vector kernel runs here, when there are
// more than 8 taps, or when a weight is negative: the shifted value then is
// not the Go loops' arithmetic shift); the caller's Go loop does the rest.
// Every row must hold at least len(out) bytes. Cost: about 4 values per
// vector instruction per tap.
func wsumRows(out []uint8, rows [][]uint8, w []int32, bias int32, shift uint32) int {
	blocks := len(out) / 16
	if !rowsum.Available || blocks == 0 || len(w) == 0 || len(w) > 8 || len(rows) < len(w) {
		return 0
	}
	var ptrs [8]*byte
	for t, wt := range w {
		if wt < 0 || len(rows[t]) < 16*blocks {
			return 0
		}
		ptrs[t] = &rows[t][0]
	}
	done := 0
	if b32 := len(out) / 32; rowsum.Available32 && vectorWide && b32 > 0 {
		rowsum.Sum32(&out[0], b32, &ptrs[0], &w[0], len(w), bias, shift)
		done = 32 * b32
	}
	if rest := blocks - done/16; rest > 0 {
		for t := range w {
			ptrs[t] = &rows[t][done]
		}
		rowsum.Sum16(&out[done], rest, &ptrs[0], &w[0], len(w), bias, shift)
	}
	return 16 * blocks
}

// vectorWide selects the AVX2 kernel where it exists (tests turn it off to
// check the SSE4.1 one).
var vectorWide = true

// rowsumAvailable reports whether wsumRows uses the vector kernel.
func rowsumAvailable() bool { return rowsum.Available }

// saturateVector runs adjustSaturation's blend on the leading pixels of pix
// with the vector kernel and returns how many bytes it did (a multiple of
// 12; 0 without the kernel). It leaves at least 4 bytes, which the kernel
// reads past its last pixel.
func saturateVector(pix []uint8, f float32) int {
	if !rowsum.Available || len(pix) < 16 {
		return 0
	}
	groups := (len(pix) - 4) / 12
	rowsum.Saturate(&pix[0], groups, f)
	return 12 * groups
}
