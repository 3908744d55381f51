package augment

import (
	"math/rand/v2"
	"testing"
)

// runningSumBlur is the reference blur: three running-sum passes per axis
// (boxBlurRows, boxBlurCols), as Pillow's BoxBlur.c computes them.
func runningSumBlur(pix []uint8, w, h int, sigma float32) {
	radius := gaussianBoxRadius(sigma, 3)
	if radius == 0 {
		return
	}
	r, ww, fw := boxWeights(radius)
	a, b, acc := pix, make([]uint8, len(pix)), make([]uint32, 3*w)
	boxBlurRows(b, a, w, h, r, ww, fw)
	boxBlurRows(a, b, w, h, r, ww, fw)
	boxBlurRows(b, a, w, h, r, ww, fw)
	boxBlurCols(a, b, acc, w, h, r, ww, fw)
	boxBlurCols(b, a, acc, w, h, r, ww, fw)
	boxBlurCols(a, b, acc, w, h, r, ww, fw)
}

// TestBlurFastMatchesRunningSums: the direct small-radius passes of
// gaussianBlur give the running sums' values bit for bit, for sigmas across
// and beyond the default range (radius 0, 1 and the fallback) and image
// sides from 1 pixel up (every edge case of the pads).
func TestBlurFastMatchesRunningSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][2]int{{1, 1}, {1, 5}, {5, 1}, {2, 2}, {3, 4}, {4, 3}, {7, 9}, {16, 11}, {33, 40}}
	sigmas := []float32{0.05, 0.1, 0.37, 0.8, 1.2, 1.41, 1.415, 1.7, 2, 2.44, 2.5, 3.3, 5}
	for _, sz := range sizes {
		w, h := sz[0], sz[1]
		for _, sigma := range sigmas {
			src := make([]uint8, 3*w*h)
			for i := range src {
				src[i] = uint8(rng.IntN(256))
			}
			want := append([]uint8(nil), src...)
			runningSumBlur(want, w, h, sigma)
			got := append([]uint8(nil), src...)
			gaussianBlur(got, make([]uint8, blurScratchLen(w, h)), make([]uint32, 3*w), w, h, sigma)
			if m, n := maxDiff(got, want); m != 0 {
				t.Errorf("%dx%d sigma %v: %d values differ, max %d", w, h, sigma, n, m)
			}
		}
	}
}

// TestWsumRowsMatchesGo: the vector kernel gives the Go arithmetic's values
// (32-bit wrap, logical shift, saturation) for 1..8 taps, including sums
// past 2^31 (the blur's) and resample weights, and writes nothing past its
// count.
func TestWsumRowsMatchesGo(t *testing.T) {
	defer func() { vectorWide = true }()
	for _, wide := range []bool{true, false} {
		vectorWide = wide
		testWsumRows(t)
	}
}

func testWsumRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for taps := 1; taps <= 8; taps++ {
		for _, tc := range []struct {
			total int32
			bias  int32
			shift uint32
		}{{1 << 24, 1 << 23, 24}, {1<<22 + 3, 1 << 21, 22}} {
			n := 16*5 + 7
			rows := make([][]uint8, taps)
			w := make([]int32, taps)
			left := tc.total
			for i := range rows {
				rows[i] = make([]uint8, n)
				for j := range rows[i] {
					rows[i][j] = uint8(rng.IntN(256))
					if j%5 == 0 {
						rows[i][j] = 255
					}
				}
				w[i] = left / int32(taps-i)
				left -= w[i]
			}
			out := make([]uint8, n)
			k := wsumRows(out, rows, w, tc.bias, tc.shift)
			if rowsumAvailable() && k != 16*5 {
				t.Fatalf("%d taps: wrote %d values, want %d", taps, k, 16*5)
			}
			for i := range n {
				sum := uint32(tc.bias)
				for ti := range taps {
					sum += uint32(rows[ti][i]) * uint32(w[ti])
				}
				want := int32(sum >> tc.shift)
				want = min(max(want, 0), 255)
				if i >= k {
					want = 0
				}
				if out[i] != uint8(want) {
					t.Fatalf("%d taps, shift %d: out[%d] = %d, want %d", taps, tc.shift, i, out[i], want)
				}
			}
		}
	}
}

// TestSaturationVectorMatchesGo: the vector saturation kernel gives the Go
// loop's bytes for random pixels (grey, saturated and extreme ones) and
// factors across and beyond the jitter range, tails included.
func TestSaturationVectorMatchesGo(t *testing.T) {
	defer func() { vectorColor = true }()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, f := range []float32{0, 0.2, 0.4142, 0.999, 1, 1.0001, 1.33, 1.8, 2.7} {
		for _, n := range []int{1, 4, 5, 6, 17, 1000} {
			src := make([]uint8, 3*n)
			for i := range src {
				switch rng.IntN(4) {
				case 0:
					src[i] = 0
				case 1:
					src[i] = 255
				default:
					src[i] = uint8(rng.IntN(256))
				}
			}
			want := append([]uint8(nil), src...)
			vectorColor = false
			adjustSaturation(want, f)
			got := append([]uint8(nil), src...)
			vectorColor = true
			adjustSaturation(got, f)
			if m, k := maxDiff(got, want); m != 0 {
				t.Fatalf("f %v, %d pixels: %d values differ, max %d", f, n, k, m)
			}
		}
	}
}
