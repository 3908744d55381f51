package augment

import (
	"math"

	"github.com/swavgo/swav/augment/internal/rowsum"
)

// Pillow's antialiased BILINEAR resample (libImaging/Resample.c, Pillow 9.4),
// reproduced bit for bit: separable, horizontal pass then vertical pass, with
// 22-bit fixed-point weights and uint8 storage between the passes.

const precisionBits = 32 - 8 - 2

// resampleCoeffs holds, for each output pixel, the first input tap, the tap
// count and ksize fixed-point weights.
type resampleCoeffs struct {
	ksize  int
	bounds []int32 // 2 per output pixel: xmin, count
	kk     []int32 // ksize per output pixel

}

// computeCoeffs is precompute_coeffs + normalize_coeffs_8bpc for an input
// span [0, inSize) resized to outSize (the crop is cropped before the resize,
// as torchvision's resized_crop does). It reuses c's slices.
func (c *resampleCoeffs) compute(inSize, outSize int) {
	scale := float64(inSize) / float64(outSize)
	filterscale := math.Max(scale, 1.0)
	support := 1.0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c.ksize = ksize
	c.bounds = grow(c.bounds, 2*outSize)
	c.kk = grow(c.kk, ksize*outSize)
	var pre [64]float64
	var prek []float64
	if ksize <= len(pre) {
		prek = pre[:ksize]
	} else {
		prek = make([]float64, ksize)
	}
	ss := 1.0 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < ksize; x++ {
			prek[x] = 0
		}
		for x := 0; x < xmax; x++ {
			w := bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			prek[x] = w
			ww += w
		}
		k := c.kk[xx*ksize : (xx+1)*ksize]
		for x := 0; x < ksize; x++ {
			v := prek[x]
			if ww != 0 && x < xmax {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.bounds[2*xx] = int32(xmin)
		c.bounds[2*xx+1] = int32(xmax)
	}
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func clip8(v int32) uint8 {
	if v >= 1<<precisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precisionBits)
}

// resizer holds the scratch buffers of one resize; reuse it across crops of
// one goroutine.
type resizer struct {
	hc, vc resampleCoeffs
	tmp    []uint8
	acc    []int32
}

// resizeCrop writes into dst (outW*outH*3, RGB) the crop box of src resized
// to outW x outH with Pillow's BILINEAR, mirrored horizontally when flip is
// set (the same as a flip after the resize, at no cost).
func (z *resizer) resizeCrop(dst []uint8, src *Image, box cropBox, outW, outH int, flip bool) {
	z.hc.compute(box.W, outW)
	z.vc.compute(box.H, outH)
	needH := outW != box.W
	needV := outH != box.H
	// Rows of the crop that the vertical pass reads.
	yFirst := int(z.vc.bounds[0])
	yLast := int(z.vc.bounds[2*outH-2] + z.vc.bounds[2*outH-1])
	if !needV {
		yFirst, yLast = 0, box.H
	}
	rows := yLast - yFirst
	srcStride := 3 * src.W
	// Horizontal pass: rows [yFirst, yLast) of the crop -> tmp (outW wide).
	var mid []uint8
	midStride := 3 * outW
	if needH {
		// One spare byte: the vector kernel writes 4 bytes per pixel.
		z.tmp = grow(z.tmp, rows*midStride+1)
		mid = z.tmp
		ks := z.hc.ksize
		rowOff := (box.Top+yFirst)*srcStride + 3*box.Left
		if vectorResample {
			z.hRows(mid, src.Pix, rowOff, srcStride, rows, outW, flip)
			goto vertical
		}
		for xx := 0; xx < outW; xx++ {
			xmin := int(z.hc.bounds[2*xx])
			n := int(z.hc.bounds[2*xx+1])
			o := 3 * xx
			if flip {
				o = 3 * (outW - 1 - xx)
			}
			k := z.hc.kk[xx*ks : xx*ks+n]
			if hCol(mid, o, midStride, src.Pix, rowOff+3*xmin, srcStride, rows, k) {
				continue
			}
			for y := 0; y < rows; y++ {
				in := src.Pix[rowOff+y*srcStride+3*xmin:]
				s0, s1, s2 := hTaps(in[:3*n], k)
				d := mid[y*midStride+o : y*midStride+o+3 : y*midStride+o+3]
				d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
	} else {
		// No horizontal resampling: copy (and mirror) the crop's rows.
		z.tmp = grow(z.tmp, rows*midStride)
		mid = z.tmp
		for y := 0; y < rows; y++ {
			in := src.Pix[(box.Top+yFirst+y)*srcStride+3*box.Left : (box.Top+yFirst+y)*srcStride+3*(box.Left+box.W)]
			out := mid[y*midStride : (y+1)*midStride]
			if !flip {
				copy(out, in)
				continue
			}
			for x := 0; x < outW; x++ {
				o := 3 * (outW - 1 - x)
				out[o], out[o+1], out[o+2] = in[3*x], in[3*x+1], in[3*x+2]
			}
		}
	}
vertical:
	if !needV {
		copy(dst, mid[:outH*midStride])
		return
	}
	// Vertical pass, row by row, all taps of an output value at once.
	z.acc = grow(z.acc, midStride)
	ks := z.vc.ksize
	var rowsBuf [16][]uint8
	for yy := 0; yy < outH; yy++ {
		ymin := int(z.vc.bounds[2*yy]) - yFirst
		n := int(z.vc.bounds[2*yy+1])
		rows := rowsBuf[:0]
		if n > len(rowsBuf) {
			rows = make([][]uint8, 0, n)
		}
		for y := range n {
			rows = append(rows, mid[(ymin+y)*midStride:(ymin+y+1)*midStride])
		}
		vTaps(dst[yy*midStride:(yy+1)*midStride], rows, z.vc.kk[yy*ks:yy*ks+n], z.acc)
	}
}

// vectorResample selects the vector horizontal pass where it exists (tests
// turn it off to compare with the Go pass).
var vectorResample = rowsum.Available

// hRows is the horizontal pass row by row with the vector kernel
// (rowsum.HRow): rows rows of src from offset rowOff (the crop's left edge,
// stride srcStride) into mid (outW pixels a row, one spare byte at the end).
// Mirrored rows walk the coefficient tables backwards so that outputs are
// still written left to right (each 4-byte store's spare byte is then
// overwritten by the next pixel, or by the next row). A row whose last tap
// is the last byte of src runs the Go taps instead (the kernel reads one byte
// past each tap).
func (z *resizer) hRows(mid, src []uint8, rowOff, srcStride, rows, outW int, flip bool) {
	ks := z.hc.ksize
	midStride := 3 * outW
	first, bstep, kstep := 0, 8, 4*ks
	if flip {
		first, bstep, kstep = outW-1, -8, -4*ks
	}
	// Bytes of a row the taps read, from the crop's left edge.
	span := 0
	for xx := 0; xx < outW; xx++ {
		span = max(span, 3*int(z.hc.bounds[2*xx]+z.hc.bounds[2*xx+1]))
	}
	_ = mid[rows*midStride] // the spare byte
	for y := 0; y < rows; y++ {
		off := rowOff + y*srcStride
		out := mid[y*midStride : (y+1)*midStride]
		if off+span < len(src) {
			rowsum.HRow(&out[0], &src[off], &z.hc.bounds[2*first], &z.hc.kk[first*ks], outW, bstep, kstep)
			continue
		}
		for xx := 0; xx < outW; xx++ {
			xmin := int(z.hc.bounds[2*xx])
			n := int(z.hc.bounds[2*xx+1])
			o := 3 * xx
			if flip {
				o = 3 * (outW - 1 - xx)
			}
			s0, s1, s2 := hTaps(src[off+3*xmin:off+3*(xmin+n)], z.hc.kk[xx*ks:xx*ks+n])
			d := out[o : o+3 : o+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}
