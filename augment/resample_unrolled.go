// Unrolled tap loops of the resample passes (cases 1..8 written out).

package augment

// hTaps computes one output pixel of the horizontal pass: n taps of packed
// RGB p (3*n bytes from the first tap) with weights k, accumulated from
// 2^21 as Pillow does. The cases are unrolled; one length check each.
func hTaps(p []uint8, k []int32) (s0, s1, s2 int32) {
	s0, s1, s2 = 1<<(precisionBits-1), 1<<(precisionBits-1), 1<<(precisionBits-1)
	switch len(k) {
	case 1:
		q := (*[3]uint8)(p[:3])
		w := (*[1]int32)(k)
		s0 += int32(q[0]) * w[0]
		s1 += int32(q[1]) * w[0]
		s2 += int32(q[2]) * w[0]
	case 2:
		q := (*[6]uint8)(p[:6])
		w := (*[2]int32)(k)
		s0 += int32(q[0])*w[0] + int32(q[3])*w[1]
		s1 += int32(q[1])*w[0] + int32(q[4])*w[1]
		s2 += int32(q[2])*w[0] + int32(q[5])*w[1]
	case 3:
		q := (*[9]uint8)(p[:9])
		w := (*[3]int32)(k)
		s0 += int32(q[0])*w[0] + int32(q[3])*w[1] + int32(q[6])*w[2]
		s1 += int32(q[1])*w[0] + int32(q[4])*w[1] + int32(q[7])*w[2]
		s2 += int32(q[2])*w[0] + int32(q[5])*w[1] + int32(q[8])*w[2]
	case 4:
		q := (*[12]uint8)(p[:12])
		w := (*[4]int32)(k)
		s0 += int32(q[0])*w[0] + int32(q[3])*w[1] + int32(q[6])*w[2] + int32(q[9])*w[3]
		s1 += int32(q[1])*w[0] + int32(q[4])*w[1] + int32(q[7])*w[2] + int32(q[10])*w[3]
		s2 += int32(q[2])*w[0] + int32(q[5])*w[1] + int32(q[8])*w[2] + int32(q[11])*w[3]
	case 5:
		q := (*[15]uint8)(p[:15])
		w := (*[5]int32)(k)
		s0 += int32(q[0])*w[0] + int32(q[3])*w[1] + int32(q[6])*w[2] + int32(q[9])*w[3] + int32(q[12])*w[4]
		s1 += int32(q[1])*w[0] + int32(q[4])*w[1] + int32(q[7])*w[2] + int32(q[10])*w[3] + int32(q[13])*w[4]
		s2 += int32(q[2])*w[0] + int32(q[5])*w[1] + int32(q[8])*w[2] + int32(q[11])*w[3] + int32(q[14])*w[4]
	case 6:
		q := (*[18]uint8)(p[:18])
		w := (*[6]int32)(k)
		s0 += int32(q[0])*w[0] + int32(q[3])*w[1] + int32(q[6])*w[2] + int32(q[9])*w[3] + int32(q[12])*w[4] + int32(q[15])*w[5]
		s1 += int32(q[1])*w[0] + int32(q[4])*w[1] + int32(q[7])*w[2] + int32(q[10])*w[3] + int32(q[13])*w[4] + int32(q[16])*w[5]
		s2 += int32(q[2])*w[0] + int32(q[5])*w[1] + int32(q[8])*w[2] + int32(q[11])*w[3] + int32(q[14])*w[4] + int32(q[17])*w[5]
	case 7:
		q := (*[21]uint8)(p[:21])
		w := (*[7]int32)(k)
		s0 += int32(q[0])*w[0] + int32(q[3])*w[1] + int32(q[6])*w[2] + int32(q[9])*w[3] + int32(q[12])*w[4] + int32(q[15])*w[5] + int32(q[18])*w[6]
		s1 += int32(q[1])*w[0] + int32(q[4])*w[1] + int32(q[7])*w[2] + int32(q[10])*w[3] + int32(q[13])*w[4] + int32(q[16])*w[5] + int32(q[19])*w[6]
		s2 += int32(q[2])*w[0] + int32(q[5])*w[1] + int32(q[8])*w[2] + int32(q[11])*w[3] + int32(q[14])*w[4] + int32(q[17])*w[5] + int32(q[20])*w[6]
	case 8:
		q := (*[24]uint8)(p[:24])
		w := (*[8]int32)(k)
		s0 += int32(q[0])*w[0] + int32(q[3])*w[1] + int32(q[6])*w[2] + int32(q[9])*w[3] + int32(q[12])*w[4] + int32(q[15])*w[5] + int32(q[18])*w[6] + int32(q[21])*w[7]
		s1 += int32(q[1])*w[0] + int32(q[4])*w[1] + int32(q[7])*w[2] + int32(q[10])*w[3] + int32(q[13])*w[4] + int32(q[16])*w[5] + int32(q[19])*w[6] + int32(q[22])*w[7]
		s2 += int32(q[2])*w[0] + int32(q[5])*w[1] + int32(q[8])*w[2] + int32(q[11])*w[3] + int32(q[14])*w[4] + int32(q[17])*w[5] + int32(q[20])*w[6] + int32(q[23])*w[7]
	default:
		for len(k) > 0 && len(p) >= 3 {
			w := k[0]
			s0 += int32(p[0]) * w
			s1 += int32(p[1]) * w
			s2 += int32(p[2]) * w
			k, p = k[1:], p[3:]
		}
	}
	return
}

// vTaps computes one output row of the vertical pass: out[i] = clip8(2^21 +
// sum over taps t of rows[t][i] * k[t]). The cases are unrolled.
func vTaps(out []uint8, rows [][]uint8, k []int32, acc []int32) {
	if m := wsumRows(out, rows, k, 1<<(precisionBits-1), precisionBits); m > 0 {
		if m == len(out) {
			return
		}
		tail := make([][]uint8, 0, 16)
		for _, r := range rows {
			tail = append(tail, r[m:])
		}
		out, rows = out[m:], tail
	}
	n := len(out)
	switch len(k) {
	case 1:
		r0 := rows[0][:n]
		w := (*[1]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0])
		}
	case 2:
		r0 := rows[0][:n]
		r1 := rows[1][:n]
		w := (*[2]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0] + int32(r1[i])*w[1])
		}
	case 3:
		r0 := rows[0][:n]
		r1 := rows[1][:n]
		r2 := rows[2][:n]
		w := (*[3]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0] + int32(r1[i])*w[1] + int32(r2[i])*w[2])
		}
	case 4:
		r0 := rows[0][:n]
		r1 := rows[1][:n]
		r2 := rows[2][:n]
		r3 := rows[3][:n]
		w := (*[4]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0] + int32(r1[i])*w[1] + int32(r2[i])*w[2] + int32(r3[i])*w[3])
		}
	case 5:
		r0 := rows[0][:n]
		r1 := rows[1][:n]
		r2 := rows[2][:n]
		r3 := rows[3][:n]
		r4 := rows[4][:n]
		w := (*[5]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0] + int32(r1[i])*w[1] + int32(r2[i])*w[2] + int32(r3[i])*w[3] + int32(r4[i])*w[4])
		}
	case 6:
		r0 := rows[0][:n]
		r1 := rows[1][:n]
		r2 := rows[2][:n]
		r3 := rows[3][:n]
		r4 := rows[4][:n]
		r5 := rows[5][:n]
		w := (*[6]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0] + int32(r1[i])*w[1] + int32(r2[i])*w[2] + int32(r3[i])*w[3] + int32(r4[i])*w[4] + int32(r5[i])*w[5])
		}
	case 7:
		r0 := rows[0][:n]
		r1 := rows[1][:n]
		r2 := rows[2][:n]
		r3 := rows[3][:n]
		r4 := rows[4][:n]
		r5 := rows[5][:n]
		r6 := rows[6][:n]
		w := (*[7]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0] + int32(r1[i])*w[1] + int32(r2[i])*w[2] + int32(r3[i])*w[3] + int32(r4[i])*w[4] + int32(r5[i])*w[5] + int32(r6[i])*w[6])
		}
	case 8:
		r0 := rows[0][:n]
		r1 := rows[1][:n]
		r2 := rows[2][:n]
		r3 := rows[3][:n]
		r4 := rows[4][:n]
		r5 := rows[5][:n]
		r6 := rows[6][:n]
		r7 := rows[7][:n]
		w := (*[8]int32)(k)
		for i := range out {
			out[i] = clip8(1<<(precisionBits-1) + int32(r0[i])*w[0] + int32(r1[i])*w[1] + int32(r2[i])*w[2] + int32(r3[i])*w[3] + int32(r4[i])*w[4] + int32(r5[i])*w[5] + int32(r6[i])*w[6] + int32(r7[i])*w[7])
		}
	default:
		acc = acc[:n]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for t, w := range k {
			row := rows[t][:n]
			for i, v := range row {
				acc[i] += int32(v) * w
			}
		}
		for i, v := range acc {
			out[i] = clip8(v)
		}
	}
}

// hCols runs the horizontal pass column by column: for output column xx
// (taps start[xx]..+n with weights k) every row of src (rows rows of stride
// srcStride bytes from the crop's left edge) is resampled with the weights
// held in registers. Output pixel xx of row y goes to out[y*outStride+o].
func hCol(out []uint8, o, outStride int, src []uint8, off, srcStride, rows int, k []int32) bool {
	switch len(k) {
	case 1:
		w := (*[1]int32)(k)
		w0 := w[0]
		for y := 0; y < rows; y++ {
			q := (*[3]uint8)(src[off : off+3])
			s0 := int32(1<<(precisionBits-1)) + int32(q[0])*w0
			s1 := int32(1<<(precisionBits-1)) + int32(q[1])*w0
			s2 := int32(1<<(precisionBits-1)) + int32(q[2])*w0
			d := out[o : o+3 : o+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
			off += srcStride
			o += outStride
		}
	case 2:
		w := (*[2]int32)(k)
		w0 := w[0]
		w1 := w[1]
		for y := 0; y < rows; y++ {
			q := (*[6]uint8)(src[off : off+6])
			s0 := int32(1<<(precisionBits-1)) + int32(q[0])*w0 + int32(q[3])*w1
			s1 := int32(1<<(precisionBits-1)) + int32(q[1])*w0 + int32(q[4])*w1
			s2 := int32(1<<(precisionBits-1)) + int32(q[2])*w0 + int32(q[5])*w1
			d := out[o : o+3 : o+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
			off += srcStride
			o += outStride
		}
	case 3:
		w := (*[3]int32)(k)
		w0 := w[0]
		w1 := w[1]
		w2 := w[2]
		for y := 0; y < rows; y++ {
			q := (*[9]uint8)(src[off : off+9])
			s0 := int32(1<<(precisionBits-1)) + int32(q[0])*w0 + int32(q[3])*w1 + int32(q[6])*w2
			s1 := int32(1<<(precisionBits-1)) + int32(q[1])*w0 + int32(q[4])*w1 + int32(q[7])*w2
			s2 := int32(1<<(precisionBits-1)) + int32(q[2])*w0 + int32(q[5])*w1 + int32(q[8])*w2
			d := out[o : o+3 : o+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
			off += srcStride
			o += outStride
		}
	case 4:
		w := (*[4]int32)(k)
		w0 := w[0]
		w1 := w[1]
		w2 := w[2]
		w3 := w[3]
		for y := 0; y < rows; y++ {
			q := (*[12]uint8)(src[off : off+12])
			s0 := int32(1<<(precisionBits-1)) + int32(q[0])*w0 + int32(q[3])*w1 + int32(q[6])*w2 + int32(q[9])*w3
			s1 := int32(1<<(precisionBits-1)) + int32(q[1])*w0 + int32(q[4])*w1 + int32(q[7])*w2 + int32(q[10])*w3
			s2 := int32(1<<(precisionBits-1)) + int32(q[2])*w0 + int32(q[5])*w1 + int32(q[8])*w2 + int32(q[11])*w3
			d := out[o : o+3 : o+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
			off += srcStride
			o += outStride
		}
	case 5:
		w := (*[5]int32)(k)
		w0 := w[0]
		w1 := w[1]
		w2 := w[2]
		w3 := w[3]
		w4 := w[4]
		for y := 0; y < rows; y++ {
			q := (*[15]uint8)(src[off : off+15])
			s0 := int32(1<<(precisionBits-1)) + int32(q[0])*w0 + int32(q[3])*w1 + int32(q[6])*w2 + int32(q[9])*w3 + int32(q[12])*w4
			s1 := int32(1<<(precisionBits-1)) + int32(q[1])*w0 + int32(q[4])*w1 + int32(q[7])*w2 + int32(q[10])*w3 + int32(q[13])*w4
			s2 := int32(1<<(precisionBits-1)) + int32(q[2])*w0 + int32(q[5])*w1 + int32(q[8])*w2 + int32(q[11])*w3 + int32(q[14])*w4
			d := out[o : o+3 : o+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
			off += srcStride
			o += outStride
		}
	case 6:
		w := (*[6]int32)(k)
		w0 := w[0]
		w1 := w[1]
		w2 := w[2]
		w3 := w[3]
		w4 := w[4]
		w5 := w[5]
		for y := 0; y < rows; y++ {
			q := (*[18]uint8)(src[off : off+18])
			s0 := int32(1<<(precisionBits-1)) + int32(q[0])*w0 + int32(q[3])*w1 + int32(q[6])*w2 + int32(q[9])*w3 + int32(q[12])*w4 + int32(q[15])*w5
			s1 := int32(1<<(precisionBits-1)) + int32(q[1])*w0 + int32(q[4])*w1 + int32(q[7])*w2 + int32(q[10])*w3 + int32(q[13])*w4 + int32(q[16])*w5
			s2 := int32(1<<(precisionBits-1)) + int32(q[2])*w0 + int32(q[5])*w1 + int32(q[8])*w2 + int32(q[11])*w3 + int32(q[14])*w4 + int32(q[17])*w5
			d := out[o : o+3 : o+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
			off += srcStride
			o += outStride
		}
	default:
		return false
	}
	return true
}
