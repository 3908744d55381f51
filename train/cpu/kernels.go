package cpu

// The elementwise loops the engine runs most, in Go: kernels_cgo.go has
// vectorised C twins that give the same bits, kernels_nocgo.go uses these.

// addGo writes y = a + c (max(a+c, 0) when relu) for len(y) values.
func addGo(y, a, c []float32, relu bool) {
	a, c = a[:len(y)], c[:len(y)]
	if relu {
		for j := range y {
			y[j] = max(a[j]+c[j], 0)
		}
		return
	}
	for j := range y {
		y[j] = a[j] + c[j]
	}
}

// maskTwoGo writes reluMask(dy, y) into both d1 and d2 (len(dy) values).
func maskTwoGo(d1, d2, dy, y []float32) {
	d1, d2, y = d1[:len(dy)], d2[:len(dy)], y[:len(dy)]
	for j, g := range dy {
		g = reluMask(g, y[j])
		d1[j], d2[j] = g, g
	}
}

// addIntoGo adds src into dst (len(src) values).
func addIntoGo(dst, src []float32) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] += v
	}
}
