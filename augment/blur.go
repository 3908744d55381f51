package augment

import "math"

// Pillow 9.4's GaussianBlur(radius=sigma) (libImaging/BoxBlur.c): three
// passes of an "extended box" filter per axis, all horizontal passes, then
// all vertical ones (row-wise running sums), edges replicated, 24-bit fixed
// point, uint8 between passes (SPEC §9). Bit-exact (TestBlurMatchesPillow).

// gaussianBoxRadius is _gaussian_blur_radius(sigma, 3) in float32/float64
// steps as C evaluates them.
func gaussianBoxRadius(sigma float32, passes int) float32 {
	sigma2 := float32(sigma*sigma) / float32(passes)
	L := float32(math.Sqrt(12.0*float64(sigma2) + 1.0))
	l := float32(math.Floor((float64(L) - 1.0) / 2.0))
	a := float32(float32(2*l+1) * float32(l*(l+1)-float32(3*sigma2)))
	a = float32(a / float32(6*float32(sigma2-float32((l+1)*(l+1)))))
	return l + a
}

// boxWeights are ImagingHorizontalBoxBlur's integer radius and weights.
func boxWeights(radius float32) (r int, ww, fw uint32) {
	r = int(radius)
	ww = uint32(float32(1<<24) / float32(radius*2+1))
	fw = ((1 << 24) - uint32(r*2+1)*ww) / 2
	return r, ww, fw
}

// boxBlurRows runs one extended-box pass along every row of an RGB image
// (w x h) from src into dst (distinct buffers): out[x] = (ww * sum of
// in[x-r..x+r] + fw * (in[x-r-1] + in[x+r+1]) + 2^23) >> 24 with indices
// clamped to the row, per channel. Cost: about 10 integer operations per
// value; the interior of a row runs without clamping.
func boxBlurRows(dst, src []uint8, w, h, r int, ww, fw uint32) {
	last := w - 1
	clamp := func(x int) int {
		if x < 0 {
			return 0
		}
		if x > last {
			return last
		}
		return x
	}
	// Interior: x-r-1 >= 0 and x+r+1 <= last.
	x0, x1 := r+1, last-r-1
	const half = 1 << 23
	for y := 0; y < h; y++ {
		in := src[3*w*y : 3*w*(y+1)]
		out := dst[3*w*y : 3*w*(y+1)]
		// Window sum for x = 0: in[-r..r] clamped.
		var a0, a1, a2 uint32
		for k := -r; k <= r; k++ {
			j := 3 * clamp(k)
			a0 += uint32(in[j])
			a1 += uint32(in[j+1])
			a2 += uint32(in[j+2])
		}
		edge := func(x int) {
			lo, hi := 3*clamp(x-r-1), 3*clamp(x+r+1)
			o := out[3*x : 3*x+3 : 3*x+3]
			o[0] = uint8((a0*ww + (uint32(in[lo])+uint32(in[hi]))*fw + half) >> 24)
			o[1] = uint8((a1*ww + (uint32(in[lo+1])+uint32(in[hi+1]))*fw + half) >> 24)
			o[2] = uint8((a2*ww + (uint32(in[lo+2])+uint32(in[hi+2]))*fw + half) >> 24)
			sub, add := 3*clamp(x-r), 3*clamp(x+r+1)
			a0 += uint32(in[add]) - uint32(in[sub])
			a1 += uint32(in[add+1]) - uint32(in[sub+1])
			a2 += uint32(in[add+2]) - uint32(in[sub+2])
		}
		if x0 > x1 {
			for x := 0; x < w; x++ {
				edge(x)
			}
			continue
		}
		for x := 0; x < x0; x++ {
			edge(x)
		}
		// lo = x-r-1, hi = x+r+1 (also the added tap), sub = x-r = lo+1.
		// Register copies: the closure above keeps a0..a2 in memory.
		b0, b1, b2 := a0, a1, a2
		for x := x0; x <= x1; x++ {
			lo := 3 * (x - r - 1)
			hi := 3 * (x + r + 1)
			l := in[lo : lo+6 : lo+6]
			u := in[hi : hi+3 : hi+3]
			o := out[3*x : 3*x+3 : 3*x+3]
			u0, u1, u2 := uint32(u[0]), uint32(u[1]), uint32(u[2])
			o[0] = uint8((b0*ww + (uint32(l[0])+u0)*fw + half) >> 24)
			o[1] = uint8((b1*ww + (uint32(l[1])+u1)*fw + half) >> 24)
			o[2] = uint8((b2*ww + (uint32(l[2])+u2)*fw + half) >> 24)
			b0 += u0 - uint32(l[3])
			b1 += u1 - uint32(l[4])
			b2 += u2 - uint32(l[5])
		}
		a0, a1, a2 = b0, b1, b2
		for x := x1 + 1; x < w; x++ {
			edge(x)
		}
	}
}

// boxBlurCols runs one extended-box pass down every column of an RGB image
// (w x h) from src into dst (distinct buffers): the same sums as
// boxBlurRows, computed a whole row at a time with one running sum per
// column and channel (acc, 3*w values), so no transpose is needed.
func boxBlurCols(dst, src []uint8, acc []uint32, w, h, r int, ww, fw uint32) {
	n := 3 * w
	last := h - 1
	row := func(y int) []uint8 {
		y = min(max(y, 0), last)
		return src[n*y : n*(y+1) : n*(y+1)]
	}
	acc = acc[:n]
	clear(acc)
	for k := -r; k <= r; k++ {
		rk := row(k)[:n]
		for i, v := range rk {
			acc[i] += uint32(v)
		}
	}
	const half = 1 << 23
	for y := 0; y < h; y++ {
		lo, hi, sub := row(y - r - 1)[:n], row(y + r + 1)[:n], row(y - r)[:n]
		out := dst[n*y : n*(y+1)][:n]
		for i, a := range acc {
			u := uint32(hi[i])
			out[i] = uint8((a*ww + (uint32(lo[i])+u)*fw + half) >> 24)
			acc[i] = a + u - uint32(sub[i])
		}
	}
}

// gaussianBlur blurs pix (w x h RGB) in place with Pillow's GaussianBlur of
// the given sigma; scratch must hold len(pix) bytes, acc 3*w values.
func gaussianBlur(pix, scratch []uint8, acc []uint32, w, h int, sigma float32) {
	radius := gaussianBoxRadius(sigma, 3)
	if radius == 0 {
		return
	}
	r, ww, fw := boxWeights(radius)
	a, b := pix, scratch[:len(pix)]
	// Pillow: three horizontal passes, then three vertical ones.
	boxBlurRows(b, a, w, h, r, ww, fw)
	boxBlurRows(a, b, w, h, r, ww, fw)
	boxBlurRows(b, a, w, h, r, ww, fw)
	boxBlurCols(a, b, acc, w, h, r, ww, fw)
	boxBlurCols(b, a, acc, w, h, r, ww, fw)
	boxBlurCols(a, b, acc, w, h, r, ww, fw)
}
