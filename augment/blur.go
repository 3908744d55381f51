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

// blurScratchLen is the scratch gaussianBlur needs for a w x h image: one
// image and two padded rows.
func blurScratchLen(w, h int) int { return 3*w*h + 2*(3*w+6*blurPadMax) }

// blurPadMax is the pad, in pixels, of each side of a row in the small-radius
// path (r+1 for r <= 1).
const blurPadMax = 2

// gaussianBlur blurs pix (w x h RGB) in place with Pillow's GaussianBlur of
// the given sigma; scratch must hold blurScratchLen(w, h) bytes, acc 3*w
// values.
//
// Sigmas up to about 2.45 (every sigma of the default 0.1-2) give an integer
// box radius r of 0 or 1: the passes then compute each output from its 3 or
// 5 taps directly (no running-sum dependency chain), the three horizontal
// passes run row by row in place between two padded row buffers (edges
// replicated into the pads, so the loop has no clamping), and the vertical
// passes combine whole rows. Same sums, same order: bit-identical to the
// running-sum passes below (TestBlurFastMatchesRunningSums). Larger radii
// use the running sums. Cost: about 6 integer operations per value per pass.
func gaussianBlur(pix, scratch []uint8, acc []uint32, w, h int, sigma float32) {
	radius := gaussianBoxRadius(sigma, 3)
	if radius == 0 {
		return
	}
	r, ww, fw := boxWeights(radius)
	if r > 1 {
		a, b := pix, scratch[:len(pix)]
		// Pillow: three horizontal passes, then three vertical ones.
		boxBlurRows(b, a, w, h, r, ww, fw)
		boxBlurRows(a, b, w, h, r, ww, fw)
		boxBlurRows(b, a, w, h, r, ww, fw)
		boxBlurCols(a, b, acc, w, h, r, ww, fw)
		boxBlurCols(b, a, acc, w, h, r, ww, fw)
		boxBlurCols(a, b, acc, w, h, r, ww, fw)
		return
	}
	n := 3 * w
	img := scratch[:len(pix)]
	pl := n + 6*(r+1)
	rows := scratch[len(pix) : len(pix)+2*pl]
	p, q := rows[:pl], rows[pl:2*pl]
	for y := 0; y < h; y++ {
		line := pix[n*y : n*(y+1)]
		copy(p[3*(r+1):], line)
		padRow(p, n, r)
		blurLine(q[3*(r+1):3*(r+1)+n], p, r, 3, ww, fw)
		padRow(q, n, r)
		blurLine(p[3*(r+1):3*(r+1)+n], q, r, 3, ww, fw)
		padRow(p, n, r)
		blurLine(line, p, r, 3, ww, fw)
	}
	blurColsSmall(img, pix, w, h, r, ww, fw)
	blurColsSmall(pix, img, w, h, r, ww, fw)
	blurColsSmall(img, pix, w, h, r, ww, fw)
	copy(pix, img)
}

// padRow replicates the first and last pixel of the row held in
// p[3(r+1) : 3(r+1)+n] into its r+1 pixels of pad on each side.
func padRow(p []uint8, n, r int) {
	o := 3 * (r + 1)
	for k := range r + 1 {
		copy(p[3*k:3*k+3], p[o:o+3])
		copy(p[o+n+3*k:o+n+3*k+3], p[o+n-3:o+n])
	}
}

// blurLine is one extended-box pass of radius r (0 or 1) over a line whose
// taps lie step bytes apart in src, src holding r+1 taps of pad before and
// after the len(out) outputs: out[i] = (ww * sum_{|k|<=r} src[o+i+k*step] +
// fw * (src[o+i-(r+1)*step] + src[o+i+(r+1)*step]) + 2^23) >> 24 with
// o = (r+1)*step.
func blurLine(out, src []uint8, r, step int, ww, fw uint32) {
	m := len(out)
	if r == 0 {
		blurTaps3(out, src[:m], src[step:step+m], src[2*step:2*step+m], ww, fw)
		return
	}
	blurTaps5(out, src[:m], src[step:step+m], src[2*step:2*step+m], src[3*step:3*step+m], src[4*step:4*step+m], ww, fw)
}

// blurTaps3 is out[i] = (ww*c[i] + fw*(lo[i]+hi[i]) + 2^23) >> 24 (r = 0).
func blurTaps3(out, lo, c, hi []uint8, ww, fw uint32) {
	if k := wsumRows(out, [][]uint8{lo, c, hi}, []int32{int32(fw), int32(ww), int32(fw)}, 1<<23, 24); k > 0 {
		out, lo, c, hi = out[k:], lo[k:], c[k:], hi[k:]
	}
	c = c[:len(out)]
	lo = lo[:len(c)]
	hi = hi[:len(c)]
	for i, v := range c {
		out[i] = uint8((uint32(v)*ww + (uint32(lo[i])+uint32(hi[i]))*fw + 1<<23) >> 24)
	}
}

// blurTaps5 is out[i] = (ww*(c0[i]+c1[i]+c2[i]) + fw*(lo[i]+hi[i]) + 2^23)
// >> 24 (r = 1).
func blurTaps5(out, lo, c0, c1, c2, hi []uint8, ww, fw uint32) {
	if k := wsumRows(out, [][]uint8{lo, c0, c1, c2, hi}, []int32{int32(fw), int32(ww), int32(ww), int32(ww), int32(fw)}, 1<<23, 24); k > 0 {
		out, lo, c0, c1, c2, hi = out[k:], lo[k:], c0[k:], c1[k:], c2[k:], hi[k:]
	}
	c1 = c1[:len(out)]
	lo, c0, c2, hi = lo[:len(c1)], c0[:len(c1)], c2[:len(c1)], hi[:len(c1)]
	for i, v := range c1 {
		a := uint32(c0[i]) + uint32(v) + uint32(c2[i])
		out[i] = uint8((a*ww + (uint32(lo[i])+uint32(hi[i]))*fw + 1<<23) >> 24)
	}
}

// blurColsSmall is one vertical extended-box pass of radius r (0 or 1) from
// src into dst (distinct w x h RGB buffers), rows clamped at the edges.
func blurColsSmall(dst, src []uint8, w, h, r int, ww, fw uint32) {
	n := 3 * w
	last := h - 1
	row := func(y int) []uint8 {
		y = min(max(y, 0), last)
		return src[n*y : n*(y+1) : n*(y+1)]
	}
	for y := 0; y < h; y++ {
		out := dst[n*y : n*(y+1) : n*(y+1)]
		if r == 0 {
			blurTaps3(out, row(y-1), row(y), row(y+1), ww, fw)
		} else {
			blurTaps5(out, row(y-2), row(y-1), row(y), row(y+1), row(y+2), ww, fw)
		}
	}
}
